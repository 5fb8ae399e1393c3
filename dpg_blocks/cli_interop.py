"""``dpg-blocks export`` and ``dpg-blocks import``: a project to a standalone script or ONNX, and
a PyTorch nn.Module to a project.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpg_blocks.cli_exit import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, EXIT_WRITE, _os_error_text
from dpg_blocks.cli_output import _console, _records_table, escape
from dpg_blocks.cli_project import _find_block, _load, _registry, _trusted

if TYPE_CHECKING:
    from rich.console import Console


def cmd_export(args: argparse.Namespace) -> int:
    """Write the project as one standalone PyTorch script (model, data loading, training)."""
    console = _console(stderr=True)
    project = _load(args.project, console)
    if project is None:
        return EXIT_UNREADABLE
    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.interop.export import ExportError, write_export

    registry = _registry(args)
    if not _trusted(project, registry, args, console):
        return EXIT_INVALID  # the script would carry code this user has not trusted
    if args.onnx:
        return _export_onnx(args, project, registry, console)
    try:
        path = write_export(project, registry, Path(args.project).resolve().parent, args.output, trusted=True)
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate; nothing was exported"))
        return EXIT_INVALID
    except OSError as e:  # a full disk, a folder that is not there: the old file is kept
        console.print(f"[bold red]cannot export:[/] cannot write {escape(_os_error_text(e))}", highlight=False)
        return EXIT_WRITE
    except (ExportError, ValueError) as e:  # a layer that cannot be written out
        console.print(f"[bold red]cannot export:[/] {escape(str(e))}", highlight=False)
        return EXIT_INVALID
    _console().print(f"wrote {path}\n  python {path} --epochs 1   # needs only torch and numpy", highlight=False)
    return EXIT_OK


def _export_onnx(args: argparse.Namespace, project: Any, registry: Any, console: Console) -> int:
    """``export --onnx``: one order's inference graph (no losses) with a dynamic batch dimension."""
    from dpg_blocks.engine.compiling.compiler import CompileError
    from dpg_blocks.engine.interop.export import ExportError
    from dpg_blocks.engine.interop.export_onnx import export_onnx

    outputs = []
    for ref in args.outputs or []:
        block = _find_block(project, ref)
        if block is None:
            console.print(f"[bold red]cannot export:[/] no block {ref!r} (use its name, id or Outer/Inner path)")
            return EXIT_INVALID
        outputs.append(block.id)
    try:
        path, interface = export_onnx(
            project, registry, Path(args.project).resolve().parent, args.output, order=args.order,
            outputs=outputs or None, weights=args.weights, trusted=True,
        )
    except CompileError as e:
        bad = [r.to_dict() for r in e.records if r.status in ("error", "upstream-error")]
        console.print(_records_table(bad, "the project does not validate; nothing was exported"))
        return EXIT_INVALID
    except OSError as e:
        console.print(f"[bold red]cannot export:[/] cannot write {escape(_os_error_text(e))}", highlight=False)
        return EXIT_WRITE
    except (ExportError, ValueError) as e:
        console.print(f"[bold red]cannot export:[/] {escape(str(e))}", highlight=False)  # "dpg-blocks[onnx]"
        return EXIT_INVALID
    ins = ", ".join(name for _, name in interface.inputs)
    outs = ", ".join(name for _, name in interface.outputs)
    _console().print(f"wrote {path}\n  order {interface.order}: inputs {ins} -> outputs {outs} (batch dimension dynamic)",
                     highlight=False)
    return EXIT_OK


def _shape_arg(text: str) -> tuple[int, ...]:
    """``1,8,8`` -> (1, 8, 8): one sample's shape, without the batch."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is numbers separated by commas, e.g. 1,8,8; got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"a shape is positive numbers, e.g. 1,8,8; got {text!r}")
    return shape


def cmd_import(args: argparse.Namespace) -> int:
    """Build a project from an nn.Module (torch.fx), with its weights saved as a checkpoint."""
    console = _console(stderr=True)
    from dpg_blocks.engine.interop.import_fx import FxImportError, import_to_project

    try:
        report = import_to_project(args.module, args.input_shape, args.output, _registry(args),
                                   args_json=args.args, weights=not args.no_weights, flat=args.flat,
                                   input_dtypes=args.input_dtype)
    except FxImportError as e:
        console.print(f"[bold red]cannot import:[/] {e}", highlight=False)
        return EXIT_INVALID
    _console().print(report.summary(), highlight=False)
    return EXIT_OK
