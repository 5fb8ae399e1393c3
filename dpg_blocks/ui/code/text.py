"""The text of a block's code, as the code window shows it; no Dear PyGui here.

A Custom block's code parameter holds one source; the window shows what comes before a
top-level ``def backward`` as the forward buffer and the rest as the backward buffer
(:func:`split_code`), and joins them back on Apply (:func:`join_code`: split then joined is
byte-identical). Also here: the one-line summary the Network pane shows, where backward's line
numbers start, and the help written beside the buffers (what the code receives).
"""

from __future__ import annotations

import re

__all__ = ["CONTEXT_HELP", "MODULE_HELP", "backward_start", "code_summary", "join_code", "numbered_lines", "split_code"]

_BACKWARD = re.compile(r"^def[ \t]+backward\b", re.MULTILINE)
_DEF = re.compile(r"^(?:def[ \t]+(\w+)[ \t]*\(([^)]*)\)|class[ \t]+(\w+))", re.MULTILINE)

# What the code receives (engine/usercode.py: UserContext, CustomModule), shown beside the buffers.
CONTEXT_HELP: tuple[tuple[str, str], ...] = (
    ("forward(ctx, x, …)", "one argument per input port, in the order of 'inputs'; returns one tensor "
                           "per output port (a tuple for several)"),
    ("backward(ctx, grad_y, …)", "optional: one gradient per output port; returns one gradient per input "
                                 "(None for an input without one). Without it autograd differentiates "
                                 "forward"),
    ("ctx.order", "the order running now (1, 2 …)"),
    ("ctx.training", "True while training, False in evaluation"),
    ("ctx.target", "the labels of the one labelled input whose data reaches this block (None when none "
                   "or several do)"),
    ("ctx.progress", "the fraction of the planned training done: 0 at the first step → 1"),
    ("ctx.step, ctx.epoch", "planned-training steps done; the epoch (0-based)"),
    ("ctx.values[\"name\"]", "this block's named values (values, above)"),
    ("ctx.gradient_scale", "the gradient scale at this progress (gradient_scale, gradient_schedule)"),
    ("ctx.save_for_backward(*t)", "keep tensors for backward (ctx.saved_tensors there); any other "
                                  "attribute forward sets on ctx is there too"),
    ("names", "torch, nn, F (torch.nn.functional) and math are there without an import"),
    ("validation", "runs forward on a batch of 4 from each input; a backward is checked with "
                   "torch.autograd.gradcheck against forward (against −scale × it when a gradient scale "
                   "is set); the result is in the Debug pane"),
)


# An Opaque Module block's code is a class, not forward(ctx, …): what the window says beside it.
MODULE_HELP: tuple[tuple[str, str], ...] = (
    ("class <class name>(nn.Module)", "the block constructs it with 'arguments' (Python literals) and calls "
                                      "it on its inputs, in the order of 'inputs'"),
    ("forward(self, x, …)", "returns one tensor per output port (a tuple for several); any Python, "
                            "an `if` on a tensor's value included"),
    ("parameters", "the module's own parameters and buffers are the block's: trained by its order's "
                   "optimizer, saved in checkpoints, written by the export"),
    ("helpers", "functions, constants and imports the class uses belong in the code too; torch, nn, F "
                "and math are there without an import"),
)


def split_code(source: str) -> tuple[str, str]:
    """``(forward part, backward part)``: the backward part starts at a top-level ``def backward``."""
    m = _BACKWARD.search(source)
    return (source, "") if m is None else (source[:m.start()], source[m.start():])


def join_code(forward: str, backward: str) -> str:
    """The one source of the two buffers (two blank lines between them, as PEP 8 has it)."""
    if not backward.strip():
        return forward
    if not forward.strip():
        return backward
    return forward.rstrip("\n") + "\n\n\n" + backward


def code_summary(source: str) -> str:
    """``forward(ctx, x) · backward(ctx, grad_y) · 8 lines`` (``class Gate`` for a class): what the
    Network pane shows."""
    defs = [f"class {cls}" if cls else f"{name}({' '.join(args.split())})" for name, args, cls in _DEF.findall(source)]
    n = len(source.splitlines())
    return " · ".join([*defs, f"{n} line{'s' if n != 1 else ''}"]) if source.strip() else "no code"


def backward_start(forward: str, backward: str) -> int:
    """The line of the joined code on which the backward buffer's first line lands."""
    joined = join_code(forward, backward)
    return joined[:len(joined) - len(backward)].count("\n") + 1


def numbered_lines(text: str) -> int:
    """Numbered lines of a buffer (the empty line after a final newline has no number)."""
    return len(text.splitlines()) or 1
