"""The command line when a run fails: one plain message, the right exit code, nothing left.

A full disk (a real small tmpfs, and ENOSPC injected into the writes) is a
processing error (exit 1) reported in one line, without usage text or GDAL's
own stderr lines. A damaged block's worker traceback shows only with ``-v``.
SIGTERM stops the run like Ctrl-C: exit 143, no partial output, no scratch
file, no worker left. Block sizes that make thousands of tiny blocks are
warned about.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import numpy
import psutil
import pytest
import rasterio
from click.testing import CliRunner

from riogrande.cli.main import cli
from riogrande.io.exceptions import BlockProcessingError
from riogrande.masking import write_mask

from .conftest import file_sha256
from .reference import leftovers
from .test_reliability_faults import (  # noqa: F401 (small_filesystem is a fixture)
    fill_up,
    fill_up_after_three_blocks,
    noise_raster,
    small_filesystem,
)
from .test_reliability_inputs import corrupt
from .test_runner import assert_no_orphans

RIOGRANDE = [sys.executable, "-m", "riogrande.cli"]
GDAL_LINES = ("_tiffWriteProc", "ERROR 1", "TIFFAppendToStrip", "No space left on device.")


def run(*args: object, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*RIOGRANDE, *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, **kwargs)


def one_error_line(stderr: str, *words: str) -> str:
    """The only line of ``stderr``: ``Error: ...`` holding ``words``."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


# ------------------------------------------------------------------- full disk


@pytest.mark.parametrize("command", ["mask", "selector"])
def test_full_disk_is_a_processing_error(tmp_path, small_filesystem, command):  # noqa: F811
    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    fill_up(small_filesystem, leave=8192)
    output = small_filesystem / "mask.tif"
    done = run(command, path, "-o", output, "--block-size", 64, 64, "-j", 2)
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr, str(output), "the disk is full")
    for noise in (*GDAL_LINES, "Usage", "Invalid value", "Traceback"):
        assert noise not in done.stderr, line
    assert done.stdout == ""
    assert sorted(p.name for p in small_filesystem.iterdir()) == ["filler"]
    assert file_sha256(path) == digest


def test_injected_enospc_is_a_processing_error(tmp_path, monkeypatch):
    fill_up_after_three_blocks(monkeypatch)
    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    for args in (["-o", tmp_path / "mask.tif"], ["--in-place", "--yes"]):
        result = CliRunner().invoke(cli, ["mask", str(path), *map(str, args), "--block-size",
                                          "64", "64", "-j", "2", "-q"])
        assert result.exit_code == 1, result.output
        one_error_line(result.output, "No space left on device")
        assert "Usage" not in result.output and "Invalid value" not in result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]
    assert file_sha256(path) == digest
    assert_no_orphans()


# ------------------------------------------------------- worker tracebacks


def test_worker_traceback_only_with_verbose(tmp_path):
    damaged = corrupt(tmp_path)
    with pytest.raises(BlockProcessingError) as caught:
        write_mask(damaged, tmp_path / "m.tif", block_size=(64, 64), nbrcpu=2)
    assert "Traceback" in caught.value.remote_traceback
    assert "Traceback" not in str(caught.value) and "Traceback" not in repr(caught.value)
    assert str(caught.value) == caught.value.args[0]
    quiet = run("mask", damaged, "-o", tmp_path / "m.tif", "--block-size", 64, 64, "-q")
    assert quiet.returncode == 1
    one_error_line(quiet.stderr, "processing view", "corrupt.tif")
    verbose = run("-v", "mask", damaged, "-o", tmp_path / "m.tif", "--block-size", 64, 64, "-q")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "Error: processing view" in verbose.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.tif"]


# ---------------------------------------------------------------------- SIGTERM


def test_stack_dumps_reach_the_terminal_while_native_messages_are_hidden(tmp_path):
    """GDAL's own lines go to a scratch file during a command; a faulthandler dump (how a
    hung run is diagnosed) does not."""
    script = (
        "import os, signal\n"
        "from riogrande.cli.stderr import native_stderr_hidden\n"
        "with native_stderr_hidden():\n"
        "    os.write(2, b'ERROR 1: a native line\\n')\n"
        "    os.kill(os.getpid(), signal.SIGABRT)\n"
    )
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == -signal.SIGABRT
    assert "ERROR 1" not in done.stderr
    assert "Fatal Python error: Aborted" in done.stderr and "<string>" in done.stderr, done.stderr


def describe(processes: list[psutil.Process]) -> str:
    """What each of ``processes`` is doing, for a failure message."""
    states = []
    for process in processes:
        try:
            states.append(f"{process.pid} {process.status()} {process.cmdline()[-1:]}")
        except psutil.Error:
            states.append(f"{process.pid} gone")
    return ", ".join(states) or "none"


