"""Custom pipelines built from the seed's building blocks, as a user writes them."""

from __future__ import annotations

import queue
import threading
from functools import partial

import numpy as np
import rasterio
from numpy.lib.stride_tricks import sliding_window_view

from riogrande.helper import aggregated_selector, get_or_set_context, reduced_mask
from riogrande.io.models import Band, Source
from riogrande.parallel import (
    combine_views,
    data_writer,
    fill_matrix,
    process_block,
    process_masks,
    runner_call,
)
from riogrande.prepare import create_views
from riogrande.runner import run_views
from riogrande.timing import TimedTask

from . import tasks
from .conftest import file_sha256
from .reference import mask_reference, read_all, selector_reference


def focal_mean_reference(band):
    """3x3 mean over existing neighbours, by sliding windows over a NaN-padded array."""
    padded = np.pad(np.asarray(band, dtype=np.float64), 1, constant_values=np.nan)
    return np.nanmean(sliding_window_view(padded, (3, 3)), axis=(-2, -1))


def ratio_reference(data):
    a, b = data[0].astype(np.float64), data[1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a - b) / (a + b)
    return np.where(a + b == 0, 0.0, out)


def float_profile(path):
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(count=1, dtype="float64", nodata=None, tiled=True, blockxsize=32,
                   blockysize=32, compress="deflate")
    return profile


def test_focal_mean_with_border_into_file(make_raster, tmp_path):
    path = make_raster(width=131, height=77, count=2, dtype="int16", block=(32, 32))
    digest = file_sha256(path)
    source = Source(path)
    views, inner_views = create_views((40, 30), (1, 1), (131, 77))
    jobs = [
        {"task": tasks.focal_mean, "source": source, "bands": [1], "view": view,
         "task_params": {}, "read_params": {}, "open_params": {}, "inner_view": inner}
        for view, inner in zip(views, inner_views, strict=True)
    ]
    output = tmp_path / "focal.tif"
    timer = run_views(process_block, jobs,
                      partial(combine_views, {"output_file": output,
                                              "profile": float_profile(path), "band": 1,
                                              "tags": {"task": "focal_mean"}}),
                      nbrcpu=2, start_method="spawn")
    assert isinstance(timer, TimedTask)
    expected = focal_mean_reference(read_all(path)[0])
    with rasterio.open(output) as out:
        result = out.read(1)
        assert out.transform == source.profile["transform"]
    assert np.allclose(result, expected, rtol=0, atol=1e-9)
    assert Source(output).get_tags(1) == {"task": "focal_mean"}
    assert file_sha256(path) == digest


def test_focal_mean_without_border_differs_at_block_edges(make_raster):
    """The border is what makes blocks agree with the whole array (the test can fail)."""
    path = make_raster(width=60, height=40, count=1, dtype="float32", block=(16, 16))
    views, _ = create_views((20, 20), (0, 0), (60, 40))
    jobs = [{"task": tasks.focal_mean, "source": path, "bands": [1], "view": view,
             "task_params": {}, "read_params": {}, "open_params": {}} for view in views]
    matrix = np.zeros((40, 60))
    run_views(process_block, jobs, partial(fill_matrix, matrix), nbrcpu=1)
    expected = focal_mean_reference(read_all(path)[0])
    inside = np.ones_like(matrix, dtype=bool)
    inside[[19, 20], :] = False
    inside[:, [19, 20, 39, 40]] = False
    assert np.allclose(matrix[inside], expected[inside])
    assert not np.allclose(matrix, expected)


def test_band_ratio_into_array(make_raster):
    path = make_raster(width=90, height=55, count=3, dtype="uint8", fill=0, block=(16, 16))
    views, _ = create_views((25, 20), (0, 0), (90, 55))
    jobs = [{"task": tasks.band_ratio, "source": Source(path), "bands": [3, 1], "view": view,
             "task_params": {"first": 0, "second": 1}, "read_params": {}, "open_params": {}}
            for view in views]
    matrix = np.full((55, 90), np.nan)
    filled, (timer,) = run_views(process_block, jobs, partial(fill_matrix, matrix),
                                 nbrcpu=2)
    assert filled is matrix
    assert isinstance(timer, TimedTask)
    assert np.allclose(matrix, ratio_reference(read_all(path, [3, 1])))


