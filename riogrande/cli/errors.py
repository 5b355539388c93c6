"""Turning library errors, Ctrl-C and SIGTERM into click's exits."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

import click

from riogrande.errors import RiograndeError

logger = logging.getLogger(__name__)

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: Exit code of a run stopped by SIGTERM (128 + SIGTERM).
TERMINATED = 128 + signal.SIGTERM


class RiograndeClickError(click.ClickException):
    """A library error shown as ``Error: <message>``, exit code 1."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM received: unwinds like Ctrl-C, so the library removes its partial output."""


#: The interrupts received since :func:`terminate_as_interrupt` was entered.
_received: set[int] = set()


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    _received.add(signum)
    raise Terminated


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    _received.add(signum)
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise the interrupt received earlier, if any, again.

    The exception a signal handler raises can be swallowed: when it lands in
    Python code that a compiled extension calls back (rasterio's logging),
    the extension only prints it ("Exception ignored in ...") and goes on.
    The run's progress callback calls this, so such a run still stops.

    Raises
    ------
    Terminated, KeyboardInterrupt
        If SIGTERM, or SIGINT, was received.
    """
    if signal.SIGTERM in _received:
        raise Terminated
    if signal.SIGINT in _received:
        raise KeyboardInterrupt


class InterruptibleGroup(click.Group):
    """A command group whose Ctrl-C and SIGTERM exit with 130 and 143 at any point.

    SIGTERM is turned into an exception (:func:`terminate_as_interrupt`) while
    the command is invoked: the group's callback, the subcommand's options,
    its run and the last line it prints; before and after, SIGTERM keeps its
    default action. A run reports what it removed (:func:`library_errors`); an
    interrupt before or after the run (parsing, checking, printing) has
    nothing to remove, and exits with the same codes instead of click's
    "Aborted!" (exit code 1).
    """

    def invoke(self, ctx: click.Context) -> object:
        """Invoke the command, turning a late or early interrupt into its exit code."""
        try:
            with terminate_as_interrupt():
                result = super().invoke(ctx)
                raise_if_interrupted()  # an interrupt swallowed on the way (see there)
            return result
        except KeyboardInterrupt as interrupt:
            raise interrupted_exit(interrupt, "") from None


def interrupted_exit(interrupt: KeyboardInterrupt, what: str) -> click.exceptions.Exit:
    """Say ``Terminated<what>.`` or ``Interrupted<what>.``; the exit of code 143 or 130."""
    terminated = isinstance(interrupt, Terminated)
    click.echo(f"\n{'Terminated' if terminated else 'Interrupted'}{what}.", err=True)
    return click.exceptions.Exit(TERMINATED if terminated else INTERRUPTED)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread.

    Ctrl-C raises ``KeyboardInterrupt`` as usual; both are also recorded for
    :func:`raise_if_interrupted`, and one that a compiled extension swallows
    is not printed (neither "Exception ignored" nor its traceback). The
    previous handlers and hooks are restored afterwards.
    """
    _received.clear()
    unraisable, excepthook = sys.unraisablehook, sys.excepthook

    # An interrupt a compiled extension swallows is recorded and raised again at the next
    # block: neither its "Exception ignored" report nor its traceback (Cython prints both
    # for some callbacks) is shown.
    def quiet_interrupts(report: Any) -> None:
        if not isinstance(report.exc_value, KeyboardInterrupt):
            unraisable(report)

    def quiet_interrupt_tracebacks(kind: type[BaseException], value: BaseException,
                                   traceback: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            excepthook(kind, value, traceback)

    sys.unraisablehook, sys.excepthook = quiet_interrupts, quiet_interrupt_tracebacks
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    previous_int = None
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous_int = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook, sys.excepthook = unraisable, excepthook
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)


@contextmanager
def library_errors(
    param_hints: Mapping[type[RiograndeError], str] | None = None,
) -> Iterator[None]:
    """Report library errors the way click reports its own.

    Parameters
    ----------
    param_hints : mapping of exception class to str, optional
        Errors caused by one argument (a band that does not exist, a nodata
        value the data type cannot hold...) become usage errors naming it
        (exit code 2); every other :class:`~riogrande.errors.RiograndeError`
        exits with code 1. A worker's traceback is logged at INFO level
        (shown with ``-v``), never in the message.

    Raises
    ------
    click.BadParameter
        For the errors listed in ``param_hints``.
    RiograndeClickError
        For other library errors.
    click.exceptions.Exit
        With code 130 after Ctrl-C, 143 after SIGTERM; the library has
        already stopped its workers and removed the partial output.
    """
    try:
        yield
    except RiograndeError as error:
        remote = getattr(error, "remote_traceback", "")
        if remote:
            logger.info("traceback of the worker process:\n%s", remote.rstrip())
        for kind, hint in (param_hints or {}).items():
            if isinstance(error, kind):
                raise click.BadParameter(str(error), param_hint=hint) from error
        raise RiograndeClickError(str(error)) from error
    except KeyboardInterrupt as interrupt:
        raise interrupted_exit(interrupt, ": workers stopped, no partial output left") from None
