"""Worker processes kept warm between runs of the provider's algorithms.

Starting a worker costs an interpreter importing numpy, rasterio and
riogrande (a few tenths of a second for two workers); the provider keeps one
:class:`riogrande.Pool` for its algorithms and lends it to one run at a
time. A run that finds it lent out (two algorithms at once) starts workers of
its own, and a failed or cancelled run stops the pool's workers (the next
run starts new ones). The pool is closed when the plugin unloads or QGIS
exits; its workers also end by themselves when QGIS's process is gone.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class WarmPool:
    """One pool of worker processes, lent to one run at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Any = None
        self._key: tuple[Any, ...] | None = None
        self._lent = False

    @contextmanager
    def lend(self, engine: Any, workers: int, python: str) -> Iterator[Any]:
        """The pool for a run with ``workers`` workers on ``python``.

        Yields
        ------
        riogrande.Pool or None
            None when the pool is lent out, or the engine has no ``Pool``:
            the run starts workers of its own.
        """
        pool = self._take(engine, workers, python)
        try:
            yield pool
        finally:
            if pool is not None:
                with self._lock:
                    self._lent = False

    def _take(self, engine: Any, workers: int, python: str) -> Any:
        if not hasattr(engine, "Pool"):
            return None
        with self._lock:
            if self._lent:
                return None
            key = (id(engine), workers, python)
            if self._pool is not None and self._key != key:
                self._pool.close()
                self._pool = None
            if self._pool is None:
                self._pool = engine.Pool(workers, start_method="spawn", executable=python)
                self._key = key
            self._lent = True
            return self._pool

    def close(self) -> None:
        """Stop the workers (a later run starts new ones)."""
        with self._lock:
            pool, self._pool, self._key = self._pool, None, None
        if pool is not None:
            pool.close()


#: The provider's pool.
WARM_POOL = WarmPool()
atexit.register(WARM_POOL.close)
