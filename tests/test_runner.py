"""The pool engine: failures, lost workers, cancellation, progress, start methods."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from functools import partial
from multiprocessing import spawn

import numpy as np
import psutil
import pytest

from riogrande.io.exceptions import (
    AggregationError,
    BlockProcessingError,
    RiograndeError,
    RunCancelledError,
    WorkerLostError,
)
from riogrande.io.models import Band, Source
from riogrande.masking import write_mask
from riogrande.messages import iter_messages
from riogrande.parallel import compute_mask, fill_matrix, prepare_selector, process_block
from riogrande.prepare import create_views
from riogrande.runner import run_views

from . import tasks
from .conftest import file_sha256
from .reference import leftovers, mask_reference, read_all, selector_reference
from .servers import SERVER_PIDS

INFRASTRUCTURE = ("resource_tracker", "forkserver")


def worker_processes():
    """Child processes of the test process, except multiprocessing's helpers and test servers."""
    found = []
    servers = [psutil.Process(pid) for pid in SERVER_PIDS if psutil.pid_exists(pid)]
    serving = set(SERVER_PIDS) | {child.pid for server in servers
                                  for child in server.children(recursive=True)}
    for child in psutil.Process().children(recursive=True):
        if child.pid in serving:
            continue
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if not any(name in command for name in INFRASTRUCTURE):
            found.append(child)
    return found


def assert_no_orphans(timeout=2.0):
    deadline = time.monotonic() + timeout
    while worker_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker_processes() == []


@contextmanager
def time_limit(seconds):
    """Fail (instead of hanging) when the block takes longer than ``seconds``.

    Also fail when any thread (the aggregator, the pool's manager thread)
    dies of an unhandled exception meanwhile: a clean failure must not leave
    tracebacks on stderr or resources behind.
    """
    thread_errors = []

    def expire(signum, frame):
        raise TimeoutError(f"no result after {seconds} s: the run hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(
        f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: "
        f"{args.exc_value}")
    threads_before = set(threading.enumerate())
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        threading.excepthook = previous_hook
        assert thread_errors == []
        deadline = time.monotonic() + 2
        while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(threading.enumerate()) - threads_before == set()


@pytest.fixture
def strip_raster(make_raster):
    """A 400x20 raster: 80 views of 5x20 with view size (5, 20)."""
    return make_raster(width=400, height=20, count=1, dtype="uint8", block=(16, 16))


def strip_jobs(path, task, params_for_view, view_size=(5, 20)):
    views, _ = create_views(view_size, (0, 0), (400, 20))
    return views, [
        {"task": task, "source": Source(path), "bands": [1], "view": view,
         "task_params": params_for_view(view), "read_params": {}, "open_params": {}}
        for view in views
    ]


def test_task_exception_names_the_view_and_stops_early(strip_raster):
    views, _ = create_views((5, 20), (0, 0), (400, 20))
    target = views[3]
    views, jobs = strip_jobs(strip_raster, tasks.fail_when,
                             lambda view: {"fail": view == target, "delay": 0.1})
    done = []
    started = time.monotonic()
    with time_limit(60), pytest.raises(BlockProcessingError) as caught:
        run_views(process_block, jobs, partial(fill_matrix, np.zeros((20, 400))), nbrcpu=2,
                  progress=lambda d, t: done.append(d))
    elapsed = time.monotonic() - started
    error = caught.value
    assert error.view == target
    assert str(target) in str(error)
    assert "ValueError" in str(error) and "broken on purpose" in str(error)
    assert "fail_when" in error.remote_traceback
    assert isinstance(error, RuntimeError) and isinstance(error, RiograndeError)
    assert max(done) < len(views) // 2  # the run stopped, it did not process every view
    assert elapsed < 30
    assert_no_orphans()


def test_logic_exception_through_compute_mask(make_raster, tmp_path):
    path = make_raster(width=47, height=30, count=2, dtype="int16")
    digest = file_sha256(path)
    previous = tmp_path / "previous.tif"
    make_raster("previous.tif", width=5, height=5, count=1, dtype="uint8")
    previous_digest = file_sha256(previous)
    narrow = {(40, y, 7, h) for _, y, _, h in create_views((10, 10), (0, 0), (47, 30))[1]}
    for output in (tmp_path / "mask.tif", previous):
        with time_limit(60), pytest.raises(BlockProcessingError) as caught:
            compute_mask(path, (10, 10), 0, tasks.fail_on_narrow_block, output=output,
                         nbrcpu=2)
        assert tuple(caught.value.view) in narrow
        assert str(tuple(caught.value.view)) in str(caught.value)
        assert "7 columns" in str(caught.value)
    assert not (tmp_path / "mask.tif").exists()
    assert file_sha256(previous) == previous_digest  # an older output is left as it was
    assert leftovers(tmp_path) == []
    assert file_sha256(path) == digest
    assert_no_orphans()


