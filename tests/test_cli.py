"""The command line as a user runs it: exit codes, JSON shapes, metrics files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dpg_blocks.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"


def test_validate_json_on_the_unflattened_example_exits_1_and_names_fc1(capsys):
    code = main(["validate", str(EXAMPLES / "mlp_digits_unflattened.dpgb"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["ok"] is False
    fc1 = next(b for b in out["blocks"] if b["name"] == "FC1")
    assert fc1["status"] == "error" and "(4, 1, 8, 8)" in fc1["message"]
    after = [b["status"] for b in out["blocks"] if b["name"] in ("FC2", "FC3", "FC4", "FC5", "loss")]
    assert after == ["upstream-error"] * 5
    assert {"id", "path", "status", "error_type", "message", "inputs", "outputs"} <= set(fc1)


def test_validate_exits_0_on_a_valid_project_and_prints_a_table(capsys):
    assert main(["validate", str(EXAMPLES / "mlp_digits.dpgb")]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "FC5" in out


def test_validate_exits_2_on_an_unreadable_project_and_leaves_it_alone(tmp_path, capsys):
    bad = tmp_path / "broken.dpgb"
    bad.write_text('{"format": 1, "graph": {"blocks": [{"id": 3}], "links": []}}')
    before = bad.read_bytes()
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().out
    assert "$.graph.blocks[0].id" in err
    assert bad.read_bytes() == before
    assert main(["validate", str(tmp_path / "missing.dpgb")]) == 2


def test_train_writes_one_json_line_per_epoch_with_test_accuracy(tmp_path):
    metrics = tmp_path / "m.jsonl"
    ckpt = tmp_path / "ckpt"
    code = main([
        "train", str(EXAMPLES / "mlp_digits.dpgb"), "--no-run", "--epochs", "2", "--metrics-out", str(metrics),
        "--checkpoint-dir", str(ckpt), "--device", "cpu", "-q",
    ])
    assert code == 0
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    for m in lines:
        assert {"loss/order_1", "train_accuracy", "val_accuracy", "test_accuracy", "confusion_matrix"} <= set(m)
    assert len(lines[-1]["confusion_matrix"]) == 10
    assert (ckpt / "epoch_0002.pt").exists() and (ckpt / "last.pt").exists()


def test_train_refuses_an_invalid_project_with_the_failing_block(capsys):
    assert main(["train", str(EXAMPLES / "mlp_digits_unflattened.dpgb"), "--epochs", "1", "-q"]) == 1
    assert "FC1" in capsys.readouterr().err


def test_train_refuses_an_unavailable_device(capsys):
    code = main(["train", str(EXAMPLES / "mlp_digits.dpgb"), "--no-run", "--epochs", "1", "--device", "cuda:7", "-q"])
    assert code == 1


def test_plugins_json_lists_the_builtin_pack(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    builtin = next(p for p in data["packs"] if p["name"] == "builtin")
    assert "builtin.Linear" in builtin["blocks"]
    assert any(b["id"] == "builtin.Conv2d" for b in data["blocks"])


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"]])
def test_python_dash_m_works(args):
    proc = subprocess.run([sys.executable, "-m", "dpg_blocks", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "dpg-blocks" in proc.stdout


def test_johns_mlp_reaches_95_percent_test_accuracy_in_10_epochs(tmp_path):
    metrics = tmp_path / "m.jsonl"
    assert main(["train", str(EXAMPLES / "mlp_digits.dpgb"), "--no-run", "--epochs", "10", "--metrics-out", str(metrics), "-q"]) == 0
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert last["epoch"] == 10
    assert last["test_accuracy"] >= 0.95


def test_messages_with_long_paths_are_never_broken_across_lines(tmp_path, capsys):
    deep = tmp_path / ("a_rather_long_folder_name_" * 4) / ("and_another_one_" * 4)
    deep.mkdir(parents=True)
    bad = deep / "broken.dpgb"
    bad.write_text('{"format": 1, "graph": {"blocks": [{"id": 3}], "links": []}}')
    assert main(["validate", str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"{bad}: $.graph.blocks[0].id" in out


def test_a_bare_dpg_blocks_opens_an_empty_editor(monkeypatch):
    import dpg_blocks.cli as cli

    opened = []
    monkeypatch.setattr(cli, "cmd_open", lambda args: opened.append(args.project) or 0)
    assert cli.main([]) == 0
    assert opened == [None]


def test_train_and_export_say_which_plugins_failed_to_load(tmp_path, capsys):
    """A broken plugin was printed by validate and plugins only: train/export went on silently,
    and a project using its blocks then failed as if they had never existed."""
    plugs = tmp_path / "plugs"
    plugs.mkdir()
    (plugs / "broken_pack.py").write_text("raise RuntimeError('the pack is broken on purpose')\n")
    example = EXAMPLES / "mlp_digits.dpgb"
    assert main(["export", str(example), "-o", str(tmp_path / "m.py"), "--plugins", str(plugs)]) == 0
    err = capsys.readouterr().err
    assert "plugin broken_pack" in err and "the pack is broken on purpose" in err, err
    assert main(["train", str(example), "--no-run", "--epochs", "0", "--quiet", "--plugins", str(plugs)]) == 0
    err = capsys.readouterr().err
    assert "plugin broken_pack" in err and "the pack is broken on purpose" in err, err
