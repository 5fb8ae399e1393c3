"""Project files: exact round trips, atomic saves, loads that never write, one clear error per
malformed document naming the JSON path of the problem."""

from __future__ import annotations

import copy
import gc
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dpg_blocks.core import (
    OptimizerSettings,
    Order,
    Project,
    ProjectFileError,
    TrainingSettings,
    dumps,
    load_project,
    loads,
    project_file,
    project_to_dict,
    save_project,
)
from dpg_blocks.core.graph import MAX_DEPTH


@pytest.fixture
def full(nested: Project) -> Project:
    """The nested project with two orders, training settings, metadata and non-ASCII text."""
    nested.orders = [
        Order(1, "discriminator", OptimizerSettings("sgd", lr=0.01, momentum=0.5), optimize=["s1"],
              losses=["b5"]),
        Order(2, "générateur", OptimizerSettings("adamw", scheduler="step", step_size=3, gamma=0.5)),
    ]
    nested.training = TrainingSettings(epochs=3, seed=42, device="cpu")
    nested.meta = {"trusted_by": "ana", "notes": ["ünïcode ✓", 1.5, None]}
    nested.block("b1").params = {"dataset": "data/digits.csv", "batch_size": 32, "shuffle": True}
    nested.block("b3").pos = (-12.5, 1e-3)
    return nested


@pytest.fixture
def doc(full: Project) -> dict[str, Any]:
    """The full project as parsed JSON, to break in every way."""
    return json.loads(dumps(full))


# -- round trips ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["classifier", "nested", "full"])
def test_dumps_loads_dumps_is_identical(request: pytest.FixtureRequest, name: str) -> None:
    text = dumps(request.getfixturevalue(name))
    assert dumps(loads(text)) == text
    assert dumps(loads(text.encode("utf-8"))) == text


def test_a_loaded_project_is_the_same_project(full: Project) -> None:
    p = loads(dumps(full))
    assert p.path_of("b3") == ["Backbone", "Body", "Core", "fc"]
    assert p.block("s3").graph.owner is p.block("s3")
    assert p.orders[0].optimize == ["s1"] and p.orders[1].optimizer.gamma == 0.5
    assert p.training == TrainingSettings(3, 42, "cpu")
    assert p.meta == full.meta


def test_the_text_is_stable_and_diffable(full: Project) -> None:
    text = dumps(full)
    assert text.endswith("}\n") and "ünïcode ✓" in text  # UTF-8, not \\u escapes
    assert list(json.loads(text)) == ["format", "name", "graph", "orders", "training", "meta"]
    assert all(len(line) <= 110 for line in text.splitlines())
    assert '"pos": [-12.5, 0.001]' in text  # short arrays stay on one line


def test_defaults_fill_in_what_a_minimal_file_leaves_out() -> None:
    p = loads('{"format": 1, "graph": {"blocks": [{"id": "b1", "type": "builtin.Input", "name": "x"}],'
              ' "links": []}, "orders": [{"index": 1, "optimizer": {"type": "Adam"}}]}')
    b = p.block("b1")
    assert (p.name, b.version, b.pos, b.params, b.inputs, b.outputs) == ("untitled", 1, (0.0, 0.0), {}, [], [])
    assert p.orders == [Order(1, "order 1", OptimizerSettings("adam"))]  # names are case-insensitive
    assert p.training == TrainingSettings() and p.meta == {}


def test_integer_positions_save_as_numbers_that_reload_the_same(classifier: Project) -> None:
    classifier.block("b2").pos = (3, 4)
    text = dumps(classifier)
    assert '"pos": [3.0, 4.0]' in text and dumps(loads(text)) == text


def test_a_migration_lifts_an_older_format(monkeypatch: pytest.MonkeyPatch) -> None:
    def from_0(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "format": 1, "graph": {"blocks": d["blocks"], "links": []}}

    monkeypatch.setitem(project_file.MIGRATIONS, 0, from_0)
    p = loads('{"format": 0, "blocks": [{"id": "b1", "type": "t", "name": "old"}]}')
    assert p.block("b1").name == "old"


