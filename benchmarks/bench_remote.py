"""Benchmark reading a big raster over HTTP: riogrande against what a user writes by hand.

What is read: the benchmark raster of ``data_gen.py`` (4-band float32,
DEFLATE, 512 x 512 tiles) converted once to a Cloud-Optimized GeoTIFF, and
a *sparse* variant of that COG in which every other 512 x 512 tile (a
checkerboard, half of them) is entirely nodata and absent from the file
(GDAL's ``SPARSE_OK``: the tile's offset and byte count are 0; checked when
the file is made). Both are cached next to the raster, like the raster.

How it is served: ``tests/servers.py``'s :class:`RangeServer`, an HTTP
server with range requests on 127.0.0.1, in a process of its own, that
waits a fixed latency (0, 20, 50 and 100 ms by default) before every answer
and records every byte range it sends.

The job: the per-pixel nodata mask (0 where every band equals the nodata
value, 1 elsewhere) written to a local single-band uint8 GeoTIFF. The
contenders, each run as a fresh process measured from outside
(``measure.py``: wall and CPU time of the whole process, start-up
included; peak RSS summed over its process tree):

* ``riogrande``: ``riogrande mask URL -o OUT`` with its defaults;
* ``riogrande local``: the same command on the local copy of the COG (the
  reference: remote ratios are ``remote / local``);
* ``threads 2`` and ``threads 16``: a hand-written script, a
  ``ThreadPoolExecutor`` of 2 or 16 threads with one rasterio dataset per
  thread reading every 512 x 512 block window (all bands), the mask computed
  with numpy and written from the main thread;
* ``gdal threads``: one dataset, a plain loop over the block windows, with
  ``GDAL_NUM_THREADS=ALL_CPUS``;
* ``dask``: ``rioxarray.open_rasterio(url, chunks=True, lock=False)``, the
  mask as an xarray expression, ``rio.to_raster(..., lock=threading.Lock())``
  on Dask's default threaded scheduler (skipped when rioxarray is missing);
* ``riogrande sparse``: ``riogrande mask`` on the sparse COG's URL (its ratio
  is against ``riogrande`` on the full COG at the same latency), with
  ``riogrande sparse local`` as the reference of its output;
* the network path alone, nothing decoded nor written: ``download GDAL``
  downloads the tiles of every block the way riogrande does (its GDAL
  settings and its :class:`~riogrande.io.prefetch.TileFetcher`, 16 threads,
  into GDAL's cache); ``download HTTP`` downloads the same byte ranges with
  Python's ``http.client`` (16 threads, one connection each, straight into
  a buffer). Their CPU time, measured inside the process without its
  start-up, is what receiving the bytes costs: on 2 cores that decode all
  the time, it adds to a run's wall time.

The baselines run with GDAL's defaults plus
``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` (the setting every COG tutorial
gives), set in their environment; riogrande runs with no GDAL setting of
the caller (it brings its own for remote reads). Every output is compared
with the local riogrande output of the same file (the pixels, shape,
transform and CRS); a difference is printed as ``MISMATCH`` and makes the
exit code 1, as a failed run does.

The server's traffic is recorded for every run: requests, bytes sent, the
byte ranges sent, the bytes sent more than once (ranges that overlap; those
of tiles apart), and where the bytes lie in the
file: the header (everything before the first tile), the full-resolution
tiles, the overview tiles, and elsewhere. An absent tile of the sparse COG
has no bytes: a read of one would show as bytes elsewhere.

Medians over the repetitions (the contenders alternate their order in each)
are printed with their spread, the targets are printed as PASS or MISS, and
everything is written to ``benchmarks/results/remote.json``.

Usage::

    python benchmarks/bench_remote.py [--size 6144] [--repeat 3] [--latencies 0,20,50,100]
                                      [--contenders riogrande,threads16,...]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from measure import Measurement

logger = logging.getLogger("bench_remote")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
MB = 2**20
TILE = 512
#: Version of the COGs made from the benchmark raster (bump when the way they are made changes).
COG_VERSION = "1"
COG_TAG = "RIOGRANDE_BENCH_COG"
#: GDAL settings given to the baselines: its defaults plus the one every COG tutorial sets.
BASELINE_SETTINGS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
#: Environment variables removed from every measured process (a run starts from defaults).
CLEARED_PREFIXES = ("GDAL_", "CPL_", "VSI_")
LATENCIES_MS = (0, 20, 50, 100)
CONTENDERS = ("riogrande", "threads2", "threads16", "gdal_threads", "dask", "riogrande_sparse",
              "download_gdal", "download_http")
LABELS = {
    "riogrande_local": "riogrande local",
    "riogrande_sparse_local": "riogrande sparse local",
    "riogrande": "riogrande",
    "threads2": "threads 2",
    "threads16": "threads 16",
    "gdal_threads": "gdal threads",
    "dask": "dask",
    "riogrande_sparse": "riogrande sparse",
    "download_gdal": "download GDAL",
    "download_http": "download HTTP",
}
#: The contenders that are riogrande (memory and traffic targets).
RIOGRANDE = ("riogrande_local", "riogrande_sparse_local", "riogrande", "riogrande_sparse")
LOCAL = ("riogrande_local", "riogrande_sparse_local")
SPARSE = ("riogrande_sparse", "riogrande_sparse_local")
#: The runs that only download (no output).
DOWNLOADS = ("download_gdal", "download_http")
#: Downloads at once in the download-only runs (riogrande's ``FETCH_THREADS``).
DOWNLOAD_THREADS = 16
#: Tiles side by side in the views of riogrande's mask job of the benchmark raster
#: (``riogrande mask`` reports blocks of 1024 x 512).
VIEW_TILES = 2
PEAK_RSS_LIMIT = 300 * MB
#: (latency in ms, limit): riogrande's remote wall <= limit x its local wall.
LOCAL_RATIO_TARGETS = ((50, 1.25), (100, 1.5))
#: riogrande faster than the 16-thread script at this latency.
SCRIPT_TARGET_MS = 50
SPARSE_LIMIT = 0.6
#: Bytes a COG writes before and after every tile (``BLOCK_LEADER``, ``BLOCK_TRAILER``).
FRAMING = 4


# --------------------------------------------------------------------------------------------
# The measured programs (``bench_remote.py run VARIANT SRC OUT``): imports inside, as a user's
# script has them; nothing of riogrande but in the download runs, which measure its network path.
# --------------------------------------------------------------------------------------------

def _mask_profile(src: Any) -> dict[str, Any]:
    """The output a user asks for: one uint8 band, tiled 512, DEFLATE, georeferenced as ``src``."""
    return {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1,
            "dtype": "uint8", "crs": src.crs, "transform": src.transform, "tiled": True,
            "blockxsize": TILE, "blockysize": TILE, "compress": "deflate"}


def thread_script(source: str, output: str, threads: int) -> None:
    """Threads reading the block windows, one dataset each; the main thread writes.

    Parameters
    ----------
    source : str
        The raster (a URL or a path).
    output : str
        The mask GeoTIFF written.
    threads : int
        Threads of the pool.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import rasterio

    local = threading.local()
    opened: list[Any] = []

    def dataset() -> Any:
        if getattr(local, "src", None) is None:
            local.src = rasterio.open(source)
            opened.append(local.src)
        return local.src

    with rasterio.open(source) as src:
        profile, nodata = _mask_profile(src), src.nodata
        windows = [window for _, window in src.block_windows(1)]

    def block_mask(window: Any) -> Any:
        data = dataset().read(window=window)
        return (data != nodata).any(axis=0).astype("uint8")

    try:
        with rasterio.open(output, "w", **profile) as dst, ThreadPoolExecutor(threads) as pool:
            for window, mask in zip(windows, pool.map(block_mask, windows), strict=True):
                dst.write(mask, 1, window=window)
    finally:
        for src in opened:
            src.close()


