"""The imported module traced and its shapes propagated, before any block is made (``import_fx``).

:func:`trace_shaped` turns an ``nn.Module`` into a ``torch.fx`` graph whose every node carries
its tensor's shape: it traces with the untraceable submodules kept whole (:mod:`.import_opaque`),
checks that the forward takes one input per given shape, checks the asserts the trace left out
on the example batch, and runs shape propagation on an ``eval()`` copy, so the module's own
statistics stay. Each failure is an :class:`~.import_load.FxImportError` naming the user's line
where there is one (``_user_line``).

Kept apart from the walk over the graph in :mod:`.import_fx`: this part reads only torch and the
user's module, the walk only the shaped graph (and what it turns each node into).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from .import_load import FxImportError
from .import_opaque import trace_with_opaque

__all__ = ["EXAMPLE_BATCH", "trace_shaped"]

EXAMPLE_BATCH = 2  # shape propagation's batch: 2 keeps batch norm happy and tells batch from features


def _user_line(e: BaseException) -> str:
    """' at line N of FILE (`source`)': the last frame of the traceback outside torch."""
    import traceback

    torch_dir = str(Path(torch.__file__).parent)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(str(Path(__file__).parents[1]))]
    if not frames:
        return ""
    f = frames[-1]
    code = f" (`{f.line.strip()}`)" if f.line else ""
    return f" at line {f.lineno} of {Path(f.filename).name}{code}"


def _trace_hint(e: BaseException) -> str:
    if "control flow" in str(e) or "iteration" in str(e):
        return ("; an `if`, `assert` or loop on a tensor's value has no block: compute it with tensor ops "
                "(torch.where, masks), or move it into a submodule, which comes in whole as an Opaque Module block")
    return ""


def trace_shaped(
    module: nn.Module, shapes: list[tuple[int, ...]], dtypes: list[str]
) -> tuple[fx.GraphModule, set[str], list[str]]:
    """``module`` traced, every node's ``meta`` holding its shape from a batch of ``EXAMPLE_BATCH``
    (one example per input: ``shapes`` and ``dtypes`` pair up); the submodules kept whole (Opaque
    Module blocks); and the asserts left out of the graph."""
    try:
        gm, opaque, asserts = trace_with_opaque(module)
    except Exception as e:
        raise FxImportError(
            f"torch.fx cannot trace {type(module).__name__}{_user_line(e)}: {type(e).__name__}: "
            f"{str(e).splitlines()[0]}{_trace_hint(e)}"
        ) from e
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(shapes):
        raise FxImportError(
            f"{type(module).__name__}.forward takes {len(placeholders)} input(s) "
            f"({', '.join(n.name for n in placeholders)}); give one --input-shape for each"
        )
    probe = copy.deepcopy(gm).eval()  # shapes only: running it must not touch the original's statistics
    # token ids: zeros are a valid id for any Embedding
    examples = [torch.zeros(EXAMPLE_BATCH, *s, dtype=torch.int64) if dt == "int64" else torch.randn(EXAMPLE_BATCH, *s)
                for s, dt in zip(shapes, dtypes, strict=True)]
    with torch.no_grad():
        if asserts:  # left out of the graph: they must hold where they were specialised
            original = copy.deepcopy(module).eval()
            try:
                original(*examples)
            except AssertionError as e:
                raise FxImportError(
                    f"{type(module).__name__}'s assert{_user_line(e)} fails on inputs {shapes}"
                    f"{': ' + str(e) if str(e) else ''}") from e
            except Exception:  # noqa: BLE001 - the traced copy below names what fails
                pass
        try:
            ShapeProp(probe).propagate(*examples)
        except Exception as e:
            raise FxImportError(f"running {type(module).__name__} on inputs {shapes} failed: {e}") from e
    for mine, theirs in zip(gm.graph.nodes, probe.graph.nodes, strict=True):
        mine.meta.update(theirs.meta)
    return gm, opaque, asserts
