"""Deadlines that mean a hang: a slow start, a slow load or a killed request is not a hang; a
dead editor takes its engine with it; a training step that hangs is named at its block.

Each test drives a real spawned engine through :class:`EngineClient` (see test_engine_process.py),
with short deadlines so a hang is found in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_engine_process import _BACKLOG, EXAMPLES, is_ready, mlp, wait_for

from dpg_blocks import protocol as m
from dpg_blocks.client.engine_client import EngineClient, EngineStatus
from dpg_blocks.engine.process.server import START_DELAY_ENV

ROOT = Path(__file__).resolve().parents[1]

# A pack whose blocks are slow on purpose: an Input whose load() works (CPU) or waits (sleep)
# for a while, and a block whose build() takes a while.
SLOW_PACK = '''
from dpg_blocks.blocks import In, Out, Param, block


@block("slow.Input", category="Slow", role="input")
class SlowInput:
    x = Out("tensor")
    y = Out("tensor")
    seconds = Param(float, 3.0)
    busy = Param(bool, True)

    def load(self, ctx):
        import time
        import numpy as np
        from dpg_blocks.engine.data.datasets import ArrayDataSource
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            if self.busy:
                sum(range(1000))  # working: parsing a big file, say
            else:
                time.sleep(0.05)  # waiting on something that never comes
        rng = np.random.default_rng(0)
        return ArrayDataSource(rng.normal(size=(64, 64)).astype("float32"), rng.integers(0, 10, 64),
                               name="slow", batch_size=32)


@block("slow.Build", category="Slow")
class SlowBuild:
    x = In()
    y = Out()
    seconds = Param(float, 3.0)

    def build(self, ctx):
        import time
        import torch
        time.sleep(self.seconds)
        return torch.nn.Identity()
'''

HANG_AT_STEP_3 = '''def forward(ctx, x):
    if ctx.training and ctx.step >= 3:
        while True:
            pass
    return x
'''


@pytest.fixture(scope="module")
def slow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slow_plugins")
    (root / "slowpack").mkdir()
    (root / "slowpack" / "__init__.py").write_text(SLOW_PACK)
    return root


@pytest.fixture
def make_client(slow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path / "user"))  # trust and plugins of this test only
    made: list[EngineClient] = []

    def make(**options: Any) -> EngineClient:
        c = EngineClient(plugin_dirs=(str(slow_dir),), threads=1, **options)
        c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown(timeout=2.0)  # a test may leave its engine stuck on purpose
        _BACKLOG.pop(id(c), None)


def statuses(seen: list[Any], state: str) -> list[EngineStatus]:
    return [e for e in seen if isinstance(e, EngineStatus) and e.state == state]


def with_slow_input(**params: Any) -> dict[str, Any]:
    """John's MLP reading from slow.Input instead of the digits."""
    doc = mlp()
    data = next(b for b in doc["graph"]["blocks"] if b["id"] == "b1")
    data.update(type="slow.Input", params=params)
    return doc


def with_block(block_type: str, block_id: str = "b99", name: str = "slow", **params: Any) -> dict[str, Any]:
    """John's MLP with one more block between FC1 and FC2."""
    doc = mlp()
    blocks, links = doc["graph"]["blocks"], doc["graph"]["links"]
    blocks.append({"id": block_id, "type": block_type, "version": 1, "name": name, "pos": [0.0, 0.0], "params": params,
                   "inputs": [{"name": "x", "kind": "tensor"}], "outputs": [{"name": "y", "kind": "tensor"}]})
    link = next(lk for lk in links if lk["src"][0] == "b2" and lk["dst"][0] == "b3")
    links.remove(link)
    links += [{"src": ["b2", "y"], "dst": [block_id, "x"]}, {"src": [block_id, "y"], "dst": ["b3", "x"]}]
    return doc


def test_a_validation_sent_while_the_engine_starts_slowly_is_answered_not_hung(make_client, monkeypatch):
    monkeypatch.setenv(START_DELAY_ENV, "5")  # the engine takes 5 s more to start than the deadline
    client = make_client(validate_deadline_s=2.0)
    rid = client.validate(mlp(), str(EXAMPLES))  # sent at once, as the editor does
    assert client.activity().startswith("starting engine… (")
    seen: list[Any] = []
    result = wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 60, seen)
    assert result.ok
    assert not statuses(seen, "hung") and not statuses(seen, "crashed") and client.restarts == 0


def test_a_slow_data_load_that_works_is_not_a_hang(make_client):
    client = make_client(validate_deadline_s=2.0)
    wait_for(client, is_ready, 60)
    rid = client.validate(with_slow_input(seconds=5.0, busy=True), str(EXAMPLES))
    seen: list[Any] = []
    result = wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 30, seen)
    assert result.ok, [r["message"] for r in result.records if r["status"] == "error"]
    assert not statuses(seen, "hung")
    loads = [e for e in seen if isinstance(e, m.Progress) and e.phase == "load data"]
    assert loads and loads[0].block_id == "b1"


def test_a_data_load_that_waits_forever_is_still_a_hang_and_named(make_client):
    client = make_client(validate_deadline_s=2.0)
    wait_for(client, is_ready, 60)
    started = time.monotonic()
    client.validate(with_slow_input(seconds=60.0, busy=False), str(EXAMPLES))
    hung = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "hung", 20)
    assert time.monotonic() - started < 10
    assert hung.block_id == "b1" and "digits" in hung.reason