def gdal_threads(source: str, output: str) -> None:
    """One dataset, a plain loop over the block windows (``GDAL_NUM_THREADS`` set outside).

    Parameters
    ----------
    source : str
        The raster (a URL or a path).
    output : str
        The mask GeoTIFF written.
    """
    import rasterio

    with rasterio.open(source) as src, rasterio.open(output, "w", **_mask_profile(src)) as dst:
        for _, window in src.block_windows(1):
            data = src.read(window=window)
            dst.write((data != src.nodata).any(axis=0).astype("uint8"), 1, window=window)


def dask_script(source: str, output: str) -> None:
    """rioxarray's chunked read, the mask as an xarray expression, written by Dask.

    Parameters
    ----------
    source : str
        The raster (a URL or a path).
    output : str
        The mask GeoTIFF written.
    """
    import threading

    import rioxarray

    with rioxarray.open_rasterio(source, chunks=True, lock=False) as data:
        valid = (data != data.rio.nodata).any("band").astype("uint8").rio.write_nodata(None)
        valid.rio.to_raster(output, tiled=True, blockxsize=TILE, blockysize=TILE,
                            compress="deflate", lock=threading.Lock())


def block_views(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The views ``(x, y, width, height)`` riogrande's mask job reads of a raster of this size
    (blocks of :data:`VIEW_TILES` tiles side by side)."""
    step = VIEW_TILES * TILE
    return [(x, y, min(step, width - x), min(TILE, height - y))
            for y in range(0, height, TILE) for x in range(0, width, step)]


def views_of(name: str) -> list[tuple[int, int, int, int]]:
    """The :func:`block_views` of the raster ``name`` (a GDAL name)."""
    import rasterio

    with rasterio.open(name) as src:
        return block_views(src.width, src.height)


def download_gdal(source: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    """Downloading the tiles of every block the way riogrande does, decoding nothing.

    GDAL's ``/vsicurl/`` with riogrande's settings (kept for the ``stack``),
    riogrande's fetcher of tiles ahead (its threads, into GDAL's cache of
    downloaded ranges), made here: the returned function downloads.
    """
    from concurrent.futures import wait

    import rasterio

    from riogrande.io.prefetch import TileFetcher
    from riogrande.io.remote import read_settings, vsi_name

    name = vsi_name(source)
    stack.enter_context(rasterio.Env(**read_settings()))
    views = views_of(name)
    fetcher = TileFetcher([name], threads=DOWNLOAD_THREADS)
    stack.callback(fetcher.close)

    def download() -> None:
        wait([fetcher.fetch(view)[0] for view in views])

    return download


def download_http(source: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    """Downloading the byte ranges of every block's tiles with ``http.client``.

    One connection per thread, kept open; each body read straight into a
    buffer. The ranges, those riogrande's fetcher asks for, are read from
    the file's tile index here; the returned function downloads (and raises
    on a short body).
    """
    import http.client
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    import rasterio

    from riogrande.io.prefetch import TileIndex
    from riogrande.io.remote import read_settings, vsi_name

    url, name = urlsplit(source), vsi_name(source)
    with rasterio.Env(**read_settings()):
        index = TileIndex(name)
        spans = [index.spans(view) for view in views_of(name)]
    local = threading.local()
    pool = stack.enter_context(ThreadPoolExecutor(DOWNLOAD_THREADS))

    def download_spans(ranges: list[tuple[int, int]]) -> None:
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        for offset, length in ranges:
            local.connection.request("GET", url.path,
                                     headers={"Range": f"bytes={offset}-{offset + length - 1}"})
            response = local.connection.getresponse()
            buffer = memoryview(bytearray(length))
            received = 0
            while received < length and (count := response.readinto(buffer[received:])):
                received += count
            response.read()
            if received != length:
                raise OSError(f"{received} of {length} bytes at {offset} of {source}")

    def download() -> None:
        list(pool.map(download_spans, spans))  # every block's ranges, or the first error raised

    return download


def run_contender(argv: Sequence[str]) -> int:
    """``run VARIANT SRC OUT``: one baseline; prints the JSON report of its timed part.

    The download-only variants write nothing and time only the download
    (their connections and tile index made before).

    Parameters
    ----------
    argv : sequence of str
        ``VARIANT SRC OUT``, VARIANT one of ``threads2``, ``threads16``,
        ``gdal_threads``, ``dask``, ``download_gdal``, ``download_http``.

    Returns
    -------
    int
        The exit code.
    """
    programs = {
        "threads2": lambda source, output: thread_script(source, output, 2),
        "threads16": lambda source, output: thread_script(source, output, 16),
        "gdal_threads": gdal_threads,
        "dask": dask_script,
    }
    downloads = {"download_gdal": download_gdal, "download_http": download_http}
    if len(argv) != 3 or argv[0] not in {**programs, **downloads}:
        sys.stderr.write(f"usage: bench_remote.py run {{{','.join([*programs, *downloads])}}} "
                         "SRC OUT\n")
        return 2
    variant, source, output = argv
    with contextlib.ExitStack() as stack:
        work = (downloads[variant](source, stack) if variant in downloads
                else lambda: programs[variant](source, output))
        times = os.times()
        started, cpu = time.perf_counter(), times.user + times.system
        work()
        times = os.times()
        report = {"wall": time.perf_counter() - started, "cpu": times.user + times.system - cpu}
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


# --------------------------------------------------------------------------------------------
# The served files
# --------------------------------------------------------------------------------------------

def cog_path(folder: Path, size: int, sparse: bool) -> Path:
    """Where the COG (or the sparse COG) of the benchmark raster of ``size`` is cached."""
    from data_gen import raster_path

    stem = raster_path(folder, size).stem
    return folder / f"{stem}_{'sparse_' if sparse else ''}cog.tif"


def is_absent(row: int, col: int) -> bool:
    """Whether the tile at ``row``, ``col`` is left out of the sparse COG (a checkerboard)."""
    return (row + col) % 2 == 1


def tile_ranges(path: Path, overview_level: int | None = None
                ) -> dict[tuple[int, int], tuple[int, int] | None]:
    """The ``(first byte, end)`` of every tile of band 1 (None: absent from the file).

    The raster is pixel-interleaved: one tile holds every band. GDAL gives
    a tile's place in the ``TIFF`` metadata domain (``BLOCK_OFFSET_x_y`` and
    ``BLOCK_SIZE_x_y``), and no item for a tile absent from the file.

    Parameters
    ----------
    path : Path
        A tiled GeoTIFF.
    overview_level : int or None
        The overview whose tiles are listed (0: the first), or the full resolution.

    Returns
    -------
    dict
        ``{(row, col): (offset, offset + byte count) or None}``.
    """
    import rasterio

    options = {} if overview_level is None else {"OVERVIEW_LEVEL": overview_level}
    ranges: dict[tuple[int, int], tuple[int, int] | None] = {}
    with rasterio.open(path, **options) as src:
        for (row, col), _ in src.block_windows(1):
            offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
            length = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
            present = offset and length and int(length) > 0
            ranges[(row, col)] = (int(offset), int(offset) + int(length)) if present else None
    return ranges


@dataclass
class Layout:
    """Where the bytes of a served COG lie.

    Attributes
    ----------
    size : int
        File size in bytes.
    header_end : int
        First byte of the first tile (full resolution or overview).
    tiles : list of (int, int)
        ``[first, end)`` of the full-resolution tiles present.
    overview_tiles : list of (int, int)
        ``[first, end)`` of the overview tiles present.
    tile_count : int
        Full-resolution tiles, present or not.
    absent : int
        Full-resolution tiles absent from the file.
    """

    size: int
    header_end: int
    tiles: list[tuple[int, int]]
    overview_tiles: list[tuple[int, int]]
    tile_count: int
    absent: int

    def summary(self) -> dict[str, int]:
        """The figures of the JSON results."""
        return {"bytes": self.size, "header_bytes": self.header_end,
                "tiles": self.tile_count, "absent_tiles": self.absent,
                "tile_bytes": sum(end - first for first, end in self.tiles),
                "overview_bytes": sum(end - first for first, end in self.overview_tiles)}


def layout(path: Path) -> Layout:
    """The :class:`Layout` of the COG ``path``.

    A COG frames every tile with :data:`FRAMING` bytes before it (its byte
    count) and after it (a copy of its last bytes); they count as the tile's.
    """
    import rasterio

    full = tile_ranges(path)
    with rasterio.open(path) as src:
        levels = len(src.overviews(1))
    overview_tiles = [(first - FRAMING, end + FRAMING) for level in range(levels)
                      for span in tile_ranges(path, level).values() if span is not None
                      for first, end in [span]]
    tiles = [(span[0] - FRAMING, span[1] + FRAMING) for span in full.values()
             if span is not None]
    header_end = min(first for first, _ in tiles + overview_tiles)
    return Layout(size=path.stat().st_size, header_end=header_end, tiles=sorted(tiles),
                  overview_tiles=sorted(overview_tiles), tile_count=len(full),
                  absent=len(full) - len(tiles))


def is_cog_cached(path: Path, source: Path, sparse: bool) -> bool:
    """Whether ``path`` is a complete COG made from ``source`` by this script's version."""
    import rasterio
    from data_gen import GENERATOR_TAG

    if not path.is_file() or path.stat().st_mtime < source.stat().st_mtime:
        return False
    try:
        with rasterio.open(path) as cog, rasterio.open(source) as src:
            same = (cog.shape == src.shape and cog.count == src.count
                    and cog.nodata == src.nodata
                    and cog.tags().get(GENERATOR_TAG) == src.tags().get(GENERATOR_TAG)
                    and cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
                    and cog.tags().get(COG_TAG) == f"{'sparse ' if sparse else ''}{COG_VERSION}")
    except rasterio.errors.RasterioIOError:
        return False
    return same


