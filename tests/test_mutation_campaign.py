"""A small mutation campaign: hostile project files end in a message, never a traceback.

``benchmarks/mutation_campaign.py`` (1,000 mutants and more) with 150 mutants: each through
``validate --json`` in this process and through the editor's File › Open without a viewport.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import mutation_campaign  # noqa: E402


def test_150_mutants_give_no_traceback_no_crash_and_parsable_output(tmp_path, monkeypatch):
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))
    n, out = mutation_campaign.campaign(150, seed=7, folder=tmp_path / "campaign")
    assert n == 150
    assert out.failures == []
    assert (out.tracebacks, out.crashes, out.unparsable, out.changed) == (0, 0, 0, 0)
    # the campaign reaches every outcome: files refused, projects invalid, projects valid
    assert {"validate_exit_0", "validate_exit_1", "validate_exit_2"} <= set(out.exits)
