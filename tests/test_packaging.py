"""A non-editable install from the wheel finds its examples, embedded data and trusted digests.

They were found through paths relative to the source tree, so `pip install dpg-blocks` gave an
Input whose default source was "file not found" and an empty File › Open Example.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ui_fixtures import needs_xvfb

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_lists_every_package_and_the_assets():
    """A mapped package is invisible to packages.find, so pyproject lists the packages by hand."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "dpg_blocks").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"dpg_blocks.assets"}
    assert config["package-dir"] == {"dpg_blocks.assets": "assets"}
    assert (ROOT / "assets" / "__init__.py").is_file()


def _wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the tree (the checkout is left without build/ litter)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("dpg_blocks", "assets"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True, capture_output=True, timeout=300)
    return next(out.glob("dpg_blocks-*.whl"))


def _venv(tmp: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel installed (not editable); the other dependencies are this
    venv's, reached through a folder of links that leaves out this checkout's editable install."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    deps = tmp / "deps"
    deps.mkdir()
    here = next(Path(p) for p in sys.path if p.endswith("site-packages") and (Path(p) / "torch").is_dir())
    for item in here.iterdir():
        if not item.name.startswith(("dpg_blocks", "__editable__", "dpg-blocks")):
            (deps / item.name).symlink_to(item)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "zz_dependencies.pth").write_text(f"{deps}\n")
    return venv


def test_a_wheel_install_runs_the_examples_from_any_folder(tmp_path):
    venv = _venv(tmp_path, _wheel(tmp_path))
    py, cli = venv / "bin" / "python", venv / "bin" / "dpg-blocks"
    where = tmp_path / "elsewhere"
    where.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path / "home")  # the trust store and user folders of a new user

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cli), *args], cwd=where, env=env, capture_output=True, text=True, timeout=timeout)

    probe = subprocess.run(
        [str(py), "-c", "import json, dpg_blocks; from dpg_blocks.core import assets; from dpg_blocks.core.user import trust; "
         "from dpg_blocks.builtin.inputs import digits_csv; print(json.dumps([dpg_blocks.__file__, "
         "[str(p) for p in assets.example_projects()], str(digits_csv()), digits_csv().is_file(), "
         "len(trust.shipped_digests())]))"],
        cwd=where, env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    package, examples, digits, digits_there, digests = json.loads(probe.stdout)
    assert package.startswith(str(venv)), package  # the installed copy, not this checkout
    assert {Path(p).stem for p in examples} >= {"mlp_digits", "dann_digits", "gan_digits"}
    assert all(p.startswith(str(venv)) for p in examples) and digits.startswith(str(venv)) and digits_there
    assert digests >= 1  # the DANN's Gradient Reversal is trusted as shipped

    mlp = next(p for p in examples if Path(p).stem == "mlp_digits")
    dann = next(p for p in examples if Path(p).stem == "dann_digits")
    for project in (mlp, dann):  # dann: shipped custom code, trusted without asking
        done = run("validate", project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "valid" in done.stdout and "not been trusted" not in done.stderr
    done = run("train", mlp, "--epochs", "1", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_accuracy" in done.stdout


@needs_xvfb
def test_a_bare_editor_from_a_wheel_install_offers_the_examples(tmp_path):
    venv = _venv(tmp_path, _wheel(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path / "home")
    shot, boxes = tmp_path / "bare.png", tmp_path / "bare.json"
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", str(venv / "bin" / "dpg-blocks"),
                           "screenshot", "-o", str(shot), "--boxes", str(boxes)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    welcome = json.loads(boxes.read_text())["welcome"]
    assert welcome["shown"]
    labels = {stem: b["label"] for stem, b in welcome["examples"].items()}
    assert "John's digits classifier" in labels["mlp_digits"] and "DANN" in labels["dann_digits"]
    pytest.importorskip("PIL")
    from PIL import Image

    # the buttons are drawn: each holds button-coloured pixels, not the canvas grid alone
    image = Image.open(shot).convert("RGB")
    for b in welcome["examples"].values():
        crop = image.crop((b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]))
        colours = crop.getcolors(maxcolors=1 << 16) or []
        assert len(colours) > 3 and max(colours)[0] > 0.3 * b["w"] * b["h"], b
