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
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_array_equal
from rasterio.session import AWSSession

import riogrande
from riogrande.cli.main import cli
from riogrande.errors import BlockProcessingError, OutputError, RunCancelledError, SourceError
from riogrande.expression import calculate
from riogrande.io import remote
from riogrande.io.models import Band, Source
from riogrande.io.prefetch import CHUNK_BYTES, MERGED_GAP, TileIndex
from riogrande.io.remote import redact

from .conftest import file_sha256, write_raster
from .reference import leftovers, selector_reference
from .servers import FAULTS, Faults, RangeServer, S3Server, environment
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


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Failed requests and reads are tried again after milliseconds, not seconds."""
    monkeypatch.setattr(remote, "FIRST_PAUSE", 0.005)
    monkeypatch.setitem(remote.READ_SETTINGS, "GDAL_HTTP_RETRY_DELAY", "0.01")


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
    for kind in ("mask", "selector", "apply", "calc"):
        remote_out, local_out = tmp_path / f"remote_{kind}.tif", tmp_path / f"local_{kind}.tif"
        for source, out in ((name, remote_out), (local, local_out)):
            if kind == "mask":
                riogrande.write_mask(source, out, nodata=NODATA, logic="any")
            elif kind == "selector":
                riogrande.write_selector(*Source(source).get_bands(), output=out)
            elif kind == "apply":
                riogrande.apply(np.negative, source, out, backend="threads")
            else:
                calculate("a * 2 + b", {"a": source, "b": source}, out,
                                    backend="processes", nbrcpu=2)
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


def test_network_faults_never_give_a_wrong_pixel(tmp_path, monkeypatch):
    """2 % of the answers fail (503, 429, cut, short): 50 runs, each byte-identical.

    Every run's file is compared byte for byte with a run without faults
    (whose pixels are the local file's): the files name their source the
    same way, as the query of each run's URL is not written. The pauses
    between tries, GDAL's and riogrande's, are cut to 10 ms: what is tested
    is the pixels after a fault, not how long a try waits.
    """
    monkeypatch.setattr(remote, "FIRST_PAUSE", 0.01)
    quick_tries = {"gdal_settings": {"GDAL_HTTP_RETRY_DELAY": "0.01"}}
    folder = tmp_path / "served"
    folder.mkdir()
    source = scene(folder / "scene.tif", size=512, tile=32)
    riogrande.write_mask(source, tmp_path / "local.tif", nodata=NODATA, logic="any")
    with RangeServer(folder) as server, time_limit(600):
        riogrande.write_mask(server.url("scene.tif?run=clean"), tmp_path / "clean.tif",
                             nodata=NODATA, logic="any", block_size=(64, 64))
        same_file(tmp_path / "clean.tif", tmp_path / "local.tif")
        expected = file_sha256(tmp_path / "clean.tif")
        server.set_faults(Faults(rate=0.02, seed=17))
        for run in range(50):
            output = tmp_path / f"remote{run}.tif"
            # a name of its own per run: GDAL's cache of earlier runs is not reused
            riogrande.write_mask(server.url(f"scene.tif?run={run}"), output, nodata=NODATA,
                                 logic="any", block_size=(64, 64), **quick_tries)
            assert file_sha256(output) == expected, f"run {run}"
            output.unlink()
        traffic = server.traffic
    assert sum(traffic.faults.values()) >= 20, traffic.faults  # the faults did happen
    assert set(traffic.faults) == set(FAULTS)
    assert leftovers(tmp_path) == []


def failed_mask(interface: str, url: str, output: Path) -> str:
    """The error of a mask run of ``url`` that must fail, by the library or the CLI (exit 1)."""
    if interface == "library":
        with pytest.raises((SourceError, BlockProcessingError)) as caught:
            riogrande.write_mask(url, output, nodata=NODATA, block_size=(64, 64))
        return str(caught.value)
    result = CliRunner().invoke(cli, ["mask", url, "-o", str(output), "-q",
                                      "--nodata", str(NODATA)])
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize("interface", ["library", "cli"])
def test_a_server_stopped_mid_run_fails_cleanly(tmp_path, interface):
    """The server's process ends at its 2nd to 11th GET: on opening or amid the blocks."""
    folder = tmp_path / "served"
    folder.mkdir()
    scene(folder / "scene.tif", size=1024, tile=64)  # 12 MB: more requests than 11
    for run in range(10):
        output = tmp_path / f"mask{run}.tif"
        with RangeServer(folder, faults=Faults(next=[None] * (1 + run) + ["gone"])) as server:
            url = server.url(f"scene.tif?run={run}")
            with time_limit(120):
                message = failed_mask(interface, url, output)
        assert redact(url) in message, message
        assert "Window(" in message or "cannot open" in message, message  # the block
        assert not output.exists() and leftovers(tmp_path) == []
    assert_no_orphans()


def test_a_request_left_unanswered_is_tried_again(tmp_path):
    """One request (the 2nd to the 6th GET) gets no answer: GDAL's time-out ends it and
    the run tries again, five times byte-identical to the run without a fault."""
    folder = tmp_path / "served"
    folder.mkdir()
    source = scene(folder / "scene.tif", size=256, tile=32)
    riogrande.write_mask(source, tmp_path / "local.tif", nodata=NODATA, block_size=(64, 64))
    with RangeServer(folder) as server, time_limit(120), rasterio.Env(GDAL_HTTP_TIMEOUT=1):
        riogrande.write_mask(server.url("scene.tif?run=clean"), tmp_path / "clean.tif",
                             nodata=NODATA, block_size=(64, 64))
        same_file(tmp_path / "clean.tif", tmp_path / "local.tif")
        expected = file_sha256(tmp_path / "clean.tif")
        for run in range(5):
            server.set_faults(Faults(next=[None] * (1 + run) + ["stall"]))
            output = tmp_path / f"remote{run}.tif"
            riogrande.write_mask(server.url(f"scene.tif?run={run}"), output, nodata=NODATA,
                                 block_size=(64, 64))
            assert file_sha256(output) == expected, f"run {run}"
        assert server.traffic.faults == {"stall": 5}


@pytest.mark.parametrize("interface", ["library", "cli"])
def test_a_server_that_stops_answering_fails_in_bounded_time(tmp_path, monkeypatch, interface):
    """From its 2nd, 4th or 8th GET on (the CLI: its 4th), the server never answers: each
    run gives up once its tries have lasted the patience, naming the raster and the
    block, and leaves no output. GDAL's time-out comes from the environment."""
    folder = tmp_path / "served"
    folder.mkdir()
    scene(folder / "scene.tif", size=512, tile=64)
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setattr(remote, "READ_PATIENCE", 2.0)
    for answered in (1, 3, 7) if interface == "library" else (3,):
        output = tmp_path / f"mask{answered}.tif"
        stalls = Faults(next=[None] * answered + ["stall"] * 10_000)
        with RangeServer(folder, faults=stalls) as server, time_limit(60):
            url = server.url("scene.tif")
            started = time.monotonic()
            message = failed_mask(interface, url, output)
            took = time.monotonic() - started
        assert redact(url) in message, message
        assert "Window(" in message or "cannot open" in message, message
        assert took < 20, f"the run took {took:.0f} s to fail"
        assert not output.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["tries", "run ended", "ended while pausing", "patience"])