def test_killed_worker_raises_worker_lost(strip_raster):
    views, _ = create_views((5, 20), (0, 0), (400, 20))
    target = views[5]
    _, jobs = strip_jobs(strip_raster, tasks.die_when,
                         lambda view: {"die": view == target, "delay": 0.02})
    with time_limit(60), pytest.raises(WorkerLostError) as caught:
        run_views(process_block, jobs, partial(fill_matrix, np.zeros((20, 400))), nbrcpu=2,
                  start_method="spawn")
    assert isinstance(caught.value, RuntimeError)
    assert "died" in str(caught.value)
    assert str(target) in str(caught.value)  # the lost view is among those named
    assert_no_orphans()


def test_killed_worker_in_compute_mask_leaves_no_output(make_raster, tmp_path):
    # die_when needs "die": a mask logic cannot get per-view parameters, so run the
    # mask job's worker directly through the engine with a combine_views aggregator.
    from riogrande.io.output import atomic_output
    from riogrande.outputs.profiles import mask_profile
    from riogrande.parallel import combine_views

    path = make_raster(width=400, height=20, count=1, dtype="uint8", block=(16, 16))
    output = tmp_path / "out.tif"
    views, jobs = strip_jobs(path, tasks.die_when,
                             lambda view: {"die": view[0] == 100, "delay": 0.01})
    with time_limit(60), pytest.raises(WorkerLostError):
        with atomic_output(output) as temporary:
            run_views(process_block, jobs, partial(combine_views, {
                "output_file": temporary, "profile": mask_profile(Source(path).profile),
                "band": 1}), nbrcpu=1)
    assert not output.exists() and leftovers(tmp_path) == []
    assert_no_orphans()


def test_aggregator_failure(strip_raster):
    _, jobs = strip_jobs(strip_raster, tasks.slow_copy, lambda view: {"delay": 0.0})
    with time_limit(60), pytest.raises(AggregationError) as caught:
        run_views(process_block, jobs, partial(fill_matrix, np.zeros((2, 2))), nbrcpu=2)
    assert "aggregator" in str(caught.value)
    assert_no_orphans()


