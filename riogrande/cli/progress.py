"""A progress bar on standard error (click's), drawn only on a terminal."""

from __future__ import annotations

import sys
from typing import IO, Any

import click


class ProgressBar:
    """A ``progress(done, total)`` callback drawing click's bar: ``[####----] 50% 6/12 blocks``.

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
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and bool(isatty and isatty())
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        """Redraw the bar after ``done`` of ``total`` blocks."""
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = click.progressbar(
                length=max(total, 1), label=self.label, file=self.stream, show_percent=True,
                item_show_func=lambda item: item,
            )
            self._bar.__enter__()
        self._bar.update(done - self._done, f"{done}/{total} blocks")
        self._done = done

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
