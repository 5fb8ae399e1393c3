"""Fuzzing the loader: whatever the input, ``loads`` returns a project that saves and reloads to
the same text, or raises ProjectFileError. Any other exception is a bug in project_file.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpg_blocks.core import OptimizerSettings, Order, Project, ProjectFileError, dumps, loads

FUZZ = settings(
    derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

# Keys and strings the loader looks for, so that random documents get past the first checks.
WORDS = ["format", "name", "graph", "blocks", "links", "id", "type", "version", "pos", "params", "inputs",
         "outputs", "kind", "optional", "src", "dst", "orders", "index", "optimizer", "optimize", "losses",
         "lr", "scheduler", "training", "epochs", "meta", "core.SuperBlock", "b1", "x", "y", "adam", "\udc80"]
KEYS = st.sampled_from(WORDS) | st.text(max_size=6)
HUGE = st.sampled_from([10**400, -(10**400), 2**64, 10**4000])
NUMBERS = st.integers() | st.integers(-2, 70) | HUGE | st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | NUMBERS | KEYS
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
JUNK = st.recursive(  # what mutations put into a document; non-finite floats write NaN/Infinity
    SCALARS | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


def loads_or_refuses(data: str | bytes) -> None:
    """The property under test."""
    try:
        project = loads(data)
    except ProjectFileError as e:
        assert e.json_path.startswith("$") and e.reason
        return
    text = dumps(project)
    text.encode("utf-8")  # the text can be written to a file
    assert dumps(loads(text)) == text


# -- seeds: valid documents to break ----------------------------------------------------------------
@pytest.fixture
def seeds(classifier: Project, nested: Project) -> list[dict[str, Any]]:
    nested.orders = [Order(1, "d", OptimizerSettings("sgd"), optimize=["s1", "b3"], losses=["b5"]),
                     Order(2, "g", OptimizerSettings("adamw", scheduler="cosine"), optimize=[])]
    nested.meta = {"trusted_by": "me"}
    nested.block("b4").inputs[0] = nested.block("b4").inputs[0].__class__("x", "any", True)
    docs = [json.loads(dumps(p)) for p in (classifier, nested)]
    docs.append({"format": 1, "graph": {"blocks": [], "links": []}})
    return docs


def paths(value: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, as a tuple of keys and indices."""
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*here, i))
    return found


def at(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def mutate(data: st.DataObject, doc: dict[str, Any]) -> dict[str, Any]:
    """One random damage: delete, retype, insert junk, duplicate an item, reuse an id; or a change
    that often still loads: a new value of the same type, junk in params/meta, deep nesting."""
    ops = ["delete", "replace", "insert", "duplicate", "swap ids", "same type", "free-form", "deepen"]
    op = data.draw(st.sampled_from(ops), label="op")
    places = paths(doc)
    if op == "same type":
        leaves = [p for p in places if p and not isinstance(at(doc, p), dict | list)]
        if leaves:
            path = data.draw(st.sampled_from(leaves), label="leaf")
            old = at(doc, path[:-1])[path[-1]]
            new = (data.draw(st.booleans()) if isinstance(old, bool) else
                   data.draw(NUMBERS) if isinstance(old, int | float) else
                   data.draw(KEYS | st.text(max_size=3)) if isinstance(old, str) else None)
            at(doc, path[:-1])[path[-1]] = new
        return doc
    if op == "free-form":  # params and meta take any JSON
        free = [p for p in places if p and p[-1] in ("params", "meta") and isinstance(at(doc, p), dict)]
        if free:
            at(doc, data.draw(st.sampled_from(free)))[data.draw(KEYS)] = data.draw(JUNK | JSON, label="junk")
        return doc
    if op == "deepen":
        path = data.draw(st.sampled_from([p for p in places if p]) if len(places) > 1 else st.just(()))
        if path:
            value = at(doc, path)
            for _ in range(data.draw(st.sampled_from([1, 2, 50, 200, 260, 400]), label="levels")):
                value = [value]
            at(doc, path[:-1])[path[-1]] = value
        return doc
    if op == "swap ids":
        with_ids = [p for p in places if isinstance(at(doc, p), dict) and isinstance(at(doc, p).get("id"), str)]
        if len(with_ids) >= 2:
            a, b = data.draw(st.lists(st.sampled_from(with_ids), min_size=2, max_size=2, unique=True))
            if data.draw(st.booleans(), label="swap, or copy"):
                at(doc, a)["id"], at(doc, b)["id"] = at(doc, b)["id"], at(doc, a)["id"]
            else:
                at(doc, b)["id"] = at(doc, a)["id"]
        return doc
    if op == "replace":
        path = data.draw(st.sampled_from(places), label="path")
        if not path:
            return data.draw(JUNK)
        at(doc, path[:-1])[path[-1]] = data.draw(JUNK, label="junk")
        return doc
    containers = [p for p in places if isinstance(at(doc, p), dict | list)]
    if op == "insert":
        path = data.draw(st.sampled_from(containers), label="container")
        target = at(doc, path)
        if isinstance(target, dict):
            target[data.draw(KEYS)] = data.draw(JUNK, label="junk")
        else:
            target.insert(data.draw(st.integers(0, len(target))), data.draw(JUNK, label="junk"))
        return doc
    if op == "duplicate":
        lists = [p for p in containers if isinstance(at(doc, p), list) and at(doc, p)]
        if lists:
            target = at(doc, data.draw(st.sampled_from(lists), label="list"))
            target.insert(data.draw(st.integers(0, len(target))),
                          copy.deepcopy(target[data.draw(st.integers(0, len(target) - 1))]))
        return doc
    removable = [p for p in places if p]  # delete
    if not removable:
        return doc
    path = data.draw(st.sampled_from(removable), label="path")
    del at(doc, path[:-1])[path[-1]]
    return doc


# -- the fuzz tests (1,300 cases in all) -----------------------------------------------------------
@settings(FUZZ, max_examples=300)
@given(value=JSON)
def test_any_json_value(value: Any) -> None:
    loads_or_refuses(json.dumps(value))


@settings(FUZZ, max_examples=200)
@given(graph=JSON, orders=JSON, training=JSON)
def test_any_json_inside_the_envelope(graph: Any, orders: Any, training: Any) -> None:
    loads_or_refuses(json.dumps({"format": 1, "graph": graph, "orders": orders, "training": training}))


@settings(FUZZ, max_examples=500)
@given(data=st.data())
def test_mutated_valid_documents(seeds: list[dict[str, Any]], data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(seeds), label="seed"))
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        doc = mutate(data, doc)
        if not isinstance(doc, dict):
            break
    loads_or_refuses(json.dumps(doc, ensure_ascii=data.draw(st.booleans(), label="ascii")))


@settings(FUZZ, max_examples=150)
@given(raw=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_random_bytes(raw: bytes) -> None:
    loads_or_refuses(raw)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_truncated_and_corrupted_files(seeds: list[dict[str, Any]], data: st.DataObject) -> None:
    raw = json.dumps(data.draw(st.sampled_from(seeds[:2]), label="seed"), ensure_ascii=False).encode()
    raw = raw[: data.draw(st.integers(0, len(raw)), label="cut")]
    for _ in range(data.draw(st.integers(0, 3), label="flips")):
        if raw:
            i = data.draw(st.integers(0, len(raw) - 1), label="at")
            raw = raw[:i] + bytes([data.draw(st.integers(0, 255), label="byte")]) + raw[i + 1:]
    loads_or_refuses(raw)
