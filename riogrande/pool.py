"""Executors for the engine: the local spawn pool, or one the caller brings.

The local pool is a :class:`concurrent.futures.ProcessPoolExecutor` on a
spawn context (see :func:`~riogrande.helper.get_or_set_context`) whose
workers ignore Ctrl-C (the caller handles it), cap GDAL's block cache and
keep their datasets open between blocks. A worker killed by the OS breaks
the pool instead of hanging it.

A caller may bring any :class:`concurrent.futures.Executor`, or a Dask
``distributed.Client`` (used through ``client.get_executor()``); riogrande
never imports Dask itself.
"""

from __future__ import annotations

import logging
import multiprocessing.context
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from riogrande.helper import get_nbr_workers, get_or_set_context
from riogrande.io import handles
from riogrande.io.exceptions import RunError

logger = logging.getLogger(__name__)

_worker_env: list[Any] = []


def _initialize_worker(gdal_cachemax_mb: int | None, log_level: int) -> None:
    """Set up a local worker process: quiet Ctrl-C, capped GDAL cache, open-once datasets."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("riogrande").setLevel(log_level)
    if gdal_cachemax_mb is not None:
        import rasterio

        # A new process: GDAL reads its cache size on first use, after this.
        # rasterio hands GDAL_CACHEMAX to GDALSetCacheMax64: bytes, not megabytes.
        env = rasterio.Env(GDAL_CACHEMAX=int(gdal_cachemax_mb) * 2**20)
        env.__enter__()
        _worker_env.append(env)  # stays entered for the life of the worker
    handles.enable_cache()


_start_method_lock = threading.Lock()
_runs_in_progress = 0
_application_context: Any = None


@contextmanager
def default_start_method_kept() -> Iterator[str | None]:
    """Undo the side effect of spawning on the default start method.

    Spawning a process records ``multiprocessing.get_start_method()`` in the
    child's preparation data, which fixes the caller's *default* context
    (e.g. to fork on Linux) as if the application had chosen it. The state
    found when the first of overlapping runs (from several threads) began is
    restored when the last one ends.

    Yields
    ------
    str or None
        The start method the application has chosen, if any: another run's
        side effect is not taken for a choice.
    """
    global _runs_in_progress, _application_context
    default = getattr(multiprocessing.context, "_default_context", None)
    if default is None or not hasattr(default, "_actual_context"):
        yield multiprocessing.get_start_method(allow_none=True)
        return
    with _start_method_lock:
        if _runs_in_progress == 0:
            _application_context = default._actual_context
        _runs_in_progress += 1
        chosen = _application_context
    try:
        yield None if chosen is None else chosen.get_start_method()
    finally:
        with _start_method_lock:
            _runs_in_progress -= 1
            if _runs_in_progress == 0:
                default._actual_context = _application_context
                _application_context = None


def _terminate(executor: ProcessPoolExecutor) -> None:
    """Stop every worker process of ``executor`` now."""
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()
    for process in list(processes.values()):
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()


@dataclass
class WorkerPool:
    """An executor and how the engine may use it.

    Attributes
    ----------
    executor : concurrent.futures.Executor
        Where jobs are submitted.
    workers : int
        How many jobs run at once (sets the number of blocks in flight).
    owned : bool
        Whether the engine created it (and must shut it down).
    description : str
        For log messages.
    in_flight : int
        How many jobs may be submitted and not yet consumed.
    """

    executor: Executor
    workers: int
    owned: bool
    description: str
    in_flight: int = 0

    def __post_init__(self) -> None:
        if not self.in_flight:
            # A local worker needs one job waiting behind the running one; a
            # remote executor's scheduling round trips need more to hide them.
            self.in_flight = (2 if self.owned else 8) * self.workers

    def close(self) -> None:
        """Shut down an owned pool, stopping its workers at once.

        Called when every job has finished or the run has failed: nothing a
        worker still does is needed, and a worker that has imported GDAL
        takes 0.1-0.2 s to exit on its own.
        """
        if not self.owned:
            return
        if isinstance(self.executor, ProcessPoolExecutor):
            _terminate(self.executor)
        self.executor.shutdown(wait=True, cancel_futures=True)


def _check_main_importable() -> None:
    """Fail clearly when spawned workers could not re-import the main script.

    A spawned worker runs the caller's main module again (as
    ``__mp_main__``); a script read from standard input cannot be, and the
    workers would die at start-up.
    """
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not os.path.exists(main_file):
        raise RunError(
            f"worker processes cannot start: they re-import the main script, and {main_file!r} "
            "is not a file (a script read from standard input?). Save the script to a file, "
            "or pass start_method='fork' where available."
        )


def local_pool(
    workers: int,
    start_method: str | None,
    executable: str | None,
    gdal_cachemax_mb: int | None,
) -> WorkerPool:
    """Create the local process pool.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    start_method, executable
        See :func:`~riogrande.helper.get_or_set_context`.
    gdal_cachemax_mb : int or None
        GDAL block cache per worker.

    Returns
    -------
    WorkerPool
    """
    context = get_or_set_context(start_method, executable=executable)
    if context.get_start_method() != "fork":
        _check_main_importable()
    log_level = logging.getLogger("riogrande").getEffectiveLevel()
    executor = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_initialize_worker,
        initargs=(gdal_cachemax_mb, log_level),
    )
    return WorkerPool(executor, workers, True, f"{workers} local {context.get_start_method()} "
                                               "worker(s)")


def _dask_parallelism(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # a scheduler that cannot tell: assume this machine's CPUs
        return get_nbr_workers()


def external_pool(executor: Any, nbrcpu: int | None) -> WorkerPool:
    """Wrap an executor the caller brought.

    Parameters
    ----------
    executor : concurrent.futures.Executor or distributed.Client
        Where to run the jobs. A Dask client is used through
        ``client.get_executor(pure=False)``.
    nbrcpu : int or None
        Jobs running at once; by default the executor's worker count (a Dask
        cluster's total threads).

    Returns
    -------
    WorkerPool
    """
    description = type(executor).__name__
    workers = nbrcpu
    if hasattr(executor, "get_executor") and hasattr(executor, "nthreads"):
        if workers is None:
            workers = _dask_parallelism(executor)
        executor = executor.get_executor(pure=False)
    elif not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor or a distributed.Client, "
            f"got {type(executor).__name__}"
        )
    if workers is None:
        workers = getattr(executor, "_max_workers", None) or get_nbr_workers()
    workers = get_nbr_workers(workers)
    return WorkerPool(executor, workers, False, f"{description} ({workers} at once)")