def test_a_failing_read_is_tried_until_its_bounds(monkeypatch, case):
    """A read over the network that keeps failing is tried READ_TRIES times, once when its
    run has ended (also when that happens during a pause), and not after READ_PATIENCE."""
    tries = []

    def failing_read():
        tries.append(time.monotonic())
        raise rasterio.errors.RasterioIOError("HTTP response code: 503")

    monkeypatch.setattr(remote, "FIRST_PAUSE", 0.2 if case == "ended while pausing" else 0.005)
    if case == "patience":
        monkeypatch.setattr(remote, "READ_PATIENCE", 0.0)
    ended = threading.Event()
    if case == "run ended":
        ended.set()
    elif case == "ended while pausing":
        threading.Timer(0.1, ended.set).start()
    url = "/vsicurl/http://127.0.0.1:9/never.tif"  # the read is the function above
    started = time.monotonic()
    with remote.tries_end_when(ended), pytest.raises(SourceError, match="never.tif") as caught:
        remote.checked_read(url, None, failing_read)
    expected = remote.READ_TRIES if case == "tries" else 1
    assert len(tries) == expected, tries
    assert f"in {expected} tr" in str(caught.value)
    if case == "ended while pausing":
        assert time.monotonic() - started < 0.18  # the pause did not last to its end


