"""Load: many runs in one process leak nothing; extreme raster shapes work."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import psutil
import pytest
import rasterio

from riogrande.io.models import Band, Source
from riogrande.masking import write_mask
from riogrande.parallel import compute_mask, prepare_selector

from .conftest import synthetic_data, write_raster
from .reference import leftovers, mask_reference, read_all, selector_reference
from .test_runner import assert_no_orphans, time_limit, worker_processes

RUNS = 20
#: A start method faster than spawn for runs where only the results matter. Not fork
#: where QGIS is loaded: its threads may hold GDAL's locks when a worker is forked.
FAST_START = "forkserver" if "qgis.core" in sys.modules else "fork"
RSS_GROWTH_LIMIT = 20 * 2**20


def open_fds() -> list[str]:
    """What each file descriptor of this process points to."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listdir itself used
            pass
    return sorted(found)


def test_consecutive_runs_leak_nothing(make_raster, tmp_path):
    path = make_raster("input.tif", width=120, height=90, count=3, dtype="int16",
                       nodata=-9999)
    expected_mask = mask_reference(path, -9999, "any")
    expected_selector = selector_reference([(path, bidx, "band") for bidx in (1, 2, 3)])
    bands = Source(path).get_bands()
    me = psutil.Process()

    def one_run(index):
        # every fourth run spawns its workers (the default), the others start faster
        options = {"nbrcpu": 2, "start_method": None if index % 4 == 0 else FAST_START}
        if index % 2:
            selector = prepare_selector(*bands, block_size=(32, 32), **options)
            assert np.array_equal(selector, expected_selector)
        else:
            output = tmp_path / "mask.tif"
            compute_mask(path, (32, 32), -9999, "any", output=output, **options)
            assert np.array_equal(read_all(output)[0], expected_mask)

    for index in range(2):  # warm-up: imports, GDAL's drivers, the resource tracker
        one_run(index)
    fds, threads = open_fds(), threading.active_count()
    children = {child.pid for child in me.children(recursive=True)}
    rss = me.memory_info().rss
    with time_limit(120):
        for index in range(RUNS):
            one_run(index)
    assert_no_orphans()
    assert open_fds() == fds
    assert threading.active_count() == threads
    assert {child.pid for child in me.children(recursive=True)} <= children
    growth = me.memory_info().rss - rss
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.1f} MB over {RUNS} runs"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("width, height", [(1, 1), (100_000, 1), (1, 100_000)],
                         ids=["1 pixel", "1 row of 100000", "1 column of 100000"])
def test_extreme_shapes(tmp_path, width, height):
    data = synthetic_data(2, height, width, "uint16", 0, seed=5)
    if width * height == 1:
        data[:, 0, 0] = (0, 7)  # "any" masks it, "all" does not
    path = write_raster(tmp_path / "input.tif", data, nodata=0, block=(256, 256))
    output = tmp_path / "mask.tif"
    report = write_mask(path, output, nodata=0, logic="all", nbrcpu=2)  # default blocks
    expected = mask_reference(path, 0, "all")
    assert np.array_equal(read_all(output)[0], expected)
    assert report.valid == int(expected.sum()) and report.pixels == width * height
    block = (max(1, width // 3), max(1, height // 3))
    selector = prepare_selector(Band(path, 1), Band(path, 2), block_size=block, nbrcpu=2)
    assert np.array_equal(selector, selector_reference([(path, 1, "band"), (path, 2, "band")]))
    compute_mask(path, block, 0, "any", nbrcpu=1)  # in place
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask() != 0, mask_reference(path, 0, "any") != 0)
    assert leftovers(tmp_path) == []


def test_two_hundred_bands(tmp_path):
    data = synthetic_data(200, 45, 70, "int16", -1, seed=8)
    data[:, 40:, 60:] = -1  # a corner where every band is nodata
    path = write_raster(tmp_path / "input.tif", data, nodata=-1, block=(32, 32))
    subset = list(range(200, 0, -7))
    for logic, bands in (("all", None), ("any", subset)):
        output = tmp_path / "mask.tif"
        compute_mask(path, (32, 16), -1, logic, bands, output=output, nbrcpu=2)
        expected = mask_reference(path, -1, logic, bands)
        assert np.array_equal(read_all(output)[0], expected)
        assert 0 < expected.sum() < 45 * 70 or logic == "any"
    selector = prepare_selector(*Source(path).get_bands(), block_size=(64, 64), nbrcpu=2)
    assert np.array_equal(selector, selector_reference(
        [(path, bidx, "band") for bidx in range(1, 201)]))
    assert worker_processes() == []
