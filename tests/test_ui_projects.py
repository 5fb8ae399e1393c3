"""Projects that never lose work: recent files and preferences, autosave and crash recovery,
the unsaved-changes prompt, the trust prompt for custom code, and the Plugins pane.

Driven through the editor's own callbacks without a viewport (tests/ui_fixtures.py); the
window's close button and Ctrl+Q are checked for real under Xvfb in a subprocess, and one test
runs a real engine with a broken plugin folder. The user folder is a private temporary one
(tests/conftest.py sets DPG_BLOCKS_USER_DIR).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dearpygui.dearpygui as dpg
import pytest
from ui_fixtures import EXAMPLES, ROOT, builtin_catalog, click, gui_context, needs_xvfb, wait_for

from dpg_blocks.core import load_project, project_to_dict, save_project
from dpg_blocks.core.user.trust import TrustStore
from dpg_blocks.ui.editor.app import Editor
from dpg_blocks.ui.state.editor_state import UNTRUSTED_HINT, EditorState
from dpg_blocks.ui.state.prefs import MAX_RECENT, Preferences, prefs_file
from dpg_blocks.ui.state.recovery import Recovery, recovery_dir, recovery_key


class Quits:
    """Stands in for ``dpg.stop_dearpygui`` and counts the calls."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


@pytest.fixture
def editor() -> Iterator[Editor]:
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.state.set_catalog(builtin_catalog())
        ed.controls.quit_app = Quits()
        yield ed


def dead_pid() -> int:
    """The id of a process that has ended (what a crashed editor leaves in its sidecar)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def saved_project(tmp_path: Path, name: str = "mine.dpgb") -> Path:
    """A small project on disk: Input -> Linear."""
    st = EditorState()
    st.set_catalog(builtin_catalog())
    st.add_block("builtin.Input")
    st.add_block("builtin.Linear")
    path = tmp_path / name
    save_project(st.project, path)
    return path


def untrusted_dann(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the DANN example whose gradient-reversal code differs by one comment."""
    doc = json.loads((EXAMPLES / "dann_digits.dpgb").read_text())
    marker = "# changed on another computer"
    stack = list(doc["graph"]["blocks"])
    while stack:
        b = stack.pop()
        stack.extend((b.get("graph") or {}).get("blocks", []))
        if b["type"] == "builtin.Custom":
            b["params"]["code"] += f"\n{marker}\n"
    (tmp_path / "proj").mkdir(exist_ok=True)
    path = tmp_path / "proj" / "dann_copy.dpgb"
    path.write_text(json.dumps(doc, indent=1))
    return path, marker


# -- preferences -----------------------------------------------------------------------------
def test_recent_files_are_newest_first_deduplicated_capped_pruned_and_persist(tmp_path):
    files = []
    for i in range(MAX_RECENT + 2):
        f = tmp_path / f"p{i}.dpgb"
        f.write_text("{}")
        files.append(f)
    prefs = Preferences.load()
    prefs.add_recent(str(files[0]))
    prefs.add_recent(str(files[1]))
    prefs.add_recent(str(tmp_path / "sub" / ".." / "p0.dpgb"))  # the same file, spelled otherwise
    assert prefs.recent == [str(files[0].resolve()), str(files[1].resolve())]
    for f in files:
        prefs.add_recent(str(f))
    assert prefs.recent == [str(f.resolve()) for f in reversed(files)][:MAX_RECENT]
    files[-1].unlink()  # missing files are dropped when the list is shown
    shown = prefs.recent_files()
    assert str(files[-1].resolve()) not in shown and len(shown) == MAX_RECENT - 1
    assert Preferences.load().recent == shown  # and the pruned list was saved


def test_opening_and_saving_record_recent_files_in_the_open_recent_menu(editor, tmp_path):
    a = saved_project(tmp_path, "a.dpgb")
    assert editor.controls.open(str(a))
    editor.state.add_block("builtin.ReLU")
    assert editor.controls.save_to(str(tmp_path / "b"))  # Save As adds the extension
    b = tmp_path / "b.dpgb"
    assert list(editor.controls.recent_items) == [str(b.resolve()), str(a.resolve())]
    labels = [dpg.get_item_label(i) for i in dpg.get_item_children(editor.controls.recent_menu, 1)]
    assert labels[0].startswith("b.dpgb") and labels[1].startswith("a.dpgb") and "Clear the list" in labels
    # Open Recent opens it (nothing unsaved now, so no prompt).
    click(editor.controls.recent_items[str(a.resolve())])
    assert editor.state.path == str(a.resolve()) and not editor.controls.prompting
    assert Preferences.load().recent[:2] == [str(a.resolve()), str(b.resolve())]


