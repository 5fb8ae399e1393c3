"""The ``dpg-blocks`` command line: validate, train, export, trust, the block library, plugins, new packs.

This module is the entry point: the argument parser, ``main`` (which turns whatever a command
did not expect into a message and an exit code) and the editor's commands (``open``, the
default, and ``screenshot``). The other commands live in one module per group, ``cli_*.py``;
their names are re-exported here, where scripts and tests import them from.

Heavy modules (torch, the engine) are imported inside the commands that need them, so
``dpg-blocks --help`` and the editor start fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from dpg_blocks.cli_exit import (
    DEBUG_ENV,
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_UNREADABLE,
    EXIT_WRITE,
    _pipe_closed,
    _report_unexpected,
)
from dpg_blocks.cli_interop import _shape_arg, cmd_export, cmd_import
from dpg_blocks.cli_library import cmd_library
from dpg_blocks.cli_output import PIPE_WIDTH, _console, escape
from dpg_blocks.cli_packs import cmd_new_pack, cmd_plugins
from dpg_blocks.cli_train import cmd_train, set_batch_size
from dpg_blocks.cli_validate import ENGINE_START_LIMIT_S, VALIDATE_DEADLINE_S, cmd_trust, cmd_validate

__all__ = [
    "DEBUG_ENV", "ENGINE_START_LIMIT_S", "EXIT_CODES", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_INVALID",
    "EXIT_OK", "EXIT_PIPE_CLOSED", "EXIT_UNREADABLE", "EXIT_WRITE", "PIPE_WIDTH", "VALIDATE_DEADLINE_S",
    "build_parser", "cmd_export", "cmd_import", "cmd_library", "cmd_new_pack", "cmd_open", "cmd_plugins",
    "cmd_screenshot", "cmd_train", "cmd_trust", "cmd_validate", "escape", "main", "set_batch_size",
]


def cmd_open(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("dpg_blocks.ui.editor.app") is None:
        console = _console(stderr=True)
        console.print(
            "[bold]The Dear PyGui editor is not part of this build yet[/] (README, 'State of this build').\n"
            f"Meanwhile: dpg-blocks validate {args.project or 'PROJECT'}   |   "
            f"dpg-blocks train {args.project or 'PROJECT'}",
            highlight=False,
        )
        return EXIT_UNREADABLE
    from dpg_blocks.ui.editor.app import run_editor  # type: ignore[import-not-found]

    return int(run_editor(args.project))


def cmd_screenshot(args: argparse.Namespace) -> int:
    """Render the editor on a project once validation has arrived and save the frame as PNG."""
    from dpg_blocks.core.project_file import ProjectFileError
    from dpg_blocks.ui.editor.app import run_screenshot

    console = _console(stderr=True)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        console.print(f"[bold red]--size must be WIDTHxHEIGHT, got {args.size!r}[/]", highlight=False)
        return EXIT_UNREADABLE
    try:
        code = run_screenshot(args.project, args.output, select=args.select, size=(w, h), boxes=args.boxes,
                              timeout_s=args.timeout, open_super=args.open, layout=args.auto_layout,
                              tab=args.tab, train_epochs=args.train, code=args.code, runs=args.runs,
                              processes=args.processes, zoom=args.zoom)
    except ProjectFileError as e:
        console.print(f"[bold red]cannot read the project:[/] {e}", highlight=False)
        return EXIT_UNREADABLE
    if code:
        console.print(f"[bold red]no screenshot: validation did not arrive within {args.timeout:g} s[/]")
    return code


def _zoom_arg(text: str) -> str | float:
    """``--zoom``: ``fit`` or a percentage from 25 to 200."""
    if text == "fit":
        return text
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--zoom takes a percentage (25-200) or fit, got {text!r}") from None
    if not 25 <= value <= 200:
        raise argparse.ArgumentTypeError(f"--zoom must be between 25 and 200 %, got {text!r}")
    return value / 100


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpg-blocks", description="Design, train and debug neural networks as block graphs.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (also: {DEBUG_ENV}=1); anywhere on the line")
    sub = parser.add_subparsers(dest="command")

    def with_plugins(p: argparse.ArgumentParser) -> None:
        p.add_argument("--plugins", action="append", metavar="DIR", help="also load block packs from DIR")

    v = sub.add_parser("validate", help="check a project and show every block's status and shapes")
    v.add_argument("project")
    v.add_argument("--json", action="store_true",
                   help='print {"ok": bool, "blocks": [...], "plugin_failures": [...]} as JSON '
                   '(and "error" when the engine could not validate)')
    v.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of failing blocks")
    v.add_argument("--trust", action="store_true", help="trust and run this project's custom code (it is recorded)")
    with_plugins(v)
    v.set_defaults(func=cmd_validate)

    t = sub.add_parser("train", help="train a project")
    t.add_argument("project")
    t.add_argument("--epochs", type=int, help="override the project's number of epochs")
    t.add_argument("--metrics-out", metavar="FILE", help="write one JSON object per epoch (JSON Lines)")
    t.add_argument("--checkpoint-dir", metavar="DIR", help="save a checkpoint after every epoch")
    t.add_argument("--device", help="cpu, cuda, cuda:1 … (default: the project's setting, 'auto')")
    t.add_argument("--seed", type=int, help="override the project's seed")
    t.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off",
                   help="mixed precision: bf16 autocast (CPU or GPU), fp16 autocast with a grad scaler (CUDA)")
    t.add_argument("--batch-size", type=int, metavar="N", help="every Input's batch size for this run; under "
                   "torchrun the global batch (each of the P processes takes N/P)")
    t.add_argument("--trust", action="store_true", help="trust and run this project's custom code (it is recorded)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--run-name", metavar="NAME", help="name of the run folder kept beside the project")
    t.add_argument("--no-run", action="store_true", help="keep no run folder")
    t.add_argument("--resume", metavar="RUN", help="continue a run (an id, a run folder or 'last') from its "
                   "last checkpoint, exactly; --epochs is then the run's total")
    t.add_argument("--init-from", metavar="RUN[:last]", help="start a new run from another run's best "
                   "(or last) weights, with fresh optimizers")
    t.add_argument("--weights", metavar="CHECKPOINT", help="start from the weights in this checkpoint (an import's "
                   "PROJECT.weights.pt, a run's best.pt); default: the project's training.weights, if any")
    with_plugins(t)
    t.set_defaults(func=cmd_train)

    ex = sub.add_parser("export", help="write the project as one standalone PyTorch script (torch and numpy only)")
    ex.add_argument("project")
    ex.add_argument("-o", "--output", required=True, metavar="FILE.py|FILE.onnx")
    ex.add_argument("--trust", action="store_true", help="trust and inline this project's custom code (it is recorded)")
    ex.add_argument("--onnx", action="store_true",
                    help="write one order's inference graph as ONNX instead (needs: pip install 'dpg-blocks[onnx]')")
    ex.add_argument("--order", type=int, metavar="K",
                    help="ONNX: the order to export (default: the first whose losses/Outputs a trainable block feeds)")
    ex.add_argument("--outputs", action="append", metavar="BLOCK",
                    help="ONNX: export this block's outputs instead of what feeds the losses/Outputs (repeatable)")
    ex.add_argument("--weights", metavar="CHECKPOINT",
                    help="ONNX: load the model's weights from a checkpoint (train --checkpoint-dir, or import)")
    with_plugins(ex)
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser("import", help="build a project from a PyTorch nn.Module (torch.fx), weights included")
    im.add_argument("module", metavar="FILE.py:ClassName")
    im.add_argument("-o", "--output", required=True, metavar="PROJECT.dpgb")
    im.add_argument("--input-shape", action="append", required=True, type=_shape_arg, metavar="C,H,W",
                    help="one sample's shape (no batch) for each input of forward, e.g. 1,8,8 (repeatable)")
    im.add_argument("--args", metavar="JSON", help="constructor arguments: a JSON list or object (default: none)")
    im.add_argument("--input-dtype", action="append", choices=["float32", "int64"],
                    help="per --input-shape, in order: float32 (default) or int64 (token ids for an Embedding)")
    im.add_argument("--flat", action="store_true",
                    help="one level of blocks (default: one SuperBlock per submodule, nested as the modules nest)")
    im.add_argument("--no-weights", action="store_true",
                    help="do not write PROJECT.weights.pt (the module's weights as a checkpoint)")
    with_plugins(im)
    im.set_defaults(func=cmd_import)

    o = sub.add_parser("open", help="open a project in the editor (the default command)")
    o.add_argument("project", nargs="?")
    o.set_defaults(func=cmd_open)

    sc = sub.add_parser("screenshot", help="render the editor on a project after validation and save a PNG")
    sc.add_argument("project", nargs="?", help="the project (none: a bare editor, as `dpg-blocks` opens)")
    sc.add_argument("-o", "--output", required=True, metavar="FILE.png")
    sc.add_argument("--select", metavar="BLOCK", help="select this block (name, id or Outer/Inner path)")
    sc.add_argument("--size", default="1600x1000", metavar="WxH", help="window size (default 1600x1000)")
    sc.add_argument("--boxes", metavar="FILE.json", help="also write the nodes' rectangles and statuses")
    sc.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for validation")
    sc.add_argument("--open", metavar="SUPERBLOCK", help="show the inside of this SuperBlock on the canvas")
    sc.add_argument("--auto-layout", action="store_true", help="lay the graph out first (the file is not changed)")
    sc.add_argument("--zoom", metavar="PERCENT|fit", type=_zoom_arg,
                    help="zoom the canvas to PERCENT (25-200) about its centre, or to fit the whole graph")
    sc.add_argument("--tab", choices=["debug", "visualization", "optimization", "evaluation", "runs", "plugins"],
                    help="show this tab of the bottom pane")
    sc.add_argument("--train", type=int, default=0, metavar="EPOCHS",
                    help="press Train and shoot after EPOCHS epochs, with the selected block's heatmaps")
    sc.add_argument("--processes", type=int, default=0, metavar="N",
                    help="with --train: press Run on N processes (torchrun) instead of Train")
    sc.add_argument("--code", metavar="BLOCK", help="open this Custom block's code window (and select it)")
    sc.add_argument("--runs", metavar="NAMES", help="tick these kept runs (comma-separated names, or all) and "
                    "shoot their curves overlaid")
    sc.set_defaults(func=cmd_screenshot)

    tr = sub.add_parser("trust", help="trust the custom code in a project so that it runs (or --show, --revoke)")
    tr.add_argument("project")
    tr.add_argument("--show", action="store_true", help="print the project's code and whether it is trusted")
    tr.add_argument("--revoke", action="store_true", help="stop trusting this code")
    with_plugins(tr)
    tr.set_defaults(func=cmd_trust)

    lib = sub.add_parser("library", help="save blocks and SuperBlocks for reuse, list them, insert copies")
    lib_sub = lib.add_subparsers(dest="action", required=True)
    ll = lib_sub.add_parser("list", help="list the saved blocks")
    ll.add_argument("--json", action="store_true")
    ls = lib_sub.add_parser("save", help="save a block (by name, id or Outer/Inner path) to the library")
    ls.add_argument("project")
    ls.add_argument("block")
    ls.add_argument("--name", help="save it under this name (default: the block's name)")
    ls.add_argument("--overwrite", action="store_true", help="replace a saved block of the same name")
    li = lib_sub.add_parser("insert", help="insert a copy of a saved block into a project (unlinked)")
    li.add_argument("project")
    li.add_argument("block", help="the saved block's name or file")
    li.add_argument("--into", metavar="SUPERBLOCK", help="insert inside this SuperBlock")
    li.add_argument("--name", help="name of the inserted block")
    li.add_argument("--output", metavar="FILE", help="write the result here instead of changing PROJECT")
    for p in (ll, ls, li):
        p.add_argument("--library", metavar="DIR", help="use this library folder instead of the user's")
    lib.set_defaults(func=cmd_library)

    pl = sub.add_parser("plugins", help="list block packs, their blocks, and packs that failed to load "
                        "(exit 1 when any failed or is quarantined)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--enable", action="append", metavar="NAME",
                    help="lift the quarantine of plugin NAME (pack name or path) and try it again")
    with_plugins(pl)
    pl.set_defaults(func=cmd_plugins)

    np_ = sub.add_parser("new-pack", help="write a pip-installable block pack (two example blocks and a test)")
    np_.add_argument("name", help="the pack's Python package name, e.g. my_blocks")
    np_.add_argument("--dir", default=".", help="create NAME/ inside this folder (default: the current one)")
    np_.set_defaults(func=cmd_new_pack)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; whatever happens, it ends in a message and an exit code (``--help``)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not argv:
        argv = ["open"]  # a bare `dpg-blocks` (a desktop launcher) opens an empty editor
    commands = {"validate", "train", "export", "import", "plugins", "open", "screenshot", "trust", "library", "new-pack"}
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        argv = ["open", *argv]  # `dpg-blocks PROJECT` opens the editor
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.func(args))
    except SystemExit:
        raise
    except BrokenPipeError:
        return _pipe_closed()
    except BaseException as e:  # noqa: BLE001 — the last guard: a message, never a traceback
        return _report_unexpected(e, args.command, debug, bool(getattr(args, "json", False)))


if __name__ == "__main__":
    raise SystemExit(main())
