"""riogrande.helper: mask logic, selectors, worker counts, contexts; TimedTask."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from multiprocessing import spawn

import numpy as np
import pytest

from riogrande.helper import (
    aggregated_selector,
    get_nbr_workers,
    get_or_set_context,
    reduced_mask,
    view_to_window,
)
from riogrande.io.exceptions import UnsupportedLogicError
from riogrande.timing import TimedTask

from . import tasks
from .reference import is_nodata


def expected_mask(array, nodata, logic):
    hits = is_nodata(array, nodata)
    masked = hits.all(axis=0) if logic == "all" else hits.any(axis=0)
    return (~masked).astype(np.uint8)


@pytest.mark.parametrize("logic", ["all", "any"])
@pytest.mark.parametrize("dtype, nodata", [("uint8", 0), ("int16", -9999),
                                            ("float32", -9999.0), ("float32", float("nan"))])
def test_reduced_mask_against_numpy(logic, dtype, nodata):
    rng = np.random.default_rng(3)
    array = rng.integers(1, 50, size=(3, 20, 30)).astype(dtype)
    array[rng.random(array.shape) < 0.4] = nodata
    array[:, :3, :3] = nodata
    result = reduced_mask(array, nodata, logic)
    assert result.dtype == np.uint8 and result.shape == (20, 30)
    expected = expected_mask(array, nodata, logic)
    assert np.array_equal(result, expected)
    assert 0 < expected.sum() < expected.size  # both kinds of cells are present


def test_reduced_mask_all_vs_any_example():
    data = np.array([[[0, 1, 0]], [[0, 0, 2]]])
    assert reduced_mask(data, 0, "all").tolist() == [[0, 1, 1]]
    assert reduced_mask(data, 0, "any").tolist() == [[0, 0, 0]]
    assert reduced_mask(data).tolist() == [[0, 1, 1]]  # defaults: nodata 0, "all"


def test_reduced_mask_nan_only_matches_nan():
    data = np.array([[[np.nan, 0.0, 1.0]]])
    assert reduced_mask(data, float("nan"), "all").tolist() == [[0, 1, 1]]
    assert reduced_mask(data, 0, "all").tolist() == [[1, 0, 1]]


def test_reduced_mask_callable():
    rng = np.random.default_rng(4)
    array = rng.integers(0, 100, size=(2, 9, 11)).astype("int16")
    result = reduced_mask(array, 0, tasks.first_band_above)
    assert result.dtype == np.uint8
    assert np.array_equal(result, tasks.first_band_above(array, 0).astype(np.uint8))


@pytest.mark.parametrize("logic", ["ALL", "none", "", "and"])
def test_reduced_mask_unknown_logic(logic):
    with pytest.raises(ValueError, match="logic") as caught:
        reduced_mask(np.zeros((1, 2, 2)), 0, logic)
    assert isinstance(caught.value, UnsupportedLogicError)
    assert repr(logic) in str(caught.value)


@pytest.mark.parametrize("logic", ["all", "any"])
def test_aggregated_selector(logic):
    rng = np.random.default_rng(5)
    masks = [rng.choice(np.array([0, 1, 255], dtype=np.uint8), size=(7, 8)) for _ in range(3)]
    result = aggregated_selector(masks, logic)
    assert result.dtype == bool
    stack = np.stack(masks) != 0
    expected = stack.all(axis=0) if logic == "all" else stack.any(axis=0)
    assert np.array_equal(result, expected)
    assert not any(np.shares_memory(result, mask) for mask in masks)
    assert np.array_equal(aggregated_selector(masks), stack.all(axis=0))


def test_aggregated_selector_single_mask_is_not_modified():
    mask = np.array([[0, 255]], dtype=np.uint8)
    result = aggregated_selector([mask])
    assert result.tolist() == [[False, True]]
    assert mask.tolist() == [[0, 255]]


def test_aggregated_selector_errors():
    with pytest.raises(ValueError):
        aggregated_selector([])
    with pytest.raises(ValueError, match="logic"):
        aggregated_selector([np.ones((2, 2))], "xor")


def test_get_nbr_workers():
    assert get_nbr_workers(None) == len(os.sched_getaffinity(0))
    assert get_nbr_workers() >= 1
    assert get_nbr_workers(3) == 3
    assert get_nbr_workers(0) == 1
    assert get_nbr_workers(-2) == 1
    with pytest.raises(ValueError):
        get_nbr_workers(1.5)


def test_view_to_window():
    window = view_to_window((3, 4, 5, 6))
    assert (window.col_off, window.row_off, window.width, window.height) == (3, 4, 5, 6)
    assert view_to_window(None) is None


def test_get_or_set_context_methods():
    before = multiprocessing.get_start_method(allow_none=True)
    for method in ("spawn", "fork", "forkserver"):
        assert get_or_set_context(method).get_start_method() == method
    expected_default = before or "spawn"
    assert get_or_set_context().get_start_method() == expected_default
    assert multiprocessing.get_start_method(allow_none=True) == before
    with pytest.raises(ValueError, match="start method"):
        get_or_set_context("thread")


def test_get_or_set_context_honours_the_application_setting():
    default = multiprocessing.context._default_context
    saved = default._actual_context
    try:
        default._actual_context = None
        multiprocessing.set_start_method("forkserver")
        assert get_or_set_context().get_start_method() == "forkserver"
        assert get_or_set_context("spawn").get_start_method() == "spawn"
        assert multiprocessing.get_start_method(allow_none=True) == "forkserver"
    finally:
        default._actual_context = saved


def test_get_or_set_context_with_executable(tmp_path):
    interpreter = tmp_path / "python-for-workers"
    interpreter.symlink_to(os.path.realpath(sys.executable))
    start_before = multiprocessing.get_start_method(allow_none=True)
    executable_before = spawn.get_executable()
    context = get_or_set_context("spawn", executable=str(interpreter))
    assert context.get_start_method() == "spawn"
    assert multiprocessing.get_start_method(allow_none=True) == start_before
    queue = context.Queue()
    process = context.Process(target=tasks.report_executable, args=(queue,))
    process.start()
    reported = queue.get(timeout=60)
    process.join(timeout=30)
    assert process.exitcode == 0
    assert reported == str(interpreter)
    assert spawn.get_executable() == executable_before
    # processes of the plain spawn context still use the caller's interpreter
    plain = multiprocessing.get_context("spawn")
    queue = plain.Queue()
    process = plain.Process(target=tasks.report_executable, args=(queue,))
    process.start()
    assert queue.get(timeout=60) == sys.executable
    process.join(timeout=30)


def test_get_or_set_context_executable_errors(tmp_path):
    with pytest.raises(ValueError, match="spawn"):
        get_or_set_context("fork", executable=sys.executable)
    with pytest.raises(FileNotFoundError):
        get_or_set_context("spawn", executable=str(tmp_path / "no-python"))


def test_timed_task():
    with TimedTask() as timer:
        time.sleep(0.02)
        first = timer.new_lab()
        time.sleep(0.01)
        timer.new_lab()
    assert timer.get_duration() >= 0.03
    assert len(timer.laps) == 2 and first >= 0.02
    assert timer.labs == timer.laps  # the GeoRacoon package's name
    assert sum(timer.laps) <= timer.get_duration()
    assert TimedTask().get_duration() is None


@pytest.mark.parametrize("nodata", [0.1, np.float64(0.1), np.float32(0.1)])
def test_reduced_mask_compares_in_the_data_type_like_gdal(make_raster, nodata):
    """A float32 raster with nodata 0.1: every spelling of 0.1 masks what GDAL masks."""
    import rasterio

    data = np.array([[[0.1, 1.0, 0.1], [2.0, 0.1, 3.0]]], dtype=np.float32)
    path = make_raster(data=data, nodata=0.1)
    with rasterio.open(path) as src:
        gdal_mask = src.read_masks(1)
        values = src.read()
    assert gdal_mask.tolist() == [[0, 255, 0], [255, 0, 255]]
    assert np.array_equal(reduced_mask(values, nodata) != 0, gdal_mask != 0)


def test_reduced_mask_shapes():
    band = np.array([[0, 3], [4, 0]], dtype=np.int16)
    assert reduced_mask(band, 0).tolist() == [[0, 1], [1, 0]]  # 2-D: one band
    with pytest.raises(ValueError):
        reduced_mask(np.zeros(4), 0)
    with pytest.raises(ValueError, match="shape"):
        reduced_mask(np.zeros((2, 3, 4)), 0, tasks.band_sum_first_row)
