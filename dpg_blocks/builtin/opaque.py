"""The Opaque Module block: an ``nn.Module`` class of your own, run as it is, with its weights.

The import makes one for each submodule ``torch.fx`` cannot trace (an ``if`` on a tensor's
value): the block holds the class's source, copied from the file with the helpers and imports it
uses, and its constructor's arguments. It is a block with code (trusted like a Custom block's,
see :mod:`dpg_blocks.core.user.trust`) that owns parameters. The engine compiles it (``ctx.build_module``).
"""

from __future__ import annotations

from typing import Any

from dpg_blocks.blocks import BuildContext, In, Out, Param, block

DEFAULT_CODE = '''class Gate(nn.Module):
    """A learned scale, applied only where the input is positive on average."""

    def __init__(self, features):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(features))

    def forward(self, x):
        if x.mean() > 0:  # data-dependent: torch.fx cannot trace this, the block just runs it
            return x * self.scale
        return x
'''


@block("builtin.OpaqueModule", category="Structure", name="Opaque Module", shown_param="class_name", version=1)
class OpaqueModule:
    """An ``nn.Module`` class written in Python, run as it is: ``forward(<inputs>)`` returns the
    outputs (one tensor, or a tuple). Its parameters are the block's: trained, saved in
    checkpoints and written by the export.

    Import makes one for each submodule torch.fx cannot trace (data-dependent control flow),
    holding its class's source and its weights. The code runs only once you trust the project
    (``--trust``).
    """

    x = In("tensor", named_by="inputs", doc="One input per name in 'inputs', passed to forward in that order.")
    y = Out("tensor", named_by="outputs", doc="One output per name in 'outputs'.")

    inputs = Param("names", ["x"], doc="Names of the input ports (forward's arguments, in order).")
    outputs = Param("names", ["y"], doc="Names of the output ports (forward returns a tuple for several).")
    class_name = Param(str, "Gate", doc="The nn.Module class of the code that the block constructs.")
    arguments = Param(str, "features=8", doc="The constructor's arguments as Python literals, e.g. 16, hidden=32.")
    code = Param("code", DEFAULT_CODE, doc="Python defining the class, with the helpers and imports it uses.")

    def build(self, ctx: BuildContext) -> Any:
        """An instance of the class (compiling the code runs its top level: trusted projects only)."""
        if not self.outputs:
            raise ValueError("Opaque Module: declare at least one output in 'outputs'")
        for name in self.inputs:
            ctx.in_shape(name)
        return ctx.build_module(self.code, self.class_name, self.arguments)
