"""Plugins that exit, crash or hang at import: named, quarantined, and nothing else breaks.

Each scenario puts the misbehaving plugins beside a good pack (``demo.Scale``) and checks what
a user sees: ``plugins`` names every culprit and exits 1, ``validate`` of a project using only
the good pack is right, the editor with a real engine shows the good blocks and the
quarantined plugins in red, restarting the engine at most 3 times. The import time limit is
1 s here (``DPG_BLOCKS_PLUGIN_IMPORT_TIMEOUT``) so the hanging plugins cost little.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_fixtures import SCALE_PLUGIN
from ui_fixtures import click, live_editor, wait_for

from dpg_blocks.core.user.folder import plugins_dir
from dpg_blocks.core.user.plugin_quarantine import IMPORT_LIMIT_ENV, QuarantineStore, fingerprint

ROOT = Path(__file__).resolve().parents[1]

# What each plugin does at import, and what its quarantine must say.
BAD = {
    "p_exit": ("import sys\nsys.exit(0)\n", "called sys.exit(0) at import"),
    "p_osexit": ("import os\nos._exit(1)\n", "ended its process at import (exit code 1)"),
    "p_segfault": ("import ctypes\nctypes.string_at(0)\n", "(signal 11, SIGSEGV)"),
    "p_loop": ("while True:\n    pass\n", "import took longer than 1 s"),
    "p_interrupt": ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt at import"),
    "p_sleep": ("import time\ntime.sleep(10)\n", "import took longer than 1 s"),
}
# A hang the in-process guard cannot interrupt (its alarm signal is blocked): only a watcher
# outside the process (the CLI's probe, the engine client) can end it.
STUCK = ("import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\nwhile True:\n    pass\n",
         "hung at import")

SEGFAULT_BLOCK = '''
from dpg_blocks.blocks import In, Out, block

@block("trap.Segfault", category="Traps")
class Segfault:
    x = In()
    y = Out()

    def build(self, ctx):
        import ctypes
        ctypes.string_at(0)
'''


@pytest.fixture(autouse=True)
def short_import_limit(monkeypatch):
    monkeypatch.setenv(IMPORT_LIMIT_ENV, "1")  # the engine and every child inherit it


def write_plugins(folder: Path, bad: dict[str, tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good_pack.py").write_text(SCALE_PLUGIN)
    for name, (source, _) in bad.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def scale_project(path: Path, plugin: str = SCALE_PLUGIN, block_type: str = "demo.Scale", name: str = "Scale") -> Path:
    """noise -> one plugin block -> Output, written as a project file (the block's pack is
    imported here from a folder of its own: never the misbehaving ones)."""
    from dpg_blocks.blocks.builder import ProjectBuilder
    from dpg_blocks.core import save_project
    from dpg_blocks.engine.packs.registry import discover

    own = path.parent / f"{path.stem}_pack"
    own.mkdir()
    (own / "only_pack.py").write_text(plugin)
    registry = discover([own], defaults=False, quarantine=False)
    b = ProjectBuilder(registry.specs, "scaled")
    noise = b.add("builtin.Input", "noise", source="noise", noise_shape=[4])
    block = b.add(block_type, name)
    out = b.add("builtin.Output", "out")
    b.link(noise, "x", block, "x")
    b.link(block, "y", out, "x")
    save_project(b.project, path)
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "dpg_blocks", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def failures_by_pack(failures: list[dict]) -> dict[str, dict]:
    return {f["pack"]: f for f in failures}


def test_plugins_and_validate_name_each_culprit_and_still_use_the_good_pack(tmp_path):
    folder = write_plugins(tmp_path / "plugs", {**BAD, "p_stuck": STUCK})
    run = cli("plugins", "--json", "--plugins", str(folder))
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    failed = failures_by_pack(data["failures"])
    for name, (_, reason) in {**BAD, "p_stuck": STUCK}.items():
        assert failed[name]["quarantined"] is True, failed[name]
        assert reason in failed[name]["error"] and f"plugins --enable {name}" in failed[name]["error"]
        assert failed[name]["path"] == str(folder / f"{name}.py")
    assert "good_pack" in [p["name"] for p in data["packs"]]
    assert "demo.Scale" in [b["id"] for b in data["blocks"]] and "builtin.Linear" in [b["id"] for b in data["blocks"]]

    # A project that uses only the good pack validates, and the culprits are listed beside it.
    project = scale_project(tmp_path / "scaled.dpgb")
    before = project.read_bytes()
    run = cli("validate", str(project), "--json", "--plugins", str(folder))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] is True and {r["path_text"]: r["status"] for r in result["blocks"]} == {
        "noise": "ok", "Scale": "ok", "out": "ok"}
    assert set(failures_by_pack(result["plugin_failures"])) == {*BAD, "p_stuck"}
    assert project.read_bytes() == before

    # The table form names them too (on stderr, so the table stays clean).
    run = cli("validate", str(project), "--plugins", str(folder))
    assert run.returncode == 0 and "scaled: valid" in run.stdout
    assert f"plugin p_segfault ({folder / 'p_segfault.py'}): quarantined: crashed" in run.stderr

    # Re-enabled, a plugin that still misbehaves is quarantined again; a fixed one just loads.
    (folder / "p_loop.py").write_text(SCALE_PLUGIN.replace("demo.Scale", "fixed.Scale"))
    run = cli("plugins", "--json", "--enable", "p_exit", "--plugins", str(folder))
    assert "re-enabled p_exit" in run.stderr and run.returncode == 1
    failed = failures_by_pack(json.loads(run.stdout)["failures"])
    assert "p_loop" not in failed and failed["p_exit"]["quarantined"]
    assert "fixed.Scale" in [b["id"] for b in json.loads(run.stdout)["blocks"]]
    run = cli("plugins", "--enable", "nothing_like_it")
    assert run.returncode == 1 and "no quarantined plugin is called 'nothing_like_it'" in run.stderr


def test_validate_names_the_block_whose_build_segfaults(tmp_path):
    folder = tmp_path / "plugs"
    folder.mkdir()
    (folder / "traps.py").write_text(SEGFAULT_BLOCK)
    project = scale_project(tmp_path / "boom.dpgb", SEGFAULT_BLOCK, "trap.Segfault", "Boom")
    run = cli("validate", str(project), "--plugins", str(folder))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not validated: validation crashed in block Boom: engine crashed (signal 11, SIGSEGV)" in run.stdout
    run = cli("validate", str(project), "--json", "--plugins", str(folder))
    result = json.loads(run.stdout)
    assert run.returncode == 1 and result["ok"] is False and "in block Boom" in result["error"]


def test_the_editor_shows_the_good_pack_and_the_quarantined_plugins_in_red():
    write_plugins(plugins_dir(), BAD)
    started = time.monotonic()
    with live_editor(autosave_s=0) as ed:
        st = ed.state
        wait_for(ed, lambda: "demo.Scale" in st.catalog.specs and len(st.plugin_failures) == len(BAD), timeout=60)
        took = time.monotonic() - started
        assert took < 30, f"{took:.1f} s"
        assert ed.client.restarts <= 3 and ed.client.state == "ready"
        text = ed.plugins.text()
        for name, (_, reason) in BAD.items():
            assert f"QUARANTINED  {name}: quarantined: " in text and reason in text, text
        assert "good_pack  —  1 block" in text and "(6 quarantined)" in text
        assert all(f["quarantined"] for f in st.plugin_failures)
        restarts = ed.client.restarts

        # "Enable and retry": the engine tries it again (and quarantines it again), no restart.
        key = str((plugins_dir() / "p_interrupt.py").resolve())
        since = QuarantineStore().current(key).since
        click(ed.plugins.enable_buttons[key])
        assert "re-enabled p_interrupt; reloading the plugins" in ed.plugins.text()

        def retried() -> bool:
            entry = QuarantineStore().current(key)
            return entry is not None and entry.since > since and len(st.plugin_failures) == len(BAD)

        wait_for(ed, retried, timeout=30)
        assert ed.client.restarts == restarts and "demo.Scale" in st.catalog.specs
        assert ed.internal_errors == 0


def test_a_plugin_that_hangs_past_the_guard_is_quarantined_by_the_client():
    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineClient, EngineStatus

    write_plugins(plugins_dir(), {"p_stuck": STUCK})
    client = EngineClient(threads=1)
    client.start()
    statuses, ready = [], None
    try:
        end = time.monotonic() + 90
        while ready is None and time.monotonic() < end:
            for ev in client.poll(20.0):
                if isinstance(ev, EngineStatus):
                    statuses.append(ev)
                elif isinstance(ev, m.Ready):
                    ready = ev
            time.sleep(0.02)
    finally:
        client.shutdown()
    assert ready is not None, statuses
    hung = [s for s in statuses if s.state == "hung"]
    assert len(hung) == 1 and "while importing plugin p_stuck" in hung[0].reason and "quarantined" in hung[0].reason
    (f,) = ready.failures
    assert f["pack"] == "p_stuck" and f["quarantined"] and "hung at import" in f["error"]
    assert "demo.Scale" in {s["id"] for s in ready.catalog}


def test_the_client_stops_restarting_after_3_failed_starts_and_names_the_plugin():
    from dpg_blocks.client.engine_client import EngineClient, EngineStatus

    # The quarantine cannot be written (its file's name is taken by a folder), so the plugin
    # that kills the engine is imported again on every start.
    from dpg_blocks.core.user.plugin_quarantine import quarantine_file

    quarantine_file().mkdir(parents=True)
    write_plugins(plugins_dir(), {"p_osexit": ("import os\nos._exit(3)\n", "")})
    client = EngineClient(threads=1)
    client.start()
    statuses: list[EngineStatus] = []
    try:
        end = time.monotonic() + 90
        while not any(s.state == "stopped" for s in statuses) and time.monotonic() < end:
            statuses.extend(e for e in client.poll(20.0) if isinstance(e, EngineStatus))
            time.sleep(0.02)
        time.sleep(0.5)
        statuses.extend(e for e in client.poll(20.0) if isinstance(e, EngineStatus))
    finally:
        client.shutdown()
    crashed = [s for s in statuses if s.state == "crashed"]
    (stopped,) = [s for s in statuses if s.state == "stopped"]
    assert len(crashed) == 3 and client.restarts == 2 and not client.alive
    assert "failed to start 3 times in a row" in stopped.reason
    assert "engine exited with code 3 while importing plugin p_osexit" in stopped.reason


def test_the_quarantine_retries_a_changed_plugin_and_survives_a_corrupt_file(tmp_path):
    plugin = tmp_path / "p.py"
    plugin.write_text("x = 1\n")
    store = QuarantineStore(tmp_path / "q.json")
    key = str(plugin.resolve())
    store.add(key, "p", str(plugin), "hung at import")
    assert store.current(key).message() == (
        "quarantined: hung at import; retried when it changes, or `dpg-blocks plugins --enable p`")
    before = fingerprint(key)
    plugin.write_text("x = 22\n")  # another size: another fingerprint
    assert fingerprint(key) != before and store.current(key) is None
    assert [e.name for e in store.enable("p")] == ["p"] and store.entries() == []
    (tmp_path / "q.json").write_text('{"quarantined": {"a": 3, "b": {"since": "soon", "fingerprint": "x"}}}')
    assert [(e.key, e.since) for e in store.entries()] == [("b", 0.0)]
    (tmp_path / "q.json").write_text("{not json")
    assert store.entries() == [] and not store.is_good(key, before)
    store.mark_good({key: before})
    assert store.is_good(key, before)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".q.json.*"))


class FakeEntryPoint:
    """An installed pack's entry point whose import does ``action`` (no install needed)."""

    group = "dpg_blocks.blocks"
    dist = None

    def __init__(self, name: str, action) -> None:
        self.name, self.value, self.action = name, f"{name}_module", action

    def load(self):
        return self.action()


