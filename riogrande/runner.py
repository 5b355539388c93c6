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
* Backpressure: at most ``2 × workers`` views are in flight on the local
  pool (``8 × workers`` on a caller's executor, to hide its round trips),
  and the aggregator's queue is bounded, so memory is O(workers × block).
* Failures: a task exception stops the run and surfaces as
  :class:`~riogrande.errors.BlockProcessingError` naming the view; a
  worker killed by the OS surfaces as
  :class:`~riogrande.errors.WorkerLostError`; cancellation as
  :class:`~riogrande.errors.RunCancelledError`. Worker processes are
  always gone when :func:`run_views` returns or raises.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass
from typing import Any

from rasterio.errors import RasterioError

from riogrande.contexts import get_nbr_workers
from riogrande.errors import (
    AggregationError,
    BlockProcessingError,
    RiograndeError,
    RunCancelledError,
    RunError,
    WorkerLostError,
)
from riogrande.io import gdal_cache, handles
from riogrande.io.prefetch import AHEAD_BYTES, CACHED_READS, TileFetcher
from riogrande.io.remote import gdal_options, read_settings, redact, tries_end_when
from riogrande.messages import KILL
from riogrande.pool import (
    WorkerPool,
    check_backend,
    default_start_method_kept,
    external_pool,
    local_pool,
)
from riogrande.stopping import stop_on_signals

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1

Progress = Callable[[int, int], Any]
Cancel = Callable[[], bool]


class _Collector:
    """Stand-in for a queue inside a worker: keeps what the task puts."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.items.append(item)


def execute_job(worker: Callable[..., Any], job: dict[str, Any], queue_param: str,
                datasets: handles.RunDatasets | None = None,
                settings: Mapping[str, str] | None = None,
                run_ended: threading.Event | None = None) -> list[Any]:
    """Run ``worker(**job)`` with a collecting queue; return what it enqueued.

    This is the function the pool runs. Exceptions come back as
    :class:`~riogrande.errors.BlockProcessingError` carrying the view
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
    datasets : riogrande.io.handles.RunDatasets, optional
        In a thread of the calling process: the run's open datasets.
    settings : mapping, optional
        GDAL configuration options of the job (in another process).
    run_ended : threading.Event, optional
        In a thread of the calling process: set once the run has failed or
        was cancelled; the job then does not start, and its reads over the
        network are not tried again.

    Returns
    -------
    list
        The messages the worker put on its queue.
    """
    collector = _Collector()
    try:
        if run_ended is not None and run_ended.is_set():
            raise RunCancelledError("the run ended before this block started")
        # the bands of a block share their tiles in GDAL's cache
        with handles.job_cache() if datasets is None else datasets.in_this_thread(), \
                gdal_options(settings), tries_end_when(run_ended):
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
    """Runs ``aggregator(q)`` and keeps its result or its exception.

    The run waits for its end on an event the thread sets, not with
    ``join()``: an exception landing in ``join()`` (raised by a signal
    handler of the caller's) makes Python 3.11 take the thread for stopped
    while it still writes.
    """

    def __init__(self, aggregator: Callable[[queue.Queue], Any], maxsize: int) -> None:
        super().__init__(name="riogrande-aggregator", daemon=True)
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._aggregator = aggregator
        self._ended = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = False

    def start_once(self) -> None:
        """Start the thread unless it already runs."""
        if not self.started:
            self.start()
            self.started = True

    def run(self) -> None:
        try:
            self.result = self._aggregator(self.queue)
        except BaseException as error:  # reported to the caller's thread
            self.error = error
        finally:
            self._ended.set()

    @property
    def running(self) -> bool:
        """Whether the aggregator has started and not yet returned or raised."""
        return self.started and not self._ended.is_set()

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

    def _raise_error(self) -> None:
        if isinstance(self.error, RiograndeError):  # a clear error already (a full disk...)
            raise self.error
        if self.error is not None:
            raise AggregationError(
                f"the aggregator failed: {type(self.error).__name__}: {self.error}"
            ) from self.error

    def raise_if_failed(self) -> None:
        self._raise_error()
        if self.started and self._ended.is_set():
            raise AggregationError("the aggregator stopped before the end of the run")

    def finish(self) -> Any:
        """Send the end signal, wait, and return the aggregator's result."""
        self.put(KILL, lambda: None)
        self._ended.wait()
        self._raise_error()
        return self.result

    def abort(self) -> None:
        """Stop the aggregator after a failure: drop queued blocks, signal the end, wait."""
        while self.running:
            with contextlib.suppress(queue.Empty):
                while True:
                    self.queue.get_nowait()
            try:
                self.queue.put(KILL, timeout=POLL_SECONDS)
                break
            except queue.Full:
                continue
        if self.started:
            self._ended.wait()


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
    executor: Any = None,
    backend: str | None = None,
    gdal_settings: Mapping[str, str] | None = None,
    fetch_ahead: Sequence[str] = (),
) -> Any:
    """Run ``worker`` once per job in a pool of workers, feeding ``aggregator``.

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
    on_message : callable or None
        Called with every message before it reaches the aggregator (e.g. to
        count pixels), from the calling thread.
    nbrcpu, start_method, executable, executor, backend, progress, cancel
        The run options, see :class:`~riogrande.inputs.RunOptions`; without
        ``backend`` or ``executor``, worker processes. An executor is not
        shut down. ``progress`` and ``cancel`` are called from the calling
        thread.
    gdal_cachemax_mb, gdal_settings, fetch_ahead
        Run options too. None keeps GDAL's own cache size (5 % of RAM per
        process). The settings hold in this process for the run and go with
        each job to another process. The tiles of the ``fetch_ahead``
        rasters are downloaded by threads of their own
        (:class:`~riogrande.io.prefetch.TileFetcher`); a job goes to a
        worker of this process once they have arrived.

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
        The aggregator raised (a riogrande error it raises comes out as
        itself).
    RunCancelledError
        ``cancel()`` returned True.
    """
    job_list: Sequence[dict[str, Any]] = list(jobs)
    total = len(job_list)
    backend = check_backend(backend, start_method, executable)
    if executor is not None and backend is not None:
        raise ValueError("pass either executor= or the options of workers started for the run "
                         "(backend, start_method, executable), not both")
    workers = min(get_nbr_workers(nbrcpu), max(total, 1))
    settings = dict(gdal_settings or {})
    with stop_on_signals(cancel) as stop, gdal_options(settings):
        work = _Work(worker, queue_param, progress, stop, on_message, settings,
                     tuple(fetch_ahead))
        if executor is None and backend == "threads":
            return _run(local_pool(workers, "threads"), work, job_list, aggregator,
                        gdal_cachemax_mb)
        with default_start_method_kept() as application_method:
            if executor is not None:
                return _run(external_pool(executor, nbrcpu), work, job_list, aggregator,
                            gdal_cachemax_mb)
            method = start_method or application_method or "spawn"
            started = local_pool(workers, "processes", method, executable, gdal_cachemax_mb)
            try:
                return _run(started, work, job_list, aggregator, gdal_cachemax_mb)
            finally:
                started.close()  # already closed by the run's clean-up, unless it failed


@dataclass(frozen=True)
class _Work:
    """What every job of a run shares: the worker, its queue's name, the callbacks."""

    worker: Callable[..., Any]
    queue_param: str
    progress: Progress | None
    cancel: Cancel
    on_message: Callable[[Any], None] | None
    settings: dict[str, str]
    fetch_ahead: tuple[str, ...]


def _run(pool: WorkerPool, work: _Work, job_list: Sequence[dict[str, Any]],
         aggregator: Callable[[queue.Queue], Any], gdal_cachemax_mb: int | None) -> Any:
    """Drive the run on ``pool``, capping GDAL's block cache while threads of this process
    run the jobs.

    The cache is shared by the process's threads, and GDAL's default (5 % of
    RAM) would keep every tile read: ``gdal_cachemax_mb`` per worker thread,
    and the writer's share, for the length of the run.
    """
    logger.info("processing %d views with %s", len(job_list), pool.description)
    cache: Any = contextlib.nullcontext()
    if pool.in_process and gdal_cachemax_mb is not None:
        cache = gdal_cache.capped_for_run(int(gdal_cachemax_mb) * pool.workers * 2**20)
    with cache:
        return _drive(pool, work, job_list, aggregator)


def _drive(pool: WorkerPool, work: _Work, job_list: Sequence[dict[str, Any]],
           aggregator: Callable[[queue.Queue], Any]) -> Any:
    """Submit jobs with at most ``pool.in_flight`` running or waiting; feed the aggregator."""
    total = len(job_list)
    progress, on_message = work.progress, work.on_message
    # threads of this process have the run's GDAL settings already
    settings = None if pool.in_process else work.settings

    def should_stop() -> None:
        if work.cancel():
            raise RunCancelledError("the run was cancelled")

    # The aggregator thread starts after the first jobs are submitted: with
    # the fork start method the workers are forked then, and a thread already
    # running (e.g. holding a GDAL lock while opening the output) could leave
    # a lock held forever in the forked children.
    aggregation = _Aggregator(aggregator, maxsize=max(2, pool.workers))
    datasets = handles.RunDatasets() if pool.in_process else None
    ahead = _FetchedAhead.start(work.fetch_ahead) if pool.in_process else None
    ended = threading.Event() if pool.in_process else None
    pending: dict[Future, Any] = {}
    succeeded = False
    try:
        next_job = 0
        done_count = 0
        if progress is not None:
            progress(0, total)
        while next_job < total or pending:
            should_stop()
            if ahead is not None:
                ahead.fetch(job_list, next_job)
            while next_job < total and len(pending) < pool.in_flight:
                if ahead is not None and not ahead.arrived(next_job):
                    break
                job = job_list[next_job]
                try:
                    future = pool.executor.submit(execute_job, work.worker, job,
                                                  work.queue_param, datasets, settings, ended)
                except BrokenExecutor as error:  # a worker died before its result came
                    raise _worker_lost([job.get("view"), *pending.values()]) from error
                pending[future] = job.get("view")
                if ahead is not None:
                    ahead.started(next_job, future)
                next_job += 1
            aggregation.start_once()
            waited = list(pending)
            if ahead is not None and len(pending) < pool.in_flight:
                waited.extend(ahead.download(next_job))  # the next job waits for its tiles
            finished, _ = wait(waited, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            outcomes = []
            for future in finished.intersection(pending):
                view = pending.pop(future)
                if ahead is not None:
                    ahead.computed(future)
                outcomes.append(_messages(future, view, pending))
            aggregation.raise_if_failed()
            for messages in outcomes:
                for message in messages:
                    if on_message is not None:
                        on_message(message)
                    aggregation.put(message, should_stop)
                done_count += 1
                if progress is not None:
                    progress(done_count, total)
        aggregation.start_once()  # no job at all: the aggregator still runs
        result = aggregation.finish()
        succeeded = True
        logger.info("processed %d views", total)
        return result
    finally:
        if ended is not None and not succeeded:
            ended.set()
        if ahead is not None:
            ahead.close()
        _clean_up(pool, aggregation, datasets, pending, succeeded)


class _FetchedAhead:
    """The downloads ahead of a run's jobs: which have arrived, how many bytes wait."""

    def __init__(self, fetcher: TileFetcher) -> None:
        self._fetcher = fetcher
        self._settings = contextlib.ExitStack()  # the blocks' reads, until close()
        self._settings.enter_context(gdal_options(read_settings(CACHED_READS)))
        self._fetches: dict[int, tuple[Future, int]] = {}
        self._next = 0
        self._waiting_bytes = 0
        self._job_sizes: dict[Future, int] = {}

    @classmethod
    def start(cls, names: Sequence[str]) -> _FetchedAhead | None:
        """Fetch ahead from ``names``; None when there are none or their tile index
        cannot be read (the workers then fetch as they read)."""
        if not names:
            return None
        try:
            return cls(TileFetcher(names))
        except RasterioError as error:
            logger.debug("tiles are not fetched ahead: %s", redact(str(error)))
            return None

    def fetch(self, job_list: Sequence[dict[str, Any]], next_job: int) -> None:
        """Start the downloads of the next jobs, up to AHEAD_BYTES waiting (at least one)."""
        while self._next < len(job_list) and (self._waiting_bytes < AHEAD_BYTES
                                              or self._next == next_job):
            future, size = self._fetcher.fetch(job_list[self._next]["view"])
            self._fetches[self._next] = (future, size)
            self._waiting_bytes += size
            self._next += 1

    def arrived(self, job: int) -> bool:
        """Whether the tiles of job number ``job`` have arrived (or failed to)."""
        return job in self._fetches and self._fetches[job][0].done()

    def started(self, job: int, future: Future) -> None:
        """Job number ``job`` went to a worker, as ``future``."""
        self._job_sizes[future] = self._fetches.pop(job)[1]

    def computed(self, future: Future) -> None:
        """The job of ``future`` ended: its tiles no longer wait in GDAL's cache."""
        self._waiting_bytes -= self._job_sizes.pop(future, 0)

    def download(self, job: int) -> list[Future]:
        """The download of job number ``job``, if it has started."""
        return [self._fetches[job][0]] if job in self._fetches else []

    def close(self) -> None:
        """Drop the downloads not started; the reads' settings end."""
        self._fetcher.close()
        self._settings.close()


def _clean_up(pool: WorkerPool, aggregation: _Aggregator, datasets: handles.RunDatasets | None,
              pending: dict[Future, Any], succeeded: bool) -> None:
    """Stop the aggregator and the workers, close the threads' datasets.

    Each step runs even when an earlier one fails: a dataset left open, or
    an aggregator thread still writing, when the interpreter exits can crash
    it.
    """
    try:
        if not succeeded:
            for future in pending:
                future.cancel()
            aggregation.abort()
    finally:
        try:
            pool.close(succeeded)
        finally:
            if datasets is not None:
                datasets.close()  # once the blocks still running in threads have ended


def _worker_lost(in_flight: list[Any]) -> WorkerLostError:
    return WorkerLostError(
        "a worker process died unexpectedly (killed by the OS, out of memory or crashed) "
        f"while processing views {in_flight}"
    )


def _messages(future: Future, view: Any, pending: dict[Future, Any]) -> list[Any]:
    """The messages a finished job produced, or a clear error."""
    try:
        return future.result()
    except BlockProcessingError:
        raise
    except BrokenExecutor as error:
        raise _worker_lost([view, *pending.values()]) from error
    except Exception as error:
        raise RunError(
            f"the executor failed to run view {view}: {type(error).__name__}: {error}"
        ) from error
