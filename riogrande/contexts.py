"""Worker processes: how many, and how they start.

:func:`get_nbr_workers` turns a worker count asked for into a usable one;
:func:`get_or_set_context` returns the multiprocessing context workers start
with (spawn unless the application chose another method, with a chosen
Python interpreter if need be) without changing the global start method.
:mod:`multiprocessing` is imported on first use: a run in threads needs none
of it.
"""

from __future__ import annotations

import numbers
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

#: The start methods of worker processes.
START_METHODS = ("spawn", "fork", "forkserver")


def get_nbr_workers(number: int | None = None) -> int:
    """Return how many worker processes to use: ``number``, or the CPUs this process may use
    when it is None; at least 1."""
    if number is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not available on Windows and macOS
            return max(1, os.cpu_count() or 1)
    if isinstance(number, bool) or not isinstance(number, numbers.Integral):
        raise ValueError(f"the number of workers must be an integer, got {number!r}")
    return max(1, int(number))


def get_or_set_context(method: str | None = None, *, executable: str | None = None) -> BaseContext:
    """Return the multiprocessing context to run workers with.

    The global start method is never changed.

    Parameters
    ----------
    method : {"spawn", "fork", "forkserver"} or None
        ``None`` uses the start method the application has set, else
        ``"spawn"`` (correct on every platform and inside applications that
        embed Python).
    executable : str or None
        Python interpreter for the worker processes (spawn only). Needed when
        ``sys.executable`` is not a usable Python, e.g. inside QGIS. It only
        applies to the processes of the returned context.

    Returns
    -------
    multiprocessing.context.BaseContext

    Raises
    ------
    ValueError
        For an unknown method, or an executable with a method other than spawn.
    """
    import multiprocessing  # here: a run in threads needs none of it

    if method is not None and method not in START_METHODS:
        raise ValueError(f"unknown start method {method!r}: use one of {START_METHODS}")
    if method is None:
        method = multiprocessing.get_start_method(allow_none=True) or "spawn"
    if executable is None:
        return multiprocessing.get_context(method)
    if method != "spawn":
        raise ValueError(f"a worker interpreter can only be set with 'spawn', not {method!r}")
    from riogrande._interpreter import InterpreterSpawnContext

    return InterpreterSpawnContext(executable)
