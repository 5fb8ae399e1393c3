"""Names drawn from all of Unicode never become code: the reader or an edit refuses them, and
whatever name reaches the code generators (even one the reader would refuse) changes the
generated source only inside string constants, comments and identifiers made from it.

One small model (Input -> SuperBlock[Linear] -> MSE loss) is compiled per name; the engine's
generated forward must parse to the same AST as with plain names (comments are not in the
AST), and the exported script's generated part to the same AST once every string constant and
every identifier is replaced by a placeholder (so a name adds no statement, call or operator).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from engine_fixtures import builder, registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpg_blocks.core import GraphError, History, Project, ProjectFileError, Rename, dumps, loads
from dpg_blocks.core.names import name_problem
from dpg_blocks.engine.compiling.model import compile_project
from dpg_blocks.engine.interop.export import _Exporter

ADVERSARIAL = ["\n", "\r", "\x00", '"""', "'''", "\\", "#", "\u2028", "\u2029", "\x85", "\u200b",
               "\u200d", "\ufeff", "\u202e", "\\N{", "{", "}", "'", '"', ")", "\t", " ", "if", "None",
               "self", "forward", "training", "Tensor", "\ud800", "ﬁ", "²", "1", "_", "."]
NAMES = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(ADVERSARIAL)), max_size=6).map("".join)


def model(name: str) -> Project:
    """The small model with ``name`` in every name a user gives (project, order, every block)."""
    b = builder("P")
    x = b.add("builtin.Input", "I", source="noise", noise_shape=[4], noise_count=8, batch_size=4)
    fc = b.add("builtin.Linear", "L", out_features=4)
    loss = b.add("builtin.MSELoss", "M")
    b.chain((x, "x", ""), (fc, "y", "x"), (loss, "", "input"))
    b.link(fc, "y", loss, "target")
    sb = b.merge([fc], "S")
    p = b.project
    # set directly, past the reader and the edits: the generators must be safe on their own
    p.name = name
    p.orders[0].name = name
    for bid, suffix in ((x, " in"), (fc, ""), (loss, " loss"), (sb, " sb")):
        p.block(bid).name = name + suffix
    return p


def normalised(source: str) -> str:
    """The AST of ``source`` with string constants and identifiers replaced by placeholders:
    what is left is the code's structure, which a name must not change."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "S"
        elif isinstance(node, ast.JoinedStr):
            node.values = []
        for field in ("id", "attr", "name", "arg"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                setattr(node, field, "n")
    return ast.dump(tree)


def generated(name: str) -> tuple[str, str]:
    """The engine's forward and the exported script's generated part for ``name``."""
    project = model(name)
    result = compile_project(project, registry(), Path("."))
    engine = "\n".join(result.model.sources_code.values())
    exported = "\n".join(_Exporter(project, result, Path(".").resolve()).generated())
    return engine, exported


BASELINE = generated("N")
BASELINE_AST = (ast.dump(ast.parse(BASELINE[0])), normalised(BASELINE[1]))


@settings(max_examples=2000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(NAMES)
def test_no_name_becomes_code(name: str) -> None:
    engine, exported = generated(name)
    assert ast.dump(ast.parse(engine)) == BASELINE_AST[0], engine
    assert normalised(exported) == BASELINE_AST[1], exported
    compile(exported, "<exported>", "exec")
    for text in (engine, exported):
        for ch in ("\u2028", "\u2029", "\x85", "\x00", "\r"):
            assert ch not in text  # one line per line, for every editor and terminal


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(NAMES)
def test_the_reader_and_rename_agree_on_which_names_are_refused(name: str) -> None:
    project = model("N")
    history = History(project)
    doc = json.loads(dumps(project))
    doc["graph"]["blocks"][1]["graph"]["blocks"][0]["name"] = name  # the Linear, inside the SuperBlock
    text = json.dumps(doc)  # ASCII escapes: a lone surrogate reaches the reader as it would from a file
    if name_problem(name.strip(), "block name") is None:
        assert loads(text).block("b2").name == name.strip()
        history.do(Rename("b2", name))
        assert project.block("b2").name == name.strip()
        return
    with pytest.raises(ProjectFileError) as e:
        loads(text)
    assert e.value.json_path == "$.graph.blocks[1].graph.blocks[0].name"
    with pytest.raises(GraphError, match="block name"):
        history.do(Rename("b2", name))
