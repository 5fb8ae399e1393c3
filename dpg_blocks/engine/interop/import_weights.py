"""An import's weights: the original layers' state copied into the compiled blocks and written as
a training checkpoint (the layout ``Trainer.save_checkpoint`` writes)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import nn

from dpg_blocks.core.atomic_file import write_bytes_atomic

from ..compiling.model import CompileResult, compile_project
from ..packs.registry import Registry
from .import_load import FxImportError, ImportedModule


def copy_weights(imported: ImportedModule, module: nn.Module, result: CompileResult) -> None:
    """Load the original layers' parameters and buffers into the compiled model's blocks."""
    for bid, target in imported.layers.items():
        original = module.get_submodule(target)
        built = result.model.block_modules[bid]
        try:
            built.load_state_dict(original.state_dict())
        except RuntimeError as e:
            raise FxImportError(f"layer {target}: its weights do not fit the block ({str(e).splitlines()[0]})") from e
    with torch.no_grad():
        for bid, target in imported.tensors.items():
            built = result.model.block_modules[bid]
            built.weight.copy_(module.get_parameter(target).reshape(built.weight.shape))


def write_weights(
    imported: ImportedModule, module: nn.Module, registry: Registry, project_dir: Path | str, path: Path | str
) -> CompileResult:
    """Compile the imported project, copy the weights in, and save them as a training checkpoint.

    Raises FxImportError when the project's parameter count differs from the module's.
    """
    from dpg_blocks.core.project_file import project_to_dict

    with torch.random.fork_rng(devices=[]):  # building draws initial weights; they are replaced
        result = compile_project(imported.project, registry, project_dir, trusted=True)
    count = sum(p.numel() for p in result.model.parameters())
    if count != imported.parameters:
        raise FxImportError(f"the blocks hold {count} parameters, the module {imported.parameters}")
    copy_weights(imported, module, result)
    # the layout of Trainer.save_checkpoint, so Trainer.load_checkpoint and export --weights read it
    state = {"epoch": 0, "model": result.model.state_dict(), "optimizers": {}, "schedulers": {}, "metrics": {},
             "project": json.dumps(project_to_dict(imported.project))}
    buffer = io.BytesIO()  # torch reports a full disk as a RuntimeError; the atomic writer as OSError
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())  # a kill or a full disk leaves no truncated file
    return result
