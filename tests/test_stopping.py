"""Ctrl-C and SIGTERM during a run: recorded, polled by the engine, delivered once it unwound.

A signal sent to the process may be handed by the kernel to any thread that
does not block it (OpenBLAS starts some when numpy is imported); Python runs
the handler in the main thread all the same, so the request records it
whichever thread the kernel chose.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest

from riogrande.errors import RunCancelledError
from riogrande.parallel import fill_matrix, process_block
from riogrande.prepare import create_views
from riogrande.runner import run_views
from riogrande.stopping import STOP_SIGNALS, StopRequest, stop_on_signals
from riogrande.workers import block_jobs

from . import tasks
from .test_runner import assert_no_orphans

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
NAMES = {signum: signal.Signals(signum).name for signum in STOP_SIGNALS}


class Caught(Exception):
    pass


@pytest.fixture
def raising_handlers() -> Iterator[list[int]]:
    """Python handlers of SIGINT and SIGTERM that record and raise, as a program's may."""
    calls: list[int] = []

    def handler(signum: int, frame: object) -> None:
        calls.append(signum)
        raise Caught(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield calls
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@pytest.fixture
def other_thread() -> Iterator[threading.Thread]:
    """A thread that does not block the signals."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join()


def busy(seconds: float) -> None:
    """Run bytecode (where Python handlers run) for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=NAMES.get)
@pytest.mark.parametrize("to", ["the process", "another thread"])
def test_a_signal_is_recorded_then_delivered_once_the_block_is_done(raising_handlers,
                                                                     other_thread, signum, to):
    with pytest.raises(Caught), stop_on_signals() as stop:
        if to == "the process":
            os.kill(os.getpid(), signum)
        else:
            signal.pthread_kill(other_thread.ident, signum)
        busy(0.2)
        assert raising_handlers == [] and stop() and stop.signal == signum
    assert raising_handlers == [signum]


def test_the_handlers_are_restored(raising_handlers):
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    with stop_on_signals() as stop:
        assert {signal.getsignal(signum) for signum in STOP_SIGNALS} == {stop.record}
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
    with pytest.raises(ValueError), stop_on_signals():
        raise ValueError("a failed run")
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_nothing_received_nothing_delivered(raising_handlers):
    with stop_on_signals(lambda: False) as stop:
        busy(0.05)
        assert not stop()
    assert raising_handlers == []


def test_the_callers_cancel_is_polled_too():
    answers = iter([False, True])
    with stop_on_signals(lambda: next(answers)) as stop:
        assert not stop() and stop()
        assert stop.signal is None


def test_only_the_first_signal_is_kept(raising_handlers):
    with pytest.raises(Caught), stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        busy(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        busy(0.1)
        assert stop.signal == signal.SIGTERM
    assert raising_handlers == [signal.SIGTERM]


def test_an_error_of_the_run_is_chained_to_the_delivered_signal(raising_handlers):
    with pytest.raises(Caught) as caught, stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        busy(0.1)
        assert stop()
        raise RunCancelledError("stopped")
    assert isinstance(caught.value.__context__, RunCancelledError)


def test_a_nested_request_sees_the_outer_ones_signal_and_hands_its_own_out(raising_handlers):
    with pytest.raises(Caught), stop_on_signals() as outer:
        os.kill(os.getpid(), signal.SIGTERM)
        busy(0.1)
        with stop_on_signals() as inner:
            assert inner() and inner.signal is None  # received before, by the outer request
        assert raising_handlers == []
    with pytest.raises(Caught), stop_on_signals() as outer:
        with stop_on_signals() as inner:
            os.kill(os.getpid(), signal.SIGINT)
            busy(0.1)
            assert inner.signal == signal.SIGINT and not outer()
        assert outer.signal == signal.SIGINT and raising_handlers == [signal.SIGTERM]
    assert raising_handlers == [signal.SIGTERM, signal.SIGINT]


def test_outside_the_main_thread_only_cancel_is_polled(raising_handlers):
    seen = {}

    def in_a_thread() -> None:
        with stop_on_signals(lambda: True) as stop:
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            seen["stop"] = stop()

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen["handler"] is signal.getsignal(signal.SIGTERM) and seen["stop"]


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_with_its_default_action_ends_the_process_once_the_run_has_unwound(tmp_path):
    """The run cleans up (here: a file it removes), then SIGTERM ends the process."""
    marker = tmp_path / "partial"
    child = os.fork() if hasattr(os, "fork") else pytest.skip("no fork")
    if child == 0:
        code = 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            with stop_on_signals():
                marker.write_text("partial output")
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    busy(0.2)
                finally:
                    marker.unlink()
            code = 2  # not reached: SIGTERM's default action ends the process
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGTERM
    assert not marker.exists()


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_a_run_stops_at_its_next_block_and_then_raises_keyboard_interrupt(make_raster,
                                                                          backend):
    """Ctrl-C in the middle of a run: the engine stops, its workers end, the caller then
    gets its KeyboardInterrupt (no exception ever landed inside the run)."""
    path = make_raster("input.tif", width=200, height=200, count=1)
    views, _ = create_views((10, 10), (0, 0), (200, 200))
    jobs = block_jobs(tasks.slow_copy, path, views, task_params={"delay": 0.01})
    done: list[int] = []

    def interrupt_at_the_fifth_block(count: int, total: int) -> None:
        done.append(count)
        if count == 5:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as caught:
        run_views(process_block, jobs, partial(fill_matrix, np.zeros((1, 200, 200))),
                  nbrcpu=2, backend=backend, progress=interrupt_at_the_fifth_block)
    assert isinstance(caught.value.__context__, RunCancelledError)
    assert 5 <= done[-1] < len(views)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert_no_orphans()


def test_a_stop_request_is_a_cancel_callable():
    request = StopRequest(lambda: False)
    assert not request()
    request.record(signal.SIGTERM, None)
    assert request() and request.signal == signal.SIGTERM
