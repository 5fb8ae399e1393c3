"""Scenario D.2: a plugin folder copied into a watched folder while the editor runs appears
without a restart; a broken one shows in the Plugins pane and breaks nothing else.

The watcher's logic runs on a fake clock without Dear PyGui; "Add plugin folder…" and the
watched-folder list run in a context without a viewport; one test runs a real engine and copies
folders into the user plugin folder (a private temporary one, tests/conftest.py).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_fixtures import SCALE_PLUGIN
from ui_fixtures import click, gui_context

from dpg_blocks.core.user.folder import plugins_dir
from dpg_blocks.core.user.plugin_folders import PluginFolderError, add_plugin_folder, plugin_dirs, plugins_in
from dpg_blocks.ui.panes.plugin_watch import PluginWatch, folders_signature

PACK = SCALE_PLUGIN.replace("demo.Scale", "live.Scale").replace('category="Demo"', 'category="Live"')


def make_pack(parent: Path, name: str, source: str = PACK) -> Path:
    """A plugin package ``parent/name`` whose ``__init__.py`` is ``source``."""
    (parent / name).mkdir(parents=True)
    (parent / name / "__init__.py").write_text(source)
    return parent / name


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, FakeClock, list[int], PluginWatch]:
    """An empty watched folder, the clock, the reloads sent, and the watcher."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    clock, reloads = FakeClock(), []
    watch = PluginWatch(lambda: [folder], lambda: reloads.append(1), clock=clock)
    return folder, clock, reloads, watch


