"""Rasters over HTTP and in object storage: the same results as local files, faults never wrong.

Every server is started by the test on 127.0.0.1 (:mod:`tests.servers`): an
HTTP range server with latency and injected faults, and moto's S3 server
with fake credentials. Results are compared with the same job on the local
file, byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_array_equal
from rasterio.session import AWSSession

import riogrande
from riogrande.cli.main import cli
from riogrande.errors import OutputError, SourceError
from riogrande.io.models import Band, Source
from riogrande.io.remote import redact

from .conftest import write_raster
from .reference import leftovers
from .servers import RangeServer, S3Server, environment
from .test_runner import assert_no_orphans, time_limit

NODATA = -9999.0
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def scene(path: Path, size: int = 256, tile: int = 64, sparse: bool = False) -> Path:
    """A 3-band float32 raster with nodata holes, tiled; ``sparse``: half its tiles absent."""
    rng = np.random.default_rng(5)
    data = rng.uniform(1, 100, (3, size, size)).astype("float32")
    data[:, rng.random((size, size)) < 0.1] = NODATA
    data[1, :, : size // 3] = NODATA
    if sparse:  # every other tile entirely nodata: GDAL leaves it out of the file
        for row in range(0, size, tile):
            for col in range(0, size, tile):
                if (row // tile + col // tile) % 2:
                    data[:, row:row + tile, col:col + tile] = NODATA
    write_raster(path, data, nodata=NODATA, block=(tile, tile))
    if sparse:
        with rasterio.open(path) as src:
            profile = {**src.profile, "sparse_ok": True}
        copy = path.with_name("sparse_" + path.name)
        with rasterio.open(copy, "w", **profile) as dst:
            dst.write(data)
        shutil.move(copy, path)
    return path


@pytest.fixture
def local(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    return scene(folder / "scene.tif")


@pytest.fixture
def http(local):
    with RangeServer(local.parent) as server:
        yield server


@pytest.fixture
def s3(local):
    with S3Server() as server:
        client = server.client()
        client.create_bucket(Bucket="rasters")
        client.upload_file(str(local), "rasters", "in/scene.tif")
        with environment(server.gdal_env()):
            yield server


def same_file(first: Path, second: Path) -> None:
    """The same pixels, masks and georeferencing (GDAL's reading of both files)."""
    with rasterio.open(first) as one, rasterio.open(second) as two:
        assert (one.profile["dtype"], one.count, one.crs, one.transform) == (
            two.profile["dtype"], two.count, two.crs, two.transform)
        assert_array_equal(one.read(), two.read())
        assert_array_equal(one.dataset_mask(), two.dataset_mask())


@pytest.mark.parametrize("spelling", ["url", "vsicurl"])
def test_jobs_read_urls(local, http, tmp_path, spelling):
    url = http.url("scene.tif")
    name = url if spelling == "url" else f"/vsicurl/{url}"
    for kind in ("mask", "selector", "apply"):
        remote_out, local_out = tmp_path / f"remote_{kind}.tif", tmp_path / f"local_{kind}.tif"
        for source, out in ((name, remote_out), (local, local_out)):
            if kind == "mask":
                riogrande.write_mask(source, out, nodata=NODATA, logic="any")
            elif kind == "selector":
                riogrande.write_selector(*Source(source).get_bands(), output=out)
            else:
                riogrande.apply(np.negative, source, out, backend="threads")
        same_file(remote_out, local_out)
    selector = riogrande.prepare_selector(Band(name, 1), Band(name, 3))
    assert_array_equal(selector, riogrande.prepare_selector(Band(local, 1), Band(local, 3)))


def test_s3_inputs_and_outputs(local, s3, tmp_path):
    client = s3.client()
    riogrande.write_mask("s3://rasters/in/scene.tif", "s3://rasters/out/mask.tif",
                         nodata=NODATA)
    riogrande.write_mask("s3://rasters/in/scene.tif", "s3://rasters/out/cog.tif",
                         nodata=NODATA, cog=True)
    riogrande.write_mask("s3://rasters/in/scene.tif", "s3://rasters/out/kept.tif",
                         nodata=NODATA, encoding="nodata", keep_values=True)
    riogrande.write_mask(local, tmp_path / "mask.tif", nodata=NODATA)
    riogrande.write_mask(local, tmp_path / "kept.tif", nodata=NODATA, encoding="nodata",
                         keep_values=True)
    for key, reference in (("out/mask.tif", "mask.tif"), ("out/cog.tif", "mask.tif"),
                           ("out/kept.tif", "kept.tif")):
        downloaded = tmp_path / key.replace("/", "_")
        client.download_file("rasters", key, str(downloaded))
        with rasterio.open(downloaded) as one, rasterio.open(tmp_path / reference) as two:
            assert_array_equal(one.read(), two.read())
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket="rasters")["Contents"])
    assert keys == ["in/scene.tif", "out/cog.tif", "out/kept.tif", "out/mask.tif"]