def test_data_writer_into_band_of_new_file(make_raster, tmp_path):
    path = make_raster(width=70, height=45, count=3, dtype="float32")
    output = Band(tmp_path / "sum.tif", 2)
    output.init_source(float_profile(path))
    views, _ = create_views((32, 16), (0, 0), (70, 45))
    jobs = [{"task": tasks.band_sum, "source": path, "bands": None, "view": view,
             "task_params": {}, "read_params": {}, "open_params": {}} for view in views]
    run_views(process_block, jobs, partial(data_writer, output.data_writer, {}), nbrcpu=2)
    assert np.allclose(output.get_data(), read_all(path).astype(np.float64).sum(axis=0))
    assert np.all(Band(output.source, 1).get_data() == 0)


def test_runner_call():
    out_q: queue.Queue = queue.Queue()
    result = runner_call(out_q, pow, {"base": 2, "exp": 3}, wrapper=lambda v: {"data": v})
    assert result == 8 and out_q.get_nowait() == {"data": 8}
    assert runner_call(out_q, dict, {"a": 1}) == {"a": 1}
    assert out_q.get_nowait() == {"a": 1}


# ------------------------------------------------------- the seed's style, by hand


def test_seed_style_pool_manager_queue(make_raster, tmp_path):
    """Pool.starmap(process_block) into a Manager queue, combine_views in a process."""
    path = make_raster(width=83, height=59, count=3, dtype="int16", nodata=-9999,
                       block=(16, 16))
    source = Source(path)
    views, _ = create_views((30, 20), (0, 0), (83, 59))
    output = tmp_path / "mask.tif"
    profile = dict(source.profile, count=1, dtype="uint8", nodata=None)
    context = get_or_set_context("spawn")
    with context.Manager() as manager:
        out_q = manager.Queue()
        writer = context.Process(target=combine_views,
                                 args=({"output_file": str(output), "profile": profile,
                                        "band": 1}, out_q))
        writer.start()
        with context.Pool(2) as pool:
            pool.starmap(process_block, [
                (reduced_mask, source, source.get_bands(), view,
                 {"nodata": -9999, "logic": "any"}, {}, {}, out_q)
                for view in views])
        out_q.put({"signal": "kill"})
        writer.join(timeout=60)
    assert writer.exitcode == 0
    assert np.array_equal(read_all(output)[0], mask_reference(path, -9999, "any"))


def test_seed_style_masks_and_internal_mask(make_raster):
    """process_masks + fill_matrix in a thread; process_block + data_writer(mask_writer)."""
    path = make_raster(width=77, height=41, count=2, dtype="float32", nodata=-9999.0,
                       block=(16, 16))
    source = Source(path)
    bands = source.get_bands()
    bands[1].set_mask_reader("mask_none")
    views, _ = create_views((20, 20), (0, 0), (77, 41))
    expected_selector = selector_reference([(path, 1, "band"), (path, 2, "mask_none")])
    expected_mask = mask_reference(path, -9999.0, "all")
    context = get_or_set_context("spawn")
    matrix = np.zeros((41, 77), dtype=bool)
    with context.Manager() as manager:
        aggr_q = manager.Queue()
        result = {}
        thread = threading.Thread(target=lambda: result.update(out=fill_matrix(matrix, aggr_q)))
        thread.start()
        with context.Pool(2) as pool:
            pool.starmap(process_masks, [
                (aggregated_selector, bands, view, {"logic": "all"}, {}, {}, aggr_q)
                for view in views])
        aggr_q.put({"signal": "kill"})
        thread.join(timeout=60)
        assert result["out"][0] is matrix

        out_q = manager.Queue()
        writer = threading.Thread(target=data_writer, args=(source.mask_writer, {}, out_q))
        writer.start()
        with context.Pool(2) as pool:
            pool.starmap(process_block, [
                (reduced_mask, source, None, view, {"nodata": -9999.0, "logic": "all"},
                 {}, {}, out_q) for view in views])
        out_q.put({"signal": "kill"})
        writer.join(timeout=60)
    assert np.array_equal(matrix, expected_selector)
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask() != 0, expected_mask != 0)


