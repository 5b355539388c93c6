"""A progress bar on standard error, drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import IO, TextIO

import click

BAR_WIDTH = 30


class ProgressBar:
    """A ``progress(done, total)`` callback drawing ``[#####-----] 50% 6/12 blocks``.

    Parameters
    ----------
    label : str
        Shown before the bar.
    enabled : bool, default True
        False draws nothing (``--quiet``).
    stream : text stream, optional
        Where to draw; standard error by default. Nothing is drawn unless
        it is a terminal, so redirected output stays clean.
    """

    def __init__(self, label: str, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream: TextIO | IO[str] = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and bool(isatty and isatty())
        self._started = time.perf_counter()
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Redraw the bar after ``done`` of ``total`` blocks."""
        if not self.enabled:
            return
        fraction = done / total if total else 1.0
        filled = int(round(BAR_WIDTH * fraction))
        elapsed = time.perf_counter() - self._started
        line = (f"\r{self.label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
                f"{fraction:4.0%} {done}/{total} blocks {elapsed:5.1f} s")
        click.echo(line, file=self.stream, nl=False)
        self._drawn = True

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            click.echo(file=self.stream)
            self._drawn = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
