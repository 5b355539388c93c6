"""Executors for the engine: worker threads, worker processes, or the caller's.

* Threads (:func:`start_workers`): for tasks that release the GIL, as the
  built-in jobs do (GDAL decoding, numpy comparisons); nothing to start,
  each thread with its own open datasets (a GDAL dataset is not shared).
* Processes (:func:`start_workers`): :class:`~riogrande.processes.ProcessWorkers`
  on a spawn context by default (see
  :func:`~riogrande.helper.get_or_set_context`), for tasks that hold the
  GIL. Workers ignore Ctrl-C (the caller handles it), cap GDAL's block cache
  and keep their datasets open between blocks. A worker killed by the OS
  breaks the pool instead of hanging it, and the pool can be stopped at any
  instant.
* A :class:`Pool` kept for several runs, any
  :class:`concurrent.futures.Executor`, or a Dask ``distributed.Client``
  (used through ``client.get_executor()``); riogrande never imports Dask
  itself.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from riogrande.contexts import get_nbr_workers, get_or_set_context
from riogrande.errors import RunError
from riogrande.io import handles

logger = logging.getLogger(__name__)

_worker_env: list[Any] = []


def _initialize_worker(gdal_cachemax_mb: int | None, log_level: int,
                       keep_datasets: bool = True) -> None:
    """Set up a worker process: log level, capped GDAL cache, open-once datasets."""
    logging.getLogger("riogrande").setLevel(log_level)
    if gdal_cachemax_mb is not None:
        import rasterio

        # A new process: GDAL reads its cache size on first use, after this.
        # rasterio hands GDAL_CACHEMAX to GDALSetCacheMax64: bytes, not megabytes.
        env = rasterio.Env(GDAL_CACHEMAX=int(gdal_cachemax_mb) * 2**20)
        env.__enter__()
        _worker_env.append(env)  # stays entered for the life of the worker
    if keep_datasets:
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
    import multiprocessing.context  # here: a run in threads needs none of it

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


BACKENDS = ("threads", "processes")


def check_backend(backend: str | None, start_method: str | None,
                  executable: str | None) -> str | None:
    """Validate a ``backend`` choice (None: the caller decides) against the options of
    worker processes, ``start_method`` and ``executable``.

    Returns ``"processes"`` when a process option is given and no backend, else
    ``backend``.

    Raises
    ------
    ValueError
        For an unknown backend, or threads with a process option.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use one of {BACKENDS}")
    if start_method is None and executable is None:
        return backend
    if backend == "threads":
        raise ValueError("start_method and executable apply to worker processes, not to "
                         "backend='threads'")
    return "processes"


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
        Whether the engine created it for this run.
    description : str
        For log messages.
    in_flight : int
        How many jobs may be submitted and not yet consumed.
    in_process : bool
        Whether the jobs run in threads of this process (their GDAL block
        cache is this process's).
    release : callable or None
        Called with ``succeeded`` when the run ends.
    """

    executor: Executor
    workers: int
    owned: bool
    description: str
    in_flight: int = 0
    in_process: bool = False
    release: Callable[[bool], None] | None = None

    def __post_init__(self) -> None:
        if not self.in_flight:
            # A local worker needs one job waiting behind the running one; a
            # remote executor's scheduling round trips need more to hide them.
            self.in_flight = (2 if self.owned or self.in_process else 8) * self.workers

    def close(self, succeeded: bool = False) -> None:
        """End the run's use of the executor.

        An owned pool is stopped at once: nothing a worker still does is
        needed after a failure, and a worker process that has imported GDAL
        takes 0.1-0.2 s to exit on its own.
        """
        release, self.release = self.release, None
        if release is not None:
            release(succeeded)


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


def start_workers(backend: str, workers: int, start_method: str | None = None,
                  executable: str | None = None, gdal_cachemax_mb: int | None = None,
                  keep_datasets: bool = True) -> Executor:
    """Start worker threads or worker processes (see the module).

    Parameters
    ----------
    backend : {"threads", "processes"}
        What the workers are.
    workers : int
        How many.
    start_method, executable
        For processes, see :func:`~riogrande.helper.get_or_set_context`;
        spawn unless the application chose another start method.
    gdal_cachemax_mb : int or None
        GDAL block cache per worker process.
    keep_datasets : bool, default True
        Keep datasets open for the life of the worker processes (one run);
        otherwise for one job.
    """
    if backend == "threads":
        return ThreadPoolExecutor(workers, thread_name_prefix="riogrande-worker")
    from riogrande.processes import ProcessWorkers

    with default_start_method_kept() as application_method:
        context = get_or_set_context(start_method or application_method or "spawn",
                                     executable=executable)
        if context.get_start_method() != "fork":
            _check_main_importable()
        log_level = logging.getLogger("riogrande").getEffectiveLevel()
        return ProcessWorkers(workers, context, _initialize_worker,
                              (gdal_cachemax_mb, log_level, keep_datasets))


def local_pool(workers: int, backend: str, start_method: str | None = None,
               executable: str | None = None, gdal_cachemax_mb: int | None = None
               ) -> WorkerPool:
    """Start the workers of one run (see :func:`start_workers`), stopped when it ends."""
    executor = start_workers(backend, workers, start_method, executable, gdal_cachemax_mb)
    if backend == "threads":
        description = f"{workers} worker thread(s)"
    else:
        description = f"{workers} local {start_method or 'default'} worker process(es)"
    return WorkerPool(executor, workers, True, description, in_process=backend == "threads",
                      release=lambda succeeded: executor.shutdown(cancel_futures=True))


class Pool:
    """Workers kept for several runs: pass it as ``executor=``.

    Starting worker processes costs about 0.15 s each (an interpreter
    importing numpy and rasterio); a pool used for several runs pays it
    once. Datasets are opened per block, so a file changed between two runs
    is read anew.

    Parameters
    ----------
    workers : int or None
        Number of workers; all usable CPUs by default.
    backend : {"processes", "threads"}, default "processes"
        Worker processes, or threads of this process (for tasks that release
        the GIL, such as the built-in jobs).
    start_method, executable : str or None
        For processes, see :func:`~riogrande.helper.get_or_set_context`.
    gdal_cachemax_mb : int, default 64
        GDAL block cache of each worker process.

    Examples
    --------
    >>> with riogrande.Pool(4) as pool:  # doctest: +SKIP
    ...     for path in paths:
    ...         write_mask(path, path.replace(".tif", "_mask.tif"), executor=pool)
    """

    def __init__(self, workers: int | None = None, *, backend: str = "processes",
                 start_method: str | None = None, executable: str | None = None,
                 gdal_cachemax_mb: int = 64) -> None:
        resolved = check_backend(backend, start_method, executable)
        self.backend = resolved or backend
        self.workers = get_nbr_workers(workers)
        self._options = (start_method, executable, gdal_cachemax_mb)
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def executor(self) -> Executor:
        """The executor, started on first use and after a failed run."""
        with self._lock:
            if self._executor is None:
                start_method, executable, cachemax = self._options
                self._executor = start_workers(self.backend, self.workers, start_method,
                                               executable, cachemax, keep_datasets=False)
            return self._executor

    def stop(self) -> None:
        """Stop the workers now (the next run starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    close = stop

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def worker_pool(self, nbrcpu: int | None) -> WorkerPool:
        """How a run uses this pool, with ``nbrcpu`` jobs at once (by default the pool's
        workers)."""
        workers = self.workers if nbrcpu is None else min(get_nbr_workers(nbrcpu), self.workers)

        def release(succeeded: bool) -> None:
            if not succeeded:  # blocks still running belong to the failed run
                self.stop()

        return WorkerPool(self.executor(), workers, False,
                          f"a pool of {self.workers} {self.backend}",
                          in_process=self.backend == "threads", release=release)


def is_distributed(executor: Any) -> bool:
    """Tell whether jobs sent to ``executor`` (the caller's ``executor=``) may run on other
    machines: False for None, a :class:`Pool` and a ``ThreadPoolExecutor``."""
    return executor is not None and not isinstance(executor, (Pool, ThreadPoolExecutor))


def external_pool(executor: Any, nbrcpu: int | None) -> WorkerPool:
    """Wrap an executor the caller brought.

    Parameters
    ----------
    executor : concurrent.futures.Executor, Pool or distributed.Client
        Where to run the jobs. A Dask client is used through
        ``client.get_executor(pure=False)``.
    nbrcpu : int or None
        Jobs running at once; by default the executor's worker count (a Dask
        cluster's total threads).
    """
    if isinstance(executor, Pool):
        return executor.worker_pool(nbrcpu)
    description = type(executor).__name__
    workers = nbrcpu
    if hasattr(executor, "get_executor") and hasattr(executor, "nthreads"):
        if workers is None:
            try:
                workers = max(1, sum(executor.nthreads().values()))
            except Exception:  # a scheduler that cannot tell: this machine's CPUs
                workers = get_nbr_workers()
        executor = executor.get_executor(pure=False)
    elif not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, a riogrande.Pool or a "
            f"distributed.Client, got {type(executor).__name__}"
        )
    if workers is None:
        workers = getattr(executor, "_max_workers", None) or get_nbr_workers()
    workers = get_nbr_workers(workers)
    return WorkerPool(executor, workers, False, f"{description} ({workers} at once)",
                      in_process=isinstance(executor, ThreadPoolExecutor))
