"""Packs that can be trusted: no pack replaces a block, one bad declaration costs one block,
an unknown type says which pack failed, a reload re-imports a folder pack's submodules, and
every pack shows its version.

An installed pack is faked as pip would leave it: a ``NAME-VERSION.dist-info`` folder (METADATA
and entry_points.txt) beside the package, in a temporary folder put first on ``sys.path``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from engine_fixtures import write_npz

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.engine.compiling.compiler import validate_project
from dpg_blocks.engine.packs.registry import discover

# A pack that claims the built-in Dropout (returning an identity, so a training run would
# silently lose its regularisation) next to a block of its own.
IMPOSTOR = '''
from dpg_blocks.blocks import In, Out, block

@block("builtin.Dropout", category="Layers")
class NotDropout:
    """Looks like Dropout; does nothing."""
    x = In()
    y = Out()

    def build(self, ctx):
        import torch
        return torch.nn.Identity()

@block("evil.Own", category="Evil")
class Own:
    """A block of the pack's own."""
    x = In()
    y = Out()

    def build(self, ctx):
        import torch
        return torch.nn.Identity()
'''

# One good block and two broken ones: an unknown Param type and a variadic port without its count.
HALF_BROKEN = '''
from dpg_blocks.blocks import In, Out, Param, block

@block("half.Good", category="Half")
class Good:
    """Fine."""
    x = In()
    y = Out()

    def build(self, ctx):
        import torch
        return torch.nn.Identity()

@block("half.BadParam", category="Half")
class BadParam:
    """Declares a param type that does not exist."""
    x = In()
    y = Out()
    size = Param(complex, 1)

    def build(self, ctx):
        return None

@block("half.BadPort", category="Half")
class BadPort:
    """A variadic port whose count is missing."""
    x = In(variadic="count")
    y = Out()

    def build(self, ctx):
        return None

BLOCKS = [Good, BadParam, BadPort]
'''


def install_fake_dist(site: Path, dist: str, version: str, entry_name: str, module: str, source: str) -> None:
    """What ``pip install`` leaves for a pack: the package and its dist-info with the entry point."""
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(source)
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[dpg_blocks.blocks]\n{entry_name} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder first on ``sys.path`` (so its distributions are found before ours)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.mark.parametrize("entry_name", ["builtin", "aaa_first"])
def test_an_installed_pack_sorting_before_builtin_cannot_replace_builtin_dropout(site, entry_name):
    install_fake_dist(site, "evilpack", "6.6.6", entry_name, "evilpack", IMPOSTOR)
    reg = discover(defaults=False, quarantine=False)
    dropout = reg.get("builtin.Dropout")
    assert dropout.pack == "builtin" and dropout.cls.__name__ == "Dropout"
    assert reg.packs[0].name == "builtin"  # built-ins load first
    (clash,) = [f for f in reg.failures if f.block == "builtin.Dropout"]
    assert clash.kind == "clash" and "already registered by pack 'builtin'; refused" in clash.error
    assert reg.get("evil.Own").pack == clash.pack  # the pack's own block still registers
    assert reg.refusal_note("builtin.Dropout") == (
        f"pack {clash.pack} tried to register block id 'builtin.Dropout' too (refused); this block is pack builtin's"
    )
    evil = next(p for p in reg.packs if p.name == clash.pack)
    assert evil.version == "6.6.6" and evil.source == "entry-point"


def test_a_pack_with_one_bad_declaration_keeps_its_other_blocks(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "__init__.py").write_text(HALF_BROKEN)
    reg = discover([tmp_path], defaults=False, quarantine=False)
    assert reg.get("half.Good") is not None and reg.get("half.Good").pack == "half"
    assert reg.get("half.BadParam") is None and reg.get("half.BadPort") is None
    failures = {f.block: f for f in reg.failures if f.pack == "half"}
    assert set(failures) == {"half.BadParam", "half.BadPort"}
    assert failures["half.BadParam"].error.startswith("BadParam.size: unknown parameter type")
    assert failures["half.BadPort"].error.startswith("BadPort.x: variadic='count' must name an int Param")
    assert reg.why_unknown("half.BadParam").startswith(
        "block type 'half.BadParam' was refused when pack half loaded: BadParam.size: unknown parameter type"
    )


def test_a_block_of_a_pack_that_failed_to_load_says_so_not_is_it_installed(tmp_path):
    (tmp_path / "attnpack").mkdir()
    (tmp_path / "attnpack" / "__init__.py").write_text("import flash_attn_not_here\n")
    reg = discover([tmp_path], defaults=False, quarantine=False)
    write_npz(tmp_path / "d.npz")
    b = ProjectBuilder(reg.specs)
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    b.project.graph.blocks[data].type = "attnpack.Attention"  # as a project saved with the pack holds it
    (rec,) = validate_project(b.project, reg, tmp_path)
    assert rec.status == "error"
    assert rec.message == (
        "unknown block type 'attnpack.Attention': pack attnpack failed to load: "
        "ModuleNotFoundError: No module named 'flash_attn_not_here'"
    )


PLUGIN_INIT = '''
"""A folder pack that keeps its torch code in a submodule, as the new-pack template does."""
__version__ = "0.3"

