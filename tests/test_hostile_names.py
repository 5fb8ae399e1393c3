"""Hostile names and bytes in a project: refused on load with the JSON path, never code.

The injection project is a plain project (no custom code, "nothing to trust") whose block name
holds a newline and then Python: spliced into a ``#`` comment of the generated source, the rest
of the name ran on ``train``/``export`` and in the exported script.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dpg_blocks.cli import main
from dpg_blocks.core import GraphError, History, ProjectFileError, Rename, load_project, loads
from dpg_blocks.core.edits import AddBlock, Merge, SetOrders
from dpg_blocks.core.names import name_key, name_problem

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "assets" / "examples" / "mlp_digits.dpgb"
DIGITS = ROOT / "assets" / "data" / "digits.csv"


def payload_name(marker: Path) -> str:
    """A name that, spliced into a ``#`` comment at either nesting level, runs ``touch marker``."""
    return (f"FC1\n    if 1:\n        import os; os.system('touch {marker}')\n"
            "    if 1:\n        pass")


def mlp_doc() -> dict[str, Any]:
    doc = json.loads(MLP.read_text(encoding="utf-8"))
    for b in doc["graph"]["blocks"]:
        if b["type"] == "builtin.Input":
            b["params"]["path"] = str(DIGITS)
    return doc


