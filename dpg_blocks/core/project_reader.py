"""The project file's reader: every check a loaded document passes, and the one error it raises.

:class:`ProjectFileError` names the problem and its JSON path; :class:`DocumentReader`'s typed
accessors build the graph, orders and settings from parsed JSON, and :func:`check_tree`
refuses what would load but not save or not reach the engine. Separate from
``project_file.py`` (the file's entry points, migrations and writer) because it is the larger
idea: what a valid document is.
"""

from __future__ import annotations

import json
import math
from typing import Any

from dpg_blocks.core.graph import (
    BLOCK_ID,
    MAX_DEPTH,
    PORT_NAME,
    SUPERBLOCK_TYPE,
    Block,
    Endpoint,
    Graph,
    GraphError,
    Link,
    LinkRefused,
    Port,
)
from dpg_blocks.core.names import name_problem
from dpg_blocks.core.project import (
    OPTIMIZERS,
    SCHEDULERS,
    OptimizerSettings,
    Order,
    Project,
    Tie,
    TrainingSettings,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # the integers a project may hold (msgpack's to the engine)
# JSON nested deeper than this is refused: writing it back recurses once per level. MAX_DEPTH
# SuperBlocks take about 3 * MAX_DEPTH levels, which leaves room for params.
MAX_JSON_DEPTH = 256

_ID = BLOCK_ID
_PORT = PORT_NAME


class ProjectFileError(ValueError):
    """A project file that cannot be read: the message names what and where."""

    def __init__(self, message: str, json_path: str = "$", file: str | None = None) -> None:
        self.json_path = json_path
        self.file = file
        self.reason = message
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{json_path}: {message}")


def check_tree(doc: Any) -> None:
    """Refuse what would load but not save or not reach the engine: deep nesting, strings that
    are not Unicode text, numbers too large for a float (``1e999``) or integers beyond 64 bits."""
    # Iterative, so that the check itself cannot run out of stack; paths are built on error only.
    stack: list[tuple[Any, int, Any]] = [(doc, 1, None)]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                raise ProjectFileError("the text contains a lone surrogate (\\ud800-\\udfff)", _path(where))
        elif isinstance(value, float):
            # json reads 1e999 as inf without asking parse_constant; a project holds finite numbers
            if not math.isfinite(value):
                raise ProjectFileError(f"number out of range ({value}); use a finite number", _path(where))
        elif isinstance(value, int) and not isinstance(value, bool):
            # everything in a project crosses to the engine as msgpack, whose integers are 64-bit
            if not INT64_MIN <= value <= INT64_MAX:
                raise ProjectFileError(f"number too large: {show_value(value)} (integers must fit in 64 bits)",
                                       _path(where))
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                path = _path(where)
                shown = path if len(path) <= 80 else f"{path[:60]}...{path[-17:]}"
                raise ProjectFileError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", shown)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _is_text(key):
                    raise ProjectFileError(
                        "a key contains a lone surrogate (\\ud800-\\udfff)", _path(where)
                    )
                stack.append((item, depth + 1, (where, key)))


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _path(where: Any) -> str:
    keys: list[Any] = []
    while where is not None:
        where, key = where
        keys.append(key)
    return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in reversed(keys))


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a project file (use a finite number)")


def show_value(value: Any) -> str:
    if _jsonable(value):
        text = json.dumps(value)
    else:
        try:
            text = repr(value)
        except RecursionError:
            text = f"<a deeply nested {type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError, RecursionError):
        return False


def _same_names(first: str, second: str) -> str:
    if first == second:
        return f"are named {second!r}"
    return f"have names that look the same: {first!r} and {second!r}"


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number"}


