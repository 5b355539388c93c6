"""Holding Ctrl-C and SIGTERM back while a run starts something it must stop.

A signal sent to the process may be handed by the kernel to any thread that
does not block it (OpenBLAS starts some when numpy is imported); Python then
runs the handler in the main thread. The hold must keep it back all the same.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from riogrande.interrupts import INTERRUPTS, accept_interrupts, interrupts_held, wait_for

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")


class Caught(Exception):
    pass


@pytest.fixture
def raising_handlers() -> Iterator[list[int]]:
    """Python handlers of SIGINT and SIGTERM that record and raise, as the CLI's do."""
    calls: list[int] = []

    def handler(signum: int, frame: object) -> None:
        calls.append(signum)
        raise Caught(signum)

    previous = {signum: signal.signal(signum, handler) for signum in INTERRUPTS}
    try:
        yield calls
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@pytest.fixture
def other_thread() -> Iterator[threading.Thread]:
    """A thread started before the hold: it does not block the signals."""
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


@pytest.mark.parametrize("signum", sorted(INTERRUPTS), ids=lambda s: signal.Signals(s).name)
def test_a_signal_another_thread_receives_waits_for_the_end_of_the_hold(
    raising_handlers, other_thread, signum
):
    steps = []
    with pytest.raises(Caught):
        with interrupts_held():
            signal.pthread_kill(other_thread.ident, signum)
            busy(0.05)
            steps.append("the held step ran to its end")
    assert steps == ["the held step ran to its end"]
    assert raising_handlers == [signum]


def test_a_signal_to_the_process_waits_for_the_end_of_the_hold(raising_handlers):
    steps = []
    with pytest.raises(Caught):
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGTERM)
            busy(0.05)
            steps.append("done")
    assert steps == ["done"] and raising_handlers == [signal.SIGTERM]


def test_nested_holds_deliver_at_the_outermost_end(raising_handlers, other_thread):
    steps = []
    with pytest.raises(Caught):
        with interrupts_held():
            with interrupts_held():
                signal.pthread_kill(other_thread.ident, signal.SIGINT)
                busy(0.02)
            steps.append("after the inner hold")
            busy(0.02)
    assert steps == ["after the inner hold"] and raising_handlers == [signal.SIGINT]


def test_handlers_and_mask_are_restored(raising_handlers):
    before = {signum: signal.getsignal(signum) for signum in INTERRUPTS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with interrupts_held():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        assert INTERRUPTS <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert {signum: signal.getsignal(signum) for signum in INTERRUPTS} == before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    with pytest.raises(Caught):  # and they work again at once
        os.kill(os.getpid(), signal.SIGTERM)
        busy(0.05)
    assert raising_handlers == [signal.SIGTERM]


def test_an_error_in_the_held_step_still_restores_and_delivers(raising_handlers, other_thread):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Caught) as caught:
        with interrupts_held():
            signal.pthread_kill(other_thread.ident, signal.SIGTERM)
            busy(0.02)
            raise ValueError("the step failed")
    assert isinstance(caught.value.__context__, ValueError)
    assert signal.getsignal(signal.SIGTERM) is before


def test_nothing_received_nothing_raised(raising_handlers):
    with interrupts_held():
        busy(0.01)
    assert raising_handlers == []


def test_outside_the_main_thread_the_hold_does_nothing(raising_handlers):
    seen = {}

    def in_thread() -> None:
        with interrupts_held():
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            seen["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen["handler"] is signal.getsignal(signal.SIGTERM)
    assert not INTERRUPTS & seen["mask"]


def test_a_worker_forked_in_a_hold_gets_the_handlers_back(raising_handlers):
    """A child forked while held (as a fork-started worker is) stops at SIGTERM again."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    read, write = os.pipe()
    with interrupts_held():
        child = os.fork()
        if child == 0:  # the worker
            try:
                accept_interrupts()
                try:
                    os.write(write, b"ready")
                    busy(10)
                    os._exit(1)  # the signal was not delivered
                except Caught:
                    os._exit(7)
            finally:
                os._exit(2)
    os.close(write)
    assert os.read(read, 5) == b"ready"
    os.kill(child, signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 7


def test_waiting_for_an_event_takes_an_interrupt_between_steps(raising_handlers, other_thread):
    """The interrupt comes while the event is not yet set, and the thread setting the
    event afterwards is not kept waiting for the event's lock."""
    event, interrupted = threading.Event(), threading.Event()

    def set_once_interrupted() -> None:
        interrupted.wait(10)  # (a wait_for that never takes the interrupt fails, not hangs)
        event.set()

    setter = threading.Thread(target=set_once_interrupted)
    setter.start()
    threading.Timer(0.2, signal.pthread_kill, (other_thread.ident, signal.SIGTERM)).start()
    with pytest.raises(Caught):
        wait_for(event, 0.1)
    assert not event.is_set()
    interrupted.set()
    setter.join(5)
    assert event.is_set() and not setter.is_alive()
    wait_for(event)  # set: returns at once
