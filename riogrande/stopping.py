"""Stopping a run: the caller's ``cancel()``, Ctrl-C and SIGTERM, as one request the engine polls.

While a run is on in the main thread, SIGINT and SIGTERM only record
themselves in the run's :class:`StopRequest`: no exception lands in the
middle of the run's code. The engine polls the request between its steps (at
most 0.1 s apart), stops its workers and removes what it wrote. Once the run
has unwound, the recorded signal goes to the handler it had replaced:
``KeyboardInterrupt`` for Ctrl-C, the end of the process for SIGTERM's
default action, or the handler of an enclosing request (the command line's,
or an outer run's), which records it in turn.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: The signals that stop a run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any]


class StopRequest:
    """Whether a run must stop; call it to know.

    Parameters
    ----------
    cancel : callable, optional
        The caller's ``cancel() -> bool``, polled with the signals.
    outer : StopRequest, optional
        An enclosing request whose signals stop this run too.

    Attributes
    ----------
    signal : int or None
        The first stop signal received, if any.
    """

    def __init__(self, cancel: Callable[[], bool] | None = None,
                 outer: StopRequest | None = None) -> None:
        self._cancel = cancel
        self._outer = outer
        self.signal: int | None = None

    def record(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler while the request is in place: note the signal, nothing more."""
        if self.signal is None:
            self.signal = signum

    def __call__(self) -> bool:
        """True when a signal was received (here or in an enclosing request) or
        ``cancel()`` says so."""
        if self.signal is not None or (self._outer is not None and self._outer()):
            return True
        return self._cancel is not None and bool(self._cancel())


@contextmanager
def stop_on_signals(cancel: Callable[[], bool] | None = None) -> Iterator[StopRequest]:
    """For the ``with`` block, Ctrl-C and SIGTERM ask the run to stop instead of raising.

    Outside the main thread (where Python runs no signal handler) only
    ``cancel`` is polled. A signal ignored (``SIG_IGN``) or handled outside
    Python is left alone.

    Yields the :class:`StopRequest` to pass as the run's ``cancel``, which
    polls the caller's ``cancel() -> bool`` too.
    """
    if threading.current_thread() is not threading.main_thread():
        yield StopRequest(cancel)
        return
    replaced: dict[int, Handler | int] = {}
    outer = None
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None and handler != signal.SIG_IGN:
            replaced[signum] = handler
            owner = getattr(handler, "__self__", None)  # the handler of an enclosing request
            if outer is None and isinstance(owner, StopRequest):
                outer = owner
    request = StopRequest(cancel, outer)
    try:
        for signum in replaced:
            signal.signal(signum, request.record)
        yield request
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
        if request.signal in replaced:
            _deliver(request.signal, replaced[request.signal])


def _deliver(signum: int, handler: Handler | int) -> None:
    """Hand a recorded signal to ``handler``; ``SIG_DFL`` takes the signal's default action."""
    if callable(handler):
        handler(signum, None)
    else:
        signal.raise_signal(signum)
