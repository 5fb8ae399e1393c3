"""What a block is built into for validation: its layer or its data source, through the caches.

A plain block's layer is built from the shapes and dtypes that reach it on the sample batch
(:class:`~.context.BuildCtx`), or taken from the module cache under its ``layer_key``; an Input's
data source is loaded, or taken from the source cache; each step's key chains from the keys of
what feeds it, so the step cache can tell which blocks need not run again. Building is separate
from running the orders (:mod:`.compiler`): it decides what exists and under which keys, not what
it computes. A mixin of :class:`~.compiler.Validator` (it never imports the compiler); recording
a failure goes through the Validator's ``_fail_with`` (:class:`~.record_keeping.RecordKeeping`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.datasets import DataSource
from .context import BuildCtx
from .module_cache import ModuleCache, Step, StepCache, layer_key, step_key
from .plan import FlatNode
from .records import BlockRecord
from .source_cache import SourceCache

__all__ = ["BlockBuilding"]


class BlockBuilding:
    """The Validator's layers and data sources, built or taken from its caches, and the keys
    those caches keep them under (a mixin of :class:`~.compiler.Validator`)."""

    # What this mixin uses of the Validator it is part of.
    project_dir: Path
    trusted: bool
    sample_size: int
    source_cache: SourceCache | None
    module_cache: ModuleCache | None
    step_cache: StepCache | None
    on_block: Callable[[FlatNode], None] | None
    sources: dict[str, DataSource]
    modules: dict[str, nn.Module]
    _source_keys: dict[str, Any]
    _tied: set[str]
    _buffers: dict[str, dict[str, torch.Tensor]]
    _fail_with: Callable[[BlockRecord, BaseException], None]

    def _load_source(self, node: FlatNode, rec: BlockRecord) -> None:
        if self.on_block is not None:
            self.on_block(node)
        ctx = BuildCtx(node.id, node.block.name, node.path, self.project_dir, "cpu")
        cache = self.source_cache
        key = cache.key(node, self.project_dir) if cache is not None else None
        self._source_keys[node.id] = key
        try:
            source = cache.get(key) if cache is not None and key is not None else None
            if source is None:
                source = node.spec.instantiate_checked(node.params).load(ctx)  # type: ignore[union-attr]
                if not isinstance(source, DataSource):
                    raise TypeError(f"load() must return a DataSource, got {type(source).__name__}")
                if cache is not None and key is not None:
                    cache.put(key, source)
            self.sources[node.id] = source
        except Exception as e:
            self._fail_with(rec, e)

    def _sample(self, node_id: str, order: int, keys: dict[str, Any]) -> tuple[Any, Any]:
        """An Input's sample batch: the last validation's while its data is unchanged, so what
        its kept downstream steps computed still follows from it."""
        source_key = self._source_keys.get(node_id)
        key = ("input", node_id, source_key, self.sample_size, order) if source_key is not None else None
        keys[node_id] = key if key is not None else StepCache.UNKNOWN
        kept = self.step_cache.get((node_id, order), key) if self.step_cache is not None else None
        if kept is not None:
            return kept.outputs[0], kept.outputs[1]
        x, y = self.sources[node_id].sample(self.sample_size)
        if self.step_cache is not None:
            self.step_cache.put((node_id, order), key, Step([x, y]))
        return x, y

    def _step_key(self, step: Any, layer: Any, keys: dict[str, Any], order: int) -> Any:
        """This step's key, chained from what feeds it (``module_cache.step_key``); recorded in ``keys``."""
        def up(node_id: str | None, port: str | None) -> Any:
            if node_id is None:
                return None
            k = keys.get(node_id, StepCache.UNKNOWN)
            return StepCache.UNKNOWN if k is StepCache.UNKNOWN else (k, port)

        upstream = [up(*a) if a is not None else None for a in step.args]
        upstream += [up(step.implicit_target, "y"), up(step.signal_target, "y")]
        key = step_key(layer, order, upstream) if step.node.id not in self._tied else None
        keys[step.node.id] = key if key is not None else StepCache.UNKNOWN
        return key

    def _layer_key(self, node: FlatNode, ports: list[str], args: list[Any]) -> tuple[BuildCtx, Any]:
        """The build context of a node's layer (the shapes reaching it) and its ``layer_key``."""
        ctx = BuildCtx(node.id, node.block.name, node.path, self.project_dir, "cpu")
        for port, source, value in zip(ports, (node.sources.get(p) for p in ports), args, strict=True):
            if source is not None:
                ctx.linked.add(port)
            if isinstance(value, torch.Tensor):
                ctx.shapes[port], ctx.dtypes[port] = tuple(value.shape), value.dtype
        key = None
        if (self.module_cache is not None or self.step_cache is not None) and node.id not in self._tied:
            inputs = [(p, ctx.shapes.get(p), str(ctx.dtypes.get(p)), p in ctx.linked) for p in ports]
            key = layer_key(node.id, node.block.type, node.block.version, node.params, inputs,
                            str(self.project_dir), self.trusted)
        return ctx, key

    def _module(self, node: FlatNode, ctx: BuildCtx, key: Any) -> nn.Module:
        module = self.modules.get(node.id)
        if module is not None:
            return module
        module = self.module_cache.get(node.id, key) if self.module_cache is not None else None
        if module is None:
            built = node.spec.instantiate_checked(node.params).build(ctx)  # type: ignore[union-attr]
            module = built if isinstance(built, nn.Module) else _CallableModule(built)
            if self.module_cache is not None:
                self.module_cache.put(node.id, key, module)
        self.modules[node.id] = module
        self._buffers[node.id] = {n: b.detach().clone() for n, b in module.named_buffers()}
        return module

    def _restore_buffers(self, buffers: dict[str, dict[str, torch.Tensor]]) -> None:
        """Validation must not train the norm layers: their buffers as they were before it ran."""
        for nid, kept in buffers.items():
            for name, value in self.modules[nid].named_buffers():
                if name in kept:
                    value.copy_(kept[name])


class _CallableModule(nn.Module):
    """Wraps a plain callable returned by ``build`` so it sits in the module tree."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)
