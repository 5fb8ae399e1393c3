"""The engine process seen from the GUI's side: it answers, it survives, it comes back.

Each test drives a real spawned engine through :class:`EngineClient`, polling with a small time
budget the way the editor's render loop does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dpg_blocks import protocol as m
from dpg_blocks.client.engine_client import EngineClient, EngineStatus
from dpg_blocks.core import load_project
from dpg_blocks.core.project_file import project_to_dict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"

# Blocks that misbehave the way user code can: hang, crash the process, go non-finite.
TRAPS = '''
from dpg_blocks.blocks import In, Out, Param, block


@block("trap.Hang", category="Traps")
class Hang:
    x = In()
    y = Out()

    def build(self, ctx):
        while True:
            pass


@block("trap.Segfault", category="Traps")
class Segfault:
    x = In()
    y = Out()

    def build(self, ctx):
        import ctypes
        ctypes.string_at(0)


@block("trap.NaNAfter", category="Traps")
class NaNAfter:
    """Passes its input through, then NaN from the given call on."""
    x = In()
    y = Out()
    calls = Param(int, 5)

    def build(self, ctx):
        import torch
        limit = self.calls

        class M(torch.nn.Module):
            n = 0

            def forward(self, x):
                M.n += 1
                return x * float("nan") if M.n > limit else x

        return M()
'''


_BACKLOG: dict[int, list[Any]] = {}


def wait_for(client: EngineClient, pred: Callable[[Any], bool], timeout: float, seen: list[Any] | None = None) -> Any:
    """Poll like the render loop (5 ms budget) until an event satisfies ``pred``; events after
    it in the same poll stay queued for the next call."""
    backlog = _BACKLOG.setdefault(id(client), [])
    end = time.monotonic() + timeout
    while True:
        while backlog:
            ev = backlog.pop(0)
            if seen is not None:
                seen.append(ev)
            if pred(ev):
                return ev
        if time.monotonic() > end:
            raise AssertionError(f"no matching event within {timeout} s (engine state: {client.state})")
        backlog.extend(client.poll(5.0))
        time.sleep(0.005)


def is_ready(ev: Any) -> bool:
    return isinstance(ev, m.Ready)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugins")
    (root / "traps").mkdir()
    (root / "traps" / "__init__.py").write_text(TRAPS)
    return root


@pytest.fixture
def client(plugin_dir: Path) -> Iterator[EngineClient]:
    c = EngineClient(plugin_dirs=(str(plugin_dir),), validate_deadline_s=4.0, threads=1)
    c.start()
    wait_for(c, is_ready, 60)
    yield c
    c.shutdown()
    _BACKLOG.pop(id(c), None)


def mlp(name: str = "mlp_digits.dpgb") -> dict[str, Any]:
    return project_to_dict(load_project(EXAMPLES / name))


def with_trap(trap: str, **params: Any) -> dict[str, Any]:
    """John's MLP with a trap block between FC1 and FC2."""
    doc = mlp()
    blocks = doc["graph"]["blocks"]
    fc1 = next(b for b in blocks if b["name"] == "FC1")
    fc2 = next(b for b in blocks if b["name"] == "FC2")
    blocks.append({
        "id": "b99", "type": trap, "version": 1, "name": "trap", "pos": [0.0, 0.0], "params": params,
        "inputs": [{"name": "x", "kind": "tensor"}], "outputs": [{"name": "y", "kind": "tensor"}],
    })
    link = next(lk for lk in doc["graph"]["links"] if lk["src"][0] == fc1["id"] and lk["dst"][0] == fc2["id"])
    doc["graph"]["links"].remove(link)
    doc["graph"]["links"] += [{"src": [fc1["id"], "y"], "dst": ["b99", "x"]}, {"src": ["b99", "y"], "dst": [fc2["id"], "x"]}]
    return doc


def validate(client: EngineClient, doc: dict[str, Any]) -> m.ValidationResult:
    rid = client.validate(doc, str(EXAMPLES))
    return wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 30)


def test_the_engine_reports_its_catalog_and_validates(client):
    assert any(spec["id"] == "builtin.Linear" for spec in client.catalog)
    assert any(spec["id"] == "trap.Hang" for spec in client.catalog)
    result = validate(client, mlp("mlp_digits_unflattened.dpgb"))
    assert result.ok is False
    fc1 = next(r for r in result.records if r["name"] == "FC1")
    assert fc1["status"] == "error" and "(4, 1, 8, 8)" in fc1["message"]


def test_training_streams_metrics_and_obeys_pause_step_resume_stop(client):
    rid = client.request_id()
    client.send(m.Train(project=mlp(), project_dir=str(EXAMPLES), request_id=rid, epochs=50))
    seen: list[Any] = []
    wait_for(client, lambda e: isinstance(e, m.StepMetrics), 30, seen)
    client.send(m.Pause())
    wait_for(client, lambda e: isinstance(e, m.TrainingState) and e.state == "paused", 10)
    client.send(m.Step())
    step = wait_for(client, lambda e: isinstance(e, m.StepMetrics), 10)
    assert step.losses["order_1"] > 0
    client.send(m.Resume())
    wait_for(client, lambda e: isinstance(e, m.EpochMetrics), 30, seen)
    client.send(m.Stop())
    wait_for(client, lambda e: isinstance(e, m.TrainingState) and e.state == "stopped", 10)


