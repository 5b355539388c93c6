"""Ctrl-C and SIGTERM held back while a run starts something it must be able to stop.

On the command line both signals become exceptions of the main thread (see
:mod:`riogrande.cli.errors`). One raised half way through starting a thread
or a worker process, or between starting a pool and handing it to the code
that stops it, would leave that thread or process running unseen by the
run's clean-up; the interpreter would then wait for it at exit. Held signals
arrive as soon as the step is done.

Blocking the signals in the main thread is not enough: the kernel hands a
signal sent to the process to any thread that does not block it (OpenBLAS
starts threads when numpy is imported), and Python then runs the handler in
the main thread all the same. So while a step is held, the Python handlers
of these signals are replaced by one that only records the signal; the
recorded signals are raised again, to the real handlers, once it is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

#: The signals that interrupt a run.
INTERRUPTS = frozenset({signal.SIGINT, signal.SIGTERM})

#: How deep the main thread is in nested holds.
_depth = 0
#: The Python handlers replaced by the outermost hold.
_replaced: dict[int, Callable[[int, FrameType | None], Any]] = {}
#: Signals received while held, in order.
_received: list[int] = []


def _record(signum: int, frame: FrameType | None) -> None:
    if signum not in _received:
        _received.append(signum)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back in the main thread for the ``with`` block.

    Threads and processes started in the block inherit the signal mask:
    threads never see these signals (only the main thread handles them), and
    a worker process lifts it first thing (:func:`accept_interrupts`). A
    signal that arrives meanwhile reaches its handler when the outermost
    hold ends. Outside the main thread this does nothing.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        if _depth > 1:
            yield
        else:
            with _signals_blocked():
                try:
                    _replace_handlers()
                    yield
                finally:
                    _restore_handlers()
    finally:
        _depth -= 1
        if _depth == 0:
            _raise_received()


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _replace_handlers() -> None:
    """Put :func:`_record` in place of each Python handler of :data:`INTERRUPTS`.

    A signal ignored, left to the system (``SIG_DFL`` ends the process at
    once, nothing to clean up) or handled outside Python is left alone.
    """
    _received.clear()
    for signum in sorted(INTERRUPTS):
        handler = signal.getsignal(signum)
        if callable(handler):
            _replaced[signum] = handler
            signal.signal(signum, _record)


def _restore_handlers() -> None:
    """Put the replaced handlers back, every one even if a handler raises meanwhile."""
    if not _replaced:
        return
    signum, handler = _replaced.popitem()
    try:
        _restore_handlers()
    finally:
        signal.signal(signum, handler)


def _raise_received() -> None:
    """Send the signals recorded during the hold again, now to their own handlers."""
    received = list(_received)
    _received.clear()
    for signum in received:
        signal.raise_signal(signum)


def wait_for(event: threading.Event, step: float = 0.1) -> None:
    """Wait until ``event`` is set, in steps of ``step`` s with interrupts held.

    An interrupt raised inside the event's lock would leave it held, and the
    thread meant to set the event would wait for it forever; here it arrives
    between two steps, at most ``step`` s late.
    """
    ended = False
    while not ended:
        with interrupts_held():
            ended = event.wait(step)


def accept_interrupts() -> None:
    """In a new worker process: lift the mask it may have inherited from its parent.

    A forked worker also gets back the handlers its parent had before the
    hold it was forked in. A held SIGTERM that arrived meanwhile (the parent
    stopping the worker) is delivered now.
    """
    global _depth
    if threading.current_thread() is threading.main_thread():
        _restore_handlers()
        _received.clear()
        _depth = 0
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