def test_a_corrupt_preferences_file_gives_the_defaults_and_says_so(tmp_path):
    prefs_file().parent.mkdir(parents=True, exist_ok=True)
    prefs_file().write_bytes(b'{"recent": ["/x.dpgb"], "font_scale": \xff')
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        status = dpg.get_value(ed.status_text)
        assert "preferences" in status and "unreadable" in status and "defaults" in status
        assert ed.prefs.recent == [] and ed.prefs.font_scale == 1.0
    assert json.loads(prefs_file().read_text())["font_scale"] == 1.0  # replaced by the defaults
    assert prefs_file().with_name("prefs.json.bad").exists()  # the bad one is kept to look at


def test_font_size_is_applied_saved_and_applied_again_at_startup():
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        assert dpg.get_global_font_scale() == pytest.approx(1.0)
        click(ed.controls.font_items[1.3])
        assert dpg.get_global_font_scale() == pytest.approx(1.3)
        assert dpg.get_value(ed.controls.font_items[1.3]) and not dpg.get_value(ed.controls.font_items[1.0])
    assert Preferences.load().font_scale == pytest.approx(1.3)
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        assert dpg.get_global_font_scale() == pytest.approx(1.3)


# -- autosave and recovery -------------------------------------------------------------------
def test_autosave_writes_a_recovery_file_that_loads_back_to_the_same_project(tmp_path):
    st = EditorState()
    st.set_catalog(builtin_catalog())
    now = [100.0]
    rec = Recovery(st, interval_s=30, clock=lambda: now[0])
    assert not rec.tick()  # nothing unsaved
    st.add_block("builtin.Input")
    assert rec.tick()  # the first change is saved at once
    file, sidecar = rec.files(None)
    assert file.name == f"untitled-{os.getpid()}.dpgb"
    assert project_to_dict(load_project(file)) == st.project_dict()
    meta = json.loads(sidecar.read_text())
    assert meta["pid"] == os.getpid() and meta["path"] is None and meta["time"] <= time.time()
    st.add_block("builtin.Linear")
    assert not rec.tick()  # within the interval
    now[0] += 31
    assert rec.tick()
    assert project_to_dict(load_project(file)) == st.project_dict()
    assert not rec.tick()  # unchanged since the last write
    # A project with a file is keyed by its path.
    path = saved_project(tmp_path)
    st.open(str(path))
    assert not file.exists()  # the untitled work was replaced by a clean project: dropped
    st.add_block("builtin.ReLU")
    now[0] += 31
    assert rec.tick()
    assert rec.files(str(path))[0].name == f"{recovery_key(str(path))}.dpgb"
    assert project_to_dict(load_project(rec.files(str(path))[0])) == st.project_dict()


def crash_leftover(tmp_path: Path) -> tuple[Path, dict]:
    """A saved project plus the recovery file an editor wrote before it died unsaved."""
    path = saved_project(tmp_path)
    st = EditorState()
    st.set_catalog(builtin_catalog())
    st.open(str(path))
    st.add_block("builtin.ReLU")
    st.rename(next(iter(st.project.graph.blocks)), "renamed input")
    rec = Recovery(st, interval_s=0)
    assert rec.tick()
    _, sidecar = rec.files(str(path))
    meta = json.loads(sidecar.read_text())
    meta["pid"] = dead_pid()
    meta["time"] = path.stat().st_mtime + 5  # written after the last save
    sidecar.write_text(json.dumps(meta))
    return path, st.project_dict()


