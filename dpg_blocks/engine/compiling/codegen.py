"""Generate each order's forward as Python source (torch.fx-style, no dict dispatch).

One generator writes the body of an order's forward: one call per live block, in topological
order, then ``return total_loss, (losses...), ((prediction, target), ...)``. Two subclasses
decide only how a module is named and how the body is wrapped:

* :class:`ClosureCodeGen` (the engine): ``make(m)`` binds every module it calls to a closure
  local and returns ``forward(x_<input>, y_<input>, ...)``; the engine ``exec``s it.
* :class:`MethodCodeGen` (export to PyTorch): a method ``order_<k>(self, x_<input>, ...)`` of
  the exported ``nn.Module`` that calls ``self.<path>.<block>``; the exporter writes it out.

A block declared ``takes_signal`` is called as ``m(order, target, *inputs)``; the order is a
literal (each order has its own forward), so graphs without such blocks generate exactly the
calls they did before.

Block names and order titles reach the source only through ``source_text`` (``comment``,
``doc``); variables are made of block ids and port names, which the document restricts to
``[A-Za-z0-9_-]`` and identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .plan import OrderPlan, Source, Step
from .source_text import comment, doc

__all__ = ["OrderCode", "CodeGen", "ClosureCodeGen", "MethodCodeGen", "generate_order_source"]

@dataclass
class OrderCode:
    """An order's generated source and what its return value holds."""

    source: str
    loss_ids: list[str] = field(default_factory=list)
    heads: list[tuple[str, str]] = field(default_factory=list)  # (block id, kind)
    head_inputs: list[str | None] = field(default_factory=list)
    # 1-based source line -> the block id called on it: the engine's training watchdog reads
    # which line of the generated forward is running and names that block (no hot-path cost)
    block_lines: dict[int, str] = field(default_factory=dict)


def _var(src: Source) -> str:
    block, port = src
    return f"v_{block}_{port}".replace("-", "_")


def _input_var(block: str, port: str) -> str:
    return f"{port}_{block}".replace("-", "_")


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


class CodeGen:
    """Writes one order's straight-line forward; subclasses name modules and wrap the body."""

    def __init__(self, plan: OrderPlan, selected: set[str] | None) -> None:
        self.plan = plan
        self.selected = selected  # the losses summed into the total (None: all)

    def module_ref(self, step: Step) -> str:
        """The expression that names ``step``'s module in the generated code."""
        raise NotImplementedError

    def wrap(self, params: list[str], body: list[str], result: str) -> list[str]:
        """The lines around the body (``body`` lines are indented for a function at column 0)."""
        raise NotImplementedError

    def generate(self) -> OrderCode:
        """The order's source and what it returns."""
        plan = self.plan
        code = OrderCode("")
        names: dict[Source, str] = {}
        params: list[str] = []
        for inp in plan.inputs:
            for port in ("x", "y"):
                names[(inp, port)] = _input_var(inp, port)
                params.append(names[(inp, port)])
        output_heads = [s for s in plan.steps if s.live and s.node.role == "output"
                        and s.node.params.get("task", "classification") == "classification"]
        body: list[str] = []
        body_ids: list[str] = []  # the block called on each body line
        losses: list[str] = []
        heads: list[str] = []
        for step in plan.steps:
            node = step.node
            if not step.live or node.role == "input":
                continue
            ports = [p.name for p in node.block.inputs]
            args = [names[a] if a is not None else "None" for a in step.args]
            if step.implicit_target is not None:
                args[ports.index("target")] = names[(step.implicit_target, "y")]
            call_args = args
            if node.spec is not None and node.spec.takes_signal:
                # the rest of the paper's signal: this order (a constant here) and the ground truth
                target = names[(step.signal_target, "y")] if step.signal_target is not None else "None"
                call_args = [str(plan.index), target, *args]
            call = f"{self.module_ref(step)}({', '.join(call_args)})"
            note = f"  # {comment(' › '.join(node.path))}"
            target_input = step.implicit_target
            if target_input is None and "target" in ports:
                src = node.sources.get("target")
                # only an Input's labels name a per-input accuracy (a Concat's "y" is not an input)
                target_input = src[0] if src is not None and src[1] == "y" and src[0] in plan.inputs else None
            if node.role == "loss":
                var = f"loss_{node.id}".replace("-", "_")
                body.append(f"    {var} = {call}{note}")
                body_ids.append(node.id)
                code.loss_ids.append(node.id)
                losses.append(var)
                # a loss declared with a metric scores its prediction (``@block(metric=...)``)
                kind = node.spec.metric if node.spec is not None else None
                if kind and not output_heads:
                    heads.append(f"({args[0]}, {args[ports.index('target')]})")
                    code.heads.append((node.id, kind))
                    code.head_inputs.append(target_input)
                continue
            if node.role == "output":
                var = f"out_{node.id}".replace("-", "_")
                body.append(f"    {var} = {call}{note}")
                body_ids.append(node.id)
                if step in output_heads and "target" in ports:
                    heads.append(f"({var}, {args[ports.index('target')]})")
                    code.heads.append((node.id, "classification"))
                    code.head_inputs.append(target_input)
                continue
            outs = [(node.id, p.name) for p in node.block.outputs]
            for o in outs:
                names[o] = _var(o)
            body.append(f"    {', '.join(names[o] for o in outs)} = {call}{note}")
            body_ids.append(node.id)
        chosen = [v for v, nid in zip(losses, code.loss_ids, strict=True) if self.selected is None or nid in self.selected]
        total = " + ".join(chosen) if chosen else "None"
        loss_tuple = _tuple(losses) if losses else "()"
        head_tuple = _tuple(heads) if heads else "()"
        lines = self.wrap(params, body, f"{total}, {loss_tuple}, {head_tuple}")
        code.source = "\n".join(lines)
        if body:  # wrap() indents the body as one run of lines: find where it starts
            first = next(i for i, line in enumerate(lines) if line.strip() == body[0].strip())
            lineno = 1 + sum(line.count("\n") + 1 for line in lines[:first])
            for line, bid in zip(body, body_ids, strict=True):
                code.block_lines[lineno] = bid
                lineno += line.count("\n") + 1
        return code