def test_cancel_removes_partial_output(make_raster, tmp_path):
    path = make_raster(width=100, height=100, count=2, dtype="uint8", block=(16, 16))
    digest = file_sha256(path)
    done = []
    with time_limit(60), pytest.raises(RunCancelledError):
        write_mask(path, tmp_path / "mask.tif", block_size=(5, 5), nbrcpu=2,
                   progress=lambda d, t: done.append(d), cancel=lambda: len(done) > 3)
    assert 3 <= max(done) < 400
    assert not (tmp_path / "mask.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert file_sha256(path) == digest
    assert_no_orphans()


def test_cancel_selector(make_raster):
    path = make_raster(width=100, height=100, count=2, dtype="uint8", block=(16, 16))
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 5

    with time_limit(60), pytest.raises(RunCancelledError) as caught:
        prepare_selector(*Source(path).get_bands(), block_size=(5, 5), nbrcpu=2, cancel=cancel)
    assert isinstance(caught.value, RuntimeError)
    assert_no_orphans()


@pytest.mark.parametrize("nbrcpu", [1, 2])
def test_progress_in_order(make_raster, tmp_path, nbrcpu):
    path = make_raster(width=50, height=40, count=2, dtype="uint8")
    calls = []
    report = write_mask(path, tmp_path / "m.tif", block_size=(20, 15), nbrcpu=nbrcpu,
                        progress=lambda done, total: calls.append((done, total)))
    total = report.views
    assert total == 9
    assert calls == [(done, total) for done in range(total + 1)]


@pytest.mark.parametrize("nbrcpu", [1, 2])
def test_aggregator_does_not_take_a_worker(strip_raster, nbrcpu):
    _, jobs = strip_jobs(strip_raster, tasks.slow_copy, lambda view: {"delay": 0.01})
    seen = []
    matrix = np.zeros((20, 400), dtype=np.uint8)
    run_views(process_block, jobs, partial(fill_matrix, matrix), nbrcpu=nbrcpu,
              progress=lambda d, t: seen.append(len(worker_processes())) if d == 40 else None)
    assert seen == [nbrcpu]
    assert np.array_equal(matrix, read_all(strip_raster)[0])
    assert_no_orphans()


def test_backpressure_bounds_blocks_in_flight(strip_raster, tmp_path):
    log = tmp_path / "started.log"
    _, jobs = strip_jobs(strip_raster, tasks.log_start, lambda view: {"log_path": str(log)})
    ahead = []

    def slow_aggregator(q):
        received = 0
        while True:
            message = q.get()
            if message.get("signal") == "kill":
                return received
            received += 1
            ahead.append(len(log.read_text().splitlines()) - received)
            time.sleep(0.02)

    workers = 2
    assert run_views(process_block, jobs, slow_aggregator, nbrcpu=workers) == 80
    # started but not yet aggregated: in flight (2 x workers) + the aggregator's queue
    assert max(ahead) <= 4 * workers + 4
    assert len(log.read_text().splitlines()) == 80


def test_explicit_interpreter(make_raster, tmp_path):
    path = make_raster(width=60, height=40, count=3, dtype="int16", nodata=-9999)
    executable_before = spawn.get_executable()
    start_before = multiprocessing.get_start_method(allow_none=True)
    output = tmp_path / "mask.tif"
    compute_mask(path, (25, 25), -9999, "any", output=output, nbrcpu=2,
                 executable=os.path.realpath(sys.executable))
    assert np.array_equal(read_all(output)[0], mask_reference(path, -9999, "any"))
    assert spawn.get_executable() == executable_before
    assert multiprocessing.get_start_method(allow_none=True) == start_before
    assert_no_orphans()


@pytest.mark.parametrize("start_method", [None, "spawn", "fork", "forkserver"])
def test_start_methods_and_global_state(make_raster, start_method):
    path = make_raster(width=60, height=40, count=2, dtype="float32", nodata=-9999.0)
    before = multiprocessing.get_start_method(allow_none=True)
    executable_before = spawn.get_executable()
    params = {} if start_method is None else {"start_method": start_method}
    result = prepare_selector(*Source(path).get_bands(), block_size=(32, 16), nbrcpu=2,
                              **params)
    expected = selector_reference([(path, 1, "band"), (path, 2, "band")])
    assert np.array_equal(result, expected)
    assert multiprocessing.get_start_method(allow_none=True) == before
    assert spawn.get_executable() == executable_before
    assert_no_orphans()


def test_runs_from_a_thread(make_raster, tmp_path):
    """Like QGIS's background tasks: the call is made from a non-main thread."""
    path = make_raster(width=60, height=40, count=2, dtype="uint8")
    outcome = {}

    def target():
        try:
            outcome["report"] = write_mask(path, tmp_path / "m.tif", block_size=(16, 16),
                                           nbrcpu=2)
        except BaseException as error:  # reported below
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and "error" not in outcome
    assert np.array_equal(read_all(tmp_path / "m.tif")[0], mask_reference(path, 0, "all"))
    assert_no_orphans()


def test_interrupt_in_the_caller_cleans_up(make_raster, tmp_path):
    """Ctrl-C (KeyboardInterrupt in the calling thread) stops workers, leaves no file."""
    path = make_raster("input.tif", width=100, height=100, count=2, dtype="uint8")
    done = []

    def interrupt():
        if len(done) > 3:
            raise KeyboardInterrupt
        return False

    with time_limit(60), pytest.raises(KeyboardInterrupt):
        compute_mask(path, (5, 5), output=tmp_path / "mask.tif", nbrcpu=2,
                     progress=lambda d, t: done.append(d), cancel=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]
    assert_no_orphans()


def test_many_runs_leave_nothing_behind(make_raster, tmp_path):
    """Repeated runs do not accumulate processes, threads or open files."""
    path = make_raster("input.tif", width=40, height=30, count=2, dtype="uint8")
    me = psutil.Process()
    write_mask(path, tmp_path / "warm.tif", block_size=(16, 16), nbrcpu=2)
    files_before = len(me.open_files())
    fds_before = me.num_fds()
    with time_limit(120):
        for index in range(1):
            write_mask(path, tmp_path / f"m{index}.tif", block_size=(16, 16), nbrcpu=2)
            prepare_selector(Band(path, 1), block_size=(16, 16), nbrcpu=2)
    assert len(me.open_files()) == files_before
    assert me.num_fds() <= fds_before + 2
    assert_no_orphans()


STDIN_SCRIPT = """
import sys
from riogrande.io.exceptions import RunError
from riogrande.parallel import compute_mask
if __name__ == "__main__":
    try:
        compute_mask(sys.argv[1], (16, 16), output=sys.argv[2], nbrcpu=2, {options})
    except RunError as error:
        print(type(error).__name__, error)
        sys.exit(3)
"""


def test_workers_that_cannot_start_do_not_hang(make_raster, tmp_path):
    """A script read from stdin cannot be re-imported by spawn workers: fail, do not hang.

    (A plain multiprocessing Pool restarts such workers forever.)
    """
    import subprocess

    path = make_raster("input.tif", width=40, height=30, count=1, dtype="uint8")
    script = STDIN_SCRIPT.format(options="start_method='spawn'")
    result = subprocess.run([sys.executable, "-", str(path), str(tmp_path / "m.tif")],
                            input=script, capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 3, result.stderr  # a RunError, raised in the caller
    assert "Error" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]


def test_threads_run_from_a_script_read_from_stdin(make_raster, tmp_path):
    """Worker threads re-import nothing: the default backend works where spawn cannot."""
    import subprocess

    import rasterio

    path = make_raster("input.tif", width=40, height=30, count=2, dtype="uint8")
    result = subprocess.run([sys.executable, "-", str(path), str(tmp_path / "m.tif")],
                            input=STDIN_SCRIPT.format(options=""), capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with rasterio.open(tmp_path / "m.tif") as out:
        assert np.array_equal(out.read(1), mask_reference(path, nodata=0, logic="all"))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_raster_without_georeferencing(tmp_path):
    import rasterio

    data = np.zeros((2, 30, 40), dtype=np.uint8)
    data[0, 5:, 5:] = 3
    data[1, :20, :] = 4
    path = tmp_path / "plain.tif"
    with rasterio.open(path, "w", driver="GTiff", count=2, width=40, height=30,
                       dtype="uint8") as dst:
        dst.write(data)
    compute_mask(path, (16, 16), 0, "any", output=tmp_path / "m.tif", nbrcpu=2)
    with rasterio.open(tmp_path / "m.tif") as out:
        assert out.crs is None
        assert np.array_equal(out.read(1), ((data != 0).all(axis=0)).astype(np.uint8))
    selector = prepare_selector(*Source(path).get_bands(), block_size=(16, 16), nbrcpu=1)
    assert np.array_equal(selector, selector_reference([(path, 1, "band"), (path, 2, "band")]))


def test_gdal_cache_of_workers_is_capped(strip_raster):
    _, jobs = strip_jobs(strip_raster, tasks.gdal_cache_setting, lambda view: {},
                         view_size=(100, 20))

    def collect(q):
        return [message["data"] for message in iter_messages(q)]

    settings = run_views(process_block, jobs, collect, nbrcpu=2, gdal_cachemax_mb=24)
    assert len(settings) == 4
    # rasterio reports megabytes as given, or the bytes GDAL made of them
    assert {int(value) for value in settings} in ({24}, {24 * 2**20})


def test_concurrent_runs_from_threads(make_raster, tmp_path):
    """Two runs at once from two threads (one with its own interpreter) do not mix."""
    first = make_raster("first.tif", width=60, height=40, count=2, dtype="uint8", seed=1)
    second = make_raster("second.tif", width=50, height=30, count=3, dtype="int16",
                         nodata=-9999, seed=2)
    outcome = {}

    def run(name, **kwargs):
        try:
            outcome[name] = write_mask(**kwargs)
        except BaseException as error:  # reported below
            outcome[name] = error

    threads = [
        threading.Thread(target=run, args=("first",), kwargs=dict(
            source=first, output=tmp_path / "m1.tif", block_size=(16, 16), nbrcpu=2,
            logic="any", start_method="spawn", executable=os.path.realpath(sys.executable))),
        threading.Thread(target=run, args=("second",), kwargs=dict(
            source=second, output=tmp_path / "m2.tif", block_size=(16, 16), nbrcpu=2,
            nodata=-9999)),
    ]
    with time_limit(120):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not isinstance(outcome["first"], BaseException), outcome["first"]
    assert not isinstance(outcome["second"], BaseException), outcome["second"]
    assert np.array_equal(read_all(tmp_path / "m1.tif")[0], mask_reference(first, 0, "any"))
    assert np.array_equal(read_all(tmp_path / "m2.tif")[0],
                          mask_reference(second, -9999, "all"))
    assert multiprocessing.get_start_method(allow_none=True) is None
    assert_no_orphans()


def test_overlapping_runs_keep_the_default_start_method(strip_raster):
    """Run B starts while run A has workers and ends after A: the caller's state is kept.

    Starting a spawn process fixes multiprocessing's default context (to fork on
    Linux) as a side effect; each run undoes it, which must also hold when runs
    overlap, and run B must not take A's side effect for the application's choice
    (its workers must be spawned, not forked).
    """
    _, quick = strip_jobs(strip_raster, tasks.inherited_test_modules,
                          lambda view: {"delay": 0.02}, view_size=(40, 20))
    _, slow = strip_jobs(strip_raster, tasks.inherited_test_modules,
                         lambda view: {"delay": 0.15}, view_size=(40, 20))
    a_running = threading.Event()
    outcome = {}

    def run(name, jobs, progress=None, before=None):
        try:
            if before is not None:
                before.wait(60)
            matrix = np.ones((20, 400), dtype=bool)
            run_views(process_block, jobs, partial(fill_matrix, matrix), nbrcpu=1,
                      progress=progress)
            outcome[name] = matrix
        except BaseException as error:  # reported below
            outcome[name] = error

    def progress_a(done, total):
        if done >= 1:
            a_running.set()  # A's worker exists: the side effect has happened

    threads = [threading.Thread(target=run, args=("a", quick, progress_a)),
               threading.Thread(target=run, args=("b", slow, None, a_running))]
    with time_limit(120):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for name in ("a", "b"):
        assert not isinstance(outcome[name], BaseException), outcome[name]
        assert not outcome[name].any(), f"run {name} forked its workers"
    assert multiprocessing.get_start_method(allow_none=True) is None
    assert_no_orphans()


def test_result_that_cannot_be_sent_back(strip_raster):
    from riogrande.io.exceptions import RunError

    views, jobs = strip_jobs(strip_raster, tasks.unpicklable_result, lambda view: {},
                             view_size=(100, 20))
    with time_limit(60), pytest.raises(RunError) as caught:
        run_views(process_block, jobs, partial(fill_matrix, np.zeros((20, 400))), nbrcpu=2)
    assert any(str(view) in str(caught.value) for view in views)
    assert "lock" in str(caught.value).lower()
    assert_no_orphans()


def test_cancelled_in_place_run_leaves_the_source_as_it_was(make_raster, tmp_path,
                                                             monkeypatch):
    import tempfile

    path = make_raster("input.tif", width=100, height=100, count=2, dtype="int16",
                       nodata=-9999, block=(16, 16))
    digest = file_sha256(path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    done = []
    with time_limit(60), pytest.raises(RunCancelledError):
        compute_mask(path, (5, 5), nodata=None, nbrcpu=2,
                     progress=lambda d, t: done.append(d), cancel=lambda: len(done) > 3)
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif", "scratch"]
    assert list(scratch.iterdir()) == []
    assert_no_orphans()


def test_an_interrupt_while_waiting_for_the_aggregator_waits_for_its_end(strip_raster):
    """An interrupt landing while the run waits for the aggregator's last writes still lets
    them end before the run raises (Python 3.11 marks a thread whose join() was interrupted
    as stopped while it runs: the run must not trust it)."""
    _, jobs = strip_jobs(strip_raster, tasks.slow_copy, lambda view: {"delay": 0.0})
    steps: list[str] = []

    def slow_to_end(queue):
        for _ in iter_messages(queue):
            pass
        steps.append("last writes started")
        time.sleep(1.0)
        steps.append("last writes done")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        for _ in range(3):
            steps.clear()
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(KeyboardInterrupt):
                run_views(process_block, jobs, slow_to_end, nbrcpu=2, backend="threads")
            assert steps == ["last writes started", "last writes done"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