def test_a_crash_leftover_is_offered_and_recover_gives_the_edits_back_dirty_on_the_original_file(editor, tmp_path):
    path, edited = crash_leftover(tmp_path)
    on_disk = project_to_dict(load_project(path))
    assert editor.controls.open(str(path))
    c = editor.controls
    assert dpg.is_item_shown(c.recover_window)
    text = dpg.get_value(c.recover_text)
    assert str(path.resolve()) in text and time.strftime("%Y-%m-%d") in text
    click(c.recover_button)
    st = editor.state
    assert not dpg.is_item_shown(c.recover_window)
    assert st.project_dict() == edited and st.dirty and st.path == str(path.resolve())
    assert st.title.startswith("mine.dpgb *")
    assert project_to_dict(load_project(path)) == on_disk  # the file itself is untouched
    assert "renamed input" in {b.name for b in st.project.graph.blocks.values()}
    # Ctrl+S writes the real file, and the recovery files are gone.
    assert c.save()
    assert project_to_dict(load_project(path)) == edited and not st.dirty
    assert not list(recovery_dir().glob("*"))


def test_discard_deletes_the_leftover_and_a_live_editors_file_is_not_offered(editor, tmp_path):
    path, _ = crash_leftover(tmp_path)
    assert editor.controls.open(str(path))
    click(editor.controls.recover_discard)
    assert not editor.state.dirty and not list(recovery_dir().glob("*"))
    # The same leftover from a process that is still running (this one's parent) is left alone.
    (tmp_path / "again").mkdir()
    path, _ = crash_leftover(tmp_path / "again")
    sidecar = recovery_dir() / f"{recovery_key(str(path))}.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "pid": os.getppid()}))
    assert editor.controls.open(str(path))
    assert not dpg.is_item_shown(editor.controls.recover_window)


def test_an_untitled_leftover_is_offered_at_startup(editor):
    st = EditorState()
    st.set_catalog(builtin_catalog())
    st.add_block("builtin.Input")
    rec = Recovery(st, interval_s=0)
    rec.tick()
    file, sidecar = rec.files(None)
    dead = dead_pid()
    moved = file.with_name(f"untitled-{dead}.dpgb")
    file.rename(moved)
    sidecar.with_name(f"untitled-{dead}.json").write_text(json.dumps({**json.loads(sidecar.read_text()), "pid": dead}))
    sidecar.unlink()
    assert editor.controls.offer_recovery(None)
    assert "never saved" in dpg.get_value(editor.controls.recover_text)
    click(editor.controls.recover_button)
    assert editor.state.dirty and editor.state.path is None and editor.state.project_dict() == st.project_dict()
    assert not moved.exists()  # replaced by this editor's own recovery file
    assert editor.recovery.files(None)[0].exists()


def test_a_clean_save_and_a_clean_close_remove_the_recovery_file(editor, tmp_path):
    path = saved_project(tmp_path)
    c = editor.controls
    assert c.open(str(path))
    editor.state.add_block("builtin.ReLU")
    editor.frame()  # the per-frame tick autosaves (interval 0 here)
    file, sidecar = editor.recovery.files(str(path))
    assert file.exists() and sidecar.exists()
    assert c.save()
    assert not file.exists() and not sidecar.exists()
    editor.state.add_block("builtin.ReLU")
    editor.frame()
    assert file.exists()
    c.quit()  # dirty: asks first
    assert dpg.is_item_shown(c.unsaved_window) and c.quit_app.n == 0
    click(c.unsaved_discard)
    assert c.quit_app.n == 1 and c.closed_cleanly and not file.exists()
    assert project_to_dict(load_project(path)) != editor.state.project_dict()  # Don't save did not save
    # The editor renders the rest of that frame (and maybe another) before the loop ends: its
    # autosave must not write the discarded work back, to be offered at the next start.
    editor.frame()
    editor.frame()
    assert not file.exists() and not sidecar.exists()
    assert not editor.recovery.left_behind(str(path))


def test_dont_save_on_quit_in_a_queued_callback_leaves_nothing_for_the_next_start(editor, tmp_path):
    # As the real window runs it: the click is a queued callback, then the frame's stages run.
    path = saved_project(tmp_path)
    c = editor.controls
    assert c.open(str(path))
    editor.state.add_block("builtin.ReLU")
    editor.frame()
    c.quit()
    file, sidecar = editor.recovery.files(str(path))
    editor.recovery.interval_s = 0
    editor.state.add_block("builtin.ReLU")  # a change after the last autosave: tick is due
    c.unsaved_answer("discard")
    editor.frame()
    assert c.quit_app.n == 1 and not file.exists() and not sidecar.exists()