def terminate(process: subprocess.Popen, workers: list[psutil.Process], seconds: float) -> str:
    """Send SIGTERM to ``process``; its standard error once it has exited within ``seconds``.

    Otherwise fail with the stack of each of its threads (``PYTHONFAULTHANDLER`` prints
    them at SIGABRT) and the state of its ``workers``.
    """
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        state = describe(workers)
        process.send_signal(signal.SIGABRT)
        stderr = process.communicate()[1]
        pytest.fail(f"no exit {seconds} s after SIGTERM; workers {state}\n{stderr}")


def start_and_terminate(
    command: list[str], folder: Path, delay: float, children: int
) -> tuple[int, str, list]:
    """Start ``command``; once its partial output and ``children`` worker processes exist,
    wait ``delay`` s, send SIGTERM."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True,
                               env={**os.environ, "TMPDIR": str(folder / "tmp"),
                                    "PYTHONFAULTHANDLER": "1"})
    workers: list[psutil.Process] = []
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            workers = parent.children(recursive=True)
            if len(workers) >= children and (leftovers(folder / "out")
                                             or os.listdir(folder / "tmp")):
                break
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be terminated"
        time.sleep(delay)
        stderr = terminate(process, workers, 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stderr, workers


@pytest.mark.parametrize("backend", ["threads", "processes"])
@pytest.mark.parametrize("in_place", [False, True], ids=["to a file", "in place"])
def test_sigterm_removes_the_partial_output(make_raster, tmp_path, in_place, backend):
    raster = make_raster(width=2000, height=1500, count=1, nodata=0, block=(256, 256))
    (tmp_path / "out").mkdir()
    (tmp_path / "tmp").mkdir()
    digest = file_sha256(raster)
    target = ["--in-place", "--yes"] if in_place else ["-o", str(tmp_path / "out" / "m.tif")]
    command = [*RIOGRANDE, "mask", str(raster), *target, "--block-size", "16", "16", "-j", "2",
               "--backend", backend]
    children = 2 if backend == "processes" else 0
    for repetition in range(8):
        code, stderr, workers = start_and_terminate(command, tmp_path, 0.03 * repetition,
                                                    children)
        assert code == 143, stderr
        assert "Terminated" in stderr and "Traceback" not in stderr
        assert list((tmp_path / "out").iterdir()) == [], repetition
        assert list((tmp_path / "tmp").iterdir()) == [], repetition
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == [], repetition
        assert file_sha256(raster) == digest


@pytest.mark.slow
@pytest.mark.parametrize("in_place", [False, True], ids=["to a file", "in place"])
def test_sigterm_at_any_instant_of_the_start_never_hangs(make_raster, tmp_path, in_place):
    """SIGTERM at 15 instants from the command's start: while it imports, starts its worker
    processes, hands them to the run, runs. Every time it ends within seconds, leaving no
    process and no file behind (a pool started but not yet handed over once kept the
    interpreter waiting for its workers at exit)."""
    raster = make_raster(width=2000, height=1500, count=1, nodata=0, block=(256, 256))
    (tmp_path / "out").mkdir()
    (tmp_path / "tmp").mkdir()
    digest = file_sha256(raster)
    target = ["--in-place", "--yes"] if in_place else ["-o", str(tmp_path / "out" / "m.tif")]
    command = [*RIOGRANDE, "mask", str(raster), *target, "--block-size", "16", "16", "-j", "2",
               "--backend", "processes"]
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONFAULTHANDLER": "1"}
    for repetition in range(15):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, env=env)
        parent = psutil.Process(process.pid)
        workers: list[psutil.Process] = []
        deadline = time.monotonic() + 0.2 + 0.05 * repetition
        while time.monotonic() < deadline and process.poll() is None:
            workers = parent.children(recursive=True) or workers
            time.sleep(0.005)
        stderr = terminate(process, workers, 30)
        assert process.returncode in (143, -signal.SIGTERM), stderr
        assert "Traceback" not in stderr, stderr
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == [], repetition
        assert list((tmp_path / "out").iterdir()) == [], repetition
        assert list((tmp_path / "tmp").iterdir()) == [], repetition
    assert file_sha256(raster) == digest


@pytest.mark.parametrize("signum, code, words", [
    (signal.SIGTERM, 143, "Terminated."), (signal.SIGINT, 130, "Interrupted."),
], ids=["SIGTERM", "SIGINT"])
def test_an_interrupt_before_the_run_exits_with_its_code(make_raster, tmp_path, monkeypatch,
                                                         signum, code, words):
    """Between parsing and the run (checking the outputs): the run does not start, and the
    command exits 143 or 130, not click's 1."""
    import riogrande.cli.calc

    real = riogrande.cli.calc.check_outputs

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(riogrande.cli.calc, "check_outputs", interrupted)
    raster = make_raster(count=1)
    result = CliRunner().invoke(cli, ["calc", "a * 2", "-i", f"a={raster}", "-o",
                                      str(tmp_path / "out.tif")])
    assert result.exit_code == code and words in result.output
    assert "Aborted" not in result.output and not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize("moment", ["printing the report", "closing the command"])
