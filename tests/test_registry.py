"""Plugin discovery: packs load, broken ones are recorded and skipped, collisions reported."""

from __future__ import annotations

from pathlib import Path

from engine_fixtures import SCALE_PLUGIN

from dpg_blocks.engine.packs.registry import discover

GOOD = SCALE_PLUGIN


def _pack(root: Path, name: str, source: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(source)


def test_a_plugin_folder_pack_registers_its_blocks(tmp_path):
    _pack(tmp_path, "demo", GOOD)
    reg = discover([tmp_path], defaults=False)
    assert reg.get("demo.Scale") is not None
    assert reg.get("demo.Scale").pack == "demo"
    assert reg.get("builtin.Linear") is not None
    assert reg.get("FC") is reg.get("builtin.Linear")  # legacy ids resolve


def test_a_broken_pack_is_recorded_and_the_others_still_load(tmp_path):
    _pack(tmp_path, "broken", "def oops(:\n")
    _pack(tmp_path, "raises", "raise RuntimeError('no GPU driver for this pack')\n")
    _pack(tmp_path, "demo", GOOD)
    reg = discover([tmp_path], defaults=False)
    assert reg.get("demo.Scale") is not None
    failures = {f.pack: f for f in reg.failures}
    assert "SyntaxError" in failures["broken"].error and failures["broken"].traceback
    assert "no GPU driver" in failures["raises"].error
    assert str(tmp_path / "broken") == failures["broken"].path


def test_an_id_collision_is_reported_and_the_first_registration_wins(tmp_path):
    _pack(tmp_path, "a_first", GOOD)
    _pack(tmp_path, "b_second", GOOD.replace("Multiply by a constant", "An impostor"))
    reg = discover([tmp_path], defaults=False)
    assert reg.get("demo.Scale").pack == "a_first"
    assert any("demo.Scale" in f.error and f.pack == "b_second" for f in reg.failures)


def test_two_packs_with_the_same_module_file_name_do_not_collide(tmp_path):
    for folder, bid in (("one", "x.A"), ("two", "x.B")):
        d = tmp_path / folder
        d.mkdir()
        (d / "plugin.py").write_text(GOOD.replace("demo.Scale", bid))
    reg = discover([tmp_path / "one", tmp_path / "two"], defaults=False)
    assert reg.get("x.A") is not None and reg.get("x.B") is not None


def test_the_shipped_example_plugin_folder_loads_and_its_blocks_build():
    import torch

    from dpg_blocks.engine.compiling.context import BuildCtx

    reg = discover()
    assert not [f for f in reg.failures if f.pack == "extra_activations"]
    spec = reg.get("extra.SiLU")
    assert spec is not None and spec.category == "Activations/Extra"
    ctx = BuildCtx("b1", "silu", ["silu"], Path("."), "cpu", {"x": (2, 3)})
    module = spec.instantiate({"beta": 1.0}).build(ctx)
    x = torch.randn(2, 3)
    assert torch.allclose(module(x), torch.nn.functional.silu(x))
