"""The engine differences the page "Differences from the GeoRacoon package" lists."""

from __future__ import annotations

import multiprocessing
import time
import warnings

import numpy as np
import pytest

from riogrande.helper import aggregated_selector, get_nbr_workers, get_or_set_context, reduced_mask
from riogrande.io import Band
from riogrande.io.exceptions import UnsupportedLogicError
from riogrande.parallel import compute_mask, prepare_selector
from riogrande.prepare import create_views, relative_view
from riogrande.timing import TimedTask

from .reference import mask_reference, read_all


@pytest.mark.parametrize("number", [1, 2, 3])
def test_one_worker_is_enough_and_nothing_warns(number):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_nbr_workers(number) == number
        assert get_nbr_workers(0) == get_nbr_workers(-4) == 1


def test_one_worker_runs_both_jobs(make_raster, tmp_path):
    path = make_raster(count=2, dtype="int16", nodata=-9999)
    output = tmp_path / "mask.tif"
    compute_mask(path, (20, 20), -9999, "any", output=output, nbrcpu=1)
    assert np.array_equal(read_all(output)[0], mask_reference(path, -9999, "any"))
    selector = prepare_selector(Band(path, 1), Band(path, 2), block_size=(20, 20), nbrcpu=1)
    assert np.array_equal(selector, mask_reference(path, -9999, "any") != 0)


@pytest.mark.parametrize("method", ["spawn", "forkserver", None])
def test_the_global_start_method_is_never_set(method, make_raster, tmp_path):
    assert multiprocessing.get_start_method(allow_none=True) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = get_or_set_context(method)
        assert context.get_start_method() == (method or "spawn")
        path = make_raster(count=1, dtype="uint8", nodata=0)
        compute_mask(path, (32, 32), 0, output=tmp_path / "m.tif", nbrcpu=2,
                     start_method=method)
    assert not [w for w in caught if "start method" in str(w.message).lower()
                or issubclass(w.category, RuntimeWarning)]
    assert multiprocessing.get_start_method(allow_none=True) is None


def test_create_views_order_row_by_row_narrow_last():
    views, inner_views = create_views((5, 5), (0, 0), (12, 12))
    assert inner_views[:3] == [(0, 0, 5, 5), (5, 0, 5, 5), (10, 0, 2, 5)]
    assert [view[0] for view in inner_views] == [0, 5, 10] * 3
    assert [view[1] for view in inner_views] == [0] * 3 + [5] * 3 + [10] * 3
    assert views == inner_views


def test_create_views_borders_stay_inside_and_are_complete():
    views, inner_views = create_views((5, 5), (1, 1), (12, 12))
    for view, inner in zip(views, inner_views, strict=True):
        x, y, w, h = view
        assert x >= 0 and y >= 0 and x + w <= 12 and y + h <= 12
        ix, iy, iw, ih = inner
        assert x == max(0, ix - 1) and y == max(0, iy - 1)
        assert x + w == min(12, ix + iw + 1) and y + h == min(12, iy + ih + 1)
        rx, ry, rw, rh = relative_view(view, inner)
        assert (rw, rh) == (iw, ih) and rx + rw <= w and ry + rh <= h
    assert create_views((5, 5), (0, 0), (3, 3)) == ([(0, 0, 3, 3)], [(0, 0, 3, 3)])
    assert len(create_views((8, 9), (2, 3), (30, 9))[0]) == 4


@pytest.mark.parametrize("logic", ["ALL", "every", "", "or"])
def test_unknown_logic_is_an_error(logic):
    data = np.zeros((2, 3, 3))
    for _ in range(3):
        with pytest.raises(UnsupportedLogicError):
            reduced_mask(data, 0, logic)
        with pytest.raises(UnsupportedLogicError):
            aggregated_selector([data[0], data[1]], logic)


def test_compute_mask_accepts_a_path(make_raster, tmp_path):
    path = make_raster(count=2, dtype="uint8", nodata=0)
    compute_mask(path, (16, 16), 0, "all", output=tmp_path / "m.tif", nbrcpu=1)
    assert np.array_equal(read_all(tmp_path / "m.tif")[0], mask_reference(path, 0, "all"))


def test_timed_task_laps():
    with TimedTask() as timer:
        time.sleep(0.01)
        first = timer.new_lab()
        inside = timer.get_duration()
        time.sleep(0.01)
        second = timer.new_lab()
    assert timer.laps[:2] == [first, second]
    assert first > 0 and second > 0 and 0 < inside < timer.get_duration()
    # increments, not clock readings: together no longer than the whole task
    assert sum(timer.laps) <= timer.get_duration()
