#!/usr/bin/env bash
# Creates .venv and installs dpg-blocks (editable) with its dev tools (pytest, hypothesis, ruff,
# python-xlib for the drop-from-the-desktop test) and the ONNX extra.
# torch==2.13.0 goes first: it is the CPU build on this machine's disk, and once it is there
# the project's torch range is satisfied, so nothing pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
# the onnx extra (export --onnx) pulls no torch: onnx, onnxscript, onnxruntime and their small deps
.venv/bin/python -m pip install -q -e ".[dev,onnx]"