# -- the unsaved-changes prompt --------------------------------------------------------------
def test_dirty_new_asks_cancel_keeps_the_project_and_dont_save_discards_it(editor):
    st, c = editor.state, editor.controls
    st.add_block("builtin.Input")
    before = st.project_dict()
    c.new()
    assert dpg.is_item_shown(c.unsaved_window) and "unsaved changes" in dpg.get_value(c.unsaved_text)
    assert st.project_dict() == before  # nothing happens until the user answers
    click(c.unsaved_cancel)
    assert not dpg.is_item_shown(c.unsaved_window)
    assert st.project_dict() == before and st.dirty
    c.new()
    click(c.unsaved_discard)
    assert not st.project.graph.blocks and not st.dirty


def test_save_in_the_prompt_saves_then_goes_on(editor, tmp_path):
    path = saved_project(tmp_path)
    other = saved_project(tmp_path, "other.dpgb")
    st, c = editor.state, editor.controls
    c.open(str(path))
    st.add_block("builtin.ReLU")
    edited = st.project_dict()
    c.open_recent(str(other))
    assert dpg.is_item_shown(c.unsaved_window) and st.path == str(path.resolve())
    click(c.unsaved_save)
    assert project_to_dict(load_project(path)) == edited
    assert st.path == str(other.resolve()) and not st.dirty
    # An untitled project: Save goes through Save As, then the action runs.
    c.new()
    st.add_block("builtin.Input")
    c.new()
    click(c.unsaved_save)
    assert dpg.is_item_shown(c._dialog("save")) and st.project.graph.blocks
    c._saved_as(str(tmp_path / "named"))
    assert (tmp_path / "named.dpgb").exists() and not st.project.graph.blocks and st.path is None


# -- the trust prompt ------------------------------------------------------------------------
def test_untrusted_code_shows_the_trust_prompt_and_trust_and_run_records_it(editor, tmp_path):
    path, marker = untrusted_dann(tmp_path)
    c, st = editor.controls, editor.state
    editor._validate_wanted = False
    assert c.open(str(path))
    assert dpg.is_item_shown(c.trust_window)
    shown = [dpg.get_value(w) for w in c.trust_code_widgets]
    assert "Gradient Reversal  (builtin.Custom, code)" in shown[0]
    assert marker in shown[1] and "def backward" in shown[1]
    digest = c._trust_digest
    assert digest and not TrustStore().is_trusted(digest)
    editor._validate_wanted = False
    click(c.trust_button)
    assert TrustStore().is_trusted(digest) and not st.code_declined
    assert editor._validate_wanted  # validated again, now with the code allowed to run
    assert not dpg.is_item_shown(c.trust_window)


def test_keep_it_disabled_explains_the_blocks_and_saving_does_not_trust_the_code(editor, tmp_path):
    path, _ = untrusted_dann(tmp_path)
    c, st = editor.controls, editor.state
    c.open(str(path))
    digest = c._trust_digest
    click(c.trust_keep)
    assert st.code_declined and not TrustStore().is_trusted(digest)
    assert "kept disabled" in dpg.get_value(editor.status_text)
    bid = next(b.id for b in st.project.graph.walk() if b.type == "builtin.Custom")
    st.validation_result(st.validation.sent, [{"id": bid, "status": "error", "error_type": "UntrustedCode",
                                               "message": "not run: … (the --trust option of dpg-blocks …)"}], False)
    assert st.record(bid)["message"] == UNTRUSTED_HINT
    c.save()  # this user's save is not a trust decision about someone else's code
    assert not TrustStore().is_trusted(digest)
    c.review_code()  # File › Review custom code… asks again
    assert dpg.is_item_shown(c.trust_window)


def test_trusted_or_code_free_projects_open_without_a_prompt_and_the_check_waits_for_the_catalog(tmp_path):
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.controls.open(str(EXAMPLES / "dann_digits.dpgb"))  # shipped, trusted by digest
        ed.controls.open(str(EXAMPLES / "mlp_digits.dpgb"))  # no code
        path, _ = untrusted_dann(tmp_path)
        ed.controls.open(str(path))  # before the engine's catalog: the check waits
        assert not dpg.is_item_shown(ed.controls.trust_window)
        ed.state.set_catalog(builtin_catalog())
        assert dpg.is_item_shown(ed.controls.trust_window)


