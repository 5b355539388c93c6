"""Where blocks run: threads by default for the built-in jobs, processes for Python
callables, a Pool kept for several runs, a caller's ThreadPoolExecutor."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
import rasterio.env

from riogrande import Pool, write_mask, write_selector
from riogrande.io import handles
from riogrande.io.exceptions import BlockProcessingError
from riogrande.io.models import Band, Source
from riogrande.parallel import compute_mask, prepare_selector

from . import tasks
from .reference import mask_reference, selector_reference
from .test_runner import assert_no_orphans, time_limit, worker_processes


@pytest.fixture
def raster(make_raster):
    return make_raster(width=300, height=200, count=3, dtype="int16", nodata=-1,
                       block=(32, 32))


def read_mask(path):
    with rasterio.open(path) as src:
        return src.read(1)


def seen_during_run():
    """A progress callback recording the worker processes and threads it sees."""
    seen = {"processes": set(), "threads": set()}

    def progress(done, total):
        seen["processes"].update(child.pid for child in worker_processes())
        seen["threads"].update(thread.name for thread in threading.enumerate()
                               if thread.name.startswith("riogrande-worker"))
    return seen, progress


def test_built_in_jobs_run_in_threads_by_default(raster, tmp_path):
    seen, progress = seen_during_run()
    write_mask(raster, tmp_path / "m.tif", nodata=-1, block_size=(32, 32), nbrcpu=2,
               progress=progress)
    prepare_selector(*Source(raster).get_bands(), block_size=(32, 32), nbrcpu=2,
                     progress=progress)
    assert seen["processes"] == set()
    assert len(seen["threads"]) == 2


def test_a_python_logic_runs_in_processes_by_default(raster, tmp_path):
    seen, progress = seen_during_run()
    write_mask(raster, tmp_path / "m.tif", nodata=-1, logic=tasks.first_band_above,
               block_size=(32, 32), nbrcpu=2, progress=progress)
    assert len(seen["processes"]) == 2 and seen["threads"] == set()
    assert np.array_equal(read_mask(tmp_path / "m.tif"),
                          mask_reference(raster, -1, tasks.first_band_above))
    assert_no_orphans()


@pytest.mark.parametrize("options", [
    {"backend": "threads"}, {"backend": "processes"}, {"start_method": "spawn"},
    {"backend": "threads", "logic": tasks.first_band_above},
], ids=["threads", "processes", "spawn", "threads-callable"])
def test_every_backend_gives_the_reference(raster, tmp_path, options):
    logic = options.pop("logic", "any")
    compute_mask(raster, (48, 40), -1, logic, output=tmp_path / "m.tif", nbrcpu=2, **options)
    assert np.array_equal(read_mask(tmp_path / "m.tif"), mask_reference(raster, -1, logic))
    selector = prepare_selector(*Source(raster).get_bands(), block_size=(48, 40), nbrcpu=2,
                                **options)
    expected = selector_reference([(raster, bidx, "band") for bidx in (1, 2, 3)])
    assert np.array_equal(selector, expected)
    assert_no_orphans()


@pytest.mark.parametrize("options, message", [
    ({"backend": "threads", "start_method": "spawn"}, "apply to worker processes"),
    ({"backend": "greenlets"}, "unknown backend"),
    ({"backend": "threads", "executor": "later"}, "either executor="),
])
def test_conflicting_backend_options(raster, tmp_path, options, message):
    if options.get("executor") == "later":
        options["executor"] = ThreadPoolExecutor(1)
    with pytest.raises(ValueError, match=message):
        write_mask(raster, tmp_path / "m.tif", nodata=-1, **options)
    assert not (tmp_path / "m.tif").exists()


def test_thread_run_caps_gdal_cache_and_restores_it(raster, tmp_path):
    before = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
    during = []
    write_mask(raster, tmp_path / "m.tif", nodata=-1, block_size=(32, 32), nbrcpu=2,
               progress=lambda done, total: during.append(
                   rasterio.env.get_gdal_config("GDAL_CACHEMAX")))
    # 8 MB for each of the 2 threads and 8 MB for the writer, as bytes
    assert {int(value) for value in during} == {24 * 2**20}
    assert rasterio.env.get_gdal_config("GDAL_CACHEMAX") == before


def count_opens(monkeypatch, path):
    """Count, per thread, the opens of ``path`` in worker threads."""
    opens: dict[str, int] = {}
    real = handles.open_raster

    def counting(name, *args, **kwargs):
        thread = threading.current_thread().name
        if os.fspath(name) == os.fspath(path) and thread != "MainThread":
            opens[thread] = opens.get(thread, 0) + 1
        return real(name, *args, **kwargs)

    monkeypatch.setattr(handles, "open_raster", counting)
    return opens


@pytest.mark.parametrize("use", ["default", "ThreadPoolExecutor"])
def test_threads_open_each_file_once(raster, tmp_path, monkeypatch, use):
    """A worker thread opens the input once per run, not once per block (60 blocks)."""
    opens = count_opens(monkeypatch, raster)
    with ThreadPoolExecutor(2, thread_name_prefix="callers-pool") as executor:
        options = {"executor": executor} if use == "ThreadPoolExecutor" else {}
        report = write_mask(raster, tmp_path / "m.tif", nodata=-1, block_size=(32, 32),
                            nbrcpu=2, **options)
        selector = prepare_selector(*Source(raster).get_bands(), block_size=(32, 32),
                                    nbrcpu=2, **options)
    assert report.views == 70
    assert 1 <= len(opens) <= 2 and all(count <= 2 for count in opens.values())  # 2 runs
    assert np.array_equal(read_mask(tmp_path / "m.tif"), mask_reference(raster, -1, "all"))
    assert np.array_equal(selector, selector_reference(
        [(raster, bidx, "band") for bidx in (1, 2, 3)]))


def test_pool_keeps_its_workers_between_runs(raster, tmp_path):
    first, progress_first = seen_during_run()
    second, progress_second = seen_during_run()
    with time_limit(120), Pool(2) as pool:
        write_mask(raster, tmp_path / "a.tif", nodata=-1, block_size=(32, 32),
                   executor=pool, progress=progress_first)
        selector = prepare_selector(Band(raster, 2), block_size=(32, 32), executor=pool,
                                    progress=progress_second)
        assert len(first["processes"]) == 2 and first["processes"] == second["processes"]
    assert_no_orphans()
    assert np.array_equal(read_mask(tmp_path / "a.tif"), mask_reference(raster, -1, "all"))
    assert np.array_equal(selector, selector_reference([(raster, 2, "band")]))


def test_pool_reads_a_file_changed_between_runs(make_raster, tmp_path):
    """Datasets are not kept open across runs: the second run sees the new pixels."""
    path = make_raster("changing.tif", width=64, height=64, count=1, dtype="uint8",
                       nodata=0, block=(32, 32))
    with Pool(2) as pool:
        write_mask(path, tmp_path / "a.tif", block_size=(32, 32), executor=pool)
        with rasterio.open(path, "r+") as dst:
            dst.write(np.zeros((1, 64, 64), np.uint8))
        write_mask(path, tmp_path / "b.tif", block_size=(32, 32), executor=pool)
    assert read_mask(tmp_path / "b.tif").sum() == 0
    assert read_mask(tmp_path / "a.tif").sum() > 0


@pytest.mark.parametrize("backend", ["processes", "threads"])
def test_pool_recovers_from_a_failed_run(raster, tmp_path, backend):
    with time_limit(120), Pool(2, backend=backend) as pool:
        with pytest.raises(BlockProcessingError):
            write_mask(raster, tmp_path / "bad.tif", nodata=-1, block_size=(8, 8),
                       logic=tasks.fail_on_narrow_block, executor=pool)
        assert_no_orphans() if backend == "processes" else None
        write_mask(raster, tmp_path / "good.tif", nodata=-1, block_size=(32, 32),
                   executor=pool)
    assert not (tmp_path / "bad.tif").exists()
    assert np.array_equal(read_mask(tmp_path / "good.tif"), mask_reference(raster, -1, "all"))
    assert_no_orphans()


def test_write_selector_on_a_thread_pool(raster, tmp_path):
    with Pool(2, backend="threads") as pool:
        write_selector(*Source(raster).get_bands(), output=tmp_path / "s.tif",
                       block_size=(64, 64), executor=pool)
    expected = selector_reference([(raster, bidx, "band") for bidx in (1, 2, 3)])
    assert np.array_equal(read_mask(tmp_path / "s.tif"), expected.astype(np.uint8))
