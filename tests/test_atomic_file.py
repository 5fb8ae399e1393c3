"""Every file the tool writes: temp file, fsync, rename; the user's umask; no temp left behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from disk_fixtures import full_disk

from dpg_blocks.core.atomic_file import atomic_path, clean_stale_temps, write_bytes_atomic, write_text_atomic
from dpg_blocks.core.project import Project
from dpg_blocks.core.project_file import save_project


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_files_get_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        save_project(Project(name="p"), tmp_path / "p.dpgb")
        write_bytes_atomic(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "p.dpgb") == 0o644  # mkstemp made saved projects 0600
    assert _mode(tmp_path / "b.bin") == 0o644


def test_replacing_keeps_the_files_permissions(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o640


def test_a_failure_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_a_full_disk_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with full_disk(tmp_path / "full", monkeypatch) as folder:
        target = folder / "filler"  # the file that fills the disk: it must survive whole
        size = target.stat().st_size
        with pytest.raises(OSError) as info:
            write_text_atomic(target, "x" * 100_000)
        assert info.value.errno == 28
        assert target.stat().st_size == size
        assert [p.name for p in folder.iterdir()] == ["filler"]


def test_temp_files_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    # a writer killed mid-write (its temp file names its pid, which is gone)
    code = ("import os, sys; from pathlib import Path; from dpg_blocks.core.atomic_file import atomic_path\n"
            "with atomic_path(Path(sys.argv[1])) as t:\n    t.write_text('half'); os._exit(9)\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.json")], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".a.json.") and left[0].endswith(".tmp")
    live = tmp_path / f".b.json.{os.getpid()}-0123abcd.tmp"  # a writer still running: kept
    live.write_text("")
    write_text_atomic(tmp_path / "c.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "c.json"])
    assert clean_stale_temps(tmp_path) == []


# Files allowed to write without the helper, and why.
_EXEMPT = {
    "dpg_blocks/core/atomic_file.py": "the helper itself",
    # the exported script's own loop (copied into a script that cannot import dpg_blocks)
    "dpg_blocks/engine/interop/export_runtime.py": "runs inside the exported standalone script",
    # appended to by the editor and the engine at once, only while DPG_BLOCKS_STARTUP_TRACE is
    # set (benchmarks/startup.py); an atomic rewrite would lose the other process's lines
    "dpg_blocks/core/startup_trace.py": "a diagnostic trace two processes append to",
    # the torchrun child's stdout and stderr: files handed to Popen, written as the run goes
    "dpg_blocks/ui/training/process_run.py": "a child process's output streams",
}
_WRITES = (r"\.write_text\(", r"\.write_bytes\(", r"\bopen\([^)\n]*['\"][wax]b?\+?['\"]", r"mkstemp\(", r"os\.replace\(",
           r"torch\.save\([^,]+,\s*+(?!buffer)", r"np\.save", r"json\.dump\((?!.*sys\.stdout)")


def test_every_file_the_tool_writes_goes_through_the_atomic_writer():
    import re

    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted((root / "dpg_blocks").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in _EXEMPT:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(re.search(p, code) for p in _WRITES):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == [], "write through dpg_blocks.core.atomic_file:\n" + "\n".join(found)