class DocumentReader:
    """Typed accessors that raise :class:`ProjectFileError` with the JSON path."""

    def obj(self, v: Any, path: str) -> dict[str, Any]:
        return self._typed(v, dict, path)

    def _typed(self, v: Any, t: type, path: str) -> Any:
        if t is float and isinstance(v, int) and not isinstance(v, bool):
            try:
                return float(v)
            except OverflowError:
                raise ProjectFileError(f"number too large: {show_value(v)}", path) from None
        if not isinstance(v, t) or (isinstance(v, bool) and t is not bool):
            raise ProjectFileError(f"expected {_TYPE_NAMES.get(t, t.__name__)}, got {show_value(v)}", path)
        if t is float and not math.isfinite(v):
            raise ProjectFileError(f"expected a finite number, got {v}", path)
        return v

    def field(self, d: dict[str, Any], key: str, t: type, path: str, default: Any = ...) -> Any:
        if key not in d:
            if default is ...:
                raise ProjectFileError(f"missing {key!r}", path)
            return default
        return self._typed(d[key], t, f"{path}.{key}")

    def project(self, d: dict[str, Any]) -> Project:
        name = self._name(self.field(d, "name", str, "$", "untitled"), "project name", "$.name", empty_ok=True)
        project = Project(name)
        project.graph = self.graph(self.field(d, "graph", dict, "$"), "$.graph", None, 0, set())
        orders_raw = self.field(d, "orders", list, "$", None)
        if orders_raw is not None:
            project.orders = [self.order(o, f"$.orders[{i}]") for i, o in enumerate(orders_raw)]
            seen: set[int] = set()
            for i, o in enumerate(project.orders):
                if o.index in seen:
                    raise ProjectFileError(f"order {o.index} is defined twice", f"$.orders[{i}].index")
                seen.add(o.index)
            if not project.orders:
                raise ProjectFileError("a project needs at least one order", "$.orders")
        project.training = self.training(self.field(d, "training", dict, "$", {}), "$.training")
        project.meta = self.field(d, "meta", dict, "$", {})
        packs = self.field(d, "packs", dict, "$", {})
        for pack, version in packs.items():
            if not isinstance(version, str):
                raise ProjectFileError(f"a pack version must be a string, got {show_value(version)}", f"$.packs.{pack}")
        project.packs = dict(packs)
        ids = {b.id for b in project.graph.walk()}
        project.ties = [self.tie(t, f"$.ties[{i}]", ids) for i, t in enumerate(self.field(d, "ties", list, "$", []))]
        for i, o in enumerate(project.orders):
            for key, listed in (("optimize", o.optimize), ("losses", o.losses)):
                for j, bid in enumerate(listed or []):
                    if bid not in ids:
                        raise ProjectFileError(f"no block with id {bid!r}", f"$.orders[{i}].{key}[{j}]")
        return project

    def _name(self, name: str, what: str, path: str, empty_ok: bool = False) -> str:
        problem = None if empty_ok and not name else name_problem(name, what)
        if problem is not None:
            raise ProjectFileError(problem, path)
        return name

    def _positive(self, v: int, path: str) -> int:
        if v < 1:
            raise ProjectFileError(f"must be >= 1, got {v}", path)
        return v

    def graph(self, d: dict[str, Any], path: str, owner: Block | None, depth: int, ids: set[str]) -> Graph:
        if depth > MAX_DEPTH:
            raise ProjectFileError(f"SuperBlocks nested deeper than {MAX_DEPTH} levels", path)
        g = Graph()
        g.owner = owner
        blocks = self.field(d, "blocks", list, path)
        for i, bd in enumerate(blocks):
            bpath = f"{path}.blocks[{i}]"
            b = self.block(self.obj(bd, bpath), bpath, depth, ids)
            twin = g.named(b.name)
            if twin is not None:
                raise ProjectFileError(f"two blocks in one graph {_same_names(twin.name, b.name)}", f"{bpath}.name")
            g.insert_block(b)
        # Every link is read first and the whole set checked in one pass (a per-link check
        # would make loading quadratic); a malformed link is reported only if no link before
        # it breaks an invariant, as if they were added one by one.
        links: list[Link] = []
        malformed: ProjectFileError | None = None
        for i, ld in enumerate(self.field(d, "links", list, path)):
            lpath = f"{path}.links[{i}]"
            try:
                ld = self.obj(ld, lpath)
                links.append(Link(self.endpoint(ld, "src", lpath), self.endpoint(ld, "dst", lpath)))
            except ProjectFileError as e:
                malformed = e
                break
        try:
            g.add_links(links)
        except LinkRefused as e:
            raise ProjectFileError(str(e), f"{path}.links[{e.index}]") from None
        except GraphError as e:  # a cycle no single link closes: not reachable from a fresh graph
            raise ProjectFileError(str(e), f"{path}.links") from None
        if malformed is not None:
            raise malformed
        return g

    def endpoint(self, d: dict[str, Any], key: str, path: str) -> Endpoint:
        v = self.field(d, key, list, path)
        if len(v) != 2 or not all(isinstance(x, str) for x in v):
            raise ProjectFileError(f"expected [block id, port name], got {show_value(v)}", f"{path}.{key}")
        return Endpoint(v[0], v[1])

    def block(self, d: dict[str, Any], path: str, depth: int, ids: set[str]) -> Block:
        bid = self.field(d, "id", str, path)
        if not _ID.fullmatch(bid):
            raise ProjectFileError(f"block id {show_value(bid)} must be 1-64 letters, digits, '_' or '-'", f"{path}.id")
        if bid in ids:
            raise ProjectFileError(f"block id {bid!r} is used twice", f"{path}.id")
        ids.add(bid)
        btype = self.field(d, "type", str, path)
        if not btype:
            raise ProjectFileError("block type is empty", f"{path}.type")
        name = self._name(self.field(d, "name", str, path).strip(), "block name", f"{path}.name")
        version = self._positive(self.field(d, "version", int, path, 1), f"{path}.version")
        pos_raw = self.field(d, "pos", list, path, [0.0, 0.0])
        if len(pos_raw) != 2:
            raise ProjectFileError(f"expected [x, y], got {show_value(pos_raw)}", f"{path}.pos")
        pos = (self._typed(pos_raw[0], float, f"{path}.pos[0]"), self._typed(pos_raw[1], float, f"{path}.pos[1]"))
        params = self.field(d, "params", dict, path, {})
        inputs = self.ports(self.field(d, "inputs", list, path, []), f"{path}.inputs")
        outputs = self.ports(self.field(d, "outputs", list, path, []), f"{path}.outputs")
        block = Block(bid, btype, name, params, inputs, outputs, pos, version)
        if btype == SUPERBLOCK_TYPE:
            block.graph = self.graph(self.field(d, "graph", dict, path), f"{path}.graph", block, depth + 1, ids)
        elif "graph" in d:
            raise ProjectFileError(f"only {SUPERBLOCK_TYPE} blocks have a 'graph'", f"{path}.graph")
        return block

    def ports(self, items: list[Any], path: str) -> list[Port]:
        ports: list[Port] = []
        for i, pd in enumerate(items):
            ppath = f"{path}[{i}]"
            pd = self.obj(pd, ppath)
            name = self.field(pd, "name", str, ppath)
            if not _PORT.fullmatch(name):
                raise ProjectFileError(f"port name {show_value(name)} must be an identifier", f"{ppath}.name")
            if any(p.name == name for p in ports):
                raise ProjectFileError(f"port {name!r} is declared twice", f"{ppath}.name")
            kind = self.field(pd, "kind", str, ppath, "tensor")
            optional = self.field(pd, "optional", bool, ppath, False)
            ports.append(Port(name, kind, optional))
        return ports

    def order(self, v: Any, path: str) -> Order:
        d = self.obj(v, path)
        index = self._positive(self.field(d, "index", int, path), f"{path}.index")
        name = self._name(self.field(d, "name", str, path, f"order {index}"), "order name", f"{path}.name", empty_ok=True)
        opt = self.optimizer(self.field(d, "optimizer", dict, path, {}), f"{path}.optimizer")
        lists: dict[str, list[str] | None] = {}
        for key in ("optimize", "losses"):
            raw = d.get(key)
            if raw is None:
                lists[key] = None
                continue
            items = self._typed(raw, list, f"{path}.{key}")
            lists[key] = [self._typed(x, str, f"{path}.{key}[{j}]") for j, x in enumerate(items)]
        return Order(index, name, opt, lists["optimize"], lists["losses"])

    def optimizer(self, d: dict[str, Any], path: str) -> OptimizerSettings:
        base = OptimizerSettings()
        kind = self.field(d, "type", str, path, base.type).lower()
        if kind not in OPTIMIZERS:
            raise ProjectFileError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}", f"{path}.type")
        sched = self.field(d, "scheduler", str, path, base.scheduler).lower()
        if sched not in SCHEDULERS:
            raise ProjectFileError(
                f"unknown scheduler {sched!r}; choose one of {', '.join(SCHEDULERS)}", f"{path}.scheduler"
            )
        s = OptimizerSettings(
            type=kind,
            lr=self.field(d, "lr", float, path, base.lr),
            weight_decay=self.field(d, "weight_decay", float, path, base.weight_decay),
            momentum=self.field(d, "momentum", float, path, base.momentum),
            scheduler=sched,
            step_size=self.field(d, "step_size", int, path, base.step_size),
            gamma=self.field(d, "gamma", float, path, base.gamma),
        )
        if s.lr <= 0:
            raise ProjectFileError(f"learning rate must be > 0, got {s.lr}", f"{path}.lr")
        if s.weight_decay < 0:
            raise ProjectFileError(f"weight decay must be >= 0, got {s.weight_decay}", f"{path}.weight_decay")
        if s.step_size < 1:
            raise ProjectFileError(f"step size must be >= 1, got {s.step_size}", f"{path}.step_size")
        return s

    def tie(self, d: Any, path: str, ids: set[str]) -> Tie:
        d = self._typed(d, dict, path)
        tie = Tie(*(self.field(d, key, str, path) for key in ("block", "param", "source", "source_param")))
        for key in ("block", "source"):
            if getattr(tie, key) not in ids:
                raise ProjectFileError(f"no block with id {getattr(tie, key)!r}", f"{path}.{key}")
        if (tie.block, tie.param) == (tie.source, tie.source_param):
            raise ProjectFileError("a parameter cannot share weights with itself", path)
        return tie

    def training(self, d: dict[str, Any], path: str) -> TrainingSettings:
        base = TrainingSettings()
        t = TrainingSettings(
            epochs=self.field(d, "epochs", int, path, base.epochs),
            seed=self.field(d, "seed", int, path, base.seed),
            device=self.field(d, "device", str, path, base.device),
            weights=self.field(d, "weights", str, path, base.weights),
        )
        if t.epochs < 0:
            raise ProjectFileError(f"epochs must be >= 0, got {t.epochs}", f"{path}.epochs")
        return t