def make_cog(source: Path, path: Path, sparse: bool) -> None:
    """Write the COG of ``source`` at ``path`` (under a temporary name until complete).

    The sparse COG is made from a GTiff with ``SPARSE_OK``, into which only
    the present tiles are written, copied to a COG with ``SPARSE_OK``: the
    absent tiles have no bytes in either file.
    """
    import rasterio
    import rasterio.shutil

    partial = path.with_name(f"{path.stem}.{os.getpid()}.part.tif")
    staged = path.with_name(f"{path.stem}.{os.getpid()}.staged.tif")
    try:
        with rasterio.Env(GDAL_CACHEMAX=256):
            with rasterio.open(source) as src:
                profile = {**src.profile, "sparse_ok": sparse, "num_threads": "all_cpus"}
                with rasterio.open(staged, "w", **profile) as dst:
                    for (row, col), window in src.block_windows(1):
                        if not (sparse and is_absent(row, col)):
                            dst.write(src.read(window=window), window=window)
                    dst.update_tags(**src.tags(), **{
                        COG_TAG: f"{'sparse ' if sparse else ''}{COG_VERSION}"})
            rasterio.shutil.copy(staged, partial, driver="COG", COMPRESS="DEFLATE",
                                 BLOCKSIZE=TILE, SPARSE_OK=sparse, NUM_THREADS="ALL_CPUS")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


