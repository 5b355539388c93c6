"""The engine: run a worker over views in a process pool, feed one aggregator.

Data flows one way::

    jobs (one per view) --> worker processes --> results --> aggregator thread
                            (read, task)         (pool's     (writes a file or
                                                  channel)    fills an array)

* Workers are the seed's :func:`~riogrande.parallel.process_block` /
  :func:`~riogrande.parallel.process_masks` (or any function with the same
  shape). In the worker, the queue they put results on collects them; they
  travel back through the pool's own result channel (one pickle per block).
* The aggregator (:func:`~riogrande.parallel.combine_views`,
  :func:`~riogrande.parallel.data_writer`, :func:`~riogrande.parallel.fill_matrix`
  or any callable consuming a queue) runs in a thread of the calling process,
  so it never occupies a worker and fills the caller's arrays in place.
* Backpressure: at most ``2 × workers`` views are in flight and the
  aggregator's queue is bounded, so memory is O(workers × block).
* Failures: a task exception stops the run and surfaces as
  :class:`~riogrande.io.exceptions.BlockProcessingError` naming the view; a
  worker killed by the OS surfaces as
  :class:`~riogrande.io.exceptions.WorkerLostError`; cancellation as
  :class:`~riogrande.io.exceptions.RunCancelledError`. Worker processes are
  always gone when :func:`run_views` returns or raises.
"""

from __future__ import annotations

import logging
import multiprocessing.context
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from riogrande.helper import get_nbr_workers, get_or_set_context
from riogrande.io import handles
from riogrande.io.exceptions import (
    AggregationError,
    BlockProcessingError,
    RunCancelledError,
    WorkerLostError,
)

logger = logging.getLogger(__name__)

KILL = {"signal": "kill"}
POLL_SECONDS = 0.1

Progress = Callable[[int, int], Any]
Cancel = Callable[[], bool]


def is_kill(message: Any) -> bool:
    """Tell whether a queue message is the end-of-stream signal.

    Parameters
    ----------
    message : object
        A queue message.

    Returns
    -------
    bool
    """
    return isinstance(message, dict) and message.get("signal") == "kill"


class _Collector:
    """Stand-in for a queue inside a worker: keeps what the task puts."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.items.append(item)


_worker_env: list[Any] = []


def _initialize_worker(gdal_cachemax_mb: int | None, log_level: int) -> None:
    """Set up a worker process: quiet Ctrl-C, capped GDAL cache, open-once datasets."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("riogrande").setLevel(log_level)
    if gdal_cachemax_mb is not None:
        import rasterio

        # A new process: GDAL reads its cache size on first use, after this.
        env = rasterio.Env(GDAL_CACHEMAX=int(gdal_cachemax_mb))
        env.__enter__()
        _worker_env.append(env)  # stays entered for the life of the worker
    handles.enable_cache()


def execute_job(worker: Callable[..., Any], job: dict[str, Any], queue_param: str) -> list[Any]:
    """Run ``worker(**job)`` with a collecting queue; return what it enqueued.

    This is the function the pool runs. Exceptions come back as
    :class:`~riogrande.io.exceptions.BlockProcessingError` carrying the view
    and the worker's traceback.

    Parameters
    ----------
    worker : callable
        E.g. :func:`~riogrande.parallel.process_block`.
    job : dict
        Keyword arguments of ``worker`` except the queue; ``job["view"]`` names
        the block in error messages.
    queue_param : str
        Name of the worker's queue parameter (``"out_q"``, ``"aggr_q"``).

    Returns
    -------
    list
        The messages the worker put on its queue.
    """
    collector = _Collector()
    try:
        worker(**job, **{queue_param: collector})
    except Exception as error:
        view = job.get("view")
        raise BlockProcessingError(
            f"processing view {view} failed: {type(error).__name__}: {error}",
            view,
            traceback.format_exc(),
        ) from None
    return collector.items


class _Aggregator(threading.Thread):
    """Runs ``aggregator(q)`` and keeps its result or its exception."""

    def __init__(self, aggregator: Callable[[queue.Queue], Any], maxsize: int) -> None:
        super().__init__(name="riogrande-aggregator", daemon=True)
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._aggregator = aggregator
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._aggregator(self.queue)
        except BaseException as error:  # reported to the caller's thread
            self.error = error

    def put(self, item: Any, should_stop: Callable[[], None]) -> None:
        """Put ``item``, waiting for room while checking the run is still on."""
        while True:
            self.raise_if_failed()
            should_stop()
            try:
                self.queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise AggregationError(
                f"the aggregator failed: {type(self.error).__name__}: {self.error}"
            ) from self.error
        if not self.is_alive():
            raise AggregationError("the aggregator stopped before the end of the run")

    def finish(self) -> Any:
        """Send the end signal, wait, and return the aggregator's result."""
        self.put(KILL, lambda: None)
        self.join()
        if self.error is not None:
            raise AggregationError(
                f"the aggregator failed: {type(self.error).__name__}: {self.error}"
            ) from self.error
        return self.result

    def abort(self) -> None:
        """Stop the aggregator after a failure: drop queued blocks, signal the end."""
        while self.is_alive():
            try:
                while True:
                    self.queue.get_nowait()
            except queue.Empty:
                pass
            try:
                self.queue.put(KILL, timeout=POLL_SECONDS)
                break
            except queue.Full:
                continue
        self.join()