def ticks(watch: PluginWatch, clock: FakeClock, seconds: float, step: float = 1 / 60) -> None:
    """Run the editor's frames for ``seconds`` of fake time (60 per second)."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += step
        watch.tick()


# -- the signature -----------------------------------------------------------------------------
def test_the_signature_changes_when_a_plugin_is_added_modified_or_removed(tmp_path):
    sigs = [folders_signature([tmp_path])]
    pack = make_pack(tmp_path, "demo")
    sigs.append(folders_signature([tmp_path]))
    (pack / "__init__.py").write_text(PACK + "\n# one more line\n")
    sigs.append(folders_signature([tmp_path]))
    (tmp_path / "single.py").write_text(PACK)
    sigs.append(folders_signature([tmp_path]))
    shutil.rmtree(pack)
    sigs.append(folders_signature([tmp_path]))
    assert len(set(sigs)) == len(sigs)
    assert folders_signature([tmp_path]) == sigs[-1]  # nothing changed: the same signature


def test_bytecode_caches_and_hidden_staging_folders_do_not_change_the_signature(tmp_path):
    pack = make_pack(tmp_path, "demo")
    before = folders_signature([tmp_path])
    (pack / "__pycache__").mkdir()
    (pack / "__pycache__" / "demo.cpython-311.pyc").write_bytes(b"\0" * 64)
    (pack / "stray.pyc").write_bytes(b"\0")
    (tmp_path / ".adding-other-123").mkdir()  # add_plugin_folder copies under a hidden name
    (tmp_path / ".adding-other-123" / "__init__.py").write_text(PACK)
    (tmp_path / "_disabled.py").write_text(PACK)  # the engine skips these names too
    assert folders_signature([tmp_path]) == before


def test_a_missing_folder_that_appears_changes_the_signature(tmp_path):
    folder = tmp_path / "not-yet"
    before = folders_signature([folder])
    make_pack(folder, "demo")
    assert folders_signature([folder]) != before


# -- the watcher -------------------------------------------------------------------------------
def test_a_settled_change_sends_exactly_one_reload(watched):
    folder, clock, reloads, watch = watched
    ticks(watch, clock, 3.0)
    assert reloads == []  # nothing changed since the engine loaded the folders
    make_pack(folder, "demo")
    ticks(watch, clock, 2.5)  # seen at the next check, unchanged at the one after: settled
    assert reloads == [1]
    ticks(watch, clock, 5.0)
    assert reloads == [1]  # one reload per change, not one per check


def test_a_folder_still_being_copied_is_not_loaded_until_it_holds_still(watched):
    folder, clock, reloads, watch = watched
    pack = make_pack(folder, "demo")
    for i in range(4):  # a slow copy: another file lands before every check
        ticks(watch, clock, 1.0)
        (pack / f"part{i}.py").write_text("x = 1\n" * (i + 1))
    assert reloads == []
    ticks(watch, clock, 2.5)
    assert reloads == [1]


def test_a_change_undone_before_it_settled_sends_nothing(watched):
    folder, clock, reloads, watch = watched
    pack = make_pack(folder, "demo")
    ticks(watch, clock, 1.0)
    shutil.rmtree(pack)
    ticks(watch, clock, 5.0)
    assert reloads == []


def test_the_folders_are_looked_at_at_most_once_a_second(tmp_path):
    clock, looks = FakeClock(), []

    def folders() -> list[Path]:
        looks.append(clock.now)
        return [tmp_path]

    watch = PluginWatch(folders, lambda: None, clock=clock)
    ticks(watch, clock, 10.0)
    assert 9 <= len(looks) - 1 <= 10  # one look at start-up, then one per second
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(looks[1:], looks[2:], strict=False))


# -- the folder list and "Add plugin folder…" -----------------------------------------------------
def test_the_engine_and_the_editor_read_the_same_folders(tmp_path, monkeypatch):
    from dpg_blocks.engine.packs.registry import discover

    extra = tmp_path / "extra"
    make_pack(extra, "demo")
    monkeypatch.setenv("DPG_BLOCKS_PLUGIN_PATH", str(extra))
    folders = plugin_dirs()
    assert folders[0].name == "plugins" and plugins_dir() in folders and extra in folders
    assert plugin_dirs([extra, tmp_path]) == [*folders, tmp_path]  # each folder once
    assert discover().get("live.Scale").pack == "demo"
    assert [p.name for p in plugins_in(extra)] == ["demo"]


def test_add_plugin_folder_copies_a_package_and_refuses_what_is_not_one(tmp_path):
    source = make_pack(tmp_path / "downloads", "demo")
    (source / "__pycache__").mkdir()
    target = add_plugin_folder(source)
    assert target == plugins_dir() / "demo" and (target / "__init__.py").read_text() == PACK
    assert not (target / "__pycache__").exists()
    assert [p.name for p in plugins_dir().iterdir()] == ["demo"]  # no staging folder left behind

    with pytest.raises(PluginFolderError, match="already holds 'demo'"):
        add_plugin_folder(source)
    (tmp_path / "notes").mkdir()
    with pytest.raises(PluginFolderError, match="is not a plugin folder: it has no __init__.py"):
        add_plugin_folder(tmp_path / "notes")
    with pytest.raises(PluginFolderError, match="is not a folder"):
        add_plugin_folder(tmp_path / "nowhere")


def test_the_plugins_pane_shows_the_watched_folders_and_adds_a_folder(editor, tmp_path):
    text = editor.plugins.text()
    assert f"{plugins_dir()}  (yours; Add plugin folder… copies here)  (does not exist yet)" in text
    assert str(Path(__file__).resolve().parents[1] / "plugins") in text

    source = make_pack(tmp_path, "demo")
    click(editor.plugins.add_button)  # the folder dialog opens (it is created on first use)
    click(editor.plugins.add_dialog, {"file_path_name": str(source), "current_path": str(tmp_path)})
    assert (plugins_dir() / "demo" / "__init__.py").is_file()
    text = editor.plugins.text()
    assert f"copied demo into {plugins_dir()}" in text and "does not exist yet" not in text

    click(editor.plugins.add_dialog, {"file_path_name": str(tmp_path), "current_path": str(tmp_path)})
    assert f"not added: {tmp_path} is not a plugin folder: it has no __init__.py" in editor.plugins.text()
    assert "is not a plugin folder" in editor.state.status


# -- with a real engine --------------------------------------------------------------------------
def run_frames(editor, pred: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the editor's per-frame work (engine events, the folder watcher) until ``pred()``."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out; engine {editor.state.engine_text!r}, status {editor.state.status!r}")
        editor.frame()
        time.sleep(0.01)


def test_plugin_folders_copied_in_while_the_editor_runs_load_without_a_restart(tmp_path):
    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState

    source = make_pack(tmp_path, "live_pack")
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.start_engine(threads=1)
        st = ed.state
        try:
            run_frames(ed, lambda: bool(st.catalog))
            assert "live.Scale" not in st.catalog.specs
            shutil.copytree(source, plugins_dir() / "live_pack")  # "drop" the folder in
            run_frames(ed, lambda: "live.Scale" in st.catalog.specs, timeout=30)
            assert st.catalog.spec("live.Scale").pack == "live_pack"
            click(ed.blocks_menu.add_buttons["live.Scale"])  # its "+" in the Blocks menu works
            (added,) = [b.id for b in st.project.graph.walk() if b.type == "live.Scale"]

            make_pack(plugins_dir(), "broken_pack", "def oops(:\n")
            run_frames(ed, lambda: any(f["pack"] == "broken_pack" for f in st.plugin_failures), timeout=30)
            text = ed.plugins.text()
            assert "FAILED  broken_pack: SyntaxError" in text, text
            assert str(plugins_dir() / "broken_pack") in text and "live_pack  —  1 block" in text
            assert "live.Scale" in st.catalog.specs and "builtin.Linear" in st.catalog.specs
            assert added in ed.canvas.nodes

            shutil.rmtree(plugins_dir() / "live_pack")  # a block whose pack is gone stays on the canvas
            run_frames(ed, lambda: "live.Scale" not in st.catalog.specs, timeout=30)
            assert added in ed.canvas.nodes and st.block(added).type == "live.Scale"
            assert ed.internal_errors == 0
        finally:
            ed.close()