def check_sparse(path: Path) -> None:
    """Check that every tile of the checkerboard is absent from ``path`` (RuntimeError if not)."""
    present = [key for key, span in tile_ranges(path).items()
               if is_absent(*key) and span is not None]
    if present:
        raise RuntimeError(f"{path}: tiles {present[:5]}... should be absent (SPARSE_OK)")


def ensure_cogs(folder: Path, size: int) -> dict[str, Path]:
    """The local raster, its COG and its sparse COG, made once and cached in ``folder``."""
    from data_gen import NODATA, ensure_raster

    raster = ensure_raster(folder, size)
    paths = {}
    for sparse in (False, True):
        path = cog_path(folder, size, sparse)
        if is_cog_cached(path, raster, sparse):
            logger.info("using cached %s", path)
        else:
            logger.info("making %s", path)
            make_cog(raster, path, sparse)
        if sparse:
            check_sparse(path)
        paths["sparse" if sparse else "full"] = path
    import rasterio

    with rasterio.open(paths["full"]) as src:
        if src.nodata != NODATA:
            raise RuntimeError(f"{paths['full']}: nodata {src.nodata}, expected {NODATA}")
    return paths


# --------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------

def merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of ``[first, end)`` spans, as sorted disjoint spans."""
    union: list[tuple[int, int]] = []
    for first, end in sorted(spans):
        if union and first <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], end))
        else:
            union.append((first, end))
    return union


def covered(union: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> int:
    """Bytes of the disjoint sorted ``union`` that lie in the disjoint sorted ``spans``."""
    total, index = 0, 0
    for first, end in union:
        while index < len(spans) and spans[index][1] <= first:
            index += 1
        probe = index
        while probe < len(spans) and spans[probe][0] < end:
            total += max(0, min(end, spans[probe][1]) - max(first, spans[probe][0]))
            probe += 1
    return total


def traffic_figures(requests: int, sent: int, ranges: Sequence[tuple[int, int]],
                    where: Layout) -> dict[str, int]:
    """What one run cost the server, and where the bytes it sent lie in the file.

    Parameters
    ----------
    requests, sent : int
        Requests answered and bytes sent (bodies, multipart framing included).
    ranges : sequence of (int, int)
        The ``(first, last)`` byte ranges sent (last included).
    where : Layout
        The served file's layout.

    Returns
    -------
    dict
        ``requests``, ``bodies`` (answers with data), ``bytes``, ``range_bytes``
        (the bytes of the ranges), ``duplicate_bytes`` (sent more than once),
        ``tile_duplicate_bytes`` (those of tiles), and the distinct bytes in
        the ``header``, the full-resolution ``tiles``, the ``overviews`` and
        ``elsewhere``.
    """
    spans = [(first, last + 1) for first, last in ranges]
    union = merged(spans)
    distinct = sum(end - first for first, end in union)
    header = covered(union, [(0, where.header_end)])
    tiles = covered(union, where.tiles)
    overviews = covered(union, where.overview_tiles)
    return {"requests": requests, "bodies": len(spans), "bytes": sent,
            "range_bytes": sum(end - first for first, end in spans),
            "duplicate_bytes": sum(end - first for first, end in spans) - distinct,
            "tile_duplicate_bytes": covered(sent_twice(spans), where.tiles), "header": header,
            "tiles": tiles,
            "overviews": overviews, "elsewhere": distinct - header - tiles - overviews}


def sent_twice(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The bytes in two or more of the ``[first, end)`` ``spans``, as sorted disjoint spans."""
    events = sorted([(first, 1) for first, _ in spans] + [(end, -1) for _, end in spans])
    parts: list[tuple[int, int]] = []
    depth, start = 0, 0
    for position, step in events:
        if depth >= 2 and position > start:
            parts.append((start, position))
        depth, start = depth + step, position
    return merged(parts)