def test_a_block_that_hangs_hits_the_deadline_and_is_named(client):
    started = time.monotonic()
    client.validate(with_trap("trap.Hang"), str(EXAMPLES))
    hung = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "hung", 30)
    assert time.monotonic() - started < 15
    assert "trap" in hung.reason and hung.block_id == "b99"
    wait_for(client, is_ready, 30)
    # The project that hung is re-sent once (and hangs again, which poisons it); a good one
    # validates again.
    assert validate(client, mlp()).ok


def test_a_block_that_segfaults_is_reported_not_fatal(client):
    client.validate(with_trap("trap.Segfault"), str(EXAMPLES))
    crashed = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "crashed", 30)
    assert crashed.signal == 11 and "signal 11" in crashed.reason
    assert crashed.block_id == "b99" and "trap" in crashed.reason
    wait_for(client, is_ready, 30)
    assert validate(client, mlp()).ok


def test_kill_9_mid_training_twenty_times(client):
    for round_ in range(20):
        rid = client.request_id()
        client.send(m.Train(project=mlp(), project_dir=str(EXAMPLES), request_id=rid, epochs=100))
        wait_for(client, lambda e: isinstance(e, m.StepMetrics), 30)
        client.kill()
        crashed = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "crashed", 10)
        assert crashed.signal == 9 and "signal 9" in crashed.reason, round_
        t0 = time.monotonic()
        wait_for(client, is_ready, 10)
        assert time.monotonic() - t0 < 5.0, f"restart took {time.monotonic() - t0:.1f} s (round {round_})"
        assert validate(client, mlp()).ok
    assert client.restarts == 20


def test_a_watched_output_going_nan_pauses_training_and_names_the_first_block(client):
    doc = with_trap("trap.NaNAfter", calls=30)
    rid = client.request_id()
    client.send(m.Train(project=doc, project_dir=str(EXAMPLES), request_id=rid, epochs=5))
    nonfinite = wait_for(client, lambda e: isinstance(e, m.NonFinite), 60)
    assert nonfinite.block_id == "b99" and nonfinite.path == ["trap"]
    paused = wait_for(client, lambda e: isinstance(e, m.TrainingState), 10)
    assert paused.state == "paused" and "trap" in paused.reason


def test_a_flood_of_tap_frames_never_costs_an_epoch_metric(client):
    doc = mlp()
    ids = [b["id"] for b in doc["graph"]["blocks"] if b["name"] in ("FC1", "FC3", "FC5")]
    client.send(m.SetTaps(taps=[m.TapSpec(block_id=i, port="y", direction="out") for i in ids], rate_hz=1000.0))
    rid = client.request_id()
    client.send(m.Train(project=doc, project_dir=str(EXAMPLES), request_id=rid, epochs=10_000))
    epochs: list[int] = []
    frames = 0
    end = time.monotonic() + 30
    while time.monotonic() < end:
        for ev in _BACKLOG.pop(id(client), []) + client.poll(5.0):
            if isinstance(ev, m.EpochMetrics):
                epochs.append(ev.epoch)
            elif isinstance(ev, m.TapFrame):
                frames += 1
        time.sleep(0.02)  # a slow reader: the engine must coalesce, not block or drop metrics
    client.send(m.Stop())
    stopped = wait_for(client, lambda e: isinstance(e, m.TrainingState) and e.state == "stopped", 20,
                       seen := [])
    epochs += [e.epoch for e in seen if isinstance(e, m.EpochMetrics)]
    assert stopped.state == "stopped"
    assert len(epochs) >= 3 and frames > 0
    assert epochs == list(range(1, len(epochs) + 1))


def test_the_client_side_imports_no_torch():
    code = "import sys, dpg_blocks.protocol, dpg_blocks.client.engine_client; assert 'torch' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_engine_runs_custom_code_only_when_the_user_trusts_it(client, tmp_path, monkeypatch):
    # The shipped DANN example's gradient-reversal code is trusted by digest.
    result = validate(client, mlp("dann_digits.dpgb"))
    assert result.ok, [r["message"] for r in result.records if r["status"] == "error"]
    # Changed code is untrusted again: the block is an error and its code never ran.
    doc = mlp("dann_digits.dpgb")
    reversal = next(b for b in doc["graph"]["blocks"] if b["type"] == "builtin.Custom")
    marker = tmp_path / "ran.txt"
    reversal["params"]["code"] += f"\nopen({str(marker)!r}, 'w').write('payload')\n"
    result = validate(client, doc)
    record = next(r for r in result.records if r["id"] == reversal["id"])
    assert record["status"] == "error" and record["error_type"] == "UntrustedCode"
    assert not marker.exists()