def test_a_cancelled_remote_run_stops_its_downloads(tmp_path):
    """Cancelled amid the blocks, ten times: the run stops at once, leaves no output, and
    no download thread outlives it."""
    folder = tmp_path / "served"
    folder.mkdir()
    scene(folder / "scene.tif", size=1024, tile=64)
    with RangeServer(folder, latency=0.02) as server:
        for run in range(10):
            output = tmp_path / f"mask{run}.tif"
            blocks = CancelAfter(5 + 3 * run)
            with time_limit(60), pytest.raises(RunCancelledError):
                riogrande.write_mask(server.url("scene.tif"), output, nodata=NODATA,
                                     block_size=(64, 64), progress=blocks.progress,
                                     cancel=blocks.cancel)
            assert 5 + 3 * run < blocks.done < 256  # stopped amid the blocks
            assert blocks.downloading  # the tiles were fetched ahead meanwhile
            assert not output.exists() and leftovers(tmp_path) == []
            deadline = time.monotonic() + 5
            while fetch_threads() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert fetch_threads() == []


class CancelAfter:
    """Progress and cancel callbacks: cancel once ``blocks`` blocks are done."""

    def __init__(self, blocks: int) -> None:
        self.blocks, self.done, self.downloading = blocks, 0, False

    def progress(self, done: int, total: int) -> None:
        self.done = done
        self.downloading = self.downloading or bool(fetch_threads())

    def cancel(self) -> bool:
        return self.done > self.blocks


def fetch_threads() -> list[str]:
    """The download threads of riogrande still alive."""
    return [thread.name for thread in threading.enumerate()
            if thread.name.startswith("riogrande-fetch")]


