"""Command-line entry points that end without tearing down native thread pools.

Arrow's C++ thread pools (pyarrow, and delta-rs reads through it) can still hold a worker
thread when the interpreter finalises; the C++ runtime then aborts the process with
``terminate called without an active exception`` and exit status -6, after the command has
done its work and printed its result (apache/arrow#34314, delta-io/delta-rs#2184). A command
wrapped by :func:`command_line` finishes as Python would (non-daemon threads joined, ``atexit``
handlers run, logs and standard streams flushed) and then leaves with ``os._exit``, which skips
the native static destructors where the abort happens. The exit status is the command's own.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def command_line(main: Callable[[], object]) -> Callable[[], NoReturn]:
    """``main`` (e.g. a Typer app) as a console-script entry point that exits cleanly."""

    def run() -> NoReturn:
        try:
            main()
        except SystemExit as exc:
            code = _exit_status(exc.code)
        else:
            code = 0
        _finish_like_the_interpreter()
        os._exit(code)

    run.__doc__ = main.__doc__
    return run


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _finish_like_the_interpreter() -> None:
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