def test_a_validation_killed_by_a_restart_is_sent_again_once(make_client):
    client = make_client(validate_deadline_s=10.0)
    wait_for(client, is_ready, 60)
    doc = with_block("slow.Build", seconds=3.0)
    rid = client.validate(doc, str(EXAMPLES))
    wait_for(client, lambda e: isinstance(e, m.Progress) and e.request_id == rid, 30)
    client.kill()  # the machine's fault, say: not the project's
    crashed = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "crashed", 10)
    assert "not sent again" not in crashed.reason
    result = wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 60)
    assert result.ok and any(r["id"] == "b99" and r["status"] == "ok" for r in result.records)
    # Killed a second time while running it: it is not sent a third time.
    rid = client.validate(with_block("slow.Build", seconds=3.1), str(EXAMPLES))
    for _ in range(2):
        wait_for(client, lambda e: isinstance(e, m.Progress) and e.request_id == rid, 60)
        client.kill()
        crashed = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "crashed", 10)
    assert "killed the engine twice" in crashed.reason and "not sent again until the next edit" in crashed.reason
    wait_for(client, is_ready, 60)
    rid = client.validate(mlp(), str(EXAMPLES))  # the next edit is validated as usual
    assert wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 30).ok


EDITOR_SIDE = textwrap.dedent('''
    import sys, time
    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineClient
    client = EngineClient(threads=1)
    client.start()
    end = time.monotonic() + 120
    while not any(isinstance(e, m.Ready) for e in client.poll(5.0)):
        assert time.monotonic() < end, "the engine never started"
        time.sleep(0.01)
    print(client.pid, flush=True)
    sys.stdin.read()  # until killed
''')


def _gone(pid: int) -> bool:
    """No such process, or a zombie (dead, waiting for a parent that reaps it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "?")
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_kill_9_of_the_editor_takes_its_engine_within_2_s(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DPG_BLOCKS_USER_DIR": str(tmp_path)}
    editor = subprocess.Popen([sys.executable, "-c", EDITOR_SIDE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        line = editor.stdout.readline()
        assert line.strip().isdigit(), f"no engine pid from the editor side: {line!r}"
        engine = int(line)
        assert not _gone(engine)
        os.kill(editor.pid, signal.SIGKILL)
        editor.wait(10)
        killed = time.monotonic()
        while not _gone(engine) and time.monotonic() - killed < 5:
            time.sleep(0.05)
        waited = time.monotonic() - killed
        if not _gone(engine):
            os.kill(engine, signal.SIGKILL)
        assert waited < 2.0, f"the engine outlived its editor by {waited:.1f} s"
    finally:
        if editor.poll() is None:
            editor.kill()


@pytest.mark.parametrize("then", ["deadline", "stop"])
def test_a_training_step_that_hangs_is_named_at_its_block_well_before_the_train_deadline(make_client, then):
    from engine_fixtures import registry

    from dpg_blocks.core.project_file import project_from_dict
    from dpg_blocks.core.user.trust import TrustStore, code_digest, project_code

    doc = with_block("builtin.Custom", block_id="b98", name="Spinner", inputs=["x"], outputs=["y"],
                     code=HANG_AT_STEP_3, values={}, gradient_scale=0.0, gradient_schedule="constant")
    TrustStore().trust(code_digest(project_code(project_from_dict(doc), registry().code_params)))
    client = make_client(validate_deadline_s=4.0, train_deadline_s=10.0, stuck_after_s=1.0)
    wait_for(client, is_ready, 60)
    # validated first, as the editor does: the Train's own compile then finds the data loaded
    vid = client.validate(doc, str(EXAMPLES))
    assert wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == vid, 30).ok
    rid = client.request_id()
    client.send(m.Train(project=doc, project_dir=str(EXAMPLES), request_id=rid, epochs=5))
    state = wait_for(client, lambda e: isinstance(e, m.TrainingState | m.ValidationResult | m.Error | EngineStatus), 30)
    assert isinstance(state, m.TrainingState) and state.state == "running", state
    started = time.monotonic()
    stuck = wait_for(client, lambda e: isinstance(e, m.TrainingStuck), 10)
    assert time.monotonic() - started < client.validate_deadline_s
    assert stuck.request_id == rid and stuck.block_id == "b98" and stuck.path == ["Spinner"]
    assert client.activity().startswith("training is stuck in block Spinner (")
    if then == "stop":  # the stuck step never reads a Stop: the client ends the engine at once
        client.send(m.Stop())
        hung = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "hung", 1)
        assert "training stopped: training is stuck in block Spinner" in hung.reason
    else:  # still stuck at the train deadline: the engine is killed, the block named in the reason
        hung = wait_for(client, lambda e: isinstance(e, EngineStatus) and e.state == "hung", 30)
        assert "engine hung" in hung.reason and "Spinner" in hung.reason
    assert hung.block_id == "b98"
    wait_for(client, is_ready, 60)  # and it comes back


def test_every_line_of_a_generated_forward_that_calls_a_block_is_mapped_to_that_block():
    """The watchdog names a stuck block from the generated forward's running line."""
    from engine_fixtures import registry

    from dpg_blocks.core import load_project
    from dpg_blocks.engine.compiling.model import compile_project

    project = load_project(EXAMPLES / "gan_digits.dpgb")
    model = compile_project(project, registry(), EXAMPLES).model
    assert set(model.block_lines) == {f"<dpg-blocks order {k}>" for k in model.orders}
    for k in model.orders:
        lines = model.sources_code[k].splitlines()
        mapped = model.block_lines[f"<dpg-blocks order {k}>"]
        calls = {n for n, line in enumerate(lines, 1) if "= m" in line and "(" in line and "= m[" not in line}
        assert set(mapped) == calls, k
        assert len(set(mapped.values())) == len(mapped)  # one line per block
