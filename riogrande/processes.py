"""A process pool that can be stopped at any instant without hanging.

:class:`concurrent.futures.ProcessPoolExecutor` sends every result through
one pipe whose write end the parent holds too. A worker stopped while it
writes a result leaves half a message in that pipe, and the executor's
manager thread then waits forever for the rest: stopping the workers of a
failed run could hang the run. Here each worker has pipes of its own and is
the only holder of its result pipe's write end, so a worker that dies for
any reason (stopped on purpose, killed by the OS, crashed) ends its pipe
with an end-of-file the parent sees at once.

Jobs go to the worker with the fewest jobs; results are read by one thread
of the calling process. A worker that dies breaks the pool: every job not
yet finished fails with :class:`~concurrent.futures.process.BrokenProcessPool`.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.reduction import ForkingPickler
from typing import Any

#: Seconds a stopped worker gets to exit before it is killed.
STOP_SECONDS = 2.0


class RemoteError(Exception):
    """An exception raised in a worker that could not travel back as itself."""


def _encode_outcome(job_id: int, ok: bool, value: Any) -> bytes:
    """``job_id`` (8 bytes), ``ok`` (1 byte), then the pickled result or exception."""
    head = job_id.to_bytes(8, "little")
    try:
        return head + bytes([ok]) + bytes(ForkingPickler.dumps(value))
    except Exception as error:  # a result or an exception that does not pickle
        kind = "result" if ok else f"exception {value!r}"
        message = f"the {kind} of the job cannot be sent back: {type(error).__name__}: {error}"
        return head + b"\x00" + bytes(ForkingPickler.dumps(RemoteError(message)))


def _serve(tasks: Connection, results: Connection, initializer: Callable[..., Any] | None,
           initargs: tuple[Any, ...]) -> None:
    """The worker process: run jobs from ``tasks`` until told to stop or orphaned.

    Ctrl-C, which a terminal sends to the whole process group, is the
    parent's to handle; SIGTERM, with which the parent stops a worker, ends
    it (a forked worker would otherwise keep its parent's handlers).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)
    parent = multiprocessing.parent_process()
    watched: list[Any] = [tasks, *([parent.sentinel] if parent is not None else [])]
    while True:
        if tasks not in wait(watched):
            return  # the parent is gone
        try:
            payload = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        if not payload:
            return  # the stop message
        job_id = int.from_bytes(payload[:8], "little")
        try:
            function, args, kwargs = pickle.loads(payload[8:])
            ok, value = True, function(*args, **kwargs)
        except Exception as error:
            ok, value = False, error
        results.send_bytes(_encode_outcome(job_id, ok, value))


def _decode_outcome(payload: bytes) -> tuple[int, bool, Any]:
    job_id, ok = int.from_bytes(payload[:8], "little"), bool(payload[8])
    try:
        return job_id, ok, pickle.loads(payload[9:])
    except Exception as error:  # e.g. an exception class that cannot be rebuilt here
        return job_id, False, RemoteError(
            f"the outcome of the job cannot be read: {type(error).__name__}: {error}")


def _settle(future: Future, ok: bool, value: Any) -> None:
    """Give ``future`` its outcome unless it is already done (e.g. cancelled meanwhile)."""
    with contextlib.suppress(InvalidStateError):
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


@dataclass(eq=False)
class _Worker:
    process: Any
    tasks: Connection
    results: Connection
    jobs: dict[int, Future] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)


#: Creating a worker's pipes and starting it is one step for every pool of
#: the process: a worker forked by another pool in between would inherit the
#: write end of this worker's result pipe and hide its end-of-file.
_start_lock = threading.Lock()