from dpg_blocks.blocks import In, Out, block

@block("widen.Widen", category="Widen")
class Widen:
    """A linear layer to modules.WIDTH features."""
    x = In()
    y = Out()

    def build(self, ctx):
        from .modules import make
        return make(ctx.in_shape("x")[-1])
'''
PLUGIN_MODULES = '''
import torch

WIDTH = {width}

def make(features):
    return torch.nn.Linear(features, WIDTH)
'''


def test_editing_a_plugin_folders_modules_py_changes_the_validated_result_after_reload(tmp_path):
    pack = tmp_path / "plugins" / "widen"
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text(PLUGIN_INIT)
    (pack / "modules.py").write_text(PLUGIN_MODULES.format(width=4))
    write_npz(tmp_path / "d.npz", features=6)

    def widen_output_shape() -> list[int]:
        reg = discover([tmp_path / "plugins"], defaults=False, quarantine=False)  # what a reload runs
        b = ProjectBuilder(reg.specs)
        data = b.add("builtin.Input", "data", source="npz", path="d.npz")
        widen = b.add("widen.Widen", "widen")
        b.link(data, "x", widen, "x")
        recs = {r.name: r for r in validate_project(b.project, reg, tmp_path)}
        assert recs["widen"].status == "ok", recs["widen"].message
        return recs["widen"].outputs[0].shape

    assert widen_output_shape()[-1] == 4
    (pack / "modules.py").write_text(PLUGIN_MODULES.format(width=12))
    assert widen_output_shape()[-1] == 12


def test_a_folder_packs_version_is_its_dunder_version(tmp_path):
    (tmp_path / "widen").mkdir()
    (tmp_path / "widen" / "__init__.py").write_text(PLUGIN_INIT)
    (tmp_path / "widen" / "modules.py").write_text(textwrap.dedent(PLUGIN_MODULES.format(width=3)))
    reg = discover([tmp_path], defaults=False, quarantine=False)
    assert reg.pack_versions()["widen"] == "0.3"
    entry = next(e for e in reg.catalog() if e["id"] == "widen.Widen")
    assert (entry["pack"], entry["pack_version"]) == ("widen", "0.3")


def test_plugins_lists_versions_and_the_refused_blocks_and_exits_1(tmp_path, capsys):
    from dpg_blocks.cli import main

    for name, source in (("half", HALF_BROKEN), ("widen", PLUGIN_INIT)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(source)
    (tmp_path / "widen" / "modules.py").write_text(PLUGIN_MODULES.format(width=3))
    assert main(["plugins", "--json", "--plugins", str(tmp_path)]) == 1
    listing = json.loads(capsys.readouterr().out)
    packs = {p["name"]: p for p in listing["packs"]}
    assert packs["widen"]["version"] == "0.3" and packs["half"]["blocks"] == ["half.Good"]
    assert {b["id"]: b["pack_version"] for b in listing["blocks"]}["widen.Widen"] == "0.3"
    assert {f["block"] for f in listing["failures"]} == {"half.BadParam", "half.BadPort"}
    assert main(["plugins", "--plugins", str(tmp_path)]) == 1
    table = capsys.readouterr().out
    assert "half.BadPort" in table and "0.3" in table


def test_validate_warns_when_a_pack_version_differs_from_the_saved_one(tmp_path, capsys):
    from dpg_blocks.cli import main
    from dpg_blocks.core import save_project

    plugins = tmp_path / "plugins"
    (plugins / "widen").mkdir(parents=True)
    (plugins / "widen" / "__init__.py").write_text(PLUGIN_INIT)
    (plugins / "widen" / "modules.py").write_text(PLUGIN_MODULES.format(width=3))
    write_npz(tmp_path / "d.npz", features=6)
    reg = discover([plugins], defaults=False, quarantine=False)
    b = ProjectBuilder(reg.specs)
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    widen = b.add("widen.Widen", "widen")
    b.link(data, "x", widen, "x")
    b.project.packs = {"widen": "0.1"}
    save_project(b.project, tmp_path / "p.dpgb")
    main(["validate", str(tmp_path / "p.dpgb"), "--plugins", str(plugins)])
    err = capsys.readouterr().err
    assert "warning: saved with pack widen 0.1; installed is 0.3: its blocks may build differently" in err


def test_a_project_records_the_pack_versions_it_uses_and_old_files_still_read(tmp_path):
    from dpg_blocks.core import load_project, save_project
    from dpg_blocks.core.pack_versions import packs_used
    from dpg_blocks.core.project_file import ProjectFileError, project_from_dict, project_to_dict

    (tmp_path / "widen").mkdir()
    (tmp_path / "widen" / "__init__.py").write_text(PLUGIN_INIT)
    (tmp_path / "widen" / "modules.py").write_text(PLUGIN_MODULES.format(width=3))
    reg = discover([tmp_path], defaults=False, quarantine=False)
    b = ProjectBuilder(reg.specs)
    b.add("builtin.Linear", "fc")
    b.add("widen.Widen", "widen")
    pack_of = lambda t: (reg.get(t).pack, reg.get(t).pack_version) if reg.get(t) else None  # noqa: E731
    assert packs_used(b.project, pack_of, {"gone": "2.0"}) == {"widen": "0.3"}  # builtin is dpg-blocks itself
    b.project.graph.blocks[next(iter(b.project.graph.blocks))].type = "gone.Thing"  # its pack uninstalled
    assert packs_used(b.project, pack_of, {"gone": "2.0"}) == {"gone": "2.0", "widen": "0.3"}
    b.project.packs = {"widen": "0.3"}
    save_project(b.project, tmp_path / "p.dpgb")
    assert load_project(tmp_path / "p.dpgb").packs == {"widen": "0.3"}
    old = project_to_dict(b.project)
    del old["packs"]
    assert project_from_dict(old).packs == {}  # a file from before the field reads as it did
    with pytest.raises(ProjectFileError, match=r"^\$\.packs\.widen: a pack version must be a string, got 3$"):
        project_from_dict({**old, "packs": {"widen": 3}})


def test_in_a_running_engine_reload_plugins_picks_up_an_edited_modules_py(tmp_path):
    from test_engine_process import is_ready, wait_for

    from dpg_blocks import protocol as m
    from dpg_blocks.client.engine_client import EngineClient
    from dpg_blocks.core.project_file import project_to_dict

    plugins = tmp_path / "plugins"
    (plugins / "widen").mkdir(parents=True)
    (plugins / "widen" / "__init__.py").write_text(PLUGIN_INIT)
    (plugins / "widen" / "modules.py").write_text(PLUGIN_MODULES.format(width=4))
    write_npz(tmp_path / "d.npz", features=6)
    reg = discover([plugins], defaults=False, quarantine=False)
    b = ProjectBuilder(reg.specs)
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    widen = b.add("widen.Widen", "widen")
    b.link(data, "x", widen, "x")
    doc = project_to_dict(b.project)

    client = EngineClient(plugin_dirs=(str(plugins),), validate_deadline_s=10.0, threads=1)
    client.start()
    try:
        wait_for(client, is_ready, 60)

        def widen_width() -> int:
            rid = client.validate(doc, str(tmp_path))
            result = wait_for(client, lambda e: isinstance(e, m.ValidationResult) and e.request_id == rid, 30)
            (rec,) = [r for r in result.records if r["name"] == "widen"]
            assert rec["status"] == "ok", rec["message"]
            return rec["outputs"][0]["shape"][-1]

        assert widen_width() == 4
        (plugins / "widen" / "modules.py").write_text(PLUGIN_MODULES.format(width=12))
        client.send(m.ReloadPlugins())  # what the editor's folder watcher sends
        wait_for(client, is_ready, 60)
        assert widen_width() == 12
    finally:
        client.shutdown()
