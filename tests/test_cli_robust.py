"""Every command ends in a message and a documented exit code, never a traceback (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from disk_fixtures import full_disk
from engine_fixtures import builder, registry, write_npz

from dpg_blocks import cli
from dpg_blocks.cli import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_WRITE, main
from dpg_blocks.core import OptimizerSettings, Order
from dpg_blocks.core.project_file import load_project, save_project
from dpg_blocks.engine.training.trainer import Trainer


def _project(folder: Path, name: str = "p", *, n: int = 96, batch: int = 16, lr: float = 0.01, bn: bool = False,
             x: np.ndarray | None = None, normalize: str = "minmax", code: str | None = None) -> Path:
    if x is None:
        write_npz(folder / f"{name}.npz", n=n)
    else:
        np.savez(folder / f"{name}.npz", x=x, y=np.arange(len(x)) % 3)
    b = builder(name)
    data = b.add("builtin.Input", "data", source="npz", path=f"{name}.npz", batch_size=batch, test_percent=25,
                 val_percent=10, normalize=normalize)
    chain = [(data, "x", "")]
    if code is not None:
        chain.append((b.add("builtin.Custom", "mine", code=code), "y", "x"))
    chain.append((b.add("builtin.Linear", "fc1", out_features=16, activation="relu"), "y", "x"))
    if bn:
        chain.append((b.add("builtin.BatchNorm1d", "bn"), "y", "x"))
    chain.append((b.add("builtin.Linear", "fc2", out_features=3), "y", "x"))
    b.chain(*chain, (b.add("builtin.CrossEntropyLoss", "loss"), "", "input"))
    b.project.orders = [Order(1, "main", OptimizerSettings(lr=lr))]
    path = folder / f"{name}.dpgb"
    save_project(b.project, path)
    return path


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for code in (EXIT_OK, EXIT_INVALID, EXIT_WRITE, EXIT_INTERNAL):
        assert f"\n  {code} " in out


def test_metrics_out_on_a_full_disk_ends_in_a_message(tmp_path, capsys, monkeypatch):
    path = _project(tmp_path)
    with full_disk(tmp_path / "full", monkeypatch) as disk:
        code = main(["train", str(path), "--epochs", "2", "-q", "--metrics-out", str(disk / "m.jsonl")])
    err = capsys.readouterr().err
    _no_traceback(err)
    assert code == EXIT_WRITE
    assert "m.jsonl: No space left on device" in err


def test_checkpoints_on_a_full_disk_end_in_a_message_and_leave_no_empty_file(tmp_path, capsys, monkeypatch):
    path = _project(tmp_path)
    with full_disk(tmp_path / "full", monkeypatch) as disk:
        code = main(["train", str(path), "--epochs", "2", "-q", "--checkpoint-dir", str(disk / "ck")])
        err = capsys.readouterr().err
        left = [p for p in disk.rglob("*") if p.is_file() and p.name != "filler"]
    _no_traceback(err)
    assert code == EXIT_WRITE
    assert "No space left on device" in err and "training stopped after epoch 1" in err
    assert left == []  # no 0-byte or truncated checkpoint, no temp file


def test_a_checkpoint_interrupted_mid_write_keeps_the_previous_last_pt(tmp_path, monkeypatch):
    path = _project(tmp_path)
    trainer = Trainer(load_project(path), registry(), tmp_path, device="cpu")
    next(trainer.fit(1))
    trainer.save_checkpoint(tmp_path / "ck")
    before = (tmp_path / "ck" / "last.pt").read_bytes()
    next(trainer.fit(1))
    from dpg_blocks.core import atomic_file

    def killed(*a, **k):
        raise KeyboardInterrupt  # the kill arrives while the data is being written

    monkeypatch.setattr(atomic_file.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(tmp_path / "ck")
    assert (tmp_path / "ck" / "last.pt").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch_0001.pt", "last.pt"]


def test_a_trailing_training_batch_of_one_sample_is_left_out_and_said(tmp_path, capsys):
    # 100 samples: 25 test, 10 validation, 65 training = 4 batches of 16 + 1
    path = _project(tmp_path, n=100, bn=True)
    assert main(["train", str(path), "--epochs", "2", "-q"]) == EXIT_OK
    err = capsys.readouterr().err
    _no_traceback(err)
    assert "note: data (p.npz): 65 training samples in batches of 16; the last batch of 1 sample is left out" in err
    trainer = Trainer(load_project(path), registry(), tmp_path, device="cpu")
    source = next(iter(trainer.sources.values()))
    assert source.split_size("train") == 65 and trainer.steps_per_epoch() == 4
    assert [len(x) for x, _ in source.batches("train", epoch=0, shuffle=True)] == [16] * 4
    assert sum(len(x) for x, _ in source.batches("test", epoch=0, shuffle=False)) == 25  # evaluation keeps all


def test_the_exported_script_leaves_out_the_same_batch_bit_for_bit(tmp_path):
    from test_export import script_run

    from dpg_blocks.engine.interop.export import write_export

    path = _project(tmp_path, n=100, bn=True)
    (tmp_path / "out").mkdir()
    script = write_export(load_project(path), registry(), tmp_path, tmp_path / "out" / "model.py")
    (tmp_path / "out" / "p.npz").write_bytes((tmp_path / "p.npz").read_bytes())
    steps, metrics, _ = script_run(script, 2)
    trainer = Trainer(load_project(path), registry(), tmp_path, device="cpu", seed=0)
    ref = []
    for _ in range(2):
        run = trainer.start_epoch()
        while not run.done:
            ref.append({f"order_{k}": float(v) for k, v in run.step().items()})
        trainer.finish_epoch(run.metrics(), 0.0)
    assert len(steps) == 8 and steps == ref


@pytest.mark.parametrize("lr", [1e308, float("nan"), -1.0])
def test_an_absurd_learning_rate_is_refused_naming_the_order(tmp_path, capsys, lr):
    path = _project(tmp_path)
    doc = json.loads(path.read_text())
    doc["orders"][0]["optimizer"]["lr"] = lr if lr == lr else "nan"
    text = json.dumps(doc).replace('"nan"', "NaN")
    path.write_text(text)
    code = main(["train", str(path), "--epochs", "1", "-q"])
    err = capsys.readouterr().err
    _no_traceback(err)
    assert code in (EXIT_INVALID, cli.EXIT_UNREADABLE)
    if code == EXIT_INVALID:
        assert "order 1 (main): the optimizer's learning rate (lr)" in err


def test_a_loss_that_becomes_infinite_is_reported_with_its_order_and_step(tmp_path, capsys):
    # valid at validation; the third training step (ctx.step 2) makes infinities
    code = "def forward(ctx, x):\n    return x * 1e38 * 1e38 if ctx.training and ctx.step == 2 else x\n"
    path = _project(tmp_path, code=code)
    code = main(["train", str(path), "--epochs", "1", "-q", "--trust"])
    err = capsys.readouterr().err
    _no_traceback(err)
    assert code == EXIT_INVALID
    assert "the loss of order 1 (main) is" in err and "at epoch 1, step 3;" in err


def test_a_block_failing_during_training_ends_in_a_message(tmp_path, capsys):
    path = _project(tmp_path, batch=1, bn=True)  # batches of one sample: BatchNorm cannot train
    code = main(["train", str(path), "--epochs", "1", "-q"])
    err = capsys.readouterr().err
    _no_traceback(err)
    assert code == EXIT_INVALID
    text = " ".join(err.split())
    assert "block bn failed at epoch 1, step 1: ValueError: Expected more than 1 value per channel" in text
    assert "inputs: x 1×16 float32" in text


def test_an_unexpected_error_is_one_message_and_the_traceback_only_with_debug(tmp_path, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("something inside\nsecond line")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():  # every command breaks the same way
        action.set_defaults(func=broken)
    assert main(["plugins"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    _no_traceback(err)
    assert "dpg-blocks plugins: unexpected error: RuntimeError: something inside" in err
    assert "please report" in err and "second line" not in err
    assert main(["plugins", "--debug"]) == EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("DPG_BLOCKS_DEBUG", "1")
    assert main(["plugins"]) == EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_is_exit_130_without_a_traceback(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        action.set_defaults(func=interrupted)
    assert main(["plugins"]) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    _no_traceback(err)
    assert "interrupted" in err


_CODE = "def forward(ctx, x):\n    return x * 2\n"


@pytest.mark.parametrize("argv", [["trust"], ["validate", "--trust"]])
def test_trusting_on_a_full_disk_ends_in_a_message(tmp_path, capsys, monkeypatch, argv):
    path = _project(tmp_path, code=_CODE)
    with full_disk(tmp_path / "full", monkeypatch) as disk:
        monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(disk))
        code = main([argv[0], str(path), *argv[1:]])
    err = capsys.readouterr()
    _no_traceback(err.err + err.out)
    assert code == EXIT_WRITE
    assert "trust.json: No space left on device" in err.err


def test_library_save_on_a_full_disk_ends_in_a_message(tmp_path, capsys, monkeypatch):
    path = _project(tmp_path)
    with full_disk(tmp_path / "full", monkeypatch) as disk:
        code = main(["library", "save", str(path), "fc1", "--library", str(disk)])
        left = sorted(p.name for p in disk.iterdir())
    err = capsys.readouterr()
    _no_traceback(err.err + err.out)
    assert code == EXIT_WRITE
    assert "No space left on device" in err.err and left == ["filler"]


def test_export_to_a_full_disk_ends_in_a_message_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    path = _project(tmp_path)
    with full_disk(tmp_path / "full", monkeypatch) as disk:
        code = main(["export", str(path), "-o", str(disk / "model.py")])
        left = sorted(p.name for p in disk.iterdir())
    err = capsys.readouterr().err
    _no_traceback(err)
    assert code == EXIT_WRITE
    assert "cannot export: cannot write" in err and "model.py: No space left on device" in err
    assert left == ["filler"]


def test_an_unexpected_error_under_json_still_prints_one_json_object(capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("boom")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["plugins"].set_defaults(func=broken)
    assert main(["plugins", "--json"]) == EXIT_INTERNAL
    out = json.loads(capsys.readouterr().out)
    assert out == {"ok": False, "error": "dpg-blocks plugins: unexpected error: RuntimeError: boom",
                   "exit_code": EXIT_INTERNAL}


def test_a_reader_closing_the_pipe_early_ends_quietly():
    """`dpg-blocks validate --json | head -1` printed two tracebacks (the write and the
    interpreter's final flush); now it ends quietly with the shell's SIGPIPE status."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[1] / "assets" / "examples" / "mlp_digits.dpgb"
    proc = subprocess.Popen([sys.executable, "-m", "dpg_blocks", "validate", str(example), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == cli.EXIT_PIPE_CLOSED, err
    _no_traceback(err)
    assert err.strip() == ""