class ClosureCodeGen(CodeGen):
    """The engine's form: ``make(m)`` binds the modules it calls to locals, returns ``forward``.

    ``leaf`` is shared across the orders of one model: ``m[i]`` is ``leaf[i]``.
    """

    def __init__(
        self, plan: OrderPlan, selected: set[str] | None, modules: dict[str, nn.Module], leaf: list[nn.Module]
    ) -> None:
        super().__init__(plan, selected)
        self.modules, self.leaf = modules, leaf
        self.bound: dict[str, str] = {}
        self.binds: list[str] = []

    def module_ref(self, step: Step) -> str:
        """A closure local ``m<i>`` (an attribute lookup per call would cost on the hot path)."""
        nid = step.node.id
        if nid not in self.bound:
            module = self.modules[nid]
            if module not in self.leaf:
                self.leaf.append(module)
            index = self.leaf.index(module)
            self.bound[nid] = f"m{index}"
            self.binds.append(f"    m{index} = m[{index}]  # {comment(' › '.join(step.node.path))}")
        return self.bound[nid]

    def wrap(self, params: list[str], body: list[str], result: str) -> list[str]:
        """``make(m)`` around ``forward``."""
        return [f"# order {self.plan.index}", "def make(m):", *self.binds,
                f"    def forward({', '.join(params)}):",
                *("    " + line for line in body),
                f"        return {result}",
                "    return forward", ""]


class MethodCodeGen(CodeGen):
    """The exported form: a method of the model class calling ``self.<attribute path>``."""

    def __init__(self, plan: OrderPlan, selected: set[str] | None, paths: dict[str, str], title: str) -> None:
        super().__init__(plan, selected)
        self.paths = paths  # block id -> attribute path under the model ("Backbone.fc1")
        self.title = title  # plain text (an order's name); written through ``doc``

    def module_ref(self, step: Step) -> str:
        """``self.<path>``."""
        return f"self.{self.paths[step.node.id]}"

    def wrap(self, params: list[str], body: list[str], result: str) -> list[str]:
        """``def order_<k>(self, ...)`` indented as a method."""
        docstring = f'"""Order {self.plan.index} ({doc(self.title)}): (total loss, losses, (prediction, target) per head)."""'
        return [f"    def order_{self.plan.index}(self, {', '.join(params)}):" if params
                else f"    def order_{self.plan.index}(self):",
                f"        {docstring}",
                *("    " + line for line in body),
                f"        return {result}", ""]


def generate_order_source(
    plan: OrderPlan, modules: dict[str, nn.Module], leaf: list[nn.Module], selected: set[str] | None
) -> OrderCode:
    """Source for one order; appends the modules it calls to ``leaf`` (shared across orders)."""
    return ClosureCodeGen(plan, selected, modules, leaf).generate()
