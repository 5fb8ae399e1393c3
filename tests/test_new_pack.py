"""Scenario D.3: `dpg-blocks new-pack mypack` gives a working, pip-installable pack with a test.

The pack is generated into a temporary folder, its own tests run in a fresh interpreter, and it
is pip-installed offline into a temporary ``--target`` folder (never into our environment);
then `dpg-blocks plugins` and `dpg-blocks validate` run with that folder on PYTHONPATH, as they
would after ``pip install -e .``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpg_blocks.cli import main
from dpg_blocks.core import Block, Endpoint, Link, Port, load_project, save_project

ROOT = Path(__file__).resolve().parents[1]
NAME = "demo_blocks"


def run(args: list[str], cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` in a fresh interpreter (with ``pythonpath`` first on the path)."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack written by `dpg-blocks new-pack demo_blocks --dir TMP`."""
    parent = tmp_path_factory.mktemp("packs")
    assert main(["new-pack", NAME, "--dir", str(parent)]) == 0
    return parent / NAME


@pytest.fixture(scope="module")
def site(pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pack pip-installed (offline, no dependencies) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    done = run(["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
                "--target", str(target), str(pack)], cwd=pack)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_the_pack_has_a_pyproject_the_blocks_a_readme_and_a_test(pack):
    files = sorted(str(p.relative_to(pack)) for p in pack.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", f"src/{NAME}/__init__.py", f"src/{NAME}/modules.py",
                     f"tests/test_{NAME}.py"]
    pyproject = (pack / "pyproject.toml").read_text()
    assert f'[project.entry-points."dpg_blocks.blocks"]\n{NAME} = "{NAME}"' in pyproject
    assert 'dependencies = ["dpg-blocks"]' in pyproject  # by name, no pin
    readme = (pack / "README.md").read_text()
    assert "pip install -e ." in readme and "Blocks menu under **Demo Blocks**" in readme


def test_the_packs_own_tests_pass(pack):
    done = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=pack, pythonpath=pack / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_once_installed_dpg_blocks_plugins_lists_the_pack_and_its_blocks(site, tmp_path):
    done = run(["-m", "dpg_blocks", "plugins", "--json"], cwd=tmp_path, pythonpath=site)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    (entry,) = [p for p in listing["packs"] if p["name"] == NAME]
    assert entry["source"] == "entry-point" and entry["blocks"] == [f"{NAME}.Scale", f"{NAME}.Residual"]
    blocks = {b["id"]: b for b in listing["blocks"] if b["pack"] == NAME}
    assert blocks[f"{NAME}.Residual"]["category"] == "Demo Blocks"
    assert blocks[f"{NAME}.Scale"]["name"] == "Scale"
    assert not listing["failures"]


def test_a_project_using_the_installed_packs_blocks_validates(site, tmp_path):
    project = load_project(ROOT / "assets" / "examples" / "mlp_digits.dpgb")
    data = project.graph.block("b1")
    data.params["path"] = str(ROOT / "assets" / "data" / "digits.csv")
    g = project.graph
    g.remove_link(Link(Endpoint("b2", "y"), Endpoint("b3", "x")))  # FC1 -> Residual -> Scale -> FC2
    g.insert_block(Block("r1", f"{NAME}.Residual", "Residual", {"hidden": 32}, [Port("x")], [Port("y")], (0, 0)))
    g.insert_block(Block("s1", f"{NAME}.Scale", "Scale", {"factor": 0.5}, [Port("x")], [Port("y")], (0, 0)))
    for src, dst in (("b2", "r1"), ("r1", "s1"), ("s1", "b3")):
        g.insert_link(Link(Endpoint(src, "y"), Endpoint(dst, "x")))
    path = tmp_path / "with_pack.dpgb"
    save_project(project, path)

    done = run(["-m", "dpg_blocks", "validate", str(path), "--json"], cwd=tmp_path, pythonpath=site)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"], done.stdout + done.stderr
    residual = next(b for b in report["blocks"] if b["name"] == "Residual")
    assert residual["status"] == "ok"
    assert residual["inputs"][0]["shape"] == residual["outputs"][0]["shape"]

    without = run(["-m", "dpg_blocks", "validate", str(path), "--json"], cwd=tmp_path)
    assert without.returncode == 1  # not installed: the same project names the missing block type
    assert f"unknown block type '{NAME}.Residual' (is its plugin installed?)" in without.stdout


@pytest.mark.parametrize(
    "name,why",
    [
        ("my-pack", "is not a valid Python package name"),
        ("1pack", "is not a valid Python package name"),
        ("class", "is a Python keyword"),
        ("json", "is already taken"),
        ("builtin", "is already taken"),
    ],
)
def test_new_pack_refuses_a_name_python_cannot_import_or_that_is_taken(name, why, tmp_path, capsys):
    assert main(["new-pack", name, "--dir", str(tmp_path)]) == 2
    assert why in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written


def test_new_pack_refuses_a_folder_that_already_holds_something(tmp_path, capsys):
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / "notes.txt").write_text("mine")
    assert main(["new-pack", NAME, "--dir", str(tmp_path)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / NAME).iterdir()] == ["notes.txt"]

    (tmp_path / "empty" / NAME).mkdir(parents=True)  # an empty folder is fine
    assert main(["new-pack", NAME, "--dir", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / NAME / "pyproject.toml").is_file()