def test_in_process_an_exiting_or_interrupting_entry_point_is_quarantined_and_the_rest_load(monkeypatch, tmp_path):
    import importlib.metadata

    from dpg_blocks.engine.packs.registry import discover

    def exits():
        raise SystemExit(2)

    def interrupts():
        raise KeyboardInterrupt

    def loops():
        while True:
            pass

    fakes = [FakeEntryPoint("ep_exit", exits), FakeEntryPoint("ep_interrupt", interrupts),
             FakeEntryPoint("ep_loop", loops), FakeEntryPoint("ep_raise", lambda: 1 / 0)]
    real = importlib.metadata.entry_points

    def entry_points(**kw):
        found = [ep for ep in real(**kw) if ep.name == "builtin"]
        return found + [ep for ep in fakes if kw.get("name") in (None, ep.name)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setenv(IMPORT_LIMIT_ENV, "0.5")
    write_plugins(tmp_path / "plugs", {})
    started = time.monotonic()
    reg = discover([tmp_path / "plugs"], defaults=False)
    assert time.monotonic() - started < 5
    failed = {f.pack: f for f in reg.failures}
    assert failed["ep_exit"].quarantined and "called sys.exit(2) at import" in failed["ep_exit"].error
    assert failed["ep_interrupt"].quarantined and "raised KeyboardInterrupt" in failed["ep_interrupt"].error
    assert failed["ep_loop"].quarantined and "import took longer than 0.5 s" in failed["ep_loop"].error
    # An ordinary exception is a failure, not a quarantine: retrying it is harmless.
    assert not failed["ep_raise"].quarantined and failed["ep_raise"].error == "ZeroDivisionError: division by zero"
    assert reg.get("demo.Scale") is not None and reg.get("builtin.Linear") is not None

    # The next discovery does not import the quarantined ones again.
    fakes[0].action = fakes[1].action = fakes[2].action = lambda: pytest.fail("a quarantined plugin was imported")
    again = {f.pack: f for f in discover([tmp_path / "plugs"], defaults=False).failures}
    assert again["ep_loop"].error.startswith("quarantined: import took longer than 0.5 s; retried when it changes")
    assert {"ep_exit", "ep_interrupt", "ep_loop"} == {p for p, f in again.items() if f.quarantined}