# -- the Plugins pane ------------------------------------------------------------------------
def test_the_plugins_pane_lists_packs_and_a_failure_from_a_ready_event(editor):
    from dpg_blocks import protocol as m

    failure = {"pack": "broken_pack", "path": "/plugins/broken_pack", "error": "ImportError: no module named nope",
               "traceback": 'Traceback (most recent call last):\n  File "x.py", line 1\nImportError: no module named nope'}
    editor.handle(m.Ready(catalog=builtin_catalog(), failures=[failure], pid=1))
    text = editor.plugins.text()
    assert "FAILED  broken_pack: ImportError: no module named nope" in text
    version = builtin_catalog()[0]["pack_version"]
    assert "/plugins/broken_pack" in text and f"builtin {version}  —  {len(builtin_catalog())} blocks" in text
    assert "1 failed" in text
    (tb,) = editor.plugins.tracebacks
    assert dpg.get_value(tb) == failure["traceback"]
    assert "1 plugin(s) failed to load: broken_pack" in dpg.get_value(editor.status_text)

    sent = []
    editor.client = type("FakeClient", (), {"send": lambda self, cmd: sent.append(cmd), "state": "stopped",
                                            "poll": lambda self, ms: [], "start_failures": 0})()
    click(editor.plugins.reload_button)
    assert len(sent) == 1 and isinstance(sent[0], m.ReloadPlugins)
    editor.handle(m.Ready(catalog=builtin_catalog(), failures=[], pid=1))
    assert "FAILED" not in editor.plugins.text() and not editor.plugins.tracebacks
    editor.client = None


def test_the_plugins_pane_shows_refused_ids_and_bad_declarations_in_red_and_pack_versions(editor):
    from dpg_blocks import protocol as m
    from dpg_blocks.ui.theme import RED

    widen = {**builtin_catalog()[0], "id": "widen.Widen", "name": "Widen", "category": "Widen", "pack": "widen",
             "pack_version": "0.3"}
    failures = [
        {"pack": "evilpack", "path": "evilpack", "block": "builtin.Dropout", "kind": "clash",
         "error": "block id 'builtin.Dropout' is already registered by pack 'builtin'; refused"},
        {"pack": "half", "path": "/p/half", "block": "half.BadParam", "kind": "declaration",
         "error": "BadParam.size: unknown parameter type"},
    ]
    editor.state.add_block("builtin.Dropout")  # the project uses the id a pack tried to take
    editor.handle(m.Ready(catalog=[*builtin_catalog(), widen], failures=failures, pid=1))
    lines = editor.plugins.lines
    assert "REFUSED  evilpack · builtin.Dropout: block id 'builtin.Dropout' is already registered by pack " \
        "'builtin'; refused" in lines
    assert "FAILED  half · half.BadParam: BadParam.size: unknown parameter type" in lines
    assert "widen 0.3  —  1 block" in lines

    def is_red(item: int | str) -> bool:
        colour = dpg.get_item_configuration(item)["color"][:3]
        return all(abs(c * 255 - r) < 1 for c, r in zip(colour, RED[:3], strict=True))

    reds = [dpg.get_value(t) for t in dpg.get_item_children(editor.plugins.body, 1)
            if dpg.get_item_type(t).endswith("mvText") and is_red(t)]
    assert len([r for r in reds if r.startswith(("REFUSED", "FAILED"))]) == 2
    assert "2 block(s) not loaded: builtin.Dropout (evilpack), half.BadParam (half); pack evilpack tried to " \
        "take builtin.Dropout, which this project uses (refused: pack builtin's is used)" in \
        dpg.get_value(editor.status_text)
    # the Blocks menu's tooltip names the pack and its version
    tip = editor.blocks_menu.tooltips["widen.Widen"]
    assert [dpg.get_value(c) for c in dpg.get_item_children(tip, 1)][:2] == ["Widen  (widen.Widen)", "pack widen 0.3"]