class Servers:
    """One :class:`RangeServer` of ``folder`` per latency, started together."""

    def __init__(self, folder: Path, latencies_ms: Sequence[int]) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.servers import RangeServer

        self.servers = {latency: RangeServer(folder, latency=latency / 1000)
                        for latency in latencies_ms}

    def __enter__(self) -> Servers:
        started: list[Any] = []
        try:
            for server in self.servers.values():
                started.append(server.start())
        except BaseException:
            for server in started:
                server.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self.servers.values():
            server.stop()

    @contextlib.contextmanager
    def recording(self, latency: int | None, name: str, where: Layout
                  ) -> Iterator[dict[str, int]]:
        """The figures of the ``with`` block's traffic for ``name`` (none for a local run)."""
        figures: dict[str, int] = {}
        if latency is None:
            yield figures
            return
        server = self.servers[latency]
        before = server.traffic
        yield figures
        after = server.traffic
        ranges = [(first, last) for file, first, last in after.ranges[len(before.ranges):]
                  if file == name]
        figures.update(traffic_figures(after.requests - before.requests,
                                       after.bytes - before.bytes, ranges, where))


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------

def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without GDAL's settings, plus ``extra``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(CLEARED_PREFIXES)}
    env.update(extra or {})
    return env


def riogrande_command() -> list[str]:
    """The ``riogrande`` command of this environment."""
    script = BIN / "riogrande"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "riogrande.cli"]


