"""A spawn context whose processes run a chosen Python interpreter.

:meth:`multiprocessing.context.BaseContext.set_executable` changes a
module-wide setting that every later spawn in the process uses. Here the
interpreter is swapped in only while one of *our* processes is being
launched (under a lock) and restored immediately, so the caller's and other
libraries' multiprocessing state is left as it was.
"""

from __future__ import annotations

import os
import sys
import threading
from multiprocessing import spawn
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

_launch_lock = threading.Lock()


class InterpreterSpawnProcess(SpawnProcess):
    """A spawn process launched with the interpreter in ``_interpreter``."""

    _interpreter: str | None = None

    @staticmethod
    def _Popen(process_obj: InterpreterSpawnProcess) -> Any:  # noqa: N802 (multiprocessing API)
        interpreter = getattr(process_obj, "_interpreter", None)
        if interpreter is None:
            return SpawnProcess._Popen(process_obj)
        with _launch_lock:
            previous = spawn.get_executable()
            spawn.set_executable(interpreter)
            try:
                return SpawnProcess._Popen(process_obj)
            finally:
                spawn.set_executable(previous)


def _start_resource_tracker(executable: str) -> None:
    """Start multiprocessing's resource tracker (POSIX) with ``executable``.

    The first lock a spawn context creates starts the tracker process with
    the *global* executable, i.e. ``sys.executable``, which is not always a
    usable Python (inside QGIS: the QGIS binary, or another ``python3`` on
    PATH). Starting it first with our interpreter avoids that; a tracker
    already running is kept.
    """
    if sys.platform == "win32":
        return
    from multiprocessing import resource_tracker

    with _launch_lock:
        previous = spawn.get_executable()
        spawn.set_executable(executable)
        try:
            resource_tracker.ensure_running()
        finally:
            spawn.set_executable(previous)


class InterpreterSpawnContext(SpawnContext):
    """Spawn context launching its processes with ``executable``.

    Parameters
    ----------
    executable : str
        Path to a Python interpreter compatible with the caller's (same
        version, able to import the caller's packages).
    """

    def __init__(self, executable: str | os.PathLike[str]) -> None:
        super().__init__()
        executable = os.fspath(executable)
        if not os.path.isfile(executable):
            raise FileNotFoundError(f"worker Python interpreter not found: {executable}")
        self.executable = executable
        _start_resource_tracker(executable)

    def Process(self, *args: Any, **kwargs: Any) -> InterpreterSpawnProcess:  # noqa: N802
        """Create a process that will run with this context's interpreter."""
        process = InterpreterSpawnProcess(*args, **kwargs)
        process._interpreter = self.executable
        return process

    def set_executable(self, executable: str) -> None:
        """Change the interpreter of this context only (not the global one)."""
        self.executable = os.fspath(executable)
