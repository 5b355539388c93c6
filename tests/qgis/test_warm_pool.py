"""Worker processes kept warm between runs of the provider's algorithms in one QGIS session."""

from __future__ import annotations

import threading

import numpy as np
import psutil
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import QgsApplication, QgsProcessingException  # noqa: E402
from riogrande_qgis.provider import RiograndeProvider  # noqa: E402
from riogrande_qgis.warm_pool import WARM_POOL  # noqa: E402

from tests.qgis.test_cancel import worker_processes  # noqa: E402
from tests.reference import mask_reference, selector_reference  # noqa: E402


def read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


@pytest.fixture
def cold():
    WARM_POOL.close()
    assert worker_processes() == []
    yield
    WARM_POOL.close()


def test_second_run_reuses_the_workers(cold, make_raster, run_alg, tmp_path):
    source = make_raster(width=301, height=203, count=3, nodata=-9999.0)
    run_alg("riogrande:computemask", {"INPUT": str(source), "BLOCK_SIZE": 64, "WORKERS": 2,
                                      "OUTPUT": str(tmp_path / "a.tif")})
    first = {process.pid for process in worker_processes()}
    run_alg("riogrande:prepareselector", {"INPUT": str(source), "BLOCK_SIZE": 64,
                                          "WORKERS": 2, "OUTPUT": str(tmp_path / "b.tif")})
    assert len(first) == 2 and {process.pid for process in worker_processes()} == first
    np.testing.assert_array_equal(read(tmp_path / "a.tif"),
                                  mask_reference(source, -9999.0, "all"))
    np.testing.assert_array_equal(read(tmp_path / "b.tif"), selector_reference(
        [(source, bidx, "band") for bidx in (1, 2, 3)]).astype(np.uint8))
    WARM_POOL.close()
    _, alive = psutil.wait_procs(worker_processes(), timeout=5)
    assert alive == []


def test_unloading_the_provider_stops_the_workers(cold, make_raster, run_alg, tmp_path):
    source = make_raster(width=120, height=90, count=1, nodata=0.0)
    run_alg("riogrande:computemask", {"INPUT": str(source), "BLOCK_SIZE": 64, "WORKERS": 2,
                                      "OUTPUT": str(tmp_path / "a.tif")})
    workers = worker_processes()
    assert len(workers) == 2
    provider = RiograndeProvider()
    assert QgsApplication.processingRegistry().addProvider(provider) is False  # id taken
    provider.unload()
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []


def test_two_runs_at_once(cold, make_raster, run_alg, tmp_path):
    """One run has the warm pool, the other starts its own workers: both correct."""
    sources = [make_raster(f"s{index}.tif", width=640, height=480, count=2, nodata=0.0,
                           seed=index) for index in range(2)]
    outcome: dict[int, object] = {}

    def run(index: int) -> None:
        try:
            outcome[index] = run_alg("riogrande:computemask", {
                "INPUT": str(sources[index]), "BLOCK_SIZE": 64, "WORKERS": 2,
                "OUTPUT": str(tmp_path / f"m{index}.tif")})
        except QgsProcessingException as error:  # reported below
            outcome[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for index in range(2):
        assert isinstance(outcome[index], dict), outcome[index]
        np.testing.assert_array_equal(read(tmp_path / f"m{index}.tif"),
                                      mask_reference(sources[index], 0.0, "all"))