def test_the_editor_records_pack_versions_on_save_and_warns_on_open_when_one_differs(editor, tmp_path):
    from dpg_blocks.core import load_project

    widen = {**builtin_catalog()[0], "id": "widen.Widen", "name": "Widen", "category": "Widen", "pack": "widen",
             "pack_version": "0.3"}
    st = editor.state
    st.set_catalog([*builtin_catalog(), widen])
    st.add_block("widen.Widen")
    st.add_block("builtin.Linear")
    st.save(str(tmp_path / "p.dpgb"))
    assert load_project(tmp_path / "p.dpgb").packs == {"widen": "0.3"}  # builtin is dpg-blocks' own

    st.set_catalog([*builtin_catalog(), {**widen, "pack_version": "0.4"}])  # the pack was upgraded
    st.open(str(tmp_path / "p.dpgb"))
    assert st.pack_warnings == ["saved with pack widen 0.3; installed is 0.4: its blocks may build differently"]
    assert st.pack_warnings[0] in dpg.get_value(editor.status_text)
    assert dpg.is_item_shown(editor.controls.error_window)  # and a dialog says it
    assert dpg.get_value(editor.controls.error_text).startswith(
        "This project was saved with pack widen 0.3; installed is 0.4: its blocks may build differently.")


BROKEN = "raise ImportError('this pack is broken on purpose')\n"
FIXED = '''
from dpg_blocks.blocks import In, Out, block

@block("demo.Identity", category="Demo")
class Identity:
    """Pass the input through."""
    x = In()
    y = Out()

    def build(self, ctx):
        import torch
        return torch.nn.Identity()
'''


def test_a_broken_plugin_folder_shows_in_the_plugins_pane_and_reload_fixes_it(tmp_path):
    folder = tmp_path / "plugins"
    (folder / "demo_pack").mkdir(parents=True)
    (folder / "demo_pack" / "__init__.py").write_text(BROKEN)
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.start_engine(threads=1, plugin_dirs=[str(folder)])
        try:
            st = ed.state
            wait_for(ed, lambda: bool(st.catalog))
            assert "builtin.Linear" in st.catalog.specs  # the rest of the catalog still loads
            text = ed.plugins.text()
            assert "FAILED  demo_pack: ImportError: this pack is broken on purpose" in text, text
            assert str(folder / "demo_pack") in text and "\nbuiltin " in text
            assert "this pack is broken on purpose" in dpg.get_value(ed.plugins.tracebacks[0])
            (folder / "demo_pack" / "__init__.py").write_text(FIXED)
            click(ed.plugins.reload_button)
            wait_for(ed, lambda: "demo.Identity" in st.catalog.specs)
            assert not st.plugin_failures and "demo_pack  —  1 block" in ed.plugins.text()
        finally:
            ed.close()


# -- the real window: close button, Ctrl+Q, and what the prompts look like -----------------
WINDOW = r'''
import ctypes, ctypes.util, json, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
import dearpygui.dearpygui as dpg
from ui_fixtures import builtin_catalog
from dpg_blocks.ui.editor import app
from dpg_blocks.ui.state.recovery import Recovery

out_dir = sys.argv[1]
leftover = sys.argv[2] if len(sys.argv) > 2 else ""

def wm_close(wid):
    """What a window manager's close button sends: WM_PROTOCOLS / WM_DELETE_WINDOW."""
    x = ctypes.CDLL(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    class Msg(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]
    class Event(ctypes.Union):
        _fields_ = [("xclient", Msg), ("pad", ctypes.c_long * 24)]
    d = x.XOpenDisplay(None)
    ev = Event()
    ev.xclient.type, ev.xclient.window, ev.xclient.format = 33, wid, 32
    ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
    ev.xclient.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
    x.XSendEvent(d, wid, 0, 0, ctypes.byref(ev))
    x.XFlush(d)

editor = app._create((1600, 1000), leftover or None)
editor.state.set_catalog(builtin_catalog())
result = {}
def frames(n):
    for _ in range(n):
        editor.frame()
        dpg.render_dearpygui_frame()
frames(5)
if leftover:
    win = editor.controls.recover_window
    result["recover_shown"] = dpg.is_item_shown(win)
    frames(6)
    dpg.output_frame_buffer(os.path.join(out_dir, "recover.png"))
    frames(3)
    result["recover_box"] = [*dpg.get_item_pos(win), *dpg.get_item_rect_size(win)]
    editor.controls.recover_answer("recover")
    frames(3)
editor.state.add_block("builtin.Input")
frames(3)
wid = int(subprocess.run(["xdotool", "search", "--name", "dpg-blocks"], capture_output=True, text=True).stdout.split()[0])
wm_close(wid)
frames(10)
win = editor.controls.unsaved_window
result["close_button_prompts"] = dpg.is_item_shown(win) and dpg.is_dearpygui_running()
dpg.output_frame_buffer(os.path.join(out_dir, "unsaved.png"))
frames(3)
result["unsaved_box"] = [*dpg.get_item_pos(win), *dpg.get_item_rect_size(win)]
editor.controls.unsaved_answer("cancel")
frames(3)
result["cancel_keeps_running"] = dpg.is_dearpygui_running() and not dpg.is_item_shown(win)
subprocess.run(["xdotool", "key", "--window", str(wid), "ctrl+q"])
frames(10)
result["ctrl_q_prompts"] = dpg.is_item_shown(win)
editor.controls.unsaved_answer("discard")
frames(3)
result["dont_save_stops"] = not dpg.is_dearpygui_running()
result["viewport"] = [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]
editor.close()
dpg.destroy_context()
print(json.dumps(result))
'''


