"""Mutation campaign: hostile project files through ``validate --json`` and the editor's open.

Takes the shipped examples (assets/examples/*.dpgb), makes mutants of them — keys deleted,
duplicated or retyped; values swapped for hostile ones (``1e999`` as text, huge integers, null,
deep nesting, wrong types, lone surrogates, names with control characters, junk orders, params
and links); files truncated or with random bytes — and runs each

* through ``dpg-blocks validate --json`` in this process (the CLI's ``main`` with stdout and
  stderr captured; a process per mutant would take an hour), and
* through File › Open of the editor (``ProjectControls.open`` of an :class:`Editor` in a Dear
  PyGui context without a viewport: the load, the canvas and panes redrawn, the error dialog).

It prints ``key=value`` lines: ``mutants``, ``tracebacks`` (an exception escaping ``main`` or
the editor, or "Traceback" in what they print), ``crashes`` (anything that is not an exit code
0/1/2 — SystemExit included), ``unparsable`` (exit 0/1 without JSON on stdout, or exit 2 without
"cannot read the project:" on stderr), ``changed`` (a mutant file whose bytes or modification
time changed), then the exit-code counts; the last line is ``tracebacks=<n>``. Every count but
``mutants`` must be 0; the first failures are printed with the mutation that made them.

Run: DPG_BLOCKS_USER_DIR=$(mktemp -d) .venv/bin/python benchmarks/mutation_campaign.py [--mutants 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"

# -- hostile values -------------------------------------------------------------------------------
HOSTILE_TEXT = ["1e999", "-1e999", "1e400", str(2**70), str(-(2**64)), "1" * 5000, "null", "true",
                '"\\udc80"', '"\\ud800x"', "[]", "{}", '""', '"\\u0000"', "[" * 300 + "]" * 300,
                "0.0", "-0", '"FC1\\nimport os"', "NaN", "Infinity"]
HOSTILE_VALUES: list[Any] = [None, True, False, 0, -1, 2**63, 2**70, -(2**63) - 1, 10**30, 1e308, -1e308,
                             1e-320, 0.5, "", " ", "abc", "\udc80", "x\ny", "FC1\nimport os; os.system('x')",
                             "\u202eevil", "a\u200bb", 'tri"""ple', "[/]", "[bold]x", "\\N{", "../../etc/passwd",
                             [], [None], ["abc"], [1e300], [2**70], [-1], [[[]]], {}, {"a": None}, {"": 1}]
NAMES = ["FC1\nimport os", "a\rb", "x\x00y", "F\u2028C", "FC\u200b", "\ufeffFC", "FC1", "", "   ",
         "[/]", 'q"""q', "ＦＣ２", "x" * 300, "\udc80", "if", "None", "training", "forward"]
ORDERS = [[1e300], [None], ["abc"], [True], [-1], [0], [2**70], [5000], "1", None, {}, [[1]], [1, 1], [2, 3]]
PARAM_KEYS = ["orders", "batch_size", "noise_shape", "noise_count", "reshape", "val_percent", "test_percent",
              "source", "path", "label_column", "shuffle_seed", "out_features", "n_inputs", "n_outputs", "dim",
              "p", "activation", "code", "inputs", "outputs", "values", "in_features", "kernel_size"]


@dataclass
class Mutant:
    text: bytes
    how: str


@dataclass
class Outcome:
    tracebacks: int = 0
    crashes: int = 0
    unparsable: int = 0
    changed: int = 0
    exits: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, kind: str, mutant: Mutant, detail: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.failures) < 20:
            self.failures.append(f"{kind}: {mutant.how}: {detail[-1500:]}")


# -- mutations -----------------------------------------------------------------------------------
def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, (*path, i))


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def _blocks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for p, n in _nodes(doc) if isinstance(n, dict) and "type" in n and "id" in n and len(p) >= 3]


