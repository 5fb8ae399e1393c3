"""Shared fixtures: graphs, projects and history for the core tests; the editor for the UI tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from dpg_blocks.core import SUPERBLOCK_TYPE, Block, Endpoint, Graph, History, Link, Port, Project

BlockFactory = Callable[..., Block]


def pytest_configure(config: pytest.Config) -> None:
    # Small models train many times faster on one torch thread than on two that contend with
    # the rest of the suite; set before any test module imports torch (engines inherit it).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _xvfb_run_without_races(config)


def _xvfb_run_without_races(config: pytest.Config) -> None:
    """``xvfb-run -a`` looks for a free display from :99 up by its lock file, so two test workers
    starting editors at once can pick the same one: one editor then fails to open its window
    ("X11: Failed to open display") or loses its server to the other's exit. Every test calls
    ``xvfb-run`` by name, so a shim first on PATH starts each search at a display of its own
    (from its process id); ``-n`` must come before the test's ``-a``, which starts from it."""
    import shutil
    import tempfile

    real = shutil.which("xvfb-run")
    if real is None or os.environ.get("DPG_BLOCKS_XVFB_SHIM"):
        return
    folder = tempfile.mkdtemp(prefix="xvfb-shim-")
    shim = os.path.join(folder, "xvfb-run")
    with open(shim, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nexec {real} -n $(( 100 + ($$ % 3000) * 3 )) "$@"\n')
    os.chmod(shim, 0o755)
    os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")
    os.environ["DPG_BLOCKS_XVFB_SHIM"] = shim
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def _block(
    bid: str,
    name: str | None = None,
    *,
    type: str = "builtin.Linear",
    inputs: Sequence[str | Port] = ("x",),
    outputs: Sequence[str | Port] = ("y",),
    params: dict | None = None,
    pos: tuple[float, float] = (0.0, 0.0),
    graph: Graph | None = None,
) -> Block:
    def port(p: str | Port) -> Port:
        return p if isinstance(p, Port) else Port(p)

    block = Block(
        bid,
        SUPERBLOCK_TYPE if graph is not None else type,
        name or bid,
        dict(params or {}),
        [port(p) for p in inputs],
        [port(p) for p in outputs],
        pos,
        graph=graph,
    )
    if graph is not None:
        graph.owner = block
    return block


@pytest.fixture
def make_block() -> BlockFactory:
    """``make_block("fc", inputs=["x"], outputs=["y"])``: a block whose name defaults to its id."""
    return _block


def link(src: str, dst: str) -> Link:
    """``link("a.y", "b.x")``."""
    (sb, sp), (db, dp) = src.split("."), dst.split(".")
    return Link(Endpoint(sb, sp), Endpoint(db, dp))


@pytest.fixture
def classifier() -> Project:
    """data (Input) -> fc (Linear) -> loss (CrossEntropyLoss), the data's target feeding the loss."""
    p = Project("classifier")
    g = p.graph
    g.insert_block(_block("b1", "data", type="builtin.Input", inputs=(), outputs=("x", "target"),
                          params={"dataset": "data/digits.csv"}))
    g.insert_block(_block("b2", "fc", params={"out_features": 10}, pos=(200.0, 0.0)))
    g.insert_block(_block("b3", "loss", type="builtin.CrossEntropyLoss", inputs=("input", "target"),
                          outputs=("loss",), pos=(400.0, 0.0)))
    for lk in ("b1.x", "b2.x"), ("b2.y", "b3.input"), ("b1.target", "b3.target"):
        g.insert_link(link(*lk))
    return p


@pytest.fixture
def nested() -> Project:
    """SuperBlocks three deep: src -> Backbone[ pre -> Body[ Core[ fc ] -> post ] ] -> head.

    Ids: src b1, Backbone s1, pre b2, Body s2, Core s3, fc b3, post b4, head b5.
    """
    core = Graph()
    core.insert_block(_block("b3", "fc"))
    core_sb = _block("s3", "Core", inputs=("x",), outputs=("y",), graph=core)
    core.insert_link(link("s3.x", "b3.x"))
    core.insert_link(link("b3.y", "s3.y"))

    body = Graph()
    body_sb = _block("s2", "Body", inputs=("x",), outputs=("y",), graph=body)
    body.insert_block(core_sb)
    body.insert_block(_block("b4", "post"))
    body.insert_link(link("s2.x", "s3.x"))
    body.insert_link(link("s3.y", "b4.x"))
    body.insert_link(link("b4.y", "s2.y"))

    backbone = Graph()
    backbone_sb = _block("s1", "Backbone", inputs=("x",), outputs=("y",), graph=backbone)
    backbone.insert_block(_block("b2", "pre"))
    backbone.insert_block(body_sb)
    backbone.insert_link(link("s1.x", "b2.x"))
    backbone.insert_link(link("b2.y", "s2.x"))
    backbone.insert_link(link("s2.y", "s1.y"))

    p = Project("nested")
    p.graph.insert_block(_block("b1", "src", type="builtin.Input", inputs=()))
    p.graph.insert_block(backbone_sb)
    p.graph.insert_block(_block("b5", "head"))
    p.graph.insert_link(link("b1.y", "s1.x"))
    p.graph.insert_link(link("s1.y", "b5.x"))
    return p


@pytest.fixture
def history(classifier: Project) -> History:
    """A fresh history over the classifier project."""
    return History(classifier)


@pytest.fixture(autouse=True)
def _private_user_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user folder (trust records, library, user plugins)."""
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(tmp_path_factory.mktemp("user")))


@pytest.fixture
def editor() -> Iterator[Any]:
    """The whole editor in a Dear PyGui context without a viewport or an engine, with the
    built-in catalog as the engine would send it (tests with a real engine define their own)."""
    from ui_fixtures import builtin_catalog, gui_context

    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState

    with gui_context():
        ed = Editor(EditorState())
        ed.state.set_catalog(builtin_catalog())
        yield ed
