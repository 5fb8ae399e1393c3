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


def test_the_editor_opens_params_its_number_widgets_cannot_hold(tmp_path):
    """Found by the campaign: 10**30 in a float field, 2**70 in an int field, text in a checkbox."""
    import json

    doc = json.loads((ROOT / "assets" / "examples" / "mlp_digits.dpgb").read_text(encoding="utf-8"))
    doc["graph"]["blocks"][0]["params"]["test_percent"] = 10**30
    doc["graph"]["blocks"][1]["params"]["out_features"] = 2**70
    doc["graph"]["blocks"][2]["params"]["bias"] = "abc"
    path = tmp_path / "p.dpgb"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = mutation_campaign.Outcome()
    opener = mutation_campaign.EditorOpen()
    try:
        opener.open(path, mutation_campaign.Mutant(b"", "hand-made"), out)
    finally:
        opener.close()
    assert out.failures == []
