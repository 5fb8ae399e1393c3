"""Shared weights (``Project.ties``): one parameter tensor in two layers, trained once.

A tie names one parameter, or "*" (``ALL``) for every parameter of a layer: what the editor's
Paste sharing weights makes for each pasted layer, a Siamese network's second tower.

Applied once every layer is built (``Validator.run``), so building draws every layer's initial
weights in the usual order and the exported script, which builds the same way and then ties
(``export_runtime.tie``), starts from the same numbers. A tie whose layers did not build (an
error of their own, or idle) is left for those records to explain; one whose parameter is
missing or of another shape is the tied block's error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

from dpg_blocks.core.project import Tie

ALL = "*"  # Tie.param for every parameter of the block (a shared copy of a layer)


def expand(ties: list[Tie], modules: Mapping[str, nn.Module]) -> list[Tie]:
    """``ties`` with each "*" tie as one tie per parameter of the built layer."""
    out: list[Tie] = []
    for t in ties:
        if t.param == ALL and t.block in modules:
            out += [Tie(t.block, name, t.source, name) for name, _ in modules[t.block].named_parameters()]
        elif t.param != ALL:
            out.append(t)
    return out


def tie_parameter(module: nn.Module, name: str, param: nn.Parameter) -> None:
    """Make ``module``'s parameter ``name`` ("weight", "0.bias", "weight_ih_l0") be ``param``."""
    owner, _, leaf = name.rpartition(".")
    setattr(module.get_submodule(owner) if owner else module, leaf, param)


def tie_weights(ties: list[Tie], modules: Mapping[str, nn.Module], names: Mapping[str, str],
                fail: Callable[[str, str], None]) -> None:
    """Apply ``ties`` to the built ``modules`` (block id -> layer); ``fail(block id, message)``
    records what cannot be tied; ``names`` are the blocks' paths for messages."""
    for t in ties:
        dst, src = modules.get(t.block), modules.get(t.source)
        if dst is None or src is None:
            continue
        own, theirs = dict(dst.named_parameters()), dict(src.named_parameters())
        if t.param == ALL:  # a shared copy (Paste sharing weights): every parameter, by name
            missing = sorted(set(own) ^ set(theirs))
            if missing:
                fail(t.block, f"shares all weights with {names.get(t.source, t.source)}, but their parameters differ "
                              f"({', '.join(missing)}): share between blocks of one type")
                continue
            for name in own:
                tie_weights([Tie(t.block, name, t.source, name)], modules, names, fail)
            continue
        source = f"{names.get(t.source, t.source)}.{t.source_param}"
        if t.param not in own or t.source_param not in theirs:
            missing, where = (t.param, own) if t.param not in own else (t.source_param, theirs)
            fail(t.block, f"shares weights with {source}, but there is no parameter {missing!r} to share "
                          f"(there are: {', '.join(where) or 'none'})")
            continue
        mine, shared = own[t.param], theirs[t.source_param]
        if mine.shape != shared.shape:
            fail(t.block, f"its {t.param} of shape {tuple(mine.shape)} cannot share the weights of {source}, of shape "
                          f"{tuple(shared.shape)}: give both layers the same sizes")
            continue
        tie_parameter(dst, t.param, shared)