def test_process_block_and_process_masks_in_process(make_raster):
    """The workers also run in the calling process with any queue."""
    path = make_raster(width=40, height=30, count=2, dtype="uint8", nodata=0)
    out_q: queue.Queue = queue.Queue()
    view, inner = (9, 4, 12, 10), (10, 5, 10, 8)
    timer = process_block(tasks.band_sum, path, [1, 2], view, None, None, None, out_q,
                          inner_view=inner)
    assert isinstance(timer, TimedTask) and timer.get_duration() >= 0
    message = out_q.get_nowait()
    data = read_all(path).astype(np.float64).sum(axis=0)
    assert message["view"] == inner
    assert np.array_equal(message["data"], data[5:13, 10:20])
    extra = Band(path, 2)
    process_masks(aggregated_selector, [Band(path, 1)], view, {}, {}, {}, out_q,
                  extra_masking_band=extra)
    message = out_q.get_nowait()
    expected = selector_reference([(path, 1, "band")], (path, 2))
    assert message["view"] == view
    assert np.array_equal(message["data"], expected[4:14, 9:21])


def test_combine_views_updates_an_existing_file(make_raster, tmp_path):
    path = make_raster(width=50, height=30, count=2, dtype="int16")
    target = Source(tmp_path / "copy.tif")
    with rasterio.open(path) as src:
        target.init_source(**src.profile)
    views, inner_views = create_views((16, 16), (2, 3), (50, 30))
    jobs = [{"task": np.asarray, "source": path, "bands": None, "view": view,
             "task_params": {}, "read_params": {}, "open_params": {}, "inner_view": inner}
            for view, inner in zip(views, inner_views, strict=True)]
    run_views(process_block, jobs, partial(combine_views, {"output_file": target.name}),
              nbrcpu=2)
    assert np.array_equal(read_all(target.path), read_all(path))


SCRIPT = '''
import sys
from functools import partial

import numpy as np

from riogrande.io.models import Source
from riogrande.parallel import compute_mask, fill_matrix, process_block
from riogrande.prepare import create_views
from riogrande.runner import run_views


def doubled(data):
    return data[0] * 2.0


if __name__ == "__main__":
    source = Source(sys.argv[1])
    compute_mask(source, (32, 32), nodata=0, logic="any", output=sys.argv[2], nbrcpu=2)
    height, width = source.shape
    views, _ = create_views((32, 32), (0, 0), (width, height))
    jobs = [{"task": doubled, "source": source, "bands": [1], "view": view,
             "task_params": {}, "read_params": {}, "open_params": {}} for view in views]
    matrix = np.zeros((height, width))
    run_views(process_block, jobs, partial(fill_matrix, matrix), nbrcpu=2)
    np.save(sys.argv[3], matrix)
'''


def test_user_script_with_spawn(make_raster, tmp_path):
    """A plain script (task defined in __main__) run with the default spawn start."""
    import subprocess
    import sys

    path = make_raster("input.tif", width=70, height=50, count=2, dtype="uint8")
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "mask.tif"),
         str(tmp_path / "doubled.npy")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert np.array_equal(read_all(tmp_path / "mask.tif")[0], mask_reference(path, 0, "any"))
    assert np.array_equal(np.load(tmp_path / "doubled.npy"),
                          read_all(path)[0].astype(np.float64) * 2)