def write(tmp_path: Path, doc: dict[str, Any], name: str = "p.dpgb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def injection(tmp_path: Path) -> tuple[Path, Path]:
    """The injection project and the file its payload would create."""
    marker = tmp_path / "PWNED"
    doc = mlp_doc()
    doc["name"] = 'Evil """ project'
    doc["graph"]["blocks"][1]["name"] = payload_name(marker)
    return write(tmp_path, doc, "evil.dpgb"), marker


# -- the injection project -------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["export", "-o", "{out}"], ["validate", "--json"]])
def test_the_injection_project_is_refused_on_load_naming_the_block(injection, tmp_path, capsys, command):
    path, marker = injection
    argv = [command[0], str(path), *(a.format(out=tmp_path / "model.py") for a in command[1:])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "$.graph.blocks[1].name: block name contains a line break (U+000A)" in err
    assert not marker.exists()
    assert not (tmp_path / "model.py").exists()


def test_names_the_reader_never_sees_still_reach_code_only_as_text(tmp_path):
    """Past the reader (a project built in code), a payload name compiles, exports and runs as text."""
    from engine_fixtures import registry

    from dpg_blocks.engine.compiling.model import compile_project
    from dpg_blocks.engine.interop.export import write_export

    marker = tmp_path / "PWNED"
    project = load_project(MLP)
    project.block("b1").params["path"] = str(DIGITS)
    project.block("b2").name = payload_name(marker)
    project.name = 'Evil """ \\N{BULLET} project \u2028 \'\'\''
    project.orders[0].name = 'step """\n# \\'
    result = compile_project(project, registry(), tmp_path)
    assert not marker.exists()
    assert all(payload_name(marker) not in src for src in result.model.sources_code.values())
    script = write_export(project, registry(), tmp_path, tmp_path / "model.py")
    text = script.read_text(encoding="utf-8")
    ast.parse(text)
    assert "\u2028" not in text and "\nimport os; os.system" not in text
    run = subprocess.run([sys.executable, str(script), "--epochs", "1", "--max-steps", "1"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert not marker.exists()


# -- the reader: names ---------------------------------------------------------------------------
HOSTILE = {
    "\n": "a line break (U+000A)",
    "\r": "a line break (U+000D)",
    "\x85": "a line break (U+0085",
    "\u2028": "a line break (U+2028 LINE SEPARATOR)",
    "\u2029": "a line break (U+2029 PARAGRAPH SEPARATOR)",
    "\x00": "a control character (U+0000)",
    "\x1b": "a control character (U+001B)",
    "\u200b": "an invisible character (U+200B ZERO WIDTH SPACE)",
    "\u200d": "an invisible character (U+200D ZERO WIDTH JOINER)",
    "\ufeff": "an invisible character (U+FEFF ZERO WIDTH NO-BREAK SPACE)",
    "\u202e": "an invisible character (U+202E RIGHT-TO-LEFT OVERRIDE)",
}


@pytest.mark.parametrize("char", list(HOSTILE))
def test_the_reader_refuses_hidden_characters_in_a_block_name(char):
    doc = mlp_doc()
    doc["graph"]["blocks"][3]["name"] = f"FC{char}3"
    with pytest.raises(ProjectFileError) as e:
        loads(json.dumps(doc))
    assert e.value.json_path == "$.graph.blocks[3].name"
    assert f"block name contains {HOSTILE[char]}" in str(e.value)


@pytest.mark.parametrize(("where", "path"), [("project", "$.name"), ("order", "$.orders[0].name")])
def test_the_reader_refuses_a_line_break_in_the_project_and_order_names(where, path):
    doc = mlp_doc()
    target = doc if where == "project" else doc["orders"][0]
    target["name"] = 'x"""\nimport os'
    with pytest.raises(ProjectFileError, match=r"name contains a line break \(U\+000A\)") as e:
        loads(json.dumps(doc))
    assert e.value.json_path == path


def test_names_that_look_the_same_are_refused_as_duplicates():
    doc = mlp_doc()
    doc["graph"]["blocks"][4]["name"] = "ＦＣ３"  # fullwidth: NFKC-equal to the FC3 beside it
    with pytest.raises(ProjectFileError, match="look the same: 'FC3' and 'ＦＣ３'") as e:
        loads(json.dumps(doc))
    assert e.value.json_path == "$.graph.blocks[4].name"


def test_a_name_with_a_zero_width_space_next_to_its_twin_is_refused():
    doc = mlp_doc()
    doc["graph"]["blocks"][4]["name"] = "FC3\u200b"
    with pytest.raises(ProjectFileError, match="U\\+200B ZERO WIDTH SPACE"):
        loads(json.dumps(doc))


# -- the edits and the editor's rename field ----------------------------------------------------------
@pytest.mark.parametrize("name", ["FC\n1", "F\u2028C", "F\u200bC1", "a\x00b"])
def test_rename_refuses_hidden_characters_and_changes_nothing(name):
    project = load_project(MLP)
    history = History(project)
    with pytest.raises(GraphError, match="a block name contains"):
        history.do(Rename("b2", name))
    assert project.block("b2").name == "FC1"


def test_rename_add_and_merge_refuse_a_name_that_looks_like_a_siblings():
    project = load_project(MLP)
    history = History(project)
    with pytest.raises(GraphError, match="'FC2' already exists here, and 'ＦＣ2' looks the same"):
        history.do(Rename("b2", "ＦＣ2"))
    twin = project.block("b3").clone()
    twin.id, twin.name = "b99", "ＦＣ2"
    with pytest.raises(GraphError, match="looks the same"):
        history.do(AddBlock(twin))
    with pytest.raises(GraphError, match="looks the same"):
        history.do(Merge(["b2"], "b98", "ＦＣ3"))
    with pytest.raises(GraphError, match="a block name contains a line break"):
        history.do(Merge(["b2"], "b98", "S\nB"))


def test_an_order_name_with_a_line_break_is_refused():
    project = load_project(MLP)
    order = project.orders[0]
    order.name = "one\ntwo"
    with pytest.raises(GraphError, match="order 1: the name contains a line break"):
        History(project).do(SetOrders([order]))


def test_the_editor_rename_field_says_why_a_name_is_refused():
    from ui_fixtures import builtin_catalog

    from dpg_blocks.ui.state.editor_state import EditorState

    st = EditorState()
    st.set_catalog(builtin_catalog())
    bid = st.add_block("builtin.Linear")
    before = st.block(bid).name
    assert not st.rename(bid, "FC1\nimport os")
    assert st.block(bid).name == before
    assert st.status == ("cannot rename: the name contains a line break (U+000A); "
                         "names must be visible text on one line")


def test_name_rules():
    assert name_problem("Feature Extractor › fc3 ✓ 日本") is None
    assert name_problem("  ") == "name is empty"
    assert name_problem("x" * 201).startswith("name is 201 characters long")
    assert name_key("ﬁlter") == name_key("filter")


# -- hostile bytes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("old", "new", "path"), [
    ('"pos": [', '"pos": [1e999, ', "$.graph.blocks[0].pos[0]"),
    ('"val_percent": 10.0', '"val_percent": -1e999', "$.graph.blocks[0].params.val_percent"),
    ('"lr": 0.003', '"lr": 1e400', "$.orders[0].optimizer.lr"),
    ('"orders": [1]', '"orders": [1e999]', "$.graph.blocks[0].params.orders[0]"),
])
def test_a_number_too_large_for_a_float_is_refused_on_load_with_its_path(old, new, path):
    raw = json.dumps(mlp_doc())
    if old == '"pos": [':  # keep two coordinates: drop the first real one
        doc = mlp_doc()
        doc["graph"]["blocks"][0]["pos"] = [7.0, 0.0]
        raw, old, new = json.dumps(doc), '"pos": [7.0, ', '"pos": [1e999, '
    assert old in raw
    with pytest.raises(ProjectFileError, match=r"number out of range \((-)?inf\)") as e:
        loads(raw.replace(old, new, 1))
    assert e.value.json_path == path


ORDERS_JUNK = {
    "null": ("[null]", "expected a list of integers, got [None]"),
    "text": ('["abc"]', "expected a list of integers, got ['abc']"),
    "bool": ("[true]", "expected a list of integers, got [True]"),
    "negative": ("[-1]", "every item must be >= 1, got -1"),
    "too many orders": ("[5000]", "every item must be <= 1000, got 5000"),
}


@pytest.mark.parametrize(("where", "value"), [("orders", [2**70]), ("batch_size", 2**64), ("pos", [-(2**63) - 1, 0])])
def test_integers_beyond_64_bits_are_refused_on_load_naming_their_json_path(tmp_path, capsys, where, value):
    # Everything a project holds crosses to the engine as msgpack (64-bit integers): what could
    # not reach it is refused where the file is read, like 1e999, not deep in a command.
    doc = mlp_doc()
    block = doc["graph"]["blocks"][0]
    if where == "pos":
        block["pos"] = value
    else:
        block["params"][where] = value
    path = write(tmp_path, doc)
    raw = path.read_text(encoding="utf-8")
    assert main(["validate", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    suffix = "pos[0]" if where == "pos" else f"params.{where}" + ("[0]" if where == "orders" else "")
    assert f"$.graph.blocks[0].{suffix}" in err and "number too large" in err and "must fit in 64 bits" in err
    assert path.read_text(encoding="utf-8") == raw


@pytest.mark.parametrize("case", list(ORDERS_JUNK))
def test_junk_orders_on_an_input_give_its_record_an_error_in_validate_json(tmp_path, capsys, case):
    value, message = ORDERS_JUNK[case]
    raw = json.dumps(mlp_doc()).replace('"orders": [1]', f'"orders": {value}', 1)
    path = tmp_path / "p.dpgb"
    path.write_text(raw, encoding="utf-8")
    assert main(["validate", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    digits = next(r for r in out["blocks"] if r["name"] == "digits")
    assert digits["status"] == "error"
    assert digits["message"] == f"parameter 'orders': {message}"
    assert path.read_text(encoding="utf-8") == raw


@pytest.mark.parametrize(("param", "value", "message"), [
    ("noise_shape", [2**62], "a shape of 4611686018427387904 elements is too large"),
    ("noise_shape", [0], "shape dimensions must be >= 1 (or -1), got [0]"),
    ("noise_shape", [2**20, 2**20], "a shape of 1099511627776 elements is too large"),
    ("batch_size", 1e300, "is out of range (integers must fit in 64 bits)"),
    ("reshape", [-1, -1], "only one shape dimension can be -1"),
])
def test_absurd_int_and_shape_params_are_a_message_not_a_crash(tmp_path, capsys, param, value, message):
    doc = mlp_doc()
    params = doc["graph"]["blocks"][0]["params"]
    params["source"] = "noise" if param == "noise_shape" else params["source"]
    params[param] = value
    path = write(tmp_path, doc)
    assert main(["validate", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    digits = next(r for r in out["blocks"] if r["name"] == "digits")
    assert digits["status"] == "error"
    assert message in digits["message"]


@pytest.mark.parametrize("value", ["[null]", '["abc"]', "[true]", "[-1]", '"x"', "[1.0e300]"])
def test_the_editor_opens_a_project_with_junk_orders(tmp_path, value):
    from ui_fixtures import builtin_catalog

    from dpg_blocks.ui.state.editor_state import EditorState

    raw = json.dumps(mlp_doc()).replace('"orders": [1]', f'"orders": {value}', 1)
    path = tmp_path / "p.dpgb"
    path.write_text(raw, encoding="utf-8")
    st = EditorState()
    st.set_catalog(builtin_catalog())
    st.open(str(path))  # used to die here: int(1e999) raised OverflowError outside any guard
    assert st.project.block("b1").params["orders"] == json.loads(value)  # shown as it is, not fixed
    assert st.input_names(1) == []  # no usable order: the engine's record names the bad value


def test_the_editor_refuses_orders_of_1e999_with_the_path_instead_of_dying(tmp_path):
    from ui_fixtures import builtin_catalog

    from dpg_blocks.ui.state.editor_state import EditorState

    path = tmp_path / "p.dpgb"
    path.write_text(json.dumps(mlp_doc()).replace('"orders": [1]', '"orders": [1e999]', 1), encoding="utf-8")
    st = EditorState()
    st.set_catalog(builtin_catalog())
    with pytest.raises(ProjectFileError, match=r"\$\.graph\.blocks\[0\]\.params\.orders\[0\]: number out of range"):
        st.open(str(path))  # the editor's File › Open shows this in its Problem dialog


def test_trusted_custom_code_in_a_block_with_a_hostile_name_compiles_and_exports(tmp_path):
    """Its code is compiled under a file name made from the block's path: a NUL once broke it."""
    from engine_fixtures import builder, registry

    from dpg_blocks.engine.compiling.model import compile_project
    from dpg_blocks.engine.interop.export import export_project

    b = builder("custom")
    data = b.add("builtin.Input", "in", source="noise", noise_shape=[4], noise_count=8, batch_size=4)
    custom = b.add("builtin.Custom", "mine", code="def forward(ctx, x):\n    return x * 2\n")
    loss = b.add("builtin.MSELoss", "loss")
    b.chain((data, "x", ""), (custom, "y", "x"), (loss, "", "input"))
    b.link(custom, "y", loss, "target")
    b.project.block(custom).name = 'a\x00b\n"""c'  # past the reader: the engine must not care
    result = compile_project(b.project, registry(), tmp_path, trusted=True)
    assert [r.status for r in result.records] == ["ok", "ok", "ok"]
    ast.parse(export_project(b.project, registry(), tmp_path, trusted=True))


def test_a_huge_port_count_expands_only_to_what_the_count_allows():
    from ui_fixtures import builtin_catalog

    from dpg_blocks.blocks.spec import BlockSpec

    concat = next(BlockSpec.from_dict(d) for d in builtin_catalog() if d["id"] == "builtin.Concat")
    assert len(concat.ports_for({"n_inputs": 10**5})[0]) == 16  # its declared max
    assert len(concat.ports_for({"n_inputs": 1e308})[0]) == 16
    assert [p.name for p in concat.ports_for({"n_inputs": 3})[0]] == ["x1", "x2", "x3"]