def tile_ranges(path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    """The ``(first, last)`` bytes of each tile of band 1 present in the file (GDAL's index)."""
    ranges = {}
    with rasterio.open(path) as src:
        rows, cols = (-(-src.height // src.block_shapes[0][0]),
                      -(-src.width // src.block_shapes[0][1]))
        for row in range(rows):
            for col in range(cols):
                offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
                size = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
                if offset and int(size):
                    ranges[row, col] = (int(offset), int(offset) + int(size) - 1)
    return ranges


def byte_counts(fetched: list[tuple[int, int]], size: int) -> np.ndarray:
    """How many times each byte of a file of ``size`` bytes was sent."""
    counts = np.zeros(size + 1, dtype=np.int32)
    for first, last in fetched:
        counts[first] += 1
        counts[last + 1] -= 1
    return np.cumsum(counts)[:size]


def times_fetched(tile: tuple[int, int], fetched: list[tuple[int, int]], size: int) -> int:
    """How many times every byte of ``tile`` was sent (the least count over its bytes).

    Ranges that only share an edge (GDAL reads in chunks) do not send a tile twice.
    """
    return int(byte_counts(fetched, size)[tile[0]:tile[1] + 1].min())


@pytest.mark.parametrize("sparse", [False, True], ids=["full", "sparse"])
def test_each_tile_present_is_fetched_once_and_absent_ones_never(tmp_path, sparse):
    folder = tmp_path / "served"
    folder.mkdir()
    source = scene(folder / "scene.tif", size=1024, tile=256, sparse=sparse)
    present = tile_ranges(source)
    assert len(present) == (8 if sparse else 16)  # the file has no bytes for absent tiles
    riogrande.write_mask(source, tmp_path / "local.tif", nodata=NODATA, logic="any")
    with RangeServer(folder, latency=0.005) as server:
        riogrande.write_mask(server.url("scene.tif"), tmp_path / "remote.tif", nodata=NODATA,
                             logic="any")
        fetched = server.traffic.fetched("scene.tif")
    same_file(tmp_path / "remote.tif", tmp_path / "local.tif")
    size = source.stat().st_size
    assert [tile for tile, span in present.items()
            if times_fetched(span, fetched, size) != 1] == []
    sent = sum(last - first + 1 for first, last in fetched)
    assert sent < 1.2 * size  # neither the absent tiles' places nor twice the same bytes


def test_a_chunk_shared_by_two_blocks_is_fetched_once(tmp_path):
    """GDAL downloads 16 KB chunks: where one block's tiles end and the next one's begin
    inside a chunk, that chunk is sent once, whichever fetch comes first (5 runs)."""
    folder = tmp_path / "served"
    folder.mkdir()
    source = scene(folder / "scene.tif", size=1024, tile=64)
    size = source.stat().st_size
    tiles = tile_ranges(source).values()
    shared = {first // CHUNK_BYTES for first, _ in tiles} & {last // CHUNK_BYTES
                                                            for _, last in tiles}
    assert len(shared) > 100  # most tiles begin in the chunk where the one before ends
    riogrande.write_mask(source, tmp_path / "local.tif", nodata=NODATA, logic="any",
                         block_size=(128, 128))
    with RangeServer(folder, latency=0.005) as server:
        for run in range(5):
            earlier = len(server.traffic.fetched("scene.tif"))
            riogrande.write_mask(server.url(f"scene.tif?run={run}"), tmp_path / "remote.tif",
                                 nodata=NODATA, logic="any", block_size=(128, 128))
            same_file(tmp_path / "remote.tif", tmp_path / "local.tif")
            counts = byte_counts(server.traffic.fetched("scene.tif")[earlier:], size)
            assert [tile for tile in tiles if counts[tile[0]:tile[1] + 1].max() > 1] == [], run


@pytest.mark.parametrize("sparse", [False, True], ids=["full", "sparse"])
def test_tile_index_gives_the_bytes_of_the_tiles_a_view_touches(tmp_path, sparse):
    """GDAL's own tile index is the reference: a view's spans cover its present tiles and
    nothing else but the gaps between tiles merged into one request."""
    folder = tmp_path / "served"
    folder.mkdir()
    source = scene(folder / "scene.tif", size=1024, tile=256, sparse=sparse)
    present = tile_ranges(source)
    with RangeServer(folder) as server:
        index = TileIndex(remote.vsi_name(server.url("scene.tif")))
        for view in [(0, 0, 1024, 1024), (256, 0, 256, 256), (200, 300, 400, 100)]:
            x, y, width, height = view
            touched = [span for (row, col), span in present.items()
                       if col * 256 < x + width and x < (col + 1) * 256
                       and row * 256 < y + height and y < (row + 1) * 256]
            spans = [(offset, offset + size - 1) for offset, size in index.spans(view)]
            assert all(any(first <= tile[0] and tile[1] <= last for first, last in spans)
                       for tile in touched)
            covered = sum(last - first + 1 for first, last in spans)
            tile_bytes = sum(last - first + 1 for first, last in touched)
            assert tile_bytes <= covered <= tile_bytes + len(touched) * MERGED_GAP
            assert bool(spans) == bool(touched)


def test_a_selector_block_decided_by_a_file_does_not_fetch_the_others(tmp_path):
    """One file per band; where the first file's block is all nodata, the second's tiles
    are not fetched, and the selector is the one of all masks (rasterio's own)."""
    folder = tmp_path / "served"
    folder.mkdir()
    rng = np.random.default_rng(3)
    first = rng.uniform(1, 9, (1, 1024, 1024)).astype("float32")
    first[:, :512, :] = NODATA  # the upper half: every block decided by this file
    first[:, rng.random((1024, 1024)) < 0.05] = NODATA
    second = rng.uniform(1, 9, (1, 1024, 1024)).astype("float32")
    second[:, rng.random((1024, 1024)) < 0.05] = NODATA
    write_raster(folder / "first.tif", first, nodata=NODATA, block=(256, 256))
    write_raster(folder / "second.tif", second, nodata=NODATA, block=(256, 256))
    with RangeServer(folder) as server:
        selector = riogrande.prepare_selector(Band(server.url("first.tif"), 1),
                                              Band(server.url("second.tif"), 1),
                                              block_size=(256, 256))
        fetched = server.traffic.fetched("second.tif")
    assert_array_equal(selector, selector_reference([(folder / "first.tif", 1, "band"),
                                                     (folder / "second.tif", 1, "band")]))
    size = (folder / "second.tif").stat().st_size
    tiles = tile_ranges(folder / "second.tif")
    read = {tile for tile, span in tiles.items() if times_fetched(span, fetched, size) >= 1}
    assert read == {(row, col) for row in (2, 3) for col in range(4)}  # the lower half only
