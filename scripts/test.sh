#!/usr/bin/env bash
# Sets up .venv (see setup.sh), then runs the linter and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# One worker per core (pytest-xdist): most tests wait on an engine process, an Xvfb editor or
# a subprocess, so two workers on two cores take about half the time of one. The tests keep
# their own folders, user folders and X displays, so none shares state with another worker.
.venv/bin/python -m pytest -n auto "$@"
