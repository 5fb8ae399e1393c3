"""Generate each order's forward as Python source (torch.fx-style, no dict dispatch).

The generated ``make(m)`` binds every module it calls to a closure local and returns
``forward(x_<input>, y_<input>, ...)``, a straight-line function: one call per live block, in
topological order, then ``return total_loss, (losses...), ((prediction, target), ...)``. The
same source is what "export to PyTorch" will write out. A block declared ``takes_signal`` is
called as ``m(order, target, *inputs)``; the order is a literal (each order has its own
forward), so graphs without such blocks generate exactly the code they did before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .plan import OrderPlan, Source, Step

# Which losses give a classification-style score of their prediction.
HEAD_KINDS = {
    "builtin.CrossEntropyLoss": "classification",
    "builtin.NLLLoss": "classification",
    "builtin.BCEWithLogitsLoss": "binary",
}


@dataclass
class OrderCode:
    source: str
    loss_ids: list[str] = field(default_factory=list)
    heads: list[tuple[str, str]] = field(default_factory=list)  # (block id, kind)
    head_inputs: list[str | None] = field(default_factory=list)


def _var(src: Source) -> str:
    block, port = src
    return f"v_{block}_{port}".replace("-", "_")


def _input_var(block: str, port: str) -> str:
    return f"{port}_{block}".replace("-", "_")


def generate_order_source(
    plan: OrderPlan, modules: dict[str, nn.Module], leaf: list[nn.Module], selected: set[str] | None
) -> OrderCode:
    """Source for one order; appends the modules it calls to ``leaf`` (shared across orders)."""
    code = OrderCode("")
    names: dict[Source, str] = {}
    params: list[str] = []
    binds: list[str] = []
    body: list[str] = []
    bound: dict[str, str] = {}
    for inp in plan.inputs:
        for port in ("x", "y"):
            names[(inp, port)] = _input_var(inp, port)
            params.append(names[(inp, port)])

    def module_var(step: Step) -> str:
        nid = step.node.id
        if nid not in bound:
            module = modules[nid]
            if module not in leaf:
                leaf.append(module)
            bound[nid] = f"m{leaf.index(module)}"
            binds.append(f"    {bound[nid]} = m[{leaf.index(module)}]  # {' › '.join(step.node.path)}")
        return bound[nid]

    output_heads = [s for s in plan.steps if s.live and s.node.role == "output"
                    and s.node.params.get("task", "classification") == "classification"]
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
        call = f"{module_var(step)}({', '.join(call_args)})"
        comment = f"  # {' › '.join(node.path)}"
        target_input = step.implicit_target
        if target_input is None and "target" in ports:
            src = node.sources.get("target")
            # only an Input's labels name a per-input accuracy (a Concat's "y" is not an input)
            target_input = src[0] if src is not None and src[1] == "y" and src[0] in plan.inputs else None
        if node.role == "loss":
            var = f"loss_{node.id}".replace("-", "_")
            body.append(f"    {var} = {call}{comment}")
            code.loss_ids.append(node.id)
            losses.append(var)
            kind = HEAD_KINDS.get(node.spec.id if node.spec else "")
            if kind and not output_heads:
                heads.append(f"({args[0]}, {args[ports.index('target')]})")
                code.heads.append((node.id, kind))
                code.head_inputs.append(target_input)
            continue
        if node.role == "output":
            var = f"out_{node.id}".replace("-", "_")
            body.append(f"    {var} = {call}{comment}")
            if step in output_heads and "target" in ports:
                heads.append(f"({var}, {args[ports.index('target')]})")
                code.heads.append((node.id, "classification"))
                code.head_inputs.append(target_input)
            continue
        outs = [(node.id, p.name) for p in node.block.outputs]
        for o in outs:
            names[o] = _var(o)
        body.append(f"    {', '.join(names[o] for o in outs)} = {call}{comment}")
    chosen = [v for v, nid in zip(losses, code.loss_ids, strict=True) if selected is None or nid in selected]
    total = " + ".join(chosen) if chosen else "None"
    loss_tuple = "(" + "".join(f"{v}, " for v in losses) + ")"
    head_tuple = "(" + "".join(f"{h}, " for h in heads) + ")"
    lines = [f"# order {plan.index}", "def make(m):", *binds,
             f"    def forward({', '.join(params)}):",
             *("    " + line for line in body),
             f"        return {total}, {loss_tuple}, {head_tuple}",
             "    return forward", ""]
    code.source = "\n".join(lines)
    return code
