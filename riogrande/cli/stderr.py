"""Keeping what GDAL and libtiff print by themselves off the terminal.

Some of GDAL's messages bypass Python: libtiff's "_tiffWriteProc: No space
left on device." and GDAL's "ERROR 1: ..." lines are written straight to
file descriptor 2 from threads where no Python handler is installed. The
command line reports every failure in one message of its own, so without
``-v`` these lines go to a scratch file instead, while Python's
``sys.stderr`` (progress bar, warnings, errors) keeps writing to the
terminal.
"""

from __future__ import annotations

import faulthandler
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

STDERR_FD = 2


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == STDERR_FD  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


@contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Within the block, file descriptor 2 goes to a scratch file; ``sys.stderr`` does not.

    Worker processes started within the block inherit the redirected
    descriptor, so their native messages are hidden too. Stack dumps of
    :mod:`faulthandler`, when enabled, still go to the terminal.
    """
    try:
        sys.stderr.flush()
        terminal = os.dup(STDERR_FD)
    except (AttributeError, OSError, ValueError):
        yield
        return
    original = sys.stderr
    dumping = faulthandler.is_enabled()  # PYTHONFAULTHANDLER, -X faulthandler
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), STDERR_FD)
        if _writes_to_fd2(original):
            sys.stderr = open(os.dup(terminal), "w", buffering=1,  # noqa: SIM115 (closed below)
                              encoding=original.encoding, errors=original.errors)
            if dumping:  # stack dumps still reach the terminal
                faulthandler.enable(file=sys.stderr, all_threads=True)
        try:
            yield
        finally:
            if sys.stderr is not original:
                if dumping:
                    faulthandler.enable(file=original, all_threads=True)
                sys.stderr.close()
                sys.stderr = original
            os.dup2(terminal, STDERR_FD)
            os.close(terminal)