def command_for(contender: str, source: str, output: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of ``contender`` reading ``source``."""
    if contender in RIOGRANDE:
        return ([*riogrande_command(), "mask", source, "-o", str(output), "--json", "-q"],
                clean_environment())
    settings = dict(BASELINE_SETTINGS)
    if contender == "gdal_threads":
        settings["GDAL_NUM_THREADS"] = "ALL_CPUS"
    return ([sys.executable, str(Path(__file__).resolve()), "run", contender, source,
             str(output)], clean_environment(settings))


def read_mask(path: Path) -> tuple[np.ndarray, Any, Any]:
    """Band 1, transform and CRS of a mask GeoTIFF."""
    import rasterio

    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs


def same_mask(output: Path, reference: tuple[np.ndarray, Any, Any]) -> bool:
    """Whether ``output`` holds the ``reference`` mask, on the same grid."""
    import numpy as np

    values, transform, crs = read_mask(output)
    return (values.shape == reference[0].shape and transform == reference[1]
            and crs == reference[2] and bool(np.array_equal(values, reference[0])))


@dataclass
class Run:
    """One measured run: the contender, the latency (None: the local file), the file read."""

    contender: str
    latency: int | None  # None: the local file
    served: str  # "full" or "sparse"


def plan(latencies: Sequence[int], contenders: Sequence[str]) -> list[list[Run]]:
    """The runs of one repetition, in groups whose order rotates between repetitions."""
    groups = [[Run("riogrande_local", None, "full"), Run("riogrande_sparse_local", None,
                                                         "sparse")]]
    for latency in latencies:
        groups.append([Run(contender, latency, "sparse" if contender in SPARSE else "full")
                       for contender in contenders])
    return groups


def record(measurement: Measurement, figures: dict[str, int]) -> dict[str, Any]:
    """The figures of one run kept in the results."""
    return {"wall": measurement.wall_total, "cpu": measurement.cpu_total,
            "timed_wall": measurement.report.get("wall", measurement.report.get("seconds")),
            "timed_cpu": measurement.report.get("cpu"),
            "peak_rss_total": measurement.peak_rss_total,
            "max_processes": measurement.max_processes,
            "other_load": measurement.other_load, **figures}


def measure_all(args: argparse.Namespace, cogs: dict[str, Path], layouts: dict[str, Layout],
                work: Path) -> tuple[dict[tuple[int | None, str], list[dict[str, Any]]],
                                     list[str], list[str]]:
    """Run every contender at every latency, ``args.repeat`` times; check every output."""
    from measure import run_measured

    runs: dict[tuple[int | None, str], list[dict[str, Any]]] = {}
    mismatches: list[str] = []
    failures: list[str] = []
    references: dict[str, tuple[np.ndarray, Any, Any]] = {}
    groups = plan(args.latencies, args.contenders)
    total = args.repeat * sum(len(group) for group in groups)
    count = 0
    with Servers(args.data_dir, args.latencies) as servers:
        for repetition in range(args.repeat):
            for group in groups:
                shift = repetition % len(group)  # no contender always runs first
                for run in group[shift:] + group[:shift]:
                    count += 1
                    where = "local" if run.latency is None else f"{run.latency} ms"
                    name = cogs[run.served].name
                    source = (str(cogs[run.served]) if run.latency is None
                              else servers.servers[run.latency].url(name))
                    output = work / f"{run.contender}_{where.replace(' ', '')}.tif"
                    output.unlink(missing_ok=True)
                    command, env = command_for(run.contender, source, output)
                    with servers.recording(run.latency, name, layouts[run.served]) as figures:
                        measurement = run_measured(command, env=env, interval=args.interval)
                    label = f"{LABELS[run.contender]} at {where}"
                    wrote = run.contender in DOWNLOADS or output.is_file()
                    if measurement.returncode != 0 or not wrote:
                        failures.append(f"{label} repetition {repetition + 1}")
                        logger.error("FAILED: %s (exit %d):\n%s", label, measurement.returncode,
                                     measurement.stderr.strip()[-3000:])
                        continue
                    runs.setdefault((run.latency, run.contender), []).append(
                        record(measurement, figures))
                    logger.info("[%d/%d] rep %d %-8s %-22s wall %6.2f s cpu %5.2f s peak %4.0f "
                                "MB, %s requests, %.1f MB sent, %s duplicate bytes", count,
                                total, repetition + 1, where, LABELS[run.contender],
                                measurement.wall_total, measurement.cpu_total,
                                measurement.peak_rss_total / MB, figures.get("requests", "-"),
                                figures.get("bytes", 0) / MB,
                                figures.get("duplicate_bytes", "-"))
                    if run.contender in DOWNLOADS:
                        continue
                    if run.contender in LOCAL and run.served not in references:
                        references[run.served] = read_mask(output)
                    elif run.served not in references:
                        failures.append(f"{label} repetition {repetition + 1}: not checked "
                                        "(no local output to compare with)")
                    elif not same_mask(output, references[run.served]):
                        mismatches.append(f"{label} repetition {repetition + 1}")
                        logger.error("MISMATCH: %s differs from riogrande's local output", label)
    return runs, mismatches, failures


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

TRAFFIC_KEYS = ("requests", "bodies", "bytes", "range_bytes", "duplicate_bytes",
                "tile_duplicate_bytes", "header", "tiles", "overviews", "elsewhere")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and the spread of the wall time) of one contender's runs."""
    keys = ("wall", "cpu", "peak_rss_total", "other_load",
            *(key for key in TRAFFIC_KEYS if key in runs[0]))
    summary: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys}
    summary["wall_min"] = min(run["wall"] for run in runs)
    summary["wall_max"] = max(run["wall"] for run in runs)
    summary["peak_rss_max"] = max(run["peak_rss_total"] for run in runs)
    if "duplicate_bytes" in runs[0]:
        summary["duplicate_bytes_max"] = max(run["duplicate_bytes"] for run in runs)
        summary["tile_duplicate_bytes_max"] = max(run["tile_duplicate_bytes"] for run in runs)
    for key in ("timed_wall", "timed_cpu"):
        if all(run.get(key) is not None for run in runs):
            summary[key] = statistics.median(run[key] for run in runs)
    summary["runs"] = runs
    return summary


def ratios(results: dict[tuple[int | None, str], dict[str, Any]], latency: int | None,
           contender: str) -> tuple[float | None, float | None]:
    """Wall ratio to the local riogrande run of the same file, and sparse to full."""
    row = results[(latency, contender)]
    local = results.get((None, "riogrande_sparse_local" if contender in SPARSE
                         else "riogrande_local"))
    full = results.get((latency, "riogrande"))
    to_local = row["wall"] / local["wall"] if local and latency is not None else None
    to_full = (row["wall"] / full["wall"] if full and contender == "riogrande_sparse"
               else None)
    return to_local, to_full


