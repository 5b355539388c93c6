"""Wall-clock timing of tasks."""

from __future__ import annotations

import time


class TimedTask:
    """Context manager that measures how long a task takes.

    Examples
    --------
    >>> with TimedTask() as timer:
    ...     _ = sum(range(10))
    >>> timer.get_duration() >= 0
    True
    """

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None
        self.laps: list[float] = []
        self._last_lap: float | None = None

    def __enter__(self) -> TimedTask:
        self.start = time.perf_counter()
        self._last_lap = self.start
        self.end = None
        self.laps = []
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.end = time.perf_counter()

    def new_lab(self) -> float:
        """Record a lap: the seconds since the previous lap (or the start), also appended
        to :attr:`laps`."""
        if self._last_lap is None:
            raise RuntimeError("TimedTask.new_lab() called before the task started")
        now = time.perf_counter()
        lap = now - self._last_lap
        self._last_lap = now
        self.laps.append(lap)
        return lap

    @property
    def labs(self) -> list[float]:
        """The laps, under the name the GeoRacoon package gives them."""
        return self.laps

    def get_duration(self) -> float | None:
        """The seconds between entering and leaving the context: while the task runs, the
        time elapsed so far; None if it never started."""
        if self.start is None:
            return None
        end = self.end if self.end is not None else time.perf_counter()
        return end - self.start