class ProcessWorkers(Executor):
    """A fixed set of worker processes, each with its own pipes.

    Parameters
    ----------
    workers : int
        Number of processes, started at once.
    context : multiprocessing context
        How they start (spawn, fork, forkserver, or a context with its own
        interpreter).
    initializer : callable, optional
        Run once in each worker before its first job, with ``initargs``.
    initargs : tuple
        Arguments of ``initializer``.
    """

    def __init__(self, workers: int, context: BaseContext,
                 initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._broken: str | None = None
        self._closing = False
        self._workers: list[_Worker] = []
        self._reader: threading.Thread | None = None
        try:
            for number in range(workers):
                self._workers.append(self._start(context, number, initializer, initargs))
            reader = threading.Thread(target=self._read_results, daemon=True,
                                      name="riogrande-results")
            reader.start()
            self._reader = reader
        except BaseException:
            self.terminate()
            raise

    @staticmethod
    def _start(context: BaseContext, number: int, initializer: Callable[..., Any] | None,
               initargs: tuple[Any, ...]) -> _Worker:
        with _start_lock:
            task_reader, task_writer = context.Pipe(duplex=False)
            result_reader, result_writer = context.Pipe(duplex=False)
            process = context.Process(target=_serve, name=f"riogrande-worker-{number}",
                                      args=(task_reader, result_writer, initializer, initargs))
            try:
                process.start()
            finally:
                # the worker holds the only other ends: its death is an end-of-file here
                task_reader.close()
                result_writer.close()
        return _Worker(process, task_writer, result_reader)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Schedule ``fn(*args, **kwargs)`` on the least busy worker.

        Returns
        -------
        concurrent.futures.Future
            Fails with the job's exception, with ``BrokenProcessPool`` when a
            worker died, or with the error that kept the job from being sent.
        """
        future: Future = Future()
        with self._lock:
            if self._broken is not None:
                raise BrokenProcessPool(self._broken)
            if self._closing:
                raise RuntimeError("cannot schedule new jobs after shutdown")
            worker = min(self._workers, key=lambda candidate: len(candidate.jobs))
            job_id = next(self._ids)
        try:
            payload = job_id.to_bytes(8, "little") + bytes(ForkingPickler.dumps((fn, args,
                                                                                  kwargs)))
        except Exception as error:  # the job does not pickle
            future.set_exception(error)
            return future
        with self._lock:
            worker.jobs[job_id] = future
        try:
            with worker.send_lock:
                worker.tasks.send_bytes(payload)
        except OSError as error:
            self._break(f"a worker process could not take a job: {error}")
        return future

    def _read_results(self) -> None:
        """The result thread: resolve futures until every worker's pipe has ended."""
        live = {worker.results: worker for worker in self._workers}
        while live:
            for connection in wait(list(live)):
                if not self._receive(live[connection]):
                    del live[connection]

    def _receive(self, worker: _Worker) -> bool:
        """Read one outcome of ``worker``; False once its pipe has ended."""
        try:
            job_id, ok, value = _decode_outcome(worker.results.recv_bytes())
        except (EOFError, OSError):
            if not self._closing:
                self._break("a worker process died unexpectedly "
                            f"(exit code {worker.process.exitcode})")
            self._fail_jobs(worker, "the pool was shut down")
            return False
        with self._lock:
            future = worker.jobs.pop(job_id, None)
        if future is not None:
            _settle(future, ok, value)
        return True

    def _fail_jobs(self, worker: _Worker, reason: str) -> None:
        with self._lock:
            jobs, worker.jobs = worker.jobs, {}
            reason = self._broken or reason
        for future in jobs.values():
            _settle(future, False, BrokenProcessPool(reason))

    def _break(self, reason: str) -> None:
        with self._lock:
            if self._broken is None:
                self._broken = reason
        for worker in self._workers:
            self._fail_jobs(worker, reason)

    def terminate(self) -> None:
        """Stop every worker now; jobs not finished fail. Safe at any instant."""
        self._closing = True
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
        self._join()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers once they have finished the jobs they were given.

        Parameters
        ----------
        wait : bool, default True
            Wait for the workers to exit.
        cancel_futures : bool, default False
            Stop the workers at once instead (see :meth:`terminate`).
        """
        if cancel_futures:
            self.terminate()
            return
        self._closing = True
        for worker in self._workers:
            with contextlib.suppress(OSError), worker.send_lock:
                worker.tasks.send_bytes(b"")
        if wait:
            self._join()

    def _join(self) -> None:
        for worker in self._workers:
            worker.process.join(STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join()  # every result pipe has ended: the workers are gone
        for worker in self._workers:
            self._fail_jobs(worker, "the pool was shut down")
            for connection in (worker.tasks, worker.results):
                connection.close()