def format_table(results: dict[tuple[int | None, str], dict[str, Any]],
                 latencies: Sequence[int], contenders: Sequence[str]) -> str:
    """The medians, one line per latency and contender."""
    header = (f"{'latency':>7} {'contender':<22} {'wall s':>7} {'min-max':>11} {'CPU s':>6} "
              f"{'RSS MB':>6} {'/local':>6} {'/full':>6} {'req':>5} {'MB sent':>7} "
              f"{'dup KB':>7} {'tile KB':>7} {'ovr KB':>6} {'else KB':>7} {'others':>6}")
    lines = [header, "-" * len(header)]
    order = [(None, contender) for contender in LOCAL] + [
        (latency, contender) for latency in latencies for contender in contenders]
    for latency, contender in order:
        row = results.get((latency, contender))
        where = "local" if latency is None else f"{latency} ms"
        if row is None:
            lines.append(f"{where:>7} {LABELS[contender]:<22} failed or skipped")
            continue
        to_local, to_full = ratios(results, latency, contender)
        spread = f"{row['wall_min']:.2f}-{row['wall_max']:.2f}"
        traffic = (f"{row['requests']:>5.0f} {row['bytes'] / MB:>7.1f} "
                   f"{row['duplicate_bytes_max'] / 1024:>7.0f} "
                   f"{row['tile_duplicate_bytes_max'] / 1024:>7.0f} "
                   f"{row['overviews'] / 1024:>6.0f} "
                   f"{row['elsewhere'] / 1024:>7.0f}" if "requests" in row
                   else f"{'-':>5} {'-':>7} {'-':>7} {'-':>7} {'-':>6} {'-':>7}")
        lines.append(
            f"{where:>7} {LABELS[contender]:<22} {row['wall']:>7.2f} {spread:>11} "
            f"{row['cpu']:>6.2f} {row['peak_rss_max'] / MB:>6.0f} "
            f"{'' if to_local is None else f'{to_local:.2f}':>6} "
            f"{'' if to_full is None else f'{to_full:.2f}':>6} {traffic} "
            f"{row['other_load']:>6.1f}")
    return "\n".join(lines)


def target(name: str, value: float | None, limit: float, met: bool | None) -> dict[str, Any]:
    """One target line of the results (``met`` None: not measured)."""
    return {"target": name, "value": None if value is None else round(value, 3),
            "limit": limit, "met": met}


def evaluate_targets(results: dict[tuple[int | None, str], dict[str, Any]],
                     latencies: Sequence[int], contenders: Sequence[str]
                     ) -> list[dict[str, Any]]:
    """The targets, on the medians (``met`` None where a run is missing)."""
    targets = []

    def wall(latency: int | None, contender: str) -> float | None:
        row = results.get((latency, contender))
        return None if row is None else row["wall"]

    local = wall(None, "riogrande_local")
    for latency, limit in LOCAL_RATIO_TARGETS:
        remote = wall(latency, "riogrande")
        value = remote / local if remote and local else None
        targets.append(target(f"{latency} ms: riogrande <= {limit} x riogrande local", value,
                              limit, None if value is None else value <= limit))
    remote, script = wall(SCRIPT_TARGET_MS, "riogrande"), wall(SCRIPT_TARGET_MS, "threads16")
    value = remote / script if remote and script else None
    targets.append(target(f"{SCRIPT_TARGET_MS} ms: riogrande faster than threads 16 (ratio)",
                          value, 1.0, None if value is None else value < 1.0))
    for latency in latencies:
        full, sparse = wall(latency, "riogrande"), wall(latency, "riogrande_sparse")
        value = sparse / full if full and sparse else None
        targets.append(target(f"{latency} ms: riogrande sparse <= {SPARSE_LIMIT} x riogrande "
                              "full", value, SPARSE_LIMIT,
                              None if value is None else value <= SPARSE_LIMIT))
    for latency in latencies:
        rows = [results[(latency, name)] for name in ("riogrande", "riogrande_sparse")
                if (latency, name) in results]
        value = max((row["tile_duplicate_bytes_max"] for row in rows), default=None)
        targets.append(target(f"{latency} ms: riogrande fetches no tile byte twice (bytes)", value,
                              0, None if value is None else value == 0))
    peaks = [row["peak_rss_max"] for (_, name), row in results.items() if name in RIOGRANDE]
    value = max(peaks, default=None)
    targets.append(target("riogrande summed peak RSS <= 300 MB (MB, all runs)",
                          None if value is None else value / MB, PEAK_RSS_LIMIT / MB,
                          None if value is None else value <= PEAK_RSS_LIMIT))
    return targets


def format_targets(targets: list[dict[str, Any]]) -> str:
    """PASS, MISS or ``----`` (not measured) lines."""
    lines = []
    for item in targets:
        verdict = {True: "PASS", False: "MISS", None: "----"}[item["met"]]
        value = "not measured" if item["value"] is None else item["value"]
        lines.append(f"{verdict}  {item['target']}: {value} (limit {item['limit']})")
    return "\n".join(lines)


def sparse_lines(results: dict[tuple[int | None, str], dict[str, Any]],
                 latencies: Sequence[int], where: Layout) -> str:
    """Whether the sparse runs fetched anything but the header and the present tiles."""
    lines = []
    for latency in latencies:
        row = results.get((latency, "riogrande_sparse"))
        if row is None:
            continue
        stray = max(run["elsewhere"] for run in row["runs"])
        verdict = "none" if stray == 0 else f"{stray} bytes outside the header and present tiles"
        lines.append(f"{latency} ms: riogrande sparse, bytes of absent tiles fetched: {verdict} "
                     f"({where.absent} of {where.tile_count} tiles absent; "
                     f"{row['tiles'] / MB:.1f} MB of {sum(e - f for f, e in where.tiles) / MB:.1f}"
                     " MB of present tiles fetched)")
    return "\n".join(lines)