def test_credentials_of_a_callers_env_reach_worker_processes(local, s3, tmp_path):
    settings = s3.gdal_env()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.pop(key)
    with pytest.raises(SourceError):
        riogrande.write_mask("s3://rasters/in/scene.tif", tmp_path / "no.tif", nodata=NODATA)
    session = AWSSession(aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"])
    with rasterio.Env(session=session):
        report = riogrande.apply(np.negative, "s3://rasters/in/scene.tif",
                                 tmp_path / "processes.tif", backend="processes", nbrcpu=2)
    riogrande.apply(np.negative, local, tmp_path / "local.tif", backend="threads")
    same_file(report.output, tmp_path / "local.tif")
    assert not (tmp_path / "no.tif").exists()


@pytest.mark.parametrize("problem", ["missing key", "no bucket", "wrong secret",
                                     "unreachable host"])
def test_bad_remote_inputs_are_clear_errors(s3, tmp_path, problem):
    name = "s3://rasters/in/scene.tif"
    settings = {}
    if problem == "missing key":
        name = "s3://rasters/in/missing.tif"
    elif problem == "no bucket":
        name = "s3://nobucket/scene.tif"
    elif problem == "wrong secret":
        settings = {"AWS_SECRET_ACCESS_KEY": "riogrande-wrong-secret"}
    else:
        settings = {"AWS_S3_ENDPOINT": "127.0.0.1:9", "GDAL_HTTP_MAX_RETRY": "0"}
    with environment(settings), time_limit(60):
        with pytest.raises(SourceError) as caught:
            riogrande.write_mask(name, tmp_path / "m.tif", nodata=NODATA)
        result = CliRunner().invoke(cli, ["mask", name, "-o", str(tmp_path / "m.tif"), "-q"])
    assert name in str(caught.value) and "riogrande-wrong-secret" not in str(caught.value)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and name in lines[0]
    assert s3.secret not in result.output and leftovers(tmp_path) == []


def test_no_secret_in_messages_or_logs_even_with_debug(s3, tmp_path):
    signed = "https://127.0.0.1:9/a.tif?X-Amz-Signature=f00dcafe&X-Amz-Credential=k3y"
    assert "f00dcafe" not in redact(f"cannot open {signed}") and "k3y" not in redact(signed)
    assert redact("https://user:p4ss@host/a.tif") == "https://***@host/a.tif"
    done = subprocess.run(
        [sys.executable, "-m", "riogrande.cli", "-vv", "mask", "s3://rasters/in/scene.tif",
         "-o", "s3://rasters/out/debug.tif", "--nodata", str(NODATA)],
        capture_output=True, text=True, timeout=120, env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert "DEBUG" in done.stderr  # the logs were on
    assert s3.secret not in done.stderr + done.stdout
    assert s3.key_id not in done.stderr + done.stdout


def test_remote_output_over_http_is_refused(local, http, tmp_path):
    with pytest.raises(OutputError, match="object storage"):
        riogrande.write_mask(local, http.url("out.tif"), nodata=NODATA)


def test_a_failed_run_leaves_no_object_under_the_key(s3, tmp_path):
    client = s3.client()

    def fails_late(data):
        if data.shape[-1] < 64:
            raise ValueError("a failing block")
        return data[0]

    for _ in range(5):
        with pytest.raises(riogrande.errors.BlockProcessingError):
            riogrande.apply(fails_late, "s3://rasters/in/scene.tif", "s3://rasters/out/f.tif",
                            block_size=(60, 60), backend="threads")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket="rasters")["Contents"]]
    assert keys == ["in/scene.tif"]
    assert_no_orphans()


def test_cli_reads_and_writes_object_storage(local, s3, tmp_path):
    done = CliRunner().invoke(cli, ["mask", "s3://rasters/in/scene.tif", "-o",
                                    "s3://rasters/out/cli.tif", "--nodata", str(NODATA), "-q"])
    assert done.exit_code == 0, done.output
    client = s3.client()
    client.download_file("rasters", "out/cli.tif", str(tmp_path / "cli.tif"))
    riogrande.write_mask(local, tmp_path / "local.tif", nodata=NODATA)
    same_file(tmp_path / "cli.tif", tmp_path / "local.tif")
    done = CliRunner().invoke(cli, ["mask", "s3://rasters/in/scene.tif", "-o",
                                    "s3://rasters/out/cli.tif", "-q"])
    assert done.exit_code == 2 and "already exists" in done.output
