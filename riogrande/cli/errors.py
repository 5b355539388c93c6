"""Turning library errors and Ctrl-C into click's exits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import click

from riogrande.io.exceptions import RiograndeError

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class RiograndeClickError(click.ClickException):
    """A library error shown as ``Error: <message>``, exit code 1."""

    exit_code = 1


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
        (exit code 2); every other :class:`~riogrande.io.exceptions.RiograndeError`
        exits with code 1.

    Raises
    ------
    click.BadParameter
        For the errors listed in ``param_hints``.
    RiograndeClickError
        For other library errors.
    click.exceptions.Exit
        With code 130 after Ctrl-C; the library has already stopped its
        workers and removed the partial output.
    """
    try:
        yield
    except RiograndeError as error:
        for kind, hint in (param_hints or {}).items():
            if isinstance(error, kind):
                raise click.BadParameter(str(error), param_hint=hint) from error
        raise RiograndeClickError(str(error)) from error
    except KeyboardInterrupt:
        click.echo("\nInterrupted: workers stopped, partial output removed.", err=True)
        raise click.exceptions.Exit(INTERRUPTED) from None
