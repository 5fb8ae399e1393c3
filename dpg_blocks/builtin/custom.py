"""The Custom block: a forward (and optional backward) written by the user, in the project.

The code runs only in the engine and only in a trusted project (DESIGN.md §5); the engine
compiles it through the build context (``ctx.code_module``; docs/plugins.md says what it receives).
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

DEFAULT_CODE = '''def forward(ctx, x):
    # ctx.order, ctx.training, ctx.target, ctx.progress, ctx.values["name"]
    return x
'''

GRADIENT_REVERSAL_CODE = '''def forward(ctx, x):
    return x.view_as(x)


def backward(ctx, grad_y):
    # gradient reversal (Ganin & Lempitsky 2015): the identity forward, -scale * gradient back;
    # with gradient_schedule "ganin" the scale ramps up with ctx.progress
    return -ctx.gradient_scale * grad_y
'''


@block("builtin.Custom", category="Structure", name="Custom", takes_signal=True, version=1)
class Custom:
    """Your own Python: ``forward(ctx, <inputs>)`` returns the outputs (one tensor, or a tuple).

    Optionally ``backward(ctx, <one gradient per output>)`` returns one gradient per input; the
    block then runs as a ``torch.autograd.Function`` (e.g. gradient reversal). ``ctx`` carries
    the signal: ``ctx.order``, ``ctx.training``, ``ctx.target`` (the labels reaching the block,
    or None), ``ctx.progress`` (the fraction of the planned training done, 0 → 1),
    ``ctx.step``, ``ctx.epoch`` and ``ctx.values`` (this block's named values). Validation
    checks a backward against the numerical gradient of the forward
    (``torch.autograd.gradcheck``).

    The code runs only once you trust the project (``--trust``).
    """

    x = In("tensor", named_by="inputs", doc="One input per name in 'inputs'.")
    y = Out("tensor", named_by="outputs", doc="One output per name in 'outputs'.")

    inputs = Param("names", ["x"], doc="Names of the input ports, e.g. x, mask.")
    outputs = Param("names", ["y"], doc="Names of the output ports.")
    code = Param("code", DEFAULT_CODE, doc="Python defining forward(ctx, …) and optionally backward(ctx, …).")
    values = Param("values", {}, doc='Named settings your code reads as ctx.values, e.g. {"alpha": 0.5}.')
    gradient_scale = Param(
        float,
        0.0,
        doc="For a backward that reverses the gradient on purpose: its scale s. Validation then checks "
        "backward == −s × gradient. 0: backward must be the true gradient.",
    )
    gradient_schedule = Param(
        str,
        "constant",
        choices=["constant", "ganin"],
        doc="How ctx.gradient_scale follows training: constant s, or ganin: s × (2 / (1 + exp(−10 p)) − 1) "
        "with p = ctx.progress (0 at the start, → s at the end; Ganin & Lempitsky 2015).",
    )

    def build(self, ctx: BuildContext) -> Any:
        """A module running the code (compiling it runs its top level: trusted projects only)."""
        if not self.outputs:
            raise ValueError("Custom: declare at least one output in 'outputs'")
        for name in self.inputs:
            ctx.in_shape(name)
        return ctx.code_module(
            self.code,
            list(self.inputs),
            list(self.outputs),
            dict(self.values),
            self.gradient_scale,
            self.gradient_schedule,
        )