@needs_xvfb
@pytest.mark.skipif(shutil.which("xdotool") is None, reason="needs xdotool for real input")
def test_the_close_button_and_ctrl_q_ask_about_unsaved_changes_in_a_real_window(tmp_path):
    path, _ = crash_leftover(tmp_path)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", WINDOW, str(tmp_path), str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["recover_shown"], r
    assert r["close_button_prompts"] and r["cancel_keeps_running"], r
    assert r["ctrl_q_prompts"] and r["dont_save_stops"], r
    vw, vh = r["viewport"]
    for box in (r["recover_box"], r["unsaved_box"]):  # centred, within a few pixels
        x, y, w, h = box
        assert w > 200 and h > 60 and abs(x + w / 2 - vw / 2) < 8 and abs(y + h / 2 - vh / 2) < 8, (box, vw, vh)
    assert (tmp_path / "recover.png").stat().st_size > 0 and (tmp_path / "unsaved.png").stat().st_size > 0


SIGTERM_SCRIPT = r'''
import os, signal, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from ui_fixtures import builtin_catalog
from dpg_blocks.ui.editor import app
frame, n = app.Editor.frame, [0]
def frame_then_edit_then_sigterm(self):
    frame(self)
    n[0] += 1
    if n[0] == 3:
        self.state.set_catalog(builtin_catalog())
        self.state.add_block("builtin.Input")  # unsaved work: autosaved at once
    elif n[0] == 4:
        self.state.add_block("builtin.ReLU")  # within the autosave interval: only SIGTERM saves it
    elif n[0] == 6:
        os.kill(os.getpid(), signal.SIGTERM)
app.Editor.frame = frame_then_edit_then_sigterm
app.Editor.start_engine = lambda self, **kw: None  # this check needs no engine
sys.exit(app.run_editor(sys.argv[1]))
'''


@needs_xvfb
def test_sigterm_keeps_unsaved_work_in_the_recovery_file_without_asking(tmp_path):
    path = saved_project(tmp_path)
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", SIGTERM_SCRIPT, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    file = recovery_dir() / f"{recovery_key(str(path))}.dpgb"
    assert file.exists(), list(recovery_dir().glob("*"))
    recovered = load_project(file)
    assert len(recovered.graph.blocks) == len(load_project(path).graph.blocks) + 2


def test_an_untrusted_project_runs_nothing_until_trusted_with_a_real_engine(tmp_path):
    path, _ = untrusted_dann(tmp_path)
    shutil.copytree(ROOT / "assets" / "data", tmp_path / "data")
    with gui_context():
        ed = Editor(EditorState(), autosave_s=0)
        ed.start_engine(threads=1)
        try:
            st, c = ed.state, ed.controls
            assert c.open(str(path))
            wait_for(ed, lambda: bool(st.catalog))
            assert dpg.is_item_shown(c.trust_window)  # asked as soon as the catalog names the code params
            bid = next(b.id for b in st.project.graph.walk() if b.type == "builtin.Custom")

            def validated() -> bool:
                v = st.validation
                return bool(v.received) and not v.pending and not ed._validate_wanted and bid in v.records

            wait_for(ed, validated)  # the validation that ran meanwhile did not run the code
            assert st.record(bid)["error_type"] == "UntrustedCode" and st.record(bid)["message"] == UNTRUSTED_HINT
            click(c.trust_button)
            wait_for(ed, lambda: validated() and st.record(bid)["error_type"] != "UntrustedCode")
            assert st.record(bid)["status"] == "ok", st.record(bid)
        finally:
            ed.close()
