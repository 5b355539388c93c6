"""Turning library errors, Ctrl-C and SIGTERM into click's exits."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

import click

from riogrande.errors import RiograndeError
from riogrande.stopping import stop_on_signals

logger = logging.getLogger(__name__)

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: Exit code of a run stopped by SIGTERM (128 + SIGTERM).
TERMINATED = 128 + signal.SIGTERM


class RiograndeClickError(click.ClickException):
    """A library error shown as ``Error: <message>``, exit code 1."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM received: ends the command like Ctrl-C, with its own exit code."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class InterruptibleGroup(click.Group):
    """A command group whose commands end cleanly on Ctrl-C (exit 130) and SIGTERM (143).

    While a command is invoked, both signals only ask the run to stop
    (:func:`riogrande.stopping.stop_on_signals`): it stops at its next block,
    its workers end and its partial output is removed. Once the command has
    unwound, the signal is raised as ``KeyboardInterrupt`` or
    :class:`Terminated` and the command exits with 130 or 143; a complete
    output stays. Before and after the invocation, SIGTERM keeps its default
    action.
    """

    def invoke(self, ctx: click.Context) -> object:
        """Invoke the command; a signal received meanwhile becomes its exit code."""
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            with stop_on_signals():
                return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            raise interrupted_exit(interrupt) from None
        finally:
            signal.signal(signal.SIGTERM, previous)


def confirm(question: str) -> None:
    """Ask ``question``, aborting on no; Ctrl-C or SIGTERM while waiting ends the command.

    Nothing runs while the command waits for an answer, so here both signals
    raise at once instead of waiting for a run to stop.
    """
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated)}
    try:
        click.confirm(question, abort=True, err=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted_exit(interrupt: KeyboardInterrupt) -> click.exceptions.Exit:
    """Say ``Terminated.`` or ``Interrupted.``; the exit of code 143 or 130."""
    terminated = isinstance(interrupt, Terminated)
    click.echo(f"\n{'Terminated' if terminated else 'Interrupted'}. No partial output is left.",
               err=True)
    return click.exceptions.Exit(TERMINATED if terminated else INTERRUPTED)


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
    """
    try:
        yield
    except RiograndeError as error:
        remote = getattr(error, "remote_traceback", "")
        if remote:
            logger.info("traceback of the worker process:\n%s", remote.rstrip())
        # the library's parameter named as the command line's option
        message = str(error).replace("output=...", "-o FILE")
        for kind, hint in (param_hints or {}).items():
            if isinstance(error, kind):
                raise click.BadParameter(message, param_hint=hint) from error
        raise RiograndeClickError(message) from error