def test_a_sigterm_after_the_run_exits_143_and_keeps_the_complete_output(
    make_raster, tmp_path, monkeypatch, moment
):
    """The output is complete: it stays, and the command still says it was terminated."""
    import riogrande.cli.calc

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return {}

    if moment == "printing the report":
        monkeypatch.setattr(riogrande.cli.calc, "report_fields", terminated)
        extra = ["--json"]
    else:
        real_invoke = click.Command.invoke

        def invoke_then_terminated(self, ctx):
            if not isinstance(self, click.Group):  # the command's context, inside the group's
                ctx.call_on_close(terminated)
            return real_invoke(self, ctx)

        monkeypatch.setattr(click.Command, "invoke", invoke_then_terminated)
        extra = []
    raster = make_raster(count=1)
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(cli, ["calc", "a * 2", "-i", f"a={raster}", "-o", str(out),
                                      "-q", *extra])
    assert result.exit_code == 143, result.output
    assert "Terminated" in result.output and "Aborted" not in result.output
    with rasterio.open(raster) as source, rasterio.open(out) as written:
        numpy.testing.assert_array_equal(written.read(1), source.read(1) * 2)
    assert leftovers(tmp_path) == []


def test_sigterm_is_left_to_its_default_action_once_the_command_is_done(make_raster,
                                                                          monkeypatch):
    """When the group's context closes (after the command and its report), SIGTERM's own
    handler is back: a late one ends the process like any other, not as click's "Aborted!"
    (exit 1)."""
    seen = []
    real_invoke = click.Command.invoke

    def invoke_and_watch(self, ctx):
        if not isinstance(self, click.Group):  # first thing the group's context does at close
            ctx.parent.call_on_close(lambda: seen.append(signal.getsignal(signal.SIGTERM)))
        return real_invoke(self, ctx)

    monkeypatch.setattr(click.Command, "invoke", invoke_and_watch)
    before = signal.getsignal(signal.SIGTERM)
    result = CliRunner().invoke(cli, ["info", str(make_raster(count=1))])
    assert result.exit_code == 0, result.output
    assert seen == [before]


def test_a_sigterm_to_a_worker_thread_stops_the_run_at_its_next_block(make_raster, tmp_path,
                                                                        monkeypatch):
    """The kernel may hand SIGTERM to any thread (a worker thread, OpenBLAS's); the run stops
    at its next block all the same, with neither a traceback nor "Exception ignored"."""
    import riogrande.cli.progress

    real = riogrande.cli.progress.ProgressBar.__call__
    workers = []

    def signal_a_worker_thread(self, done, total):
        if done == 2:
            workers.extend(thread for thread in threading.enumerate()
                           if thread.name.startswith("riogrande-worker"))
            signal.pthread_kill(workers[0].ident, signal.SIGTERM)
        return real(self, done, total)

    monkeypatch.setattr(riogrande.cli.progress.ProgressBar, "__call__", signal_a_worker_thread)
    raster = make_raster(width=300, height=200, count=1)
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(cli, ["calc", "a * 2", "-i", f"a={raster}", "-o", str(out),
                                      "--block-size", 64, 64, "-q"])
    assert workers, "no worker thread to signal"
    assert result.exit_code == 143 and "Terminated" in result.output
    assert "Exception ignored" not in result.output and "Traceback" not in result.output
    assert not out.exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------ tiny blocks


def test_thousands_of_tiny_blocks_are_warned_about(make_raster, tmp_path, caplog):
    raster = make_raster(width=400, height=300, count=1, nodata=0)
    with caplog.at_level(logging.WARNING, logger="riogrande"):
        write_mask(raster, tmp_path / "tiny.tif", block_size=(8, 8), nbrcpu=1)
    warned = [record.getMessage() for record in caplog.records if "tiny blocks" in
              record.getMessage()]
    assert len(warned) == 1 and "1900 tiny blocks" in warned[0] and "8 x 8" in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="riogrande"):
        write_mask(raster, tmp_path / "fine.tif", block_size=(64, 64), nbrcpu=1)
        write_mask(raster, tmp_path / "few.tif", block_size=(8, 300), nbrcpu=1)
    assert not [r for r in caplog.records if "tiny blocks" in r.getMessage()]
    done = run("mask", raster, "-o", tmp_path / "cli.tif", "--block-size", 8, 8, "-q")
    assert done.returncode == 0 and "1900 tiny blocks" in done.stderr, done.stderr
