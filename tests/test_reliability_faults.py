"""Faults during a run: killed workers, Ctrl-C, a full disk, two runs on one file.

Complements tests/test_runner.py (a task raising on one block, a worker killing
itself, cancellation, an interrupt raised in the caller) with faults that come
from outside the run.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import rasterio

from riogrande.io.exceptions import AggregationError, OutputError, RunError, WorkerLostError
from riogrande.io.models import Band
from riogrande.masking import write_selector
from riogrande.outputs import sinks
from riogrande.parallel import compute_mask

from .conftest import file_sha256, write_raster
from .reference import mask_reference, read_all
from .test_runner import assert_no_orphans, time_limit, worker_processes

REPO = Path(__file__).resolve().parents[1]


def noise_raster(path: Path, width: int = 400, height: int = 300, count: int = 2) -> Path:
    """uint8 bands, half of the pixels 0: an incompressible mask."""
    rng = np.random.default_rng(11)
    data = (rng.random((count, height, width)) < 0.5).astype(np.uint8) * rng.integers(
        1, 255, size=(count, height, width), dtype=np.uint8)
    return write_raster(path, data, nodata=0, block=(64, 64))


# ------------------------------------------------------------------ killed workers


@pytest.mark.parametrize("in_place", [False, True], ids=["to a file", "in place"])
def test_worker_killed_from_outside(tmp_path, monkeypatch, in_place):
    """SIGKILL of a worker by someone else (the OOM killer): a clear error in seconds."""
    scratch = tmp_path / "system-tmp"  # where an in-place run computes its mask
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    output = None if in_place else tmp_path / "mask.tif"
    killed: list[float] = []

    def kill_one_worker(done, total):
        if done == 5 and not killed:
            victim = worker_processes()[0]
            victim.send_signal(signal.SIGKILL)
            killed.append(time.monotonic())

    with time_limit(60), pytest.raises(WorkerLostError) as caught:
        compute_mask(path, (8, 8), 0, "any", output=output, nbrcpu=2, progress=kill_one_worker,
                     backend="processes")
    assert killed and time.monotonic() - killed[0] < 10
    assert isinstance(caught.value, RunError) and "died" in str(caught.value)
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif", "system-tmp"]
    assert list(scratch.iterdir()) == []
    assert_no_orphans()


# ---------------------------------------------------------------------- Ctrl-C

INTERRUPTED_SCRIPT = """
import sys
from riogrande.parallel import compute_mask

def progress(done, total):
    if done == 3:
        print("running", flush=True)

if __name__ == "__main__":
    try:
        compute_mask(sys.argv[1], (8, 8), 0, "any", output=sys.argv[2], nbrcpu=2,
                     progress=progress, backend=sys.argv[3])
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    print("finished", flush=True)
"""


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_sigint_stops_a_run_in_another_process(tmp_path, backend):
    path = noise_raster(tmp_path / "input.tif", width=600, height=400)
    digest = file_sha256(path)
    script = tmp_path / "run_mask.py"
    script.write_text(textwrap.dedent(INTERRUPTED_SCRIPT))
    output = tmp_path / "mask.tif"
    child = subprocess.Popen([sys.executable, str(script), str(path), str(output), backend],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert child.stdout.readline().strip() == "running"
        helpers = psutil.Process(child.pid).children(recursive=True)
        # the workers (and the resource tracker), or none: threads
        assert len(helpers) >= 2 if backend == "processes" else helpers == []
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert out.strip() == "interrupted"
    gone, alive = psutil.wait_procs(helpers, timeout=10)
    assert alive == []
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif", "run_mask.py"]


# ------------------------------------------------------------------- full disk


@pytest.fixture
def small_filesystem(tmp_path):
    """A 512 KiB tmpfs mounted in the test's folder (root only, where mounting is allowed)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill_up(folder: Path, leave: int) -> None:
    """Write a file taking all but ``leave`` bytes of the filesystem of ``folder``."""
    stats = os.statvfs(folder)
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * (stats.f_bavail * stats.f_frsize - leave))


@pytest.mark.parametrize("job", ["mask", "selector"])
def test_full_disk(tmp_path, small_filesystem, job):
    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    fill_up(small_filesystem, leave=8192)  # the compressed mask needs ~20 KB
    output = small_filesystem / "mask.tif"
    with time_limit(60), pytest.raises(OutputError) as caught:
        if job == "mask":
            compute_mask(path, (64, 64), 0, "any", output=output, nbrcpu=2)
        else:
            write_selector(Band(path, 1), Band(path, 2), output=output, block_size=(64, 64),
                           nbrcpu=2)
    assert isinstance(caught.value, OSError)
    assert str(output) in str(caught.value) and "the disk is full" in str(caught.value)
    assert sorted(p.name for p in small_filesystem.iterdir()) == ["filler"]
    assert file_sha256(path) == digest
    assert_no_orphans()


class FillingUp:
    """A dataset opened for writing whose writes fail with ENOSPC after 3 blocks."""

    def __init__(self, dataset):
        self.dataset, self.blocks = dataset, 0

    def __enter__(self):
        self.dataset.__enter__()
        return self

    def __exit__(self, *exc):
        return self.dataset.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.dataset, name)

    def write(self, *args, **kwargs):
        self.blocks += 1
        if self.blocks > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.dataset.name)
        return self.dataset.write(*args, **kwargs)


