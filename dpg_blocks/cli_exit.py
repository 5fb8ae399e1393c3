"""How a ``dpg-blocks`` command ends: its exit codes, and the one message for an error no command expected.

Every command returns one of these codes; ``cli.main`` is the last guard and turns whatever else
happens (an OSError, a bug, Ctrl-C, a closed pipe) into a line and a code, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys

from dpg_blocks.cli_output import _console

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
EXIT_WRITE = 3  # a file could not be written (a full disk, no permission); the old file is kept
EXIT_INTERNAL = 4  # an unexpected error inside dpg-blocks: a bug to report
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_PIPE_CLOSED = 141  # the reader of stdout went away (`| head`), as a shell reports SIGPIPE
DEBUG_ENV = "DPG_BLOCKS_DEBUG"  # set (or pass --debug) to see the traceback of an unexpected error
EXIT_CODES = f"""exit codes:
  {EXIT_OK}    done (validate: the project is valid)
  {EXIT_INVALID}    the project does not validate, or the command was refused (the message says why)
  {EXIT_UNREADABLE}    the project or an argument cannot be read or used
  {EXIT_WRITE}    a file could not be written (full disk, permissions); files already there are kept
  {EXIT_INTERNAL}    an unexpected error in dpg-blocks (please report it; --debug or {DEBUG_ENV}=1 shows the traceback)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_PIPE_CLOSED}  stdout was closed by its reader (e.g. `| head`); nothing else went wrong"""


def _os_error_text(e: OSError) -> str:
    """``/x/last.pt: No space left on device`` — the file and the reason, without errno noise."""
    where = e.filename if e.filename is not None else ""
    reason = e.strerror or str(e) or type(e).__name__
    return f"{where}: {reason}" if where else reason


def _report_unexpected(e: BaseException, command: str, debug: bool, json_out: bool = False) -> int:
    """One message for an error no command expected; the traceback only when asked for."""
    import traceback

    err = _console(stderr=True)
    if isinstance(e, KeyboardInterrupt):
        err.print(f"dpg-blocks {command}: interrupted", highlight=False, markup=False)
        return EXIT_INTERRUPTED
    if debug:
        sys.stderr.write("".join(traceback.format_exception(e)))
    if isinstance(e, OSError):
        message, code = f"dpg-blocks {command}: cannot complete: {_os_error_text(e)}", EXIT_WRITE
    elif isinstance(e, MemoryError):
        message, code = f"dpg-blocks {command}: out of memory", EXIT_INTERNAL
    else:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        hint = "" if debug else f" (run with --debug or {DEBUG_ENV}=1 for the traceback)"
        message = (f"dpg-blocks {command}: unexpected error: {type(e).__name__}: {first}\n"
                   f"This is a bug in dpg-blocks; please report it{hint}.")
        code = EXIT_INTERNAL
    err.print(message, highlight=False, markup=False)
    if json_out:  # --json promised JSON on stdout: still one object, saying what went wrong
        json.dump({"ok": False, "error": message.splitlines()[0], "exit_code": code}, sys.stdout)
        sys.stdout.write("\n")
    return code


def _pipe_closed() -> int:
    """The reader of stdout left (``validate --json | head``): end quietly, as Unix tools do.

    stdout is pointed at /dev/null first, so the interpreter's final flush of the buffered rest
    cannot raise a second BrokenPipeError at exit (the recipe of Python's signal docs).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing left to flush
        pass
    return EXIT_PIPE_CLOSED
