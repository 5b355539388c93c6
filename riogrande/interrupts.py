"""Ctrl-C and SIGTERM held back while a run starts something it must be able to stop.

On the command line both signals become exceptions of the main thread (see
:mod:`riogrande.cli.errors`). One raised half way through starting a thread
or a worker process, or between starting a pool and handing it to the code
that stops it, would leave that thread or process running unseen by the
run's clean-up; the interpreter would then wait for it at exit. Held signals
arrive as soon as the step is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The signals that interrupt a run.
INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back in the main thread for the ``with`` block.

    Threads and processes started in the block inherit the mask: threads
    never see these signals (only the main thread handles them), and a
    worker process lifts it first thing (:func:`accept_interrupts`).
    """
    if (not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def accept_interrupts() -> None:
    """In a new worker process: lift the mask it may have inherited from its parent.

    A held SIGTERM that arrived meanwhile (the parent stopping the worker)
    is delivered now.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