def fill_up_after_three_blocks(monkeypatch) -> None:
    """Make every raster a run's sink creates a :class:`FillingUp`."""
    real_open = sinks.open_raster
    monkeypatch.setattr(sinks, "open_raster",
                        lambda *args, **kwargs: FillingUp(real_open(*args, **kwargs)))


def test_disk_full_reported_by_a_write(tmp_path, monkeypatch):
    """Without a small filesystem: the output's writes fail with ENOSPC after 3 blocks."""
    fill_up_after_three_blocks(monkeypatch)
    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    output = tmp_path / "mask.tif"
    with time_limit(60), pytest.raises(AggregationError) as caught:
        compute_mask(path, (64, 64), 0, "any", output=output, nbrcpu=2)
    assert "No space left on device" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]
    with time_limit(60), pytest.raises(AggregationError):
        compute_mask(path, (64, 64), 0, "any", nbrcpu=2)  # in place: the scratch mask
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]
    assert_no_orphans()


def doubled(data: np.ndarray) -> np.ndarray:
    return data.astype("float32") * 2


@pytest.mark.parametrize("cog", [False, True], ids=["GeoTIFF", "COG"])
@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_full_disk_apply(tmp_path, small_filesystem, cog, backend):
    """A calculated result on a full disk: a clear error, nothing left, on both backends."""
    import riogrande

    path = noise_raster(tmp_path / "input.tif")
    digest = file_sha256(path)
    fill_up(small_filesystem, leave=8192)  # the float32 result needs ~900 KB uncompressed
    output = small_filesystem / "doubled.tif"
    with time_limit(60), pytest.raises(OutputError) as caught:
        riogrande.apply(doubled, path, output, cog=cog, block_size=(64, 64), nbrcpu=2,
                        backend=backend, creation_options={"COMPRESS": "NONE"})
    assert str(output) in str(caught.value) and "the disk is full" in str(caught.value)
    assert sorted(p.name for p in small_filesystem.iterdir()) == ["filler"]
    assert file_sha256(path) == digest
    assert_no_orphans()


def test_failed_block_of_a_cog_leaves_nothing_over_many_runs(tmp_path):
    """A function failing on one block, 20 times: every run ends with the error, no scratch."""
    import riogrande
    from riogrande.io.exceptions import BlockProcessingError

    path = noise_raster(tmp_path / "input.tif")
    out = tmp_path / "out"
    out.mkdir()

    def fails_on_the_last_row(data: np.ndarray) -> np.ndarray:
        if data.shape[1] < 64:  # the raster's 300 rows: the last blocks are 44 rows high
            raise ValueError("broken block")
        return data.astype("float32")

    for _ in range(20):
        with time_limit(30), pytest.raises(BlockProcessingError, match="broken block"):
            riogrande.apply(fails_on_the_last_row, path, out / "result.tif", cog=True,
                            block_size=(64, 64), nbrcpu=2, backend="threads")
        assert list(out.iterdir()) == []
    assert_no_orphans()


# ------------------------------------------------- two runs on the same file

CONCURRENT_SCRIPT = """
import logging
import os
import sys
import time
from riogrande.parallel import compute_mask

def progress(done, total):
    if done == 1:
        print("started", time.monotonic(), flush=True)
        if sys.argv[3] == "hold":  # keep the file until the test says go
            deadline = time.monotonic() + 60
            while not os.path.exists("go") and time.monotonic() < deadline:
                time.sleep(0.02)

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    compute_mask(sys.argv[1], (16, 16), 0, sys.argv[2], nbrcpu=1, progress=progress)
    print("finished", time.monotonic(), flush=True)
"""


def test_two_runs_write_the_internal_mask_of_one_file(tmp_path):
    path = noise_raster(tmp_path / "input.tif", width=300, height=200)
    data = read_all(path)
    script = tmp_path / "run_mask.py"
    script.write_text(textwrap.dedent(CONCURRENT_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def start(logic, hold):
        return subprocess.Popen([sys.executable, str(script), str(path), logic, hold],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path, env=env)

    first = start("all", "hold")
    second = None
    try:
        assert first.stdout.readline().startswith("started")  # the first one holds the file
        second = start("any", "go")
        waiting = ""
        while "another run is writing into" not in waiting:
            line = second.stderr.readline()
            assert line, "the second run did not wait for the first"
            waiting += line
        (tmp_path / "go").touch()
        second_out, second_err = second.communicate(timeout=120)
        first_out, first_err = first.communicate(timeout=120)
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.kill()
                child.communicate()
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    first_end = float(first_out.split("finished")[1])
    second_start = float(second_out.split("started")[1].split()[0])
    assert second_start > first_end  # it only started once the first was done
    with rasterio.open(path) as src:  # the last run's mask, in a readable file
        assert src.mask_flag_enums[0] == [rasterio.enums.MaskFlags.per_dataset]
        assert np.array_equal(src.dataset_mask() != 0, mask_reference(path, 0, "any") != 0)
    assert np.array_equal(read_all(path), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "input.tif", "run_mask.py"]