class Mutator:
    """Seeded mutations of one example document (each returns the mutant's bytes and a label)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def make(self, name: str, doc: dict[str, Any], text: str) -> Mutant:
        ops: list[Callable[[dict[str, Any], str], tuple[bytes, str]]] = [
            self.delete_key, self.retype, self.hostile_value, self.hostile_text, self.name_junk,
            self.orders_junk, self.param_junk, self.link_junk, self.duplicate_key, self.truncate,
            self.random_bytes, self.deep_nesting, self.several,
        ]
        op = self.rng.choice(ops)
        data, how = op(copy.deepcopy(doc), text)
        return Mutant(data, f"{name}: {op.__name__}: {how}")

    def _pick(self, doc: Any, want: Callable[[tuple[Any, ...], Any], bool]) -> tuple[Any, ...] | None:
        paths = [p for p, n in _nodes(doc) if p and want(p, n)]
        return self.rng.choice(paths) if paths else None

    def delete_key(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        path = self._pick(doc, lambda p, n: isinstance(p[-1], str))
        assert path is not None
        del _get(doc, path[:-1])[path[-1]]
        return _dump(doc), f"del {path}"

    def retype(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        path = self._pick(doc, lambda p, n: True)
        assert path is not None
        value = _get(doc, path)
        new: Any = {dict: [], list: {}, str: 7, int: "7", float: [1.5], bool: 1, type(None): "null"}[type(value)]
        _get(doc, path[:-1])[path[-1]] = new
        return _dump(doc), f"{path} = {new!r}"

    def hostile_value(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        path = self._pick(doc, lambda p, n: not isinstance(n, dict | list) or self.rng.random() < 0.2)
        assert path is not None
        value = self.rng.choice(HOSTILE_VALUES)
        _get(doc, path[:-1])[path[-1]] = copy.deepcopy(value)
        return _dump(doc), f"{path} = {value!r:.60}"

    def hostile_text(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        """A scalar replaced by raw JSON text (``1e999`` cannot be made from a Python value)."""
        path = self._pick(doc, lambda p, n: isinstance(n, int | float | str) and not isinstance(n, bool))
        assert path is not None
        marker = "__HOSTILE_MARKER__"
        _get(doc, path[:-1])[path[-1]] = marker
        raw = self.rng.choice(HOSTILE_TEXT)
        return _dump(doc).replace(f'"{marker}"'.encode(), raw.encode()), f"{path} = {raw[:40]}"

    def name_junk(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        blocks = _blocks(doc)
        target = self.rng.choice([doc, *(o for o in doc.get("orders") or [] if isinstance(o, dict)), *blocks,
                                  *blocks])
        value = self.rng.choice(NAMES)
        target["name"] = value
        return _dump(doc), f"name = {value!r:.40}"

    def orders_junk(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        inputs = [b for b in _blocks(doc) if b.get("type") == "builtin.Input"]
        value = self.rng.choice(ORDERS)
        if inputs and self.rng.random() < 0.7:
            self.rng.choice(inputs).setdefault("params", {})["orders"] = copy.deepcopy(value)
            return _dump(doc), f"Input orders = {value!r}"
        orders = doc.get("orders") or [{}]
        key = self.rng.choice(["index", "optimize", "losses", "name", "optimizer"])
        orders[0][key] = copy.deepcopy(self.rng.choice([*ORDERS, "b1", ["b1"], ["zz"], 0, -3]))
        doc["orders"] = orders
        return _dump(doc), f"orders[0].{key} = {orders[0][key]!r}"

    def param_junk(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        block = self.rng.choice(_blocks(doc))
        key = self.rng.choice([*block.get("params", {}), *PARAM_KEYS]) if isinstance(block.get("params"), dict) \
            else self.rng.choice(PARAM_KEYS)
        if not isinstance(block.get("params"), dict):
            block["params"] = {}
        value = self.rng.choice([*HOSTILE_VALUES, *ORDERS, [2**40, 2**40], [0], [-1, -1], "1,2,x", 16.5])
        block["params"][key] = copy.deepcopy(value)
        return _dump(doc), f"{block.get('name')!r:.20}.{key} = {value!r:.40}"

    def link_junk(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        graphs = [n for _, n in _nodes(doc) if isinstance(n, dict) and isinstance(n.get("links"), list)]
        g = self.rng.choice(graphs)
        links = g["links"]
        ids = [b["id"] for b in _blocks(doc)]
        kind = self.rng.choice(["swap", "dangling", "self", "dup", "junk", "port"])
        if kind == "swap" and links:
            lk = self.rng.choice(links)
            lk["src"], lk["dst"] = lk.get("dst"), lk.get("src")
        elif kind == "dangling":
            links.append({"src": ["zz", "y"], "dst": [self.rng.choice(ids), "x"]})
        elif kind == "self" and ids:
            bid = self.rng.choice(ids)
            links.append({"src": [bid, "y"], "dst": [bid, "x"]})
        elif kind == "dup" and links:
            links.append(copy.deepcopy(self.rng.choice(links)))
        elif kind == "port" and links:
            self.rng.choice(links)["dst"][1] = self.rng.choice(["1x", "", "x\ny", "target", "zz"])
        else:
            links.append(self.rng.choice([None, [], {"src": "b1"}, {"src": [1, 2], "dst": [None, "x"]}]))
        return _dump(doc), f"link {kind}"

    def duplicate_key(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        """A key written twice in one object (JSON allows it; the last one wins)."""
        text = _dump(doc).decode("utf-8", "surrogatepass")
        key = self.rng.choice(['"name": ', '"orders": ', '"id": ', '"type": ', '"params": '])
        at = text.find(key, self.rng.randrange(max(1, len(text) // 2)))
        if at < 0:
            at = text.find(key)
        dup = f'{key}{json.dumps(self.rng.choice(HOSTILE_VALUES[:20]), ensure_ascii=True)}, '
        return (text[:at] + dup + text[at:]).encode("utf-8", "surrogatepass"), f"duplicate {key.strip(': ')}"

    def truncate(self, _: dict[str, Any], text: str) -> tuple[bytes, str]:
        data = text.encode("utf-8")
        cut = self.rng.randrange(len(data))
        return data[:cut], f"cut at byte {cut}"

    def random_bytes(self, _: dict[str, Any], text: str) -> tuple[bytes, str]:
        data = bytearray(text.encode("utf-8"))
        if self.rng.random() < 0.2:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 4000))), "random file"
        n = self.rng.randrange(1, 8)
        for _ in range(n):
            data[self.rng.randrange(len(data))] = self.rng.randrange(256)
        return bytes(data), f"{n} random bytes"

    def deep_nesting(self, doc: dict[str, Any], _: str) -> tuple[bytes, str]:
        depth = self.rng.choice([50, 255, 257, 1000, 100_000])
        value: Any = 1
        for _ in range(min(depth, 900)):
            value = [value]
        block = self.rng.choice(_blocks(doc))
        block.setdefault("params", {})["deep"] = "__DEEP__"
        text = _dump(doc)
        nested = "[" * depth + "1" + "]" * depth
        return text.replace(b'"__DEEP__"', nested.encode()), f"nesting {depth}"

    def several(self, doc: dict[str, Any], text: str) -> tuple[bytes, str]:
        hows = []
        for op in self.rng.sample([self.hostile_value, self.name_junk, self.param_junk, self.orders_junk,
                                   self.retype, self.link_junk], 3):
            data, how = op(doc, text)
            hows.append(how)
            try:
                doc = json.loads(data.decode("utf-8", "surrogatepass"))
            except ValueError:
                return data, " + ".join(hows)
        return _dump(doc), " + ".join(hows)


def mutants(count: int, seed: int) -> Iterator[Mutant]:
    """``count`` mutants of the shipped examples, the same ones for the same seed."""
    rng = random.Random(seed)
    mutator = Mutator(rng)
    examples = []
    for path in sorted(EXAMPLES.glob("*.dpgb")):
        text = path.read_text(encoding="utf-8")
        examples.append((path.name, json.loads(text), text))
    for i in range(count):
        name, doc, text = examples[i % len(examples)]
        yield mutator.make(name, doc, text)


# -- running -------------------------------------------------------------------------------------
def run_validate(path: Path, mutant: Mutant, out: Outcome) -> None:
    """``dpg-blocks validate --json`` on ``path`` in this process; counts what went wrong."""
    from dpg_blocks.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["validate", str(path), "--json"])
    except SystemExit as e:
        out.fail("crashes", mutant, f"SystemExit({e.code}) {stderr.getvalue()}")
        return
    except BaseException:  # noqa: BLE001 - a traceback is what the campaign counts
        out.fail("tracebacks", mutant, traceback.format_exc())
        return
    text_out, text_err = stdout.getvalue(), stderr.getvalue()
    out.exits[f"validate_exit_{code}"] += 1
    if "Traceback (most recent call last)" in text_out + text_err:
        out.fail("tracebacks", mutant, text_out + text_err)
    if code in (0, 1):
        try:
            doc = json.loads(text_out)
            assert isinstance(doc, dict) and isinstance(doc["blocks"], list)
        except (ValueError, AssertionError, KeyError):
            out.fail("unparsable", mutant, f"exit {code}: {text_out[:300]!r}")
    elif code == 2:
        if text_out.strip() or "cannot read the project:" not in text_err:
            out.fail("unparsable", mutant, f"exit 2: {text_out[:200]!r} {text_err[:300]!r}")
    else:
        out.fail("crashes", mutant, f"exit {code}: {text_err[:300]}")


class EditorOpen:
    """One headless editor (no viewport) that opens each mutant as File › Open does."""

    def __init__(self) -> None:
        import dearpygui.dearpygui as dpg

        from dpg_blocks.blocks.declare import spec_of
        from dpg_blocks.builtin import BLOCKS, PACK_NAME
        from dpg_blocks.ui.editor.app import Editor
        from dpg_blocks.ui.state.editor_state import EditorState

        self.dpg = dpg
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        self.editor = Editor(EditorState(), autosave_s=0)
        self.editor.state.set_catalog([{**spec_of(c).to_dict(), "pack": PACK_NAME} for c in BLOCKS])

    def open(self, path: Path, mutant: Mutant, out: Outcome) -> None:
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                self.editor.controls.open(str(path))
                self.editor.state.new()  # back to an empty document (and its redraw) for the next
        except BaseException:  # noqa: BLE001
            out.fail("tracebacks", mutant, "editor: " + traceback.format_exc())
            return
        if "Traceback (most recent call last)" in stdout.getvalue() + stderr.getvalue():
            out.fail("tracebacks", mutant, "editor: " + stdout.getvalue() + stderr.getvalue())

    def close(self) -> None:
        self.dpg.destroy_context()


def campaign(count: int, seed: int, folder: Path, editor: bool = True) -> tuple[int, Outcome]:
    """Run ``count`` mutants in ``folder`` (which gets the examples' data beside it)."""
    examples = folder / "examples"
    examples.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if not data.exists():
        data.symlink_to(ROOT / "assets" / "data", target_is_directory=True)
    out = Outcome()
    opener = EditorOpen() if editor else None
    n = 0
    try:
        for n, mutant in enumerate(mutants(count, seed), 1):
            path = examples / f"m{n:05d}.dpgb"
            path.write_bytes(mutant.text)
            before = (path.read_bytes(), path.stat().st_mtime_ns)
            run_validate(path, mutant, out)
            if opener is not None:
                opener.open(path, mutant, out)
            if (path.read_bytes(), path.stat().st_mtime_ns) != before:
                out.fail("changed", mutant, str(path))
            path.unlink()
    finally:
        if opener is not None:
            opener.close()
    return n, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-editor", action="store_true", help="only validate --json")
    args = ap.parse_args(argv)
    os.environ.setdefault("DPG_BLOCKS_USER_DIR", tempfile.mkdtemp(prefix="dpgb-user-"))
    folder = Path(tempfile.mkdtemp(prefix="dpgb-mutants-"))
    start = time.perf_counter()
    try:
        n, out = campaign(args.mutants, args.seed, folder, editor=not args.no_editor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for line in out.failures:
        print(line, file=sys.stderr)
    print(f"mutants={n}")
    for key, value in sorted(out.exits.items()):
        print(f"{key}={value}")
    print(f"seconds={time.perf_counter() - start:.1f}")
    print(f"changed={out.changed}")
    print(f"unparsable={out.unparsable}")
    print(f"crashes={out.crashes}")
    print(f"tracebacks={out.tracebacks}")
    return 0 if out.tracebacks == out.crashes == out.unparsable == out.changed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