@contextmanager
def _default_start_method_kept() -> Iterator[None]:
    """Undo the side effect of spawning on the default start method.

    Spawning a process records ``multiprocessing.get_start_method()`` in the
    child's preparation data, which fixes the caller's *default* context
    (e.g. to fork on Linux) as if the application had chosen it. Restore it.
    """
    default = getattr(multiprocessing.context, "_default_context", None)
    before = getattr(default, "_actual_context", None)
    try:
        yield
    finally:
        if default is not None and hasattr(default, "_actual_context"):
            default._actual_context = before


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


def run_views(
    worker: Callable[..., Any],
    jobs: Iterable[dict[str, Any]],
    aggregator: Callable[[queue.Queue], Any],
    *,
    queue_param: str = "out_q",
    nbrcpu: int | None = None,
    start_method: str | None = None,
    executable: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    on_message: Callable[[Any], None] | None = None,
    gdal_cachemax_mb: int | None = None,
) -> Any:
    """Run ``worker`` once per job in a pool of processes, feeding ``aggregator``.

    Parameters
    ----------
    worker : callable
        A module-level function (it must pickle) such as
        :func:`~riogrande.parallel.process_block`, taking its output queue as
        the keyword ``queue_param``.
    jobs : iterable of dict
        Keyword arguments of ``worker`` for each view (without the queue);
        each should hold ``"view"`` so errors can name the block.
    aggregator : callable
        ``aggregator(q)`` consumes ``{"view", "data"}`` messages from ``q``
        until ``{"signal": "kill"}``; e.g.
        ``functools.partial(fill_matrix, matrix)``. Its return value is
        returned.
    queue_param : str, default "out_q"
        Name of the worker's queue parameter (``"aggr_q"`` for
        :func:`~riogrande.parallel.process_masks`).
    nbrcpu : int or None
        Worker processes; all usable CPUs by default.
    start_method : {"spawn", "fork", "forkserver"} or None
        See :func:`~riogrande.helper.get_or_set_context`.
    executable : str or None
        Python interpreter of the workers (spawn only), e.g. inside QGIS.
    progress : callable or None
        ``progress(done, total)`` after each view, from the calling thread.
    cancel : callable or None
        Polled several times a second; when it returns True the run stops
        and :class:`~riogrande.io.exceptions.RunCancelledError` is raised.
    on_message : callable or None
        Called with every message before it reaches the aggregator (e.g. to
        count pixels), from the calling thread.
    gdal_cachemax_mb : int or None
        GDAL block cache of each worker, in MB; GDAL's default (5 % of RAM
        per process) when None.

    Returns
    -------
    object
        What ``aggregator`` returned.

    Raises
    ------
    BlockProcessingError
        A task raised; names the view and carries the worker's traceback.
    WorkerLostError
        A worker process died (e.g. killed by the OS).
    AggregationError
        The aggregator raised.
    RunCancelledError
        ``cancel()`` returned True.
    """
    with _default_start_method_kept():
        return _run(worker, list(jobs), aggregator, queue_param, nbrcpu, start_method,
                    executable, progress, cancel, on_message, gdal_cachemax_mb)


def _run(
    worker: Callable[..., Any],
    job_list: Sequence[dict[str, Any]],
    aggregator: Callable[[queue.Queue], Any],
    queue_param: str,
    nbrcpu: int | None,
    start_method: str | None,
    executable: str | None,
    progress: Progress | None,
    cancel: Cancel | None,
    on_message: Callable[[Any], None] | None,
    gdal_cachemax_mb: int | None,
) -> Any:
    total = len(job_list)
    workers = min(get_nbr_workers(nbrcpu), max(total, 1))
    context = get_or_set_context(start_method, executable=executable)
    max_in_flight = 2 * workers
    log_level = logging.getLogger("riogrande").getEffectiveLevel()
    logger.info("processing %d views with %d worker(s) (%s)", total, workers,
                context.get_start_method())

    def should_stop() -> None:
        if cancel is not None and cancel():
            raise RunCancelledError("the run was cancelled")

    aggregation = _Aggregator(aggregator, maxsize=max(2, workers))
    aggregation.start()
    executor = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_initialize_worker,
        initargs=(gdal_cachemax_mb, log_level),
    )
    pending: dict[Future, Any] = {}
    succeeded = False
    try:
        next_job = 0
        done_count = 0
        if progress is not None:
            progress(0, total)
        while next_job < total or pending:
            should_stop()
            while next_job < total and len(pending) < max_in_flight:
                job = job_list[next_job]
                pending[executor.submit(execute_job, worker, job, queue_param)] = job.get("view")
                next_job += 1
            finished, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            aggregation.raise_if_failed()
            for future in finished:
                view = pending.pop(future)
                try:
                    messages = future.result()
                except BrokenProcessPool as error:
                    in_flight = [view, *pending.values()]
                    raise WorkerLostError(
                        "a worker process died unexpectedly (killed by the OS, out of memory "
                        f"or crashed) while processing views {in_flight}"
                    ) from error
                for message in messages:
                    if on_message is not None:
                        on_message(message)
                    aggregation.put(message, should_stop)
                done_count += 1
                if progress is not None:
                    progress(done_count, total)
        result = aggregation.finish()
        succeeded = True
        logger.info("processed %d views", total)
        return result
    finally:
        if not succeeded:
            for future in pending:
                future.cancel()
            _terminate(executor)
            aggregation.abort()
        executor.shutdown(wait=True, cancel_futures=True)
