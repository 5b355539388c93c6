"""The same block tasks on a Dask distributed cluster and on a caller's executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from riogrande.aggregators import fill_matrix
from riogrande.io.exceptions import BlockProcessingError, RunCancelledError
from riogrande.io.models import Band, Source
from riogrande.masking import selector_array, write_mask, write_selector
from riogrande.prepare import create_views
from riogrande.runner import run_views
from riogrande.workers import block_jobs, process_block
from tests.reference import leftovers, mask_reference, read_all, selector_reference

distributed = pytest.importorskip("distributed")


def kill_worker_once(data: np.ndarray, marker: str, target: tuple) -> np.ndarray:
    """Return band 1; on the view starting at ``target``, kill this worker the first time."""
    if data.shape[1:] and not os.path.exists(marker) and target == (data.shape[1], 0):
        with open(marker, "w"):
            pass
        os.kill(os.getpid(), signal.SIGKILL)
    return np.asarray(data[0])


def raise_on_offset(data: np.ndarray, rows: int) -> np.ndarray:
    """Return band 1; raise for blocks of ``rows`` rows."""
    if data.shape[1] == rows:
        raise ValueError("broken block")
    return np.asarray(data[0])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture
def raster(make_raster) -> Path:
    return make_raster(width=301, height=203, count=3, nodata=-9999.0, block=(64, 64))


def test_mask_on_dask_equals_local_pool(client, raster, tmp_path):
    on_dask = write_mask(raster, tmp_path / "dask.tif", nodata=-9999.0, logic="any",
                         block_size=(70, 50), executor=client)
    local = write_mask(raster, tmp_path / "local.tif", nodata=-9999.0, logic="any",
                       block_size=(70, 50), nbrcpu=2)
    expected = mask_reference(raster, -9999.0, "any")
    assert np.array_equal(read_all(on_dask.output)[0], expected)
    assert np.array_equal(read_all(local.output)[0], expected)
    assert (on_dask.valid, on_dask.masked) == (local.valid, local.masked)


def test_selector_on_dask_equals_local_pool(client, raster, make_raster, tmp_path):
    extra = make_raster(width=301, height=203, count=1, dtype="uint8", seed=5)
    bands = Source(raster).get_bands()
    bands[1].set_mask_reader("source")
    on_dask, _ = selector_array(*bands, extra_masking_band=Band(extra, 1), executor=client)
    local, _ = selector_array(*bands, extra_masking_band=Band(extra, 1), nbrcpu=2)
    expected = selector_reference([(raster, 1, "band"), (raster, 2, "source"),
                                   (raster, 3, "band")], extra=(extra, 1))
    assert np.array_equal(on_dask, expected)
    assert np.array_equal(local, expected)
    streamed = write_selector(*bands, output=tmp_path / "sel.tif",
                              extra_masking_band=Band(extra, 1), executor=client)
    assert np.array_equal(read_all(streamed.output)[0], expected.astype(np.uint8))


def test_task_exception_on_a_dask_worker_names_the_view(client, raster):
    views, _ = create_views((301, 50), (0, 0), (301, 203))
    jobs = block_jobs(raise_on_offset, raster, views, task_params={"rows": 3})
    matrix = np.zeros((203, 301), dtype="float32")
    with pytest.raises(BlockProcessingError) as caught:
        run_views(process_block, jobs, partial(fill_matrix, matrix), executor=client)
    assert caught.value.view == (0, 200, 301, 3)
    assert "(0, 200, 301, 3)" in str(caught.value)
    assert "broken block" in str(caught.value)


def test_worker_killed_mid_run_loses_and_duplicates_nothing(client, raster, tmp_path):
    views, _ = create_views((301, 40), (0, 0), (301, 203))
    marker = str(tmp_path / "killed-once")
    jobs = block_jobs(kill_worker_once, raster, views,
                      task_params={"marker": marker, "target": (40, 0)})
    received: list[tuple] = []
    matrix = np.zeros((203, 301), dtype="float32")
    run_views(process_block, jobs, partial(fill_matrix, matrix), executor=client,
              on_message=lambda message: received.append(message["view"]))
    assert os.path.exists(marker), "the worker was not killed: the test proves nothing"
    assert sorted(received) == sorted(views)
    assert np.array_equal(matrix, read_all(raster, [1])[0])


def test_any_concurrent_futures_executor(raster, tmp_path):
    with ProcessPoolExecutor(2) as executor:
        report = write_mask(raster, tmp_path / "pool.tif", nodata=-9999.0, executor=executor)
        assert executor.submit(int, "7").result() == 7  # the caller's executor stays usable
    assert np.array_equal(read_all(report.output)[0], mask_reference(raster, -9999.0, "all"))


def test_progress_with_dask(client, raster, tmp_path):
    calls: list[tuple[int, int]] = []
    write_mask(raster, tmp_path / "p.tif", nodata=-9999.0, block_size=(64, 64),
               executor=client, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 20) and calls[-1] == (20, 20)
    assert [done for done, _ in calls] == list(range(21))


def test_cancel_with_dask(client, raster, tmp_path):
    calls: list[int] = []
    with pytest.raises(RunCancelledError):
        write_mask(raster, tmp_path / "c.tif", nodata=-9999.0, block_size=(32, 32),
                   executor=client, progress=lambda done, total: calls.append(done),
                   cancel=lambda: len(calls) > 2)
    assert not (tmp_path / "c.tif").exists()
    assert leftovers(tmp_path) == []


def test_importing_riogrande_never_imports_dask():
    code = ("import sys, riogrande, riogrande.parallel, riogrande.runner, riogrande.pool; "
            "sys.exit(1 if {'dask', 'distributed'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_workers_read_a_gdal_virtual_path(client, raster, tmp_path):
    archive = tmp_path / "raster.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(raster, "inside.tif")
    virtual = f"/vsizip/{archive}/inside.tif"
    report = write_mask(virtual, tmp_path / "from-zip.tif", nodata=-9999.0, executor=client)
    assert np.array_equal(read_all(report.output)[0], mask_reference(raster, -9999.0, "all"))


def test_remote_inputs_on_dask_with_the_callers_credentials(client, raster, tmp_path):
    """An s3:// raster read by the cluster's workers, the credentials given by the caller."""
    import rasterio
    from rasterio.session import AWSSession

    from tests.servers import S3Server

    with S3Server() as server:
        bucket = server.client()
        bucket.create_bucket(Bucket="rasters")
        bucket.upload_file(str(raster), "rasters", "scene.tif")
        endpoint = {key: server.gdal_env()[key]
                    for key in ("AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING")}
        session = AWSSession(aws_access_key_id=server.key_id,
                             aws_secret_access_key=server.secret, region_name="us-east-1")
        # the workers started before: everything reaches them from the caller's Env
        with rasterio.Env(session=session, **endpoint):
            report = write_mask("s3://rasters/scene.tif", tmp_path / "dask.tif",
                                nodata=-9999.0, logic="any", block_size=(70, 50),
                                executor=client)
            selector, _ = selector_array(*Source("s3://rasters/scene.tif").get_bands(),
                                         executor=client)
    assert np.array_equal(read_all(report.output)[0], mask_reference(raster, -9999.0, "any"))
    assert np.array_equal(selector, selector_reference([(raster, bidx, "band")
                                                        for bidx in (1, 2, 3)]))