# -- saving ----------------------------------------------------------------------------------------
def test_save_then_load(tmp_path: Path, full: Project) -> None:
    path = tmp_path / "gan.dpgb"
    save_project(full, path)
    assert path.read_text("utf-8") == dumps(full)
    assert dumps(load_project(path)) == dumps(full)


def test_save_leaves_no_temp_file(tmp_path: Path, full: Project) -> None:
    save_project(full, tmp_path / "a.dpgb")
    save_project(full, tmp_path / "a.dpgb")  # over an existing file
    assert [p.name for p in tmp_path.iterdir()] == ["a.dpgb"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_save_keeps_the_old_file(
    tmp_path: Path, classifier: Project, full: Project, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "model.dpgb"
    save_project(classifier, path)
    old = path.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_project(full, path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.dpgb"]


# -- loading never writes ------------------------------------------------------------------------
@pytest.mark.parametrize("content", [None, b'{"format": 1, "graph": {"blocks": [], "links": 7}}', b"\xff{"])
def test_loading_never_changes_the_file(tmp_path: Path, full: Project, content: bytes | None) -> None:
    path = tmp_path / "p.dpgb"
    if content is None:
        save_project(full, path)
    else:
        path.write_bytes(content)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # an old mtime, so a rewrite would show
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    try:
        load_project(path)
    except ProjectFileError:
        assert content is not None
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.dpgb"]


def test_a_load_error_names_the_file_and_the_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.dpgb"
    path.write_text('{"format": 1, "graph": {"blocks": [], "links": 7}}')
    with pytest.raises(ProjectFileError) as e:
        load_project(path)
    assert str(e.value) == f"{path}: $.graph.links: expected an array, got 7"
    assert (e.value.file, e.value.json_path, e.value.reason) == (str(path), "$.graph.links", "expected an array, got 7")


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_a_file_that_cannot_be_read(tmp_path: Path, make: str) -> None:
    path = tmp_path / "p.dpgb"
    if make == "directory":
        path.mkdir()
    with pytest.raises(ProjectFileError, match="cannot read the file"):
        load_project(path)


def test_an_oversized_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.dpgb"
    path.write_bytes(b" " * 100)
    monkeypatch.setattr(project_file, "MAX_FILE_BYTES", 99)
    with pytest.raises(ProjectFileError, match="file is 100 bytes; the limit is 99"):
        load_project(path)


# -- malformed documents: each one error, with the JSON path -------------------------------------
Mutation = Callable[[dict[str, Any]], Any]


def block(d: dict[str, Any], *path: int) -> dict[str, Any]:
    """``block(d, 1, 1)``: the second block inside the second root block (a SuperBlock)."""
    b = d["graph"]["blocks"][path[0]]
    for i in path[1:]:
        b = b["graph"]["blocks"][i]
    return b


def setting(key: str, value: Any, where: Callable[[dict[str, Any]], dict[str, Any]]) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        where(d)[key] = value
    return mutate


def deleting(key: str, where: Callable[[dict[str, Any]], dict[str, Any]]) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        del where(d)[key]
    return mutate


def root(d):
    return d


def graph(d):
    return d["graph"]


def b0(d):
    return block(d, 0)


def b1(d):
    return block(d, 1)


def opt(d):
    return d["orders"][0]["optimizer"]


def order0(d):
    return d["orders"][0]


def port(d):
    return block(d, 2)["inputs"][0]


def nest(levels: int) -> dict[str, Any]:
    """A document with ``levels`` SuperBlocks, each inside the one before."""
    inner: dict[str, Any] = {"blocks": [], "links": []}
    for i in range(levels, 0, -1):
        inner = {"blocks": [{"id": f"s{i}", "type": "core.SuperBlock", "name": "S", "graph": inner}],
                 "links": []}
    return {"format": 1, "graph": inner}


BAD_TEXT: list[tuple[str, str | bytes, str, str]] = [
    ("not JSON", "{", "$", "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
    ("empty", "", "$", "not valid JSON"),
    ("trailing junk", '{"format": 1} x', "$", "not valid JSON: Extra data"),
    ("not UTF-8", b'{"name": "caf\xe9"}', "$", "not UTF-8 text (byte 13)"),
    ("NaN", '{"format": 1, "graph": {"blocks": [], "links": []}, "meta": {"x": NaN}}', "$",
     "NaN is not allowed in a project file"),
    ("Infinity", '{"format": 1, "meta": [-Infinity]}', "$", "-Infinity is not allowed"),
    ("deep lists", "[" * 100_000 + "]" * 100_000, "$", "JSON nested too deeply"),
    ("deep meta", '{"format": 1, "graph": {"blocks": [], "links": []}, "meta": ' + "[" * 300 + "]" * 300 + "}",
     "$.meta[0][0][0]...", "JSON nested deeper than 256 levels"),
    ("lone surrogate", '{"format": 1, "name": "\\udc80", "graph": {"blocks": [], "links": []}}', "$.name",
     "lone surrogate"),
    ("a list", "[]", "$", "expected an object, got []"),
    ("huge integer", '{"format": 1, "graph": {"blocks": [], "links": []}, "orders": [{"index": 1, '
     '"optimizer": {"lr": 1' + "0" * 400 + "}}]}", "$.orders[0].optimizer.lr", "number too large"),
]

BAD_DOCS: list[tuple[str, Mutation, str, str]] = [
    # the envelope
    ("missing format", deleting("format", root), "$", "missing 'format' (is this a dpg-blocks project?)"),
    ("format as text", setting("format", "1", root), "$.format", "'format' must be an integer, got \"1\""),
    ("format as bool", setting("format", True, root), "$.format", "'format' must be an integer, got true"),
    ("newer format", setting("format", 2, root), "$.format", "format 2 was written by a newer dpg-blocks"),
    ("unknown old format", setting("format", 0, root), "$.format", "format 0 is not supported"),
    ("name", setting("name", 5, root), "$.name", "expected a string, got 5"),
    ("no graph", deleting("graph", root), "$", "missing 'graph'"),
    ("graph list", setting("graph", [], root), "$.graph", "expected an object, got []"),
    ("no blocks", deleting("blocks", graph), "$.graph", "missing 'blocks'"),
    ("blocks object", setting("blocks", {}, graph), "$.graph.blocks", "expected an array, got {}"),
    ("no links", deleting("links", graph), "$.graph", "missing 'links'"),
    ("meta", setting("meta", [], root), "$.meta", "expected an object"),
    # blocks
    ("block not object", lambda d: d["graph"]["blocks"].__setitem__(1, "s1"), "$.graph.blocks[1]",
     "expected an object, got \"s1\""),
    ("id missing", deleting("id", b1), "$.graph.blocks[1]", "missing 'id'"),
    ("id number", setting("id", 7, b1), "$.graph.blocks[1].id", "expected a string, got 7"),
    ("id with space", setting("id", "b 1", b1), "$.graph.blocks[1].id", "must be 1-64 letters, digits"),
    ("id with newline", setting("id", "b1\n", b1), "$.graph.blocks[1].id", "must be 1-64 letters, digits"),
    ("id too long", setting("id", "b" * 65, b1), "$.graph.blocks[1].id", "must be 1-64"),
    ("duplicate id", setting("id", "b1", lambda d: block(d, 2)), "$.graph.blocks[2].id",
     "block id 'b1' is used twice"),
    ("duplicate id across levels", setting("id", "b1", lambda d: block(d, 1, 1, 0, 0)),
     "$.graph.blocks[1].graph.blocks[1].graph.blocks[0].graph.blocks[0].id", "block id 'b1' is used twice"),
    ("id of its own superblock", setting("id", "s1", lambda d: block(d, 1, 0)),
     "$.graph.blocks[1].graph.blocks[0].id", "block id 's1' is used twice"),
    ("duplicate name", setting("name", "src", lambda d: block(d, 2)), "$.graph.blocks[2].name",
     "two blocks in one graph are named 'src'"),
    ("duplicate name after trimming", setting("name", " src ", lambda d: block(d, 2)),
     "$.graph.blocks[2].name", "named 'src'"),
    ("empty name", setting("name", "  ", b0), "$.graph.blocks[0].name", "block name is empty"),
    ("type missing", deleting("type", b0), "$.graph.blocks[0]", "missing 'type'"),
    ("type empty", setting("type", "", b0), "$.graph.blocks[0].type", "block type is empty"),
    ("version 0", setting("version", 0, b0), "$.graph.blocks[0].version", "must be >= 1, got 0"),
    ("version float", setting("version", 1.0, b0), "$.graph.blocks[0].version", "expected an integer"),
    ("pos length", setting("pos", [1.0], b0), "$.graph.blocks[0].pos", "expected [x, y], got [1.0]"),
    ("pos text", setting("pos", [1.0, "2"], b0), "$.graph.blocks[0].pos[1]", "expected a number, got \"2\""),
    ("pos bool", setting("pos", [True, 0], b0), "$.graph.blocks[0].pos[0]", "expected a number, got true"),
    ("pos huge", setting("pos", [0, 10**400], b0), "$.graph.blocks[0].pos[1]", "number too large"),
    ("params list", setting("params", [], b0), "$.graph.blocks[0].params", "expected an object"),
    ("graph on a plain block", setting("graph", {"blocks": [], "links": []}, b0), "$.graph.blocks[0].graph",
     "only core.SuperBlock blocks have a 'graph'"),
    ("superblock without graph", deleting("graph", b1), "$.graph.blocks[1]", "missing 'graph'"),
    # ports
    ("inputs object", setting("inputs", {}, lambda d: block(d, 2)), "$.graph.blocks[2].inputs",
     "expected an array"),
    ("port not object", setting("inputs", ["x"], lambda d: block(d, 2)), "$.graph.blocks[2].inputs[0]",
     "expected an object"),
    ("port name missing", deleting("name", port), "$.graph.blocks[2].inputs[0]", "missing 'name'"),
    ("port name not identifier", setting("name", "1x", port), "$.graph.blocks[2].inputs[0].name",
     "port name \"1x\" must be an identifier"),
    ("port name with dot", setting("name", "x.y", port), "$.graph.blocks[2].inputs[0].name",
     "must be an identifier"),
    ("port name with newline", setting("name", "x\n", port), "$.graph.blocks[2].inputs[0].name",
     "must be an identifier"),
    ("port declared twice", lambda d: block(d, 2)["outputs"].append({"name": "y"}),
     "$.graph.blocks[2].outputs[1].name", "port 'y' is declared twice"),
    ("port kind", setting("kind", 3, port), "$.graph.blocks[2].inputs[0].kind", "expected a string"),
    ("port optional", setting("optional", "yes", port), "$.graph.blocks[2].inputs[0].optional",
     "expected bool, got \"yes\""),
    # links
    ("link not object", lambda d: d["graph"]["links"].append([]), "$.graph.links[2]", "expected an object"),
    ("link without dst", lambda d: d["graph"]["links"].append({"src": ["b1", "y"]}), "$.graph.links[2]",
     "missing 'dst'"),
    ("link end shape", lambda d: d["graph"]["links"][0].__setitem__("src", ["b1"]), "$.graph.links[0].src",
     "expected [block id, port name], got [\"b1\"]"),
    ("link end types", lambda d: d["graph"]["links"][0].__setitem__("dst", ["s1", 0]), "$.graph.links[0].dst",
     "expected [block id, port name]"),
    ("link from unknown block", lambda d: d["graph"]["links"][0].__setitem__("src", ["zz", "y"]),
     "$.graph.links[0]", "zz.y is not an output port"),
    ("link into an output", lambda d: d["graph"]["links"][0].__setitem__("dst", ["b5", "y"]),
     "$.graph.links[0]", "'head'.y is not an input port"),
    ("link into a linked input", lambda d: d["graph"]["links"].append({"src": ["b1", "y"], "dst": ["b5", "x"]}),
     "$.graph.links[2]", "'head'.x already has an input, from 'Backbone'.y"),
    ("duplicate link", lambda d: d["graph"]["links"].append(copy.deepcopy(d["graph"]["links"][0])),
     "$.graph.links[2]", "already linked"),
    ("self link", lambda d: d["graph"]["links"].append({"src": ["b5", "y"], "dst": ["b5", "x"]}),
     "$.graph.links[2]", "cannot be linked to itself"),
    ("kind mismatch", lambda d: block(d, 2)["inputs"][0].__setitem__("kind", "image"), "$.graph.links[1]",
     "port kinds differ"),
    ("cycle", lambda d: (block(d, 0)["inputs"].append({"name": "x"}),
                        d["graph"]["links"].append({"src": ["b5", "y"], "dst": ["b1", "x"]})),
     "$.graph.links[2]", "would make a cycle"),
    ("cycle inside a superblock", lambda d: (
        block(d, 1, 0)["inputs"].append({"name": "back"}),
        block(d, 1)["graph"]["links"].append({"src": ["s2", "y"], "dst": ["b2", "back"]})),
     "$.graph.blocks[1].graph.links[3]", "linking 'Body'.y to 'pre'.back would make a cycle"),
    ("boundary used backwards", lambda d: block(d, 1)["graph"]["links"].__setitem__(
        0, {"src": ["s1", "y"], "dst": ["b2", "x"]}),
     "$.graph.blocks[1].graph.links[0]", "boundary port 'y' of 'Backbone' is not an output port"),
    ("link to a block in another graph", lambda d: d["graph"]["links"].append({"src": ["b2", "y"], "dst": ["b5", "x"]}),
     "$.graph.links[2]", "b2.y is not an output port"),
    ("superblocks nested too deep", lambda d: d.update(nest(MAX_DEPTH + 1)),
     "$.graph" + ".blocks[0].graph" * (MAX_DEPTH + 1), f"SuperBlocks nested deeper than {MAX_DEPTH} levels"),
    # orders
    ("orders object", setting("orders", {}, root), "$.orders", "expected an array"),
    ("no orders", setting("orders", [], root), "$.orders", "a project needs at least one order"),
    ("order not object", lambda d: d["orders"].append(2), "$.orders[2]", "expected an object, got 2"),
    ("index missing", deleting("index", order0), "$.orders[0]", "missing 'index'"),
    ("index 0", setting("index", 0, order0), "$.orders[0].index", "must be >= 1, got 0"),
    ("index twice", setting("index", 1, lambda d: d["orders"][1]), "$.orders[1].index", "order 1 is defined twice"),
    ("order name", setting("name", None, order0), "$.orders[0].name", "expected a string, got null"),
    ("unknown optimizer", setting("type", "rmsprop", opt), "$.orders[0].optimizer.type",
     "unknown optimizer 'rmsprop'; choose one of sgd, adam, adamw"),
    ("unknown scheduler", setting("scheduler", "cyclic", opt), "$.orders[0].optimizer.scheduler",
     "unknown scheduler 'cyclic'"),
    ("negative lr", setting("lr", -0.1, opt), "$.orders[0].optimizer.lr", "learning rate must be > 0, got -0.1"),
    ("zero lr", setting("lr", 0, opt), "$.orders[0].optimizer.lr", "learning rate must be > 0"),
    ("lr text", setting("lr", "0.1", opt), "$.orders[0].optimizer.lr", "expected a number, got \"0.1\""),
    ("negative weight decay", setting("weight_decay", -1, opt), "$.orders[0].optimizer.weight_decay",
     "weight decay must be >= 0"),
    ("step size 0", setting("step_size", 0, opt), "$.orders[0].optimizer.step_size", "step size must be >= 1"),
    ("step size float", setting("step_size", 2.5, opt), "$.orders[0].optimizer.step_size", "expected an integer"),
    ("optimizer list", setting("optimizer", [], order0), "$.orders[0].optimizer", "expected an object"),
    ("optimize unknown block", setting("optimize", ["s1", "zz"], order0), "$.orders[0].optimize[1]",
     "no block with id 'zz'"),
    ("losses unknown block", setting("losses", ["b9"], order0), "$.orders[0].losses[0]", "no block with id 'b9'"),
    ("optimize text", setting("optimize", "s1", order0), "$.orders[0].optimize", "expected an array"),
    ("optimize item", setting("optimize", [1], order0), "$.orders[0].optimize[0]", "expected a string, got 1"),
    # training
    ("training list", setting("training", [], root), "$.training", "expected an object"),
    ("negative epochs", setting("epochs", -1, lambda d: d["training"]), "$.training.epochs", "epochs must be >= 0"),
    ("epochs float", setting("epochs", 1.5, lambda d: d["training"]), "$.training.epochs", "expected an integer"),
    ("device", setting("device", 0, lambda d: d["training"]), "$.training.device", "expected a string"),
]


def assert_refused(text: str | bytes, path: str, reason: str) -> None:
    with pytest.raises(ProjectFileError) as e:
        loads(text)
    if path.endswith("..."):  # a very long path is shortened in the middle
        assert e.value.json_path.startswith(path[:-3]) and "..." in e.value.json_path
    else:
        assert e.value.json_path == path
    assert reason in e.value.reason
    assert str(e.value) == f"{e.value.json_path}: {e.value.reason}"


@pytest.mark.parametrize(("text", "path", "reason"), [c[1:] for c in BAD_TEXT], ids=[c[0] for c in BAD_TEXT])
def test_malformed_text_is_refused_with_its_place(text: str | bytes, path: str, reason: str) -> None:
    assert_refused(text, path, reason)


@pytest.mark.parametrize(("mutate", "path", "reason"), [c[1:] for c in BAD_DOCS], ids=[c[0] for c in BAD_DOCS])
def test_a_malformed_document_is_refused_with_its_place(
    doc: dict[str, Any], mutate: Mutation, path: str, reason: str
) -> None:
    loads(json.dumps(doc))  # the document is fine before the mutation
    mutate(doc)
    assert_refused(json.dumps(doc), path, reason)


def test_the_deepest_allowed_nesting_loads_and_saves() -> None:
    p = loads(json.dumps(nest(MAX_DEPTH)))
    assert len(p.path_of(f"s{MAX_DEPTH}")) == MAX_DEPTH
    text = dumps(p)
    assert dumps(loads(text)) == text
    assert project_to_dict(p)["format"] == 1


def test_the_examples_in_the_format_reference_load() -> None:
    reference = Path(__file__).parents[1] / "docs" / "project-format.md"
    snippets = re.findall(r"```json\n(.*?)```", reference.read_text("utf-8"), re.S)
    complete = snippets[-1]
    assert dumps(loads(complete)) == complete  # exactly what dumps writes
    superblock = json.loads(snippets[0])
    p = loads(json.dumps({"format": 1, "graph": {"blocks": [superblock], "links": []}}))
    assert p.path_of("b2") == ["Backbone", "fc"]


def test_loading_pauses_the_cycle_collector_and_turns_it_back_on_even_when_it_refuses() -> None:
    assert gc.isenabled()
    loads(dumps(Project("p")))
    with pytest.raises(ProjectFileError):
        loads('{"format": 1, "graph": {"blocks": [], "links": [{}]}}')
    assert gc.isenabled()
    gc.disable()
    try:
        loads(dumps(Project("p")))
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()