def network_lines(results: dict[tuple[int | None, str], dict[str, Any]],
                  latencies: Sequence[int]) -> str:
    """What receiving the bytes costs: riogrande's CPU over its local run's, and the
    download-only runs' (their download alone, start-up excluded)."""
    lines = []
    local = results.get((None, "riogrande_local"))
    for latency in latencies:
        parts = []
        remote = results.get((latency, "riogrande"))
        if remote and local:
            parts.append(f"riogrande CPU {remote['cpu'] - local['cpu']:+.2f} s over local")
        for contender in DOWNLOADS:
            row = results.get((latency, contender))
            if row and "timed_cpu" in row:
                parts.append(f"{LABELS[contender]} {row['timed_wall']:.2f} s, "
                             f"CPU {row['timed_cpu']:.2f} s")
        if parts:
            lines.append(f"{latency} ms: " + "; ".join(parts))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Versions and machine of the run: those of ``bench.py``, and rioxarray's."""
    from bench import environment as versions

    return {**versions(), "rioxarray": (importlib.import_module("rioxarray").__version__
                                        if importlib.util.find_spec("rioxarray") else None)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6144,
                        help="raster size (pixels per side, default 6144)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--latencies", default=",".join(map(str, LATENCIES_MS)),
                        help="server latencies in ms, comma-separated (default 0,20,50,100)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help=f"remote contenders, comma-separated (default {','.join(CONTENDERS)})")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data",
                        help="where the raster and its COGs are cached (and served from)")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "remote.json",
                        help="JSON file for the results")
    parser.add_argument("--interval", type=float, default=0.01,
                        help="RSS sampling interval in seconds")
    args = parser.parse_args(argv)
    try:
        args.latencies = [int(value) for value in args.latencies.split(",") if value.strip()]
    except ValueError:
        parser.error("--latencies: integers (milliseconds), comma-separated")
    args.contenders = [name.strip() for name in args.contenders.split(",") if name.strip()]
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}: use {', '.join(CONTENDERS)}")
    if args.size < TILE or args.repeat < 1 or not args.latencies or not args.contenders \
            or min(args.latencies) < 0:
        parser.error(f"--size >= {TILE}, --repeat >= 1, latencies >= 0, one contender at least")
    args.data_dir = args.data_dir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    """Prepare the files, measure, print and write the results; 1 on a failure or mismatch."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return run_contender(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sys.path.insert(0, str(HERE))
    args = parse_args(argv)
    if "dask" in args.contenders and importlib.util.find_spec("rioxarray") is None:
        print("SKIP  dask: rioxarray is not installed (pip install -e '.[bench]')")
        args.contenders.remove("dask")
    started, started_at = time.perf_counter(), datetime.now(timezone.utc)
    cogs = ensure_cogs(args.data_dir, args.size)
    layouts = {kind: layout(path) for kind, path in cogs.items()}
    from bench import warm_page_cache

    for path in cogs.values():
        warm_page_cache(path)  # the local reference and the server read from memory
    before = environment()
    work = Path(tempfile.mkdtemp(prefix="remote-", dir=args.data_dir))
    try:
        runs, mismatches, failures = measure_all(args, cogs, layouts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {key: summarize(value) for key, value in runs.items()}
    targets = evaluate_targets(results, args.latencies, args.contenders)
    elapsed = time.perf_counter() - started
    modified = " + uncommitted changes" if before["riogrande_modified"] else ""
    print()
    print(f"riogrande {before['riogrande']} (commit {before['commit']}{modified}), rasterio "
          f"{before['rasterio']}, GDAL {before['gdal']}, numpy {before['numpy']}, "
          f"rioxarray {before['rioxarray']}, {before['cpus']} CPUs")
    full, sparse = layouts["full"], layouts["sparse"]
    print(f"nodata mask of a {args.size}x{args.size} 4-band float32 COG ({full.size / MB:.0f} MB,"
          f" {full.tile_count} tiles of {TILE}x{TILE}) and of its sparse variant "
          f"({sparse.size / MB:.0f} MB, {sparse.absent} tiles absent), over HTTP from "
          f"127.0.0.1 with a latency per request; {args.repeat} repetition(s), medians. Wall "
          "and CPU: the whole process (start-up included). RSS: the process tree's summed peak "
          "(max over the runs). /local: wall over riogrande's on the local file; /full: sparse "
          "over full. req, MB sent: the server's. dup KB: bytes sent more than once (max over "
          "the runs); tile KB: those of tiles. ovr KB, else KB: bytes of overview tiles, and "
          "outside the header and the tiles. others: cores kept busy by other processes "
          "(high = inflated wall times). download GDAL, download HTTP: the tiles' bytes "
          "downloaded and nothing else (below the table: their download alone, start-up "
          "excluded).")
    print(format_table(results, args.latencies, args.contenders))
    print()
    for lines in (sparse_lines(results, args.latencies, sparse),
                  network_lines(results, args.latencies)):
        if lines:
            print(lines)
            print()
    print("targets:")
    print(format_targets(targets))
    for failure in failures:
        print(f"FAILED  {failure}")
    for mismatch in mismatches:
        print(f"MISMATCH  {mismatch}: differs from riogrande's output on the local file")
    print(f"\nbenchmark took {elapsed:.0f} s")
    payload = {
        "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "size": args.size,
        "repeat": args.repeat,
        "latencies_ms": args.latencies,
        "contenders": args.contenders,
        "environment": {**environment(), "load_average_before": before["load_average"]},
        "files": {kind: {"path": str(cogs[kind]), **layouts[kind].summary()} for kind in cogs},
        "results": [{"latency_ms": latency, "contender": contender, **summary}
                    for (latency, contender), summary in results.items()],
        "targets": targets,
        "failures": failures,
        "mismatches": mismatches,
    }
    from bench import write_json

    write_json(args.results, payload)
    print(f"results written to {args.results}")
    return 1 if mismatches or failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
