"""Fetching ahead the tiles of the blocks to come, for rasters over the network.

A block read over the network waits for the answer, then decodes: waiting
needs no CPU, decoding does. A run's workers (as many threads as CPUs)
decode, and a :class:`TileFetcher` spends the waits in threads of its own
that only download: a block's tiles (their byte ranges from the TIFF's tile
index; adjacent ones in one request; the absent tiles of a sparse file left
out) are read into GDAL's cache of downloaded ranges before the block goes
to a worker, whose read then finds them there (:data:`CACHED_READS`). GDAL
downloads whole chunks of the file: a chunk shared by the tiles of two
blocks is fetched by the first block's fetch only, which the second one's
waits for. A fetch that fails is only a lost head start: the block's own
read (:func:`~riogrande.io.remote.checked_read`) meets the failure in its
turn, and fetches, checks and tries again. GDAL's messages during a fetch
are silenced (they would name the URL on the standard error); GDAL's cache
is never dropped from here, while other threads read.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Interleaving

from riogrande.io.remote import gdal_library, redact

#: Threads that download ahead of the workers.
FETCH_THREADS = 16
#: Bytes of blocks fetched and not yet computed, at most: half of GDAL's cache
#: of downloaded ranges (``CPL_VSIL_CURL_CACHE_SIZE``, 64 MB), which also keeps
#: the tiles of blocks already read until it drops them, so that none waiting
#: is dropped before its block is read.
AHEAD_BYTES = 32 * 2**20
#: Tiles this close in the file are fetched in one request.
MERGED_GAP = 64 * 2**10
#: Bytes read at once: a span longer than this is read in parts.
READ_BYTES = 8 * 2**20
#: Fetches failed in a row after which no other starts (the server is not answering).
FAILED_IN_A_ROW = 3
#: The first bytes of a file (the TIFF's directories), read again by every fetch
#: from GDAL's cache: GDAL goes back to them during a run (at a COG's last tile),
#: and kept recent in the cache, they are not dropped and downloaded again then.
HEADER_BYTES = 64 * 2**10
#: GDAL's unit of download over the network (``CPL_VSIL_CURL_CHUNK_SIZE``).
CHUNK_BYTES = 16 * 2**10
#: GDAL settings of the blocks' reads while their tiles are fetched ahead: the
#: separate ranges one read needs (the tiles of two rows) are read one after
#: the other, from GDAL's cache; in parallel requests, GDAL would download
#: them again, past its cache.
CACHED_READS = {"GDAL_HTTP_MULTIRANGE": "SERIAL"}

Spans = list[tuple[str, list[tuple[int, int]]]]

logger = logging.getLogger(__name__)


@functools.cache
def _vsi() -> Any:
    """GDAL's file functions, from the library rasterio loaded (None if not found)."""
    library = gdal_library()
    try:
        functions = (library.VSIFOpenL, library.VSIFSeekL, library.VSIFReadL,
                     library.VSIFCloseL, library.CPLPushErrorHandler,
                     library.CPLPopErrorHandler, library.CPLQuietErrorHandler)
    except AttributeError:  # no library, or not these functions
        logger.debug("GDAL's VSIFOpenL not found: tiles are not fetched ahead")
        return None
    open_file, seek, read, close, push_handler, pop_handler, _ = functions
    push_handler.argtypes, pop_handler.argtypes = [ctypes.c_void_p], []
    open_file.argtypes, open_file.restype = [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_void_p
    seek.argtypes, seek.restype = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int], ctypes.c_int
    read.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    read.restype = ctypes.c_size_t
    close.argtypes, close.restype = [ctypes.c_void_p], ctypes.c_int
    return library


@functools.cache
def _discarded() -> ctypes.Array:
    """Where the fetches put the bytes they read, all at once: the bytes are not used
    (GDAL's cache keeps its own copy), so the threads share this one buffer."""
    return ctypes.create_string_buffer(READ_BYTES)


@contextmanager
def _gdal_quiet() -> Iterator[None]:
    """GDAL's messages of this thread are dropped meanwhile (failures show otherwise)."""
    vsi = _vsi()
    if vsi is None:
        yield
        return
    vsi.CPLPushErrorHandler(ctypes.cast(vsi.CPLQuietErrorHandler, ctypes.c_void_p))
    try:
        yield
    finally:
        vsi.CPLPopErrorHandler()


class TileIndex:
    """Where the tiles of a GeoTIFF lie in the file.

    The whole index is read when the raster is opened, while GDAL's cache
    holds the file's header: read later, a part of it the cache had dropped
    would be downloaded again.

    Parameters
    ----------
    name : str
        The raster, a GDAL name (``/vsicurl/...``, ``/vsis3/...``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        with _gdal_quiet(), rasterio.open(name) as dataset:
            self._tile_height, self._tile_width = dataset.block_shapes[0]
            separate = dataset.interleaving == Interleaving.band
            bands = range(1, dataset.count + 1) if separate else range(1, 2)
            rows = -(-dataset.height // self._tile_height)
            columns = -(-dataset.width // self._tile_width)
            self._tiles = np.zeros((len(bands), rows, columns, 2), dtype=np.int64)
            for (band, row, column), _ in np.ndenumerate(self._tiles[..., 0]):
                self._tiles[band, row, column] = _tile(dataset, bands[band], column, row)

    def spans(self, view: Sequence[int]) -> list[tuple[int, int]]:
        """Byte ranges ``(offset, size)`` of the tiles ``view`` touches, nearby ones merged.

        Parameters
        ----------
        view : tuple of int
            ``(x, y, width, height)``.

        Returns
        -------
        list of tuple of int
            Empty for a file without a tile index (not a GeoTIFF).
        """
        x, y, width, height = view
        touched = self._tiles[:, y // self._tile_height:(y + height - 1) // self._tile_height + 1,
                              x // self._tile_width:(x + width - 1) // self._tile_width + 1]
        tiles = sorted((int(offset), int(size)) for offset, size in touched.reshape(-1, 2)
                       if size)
        spans: list[tuple[int, int]] = []
        for offset, size in tiles:
            if spans and offset - sum(spans[-1]) <= MERGED_GAP:
                start = spans[-1][0]
                spans[-1] = (start, max(sum(spans[-1]), offset + size) - start)
            else:
                spans.append((offset, size))
        return spans


def _tile(dataset: Any, band: int, column: int, row: int) -> tuple[int, int]:
    """A tile's ``(offset, size)``; size 0 for an absent tile (a sparse file) or no index."""
    offset = dataset.get_tag_item(f"BLOCK_OFFSET_{column}_{row}", "TIFF", bidx=band)
    size = dataset.get_tag_item(f"BLOCK_SIZE_{column}_{row}", "TIFF", bidx=band)
    if not offset or not size:
        return 0, 0
    return int(offset), int(size)


class TileFetcher:
    """Download the tiles of views to come into GDAL's cache, in threads of its own.

    After :data:`FAILED_IN_A_ROW` fetches failed in a row, the fetches end at
    once: a server that stopped answering would keep every download thread
    waiting through GDAL's time-outs, ahead of the blocks' own reads.

    Parameters
    ----------
    names : list of str
        The rasters over the network the views read (GDAL names).
    threads : int, default FETCH_THREADS
        Downloads at once.
    """

    def __init__(self, names: Sequence[str], threads: int = FETCH_THREADS) -> None:
        self._indexes = [TileIndex(name) for name in dict.fromkeys(names)]
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="riogrande-fetch")
        self._failed_in_a_row = 0
        self._count_lock = threading.Lock()
        self._edge_fetches: dict[tuple[str, int], Future] = {}

    def fetch(self, view: Sequence[int]) -> tuple[Future, int]:
        """Start fetching the tiles of ``view``.

        Returns
        -------
        (future, bytes)
            The future ends when the tiles have arrived (or failed to); the
            bytes this fetch downloads.
        """
        spans = [(index.name, index.spans(view)) for index in self._indexes]
        own, earlier = self._unshared(spans)
        size = sum(length for _, ranges in own for _, length in ranges)
        future = self._executor.submit(self._fetch_all, own, size, earlier)
        for name, ranges in spans:
            for offset, length in ranges:
                for chunk in (offset // CHUNK_BYTES, (offset + length - 1) // CHUNK_BYTES):
                    self._edge_fetches.setdefault((name, chunk), future)
        return future, size

    def _unshared(self, spans: Spans) -> tuple[Spans, list[Future]]:
        """``spans`` without their end chunks that earlier fetches download, and those fetches."""
        own: Spans = []
        earlier: list[Future] = []
        for name, ranges in spans:
            kept = []
            for offset, length in ranges:
                end = offset + length
                first, last = offset // CHUNK_BYTES, (end - 1) // CHUNK_BYTES
                if (name, first) in self._edge_fetches:
                    earlier.append(self._edge_fetches[name, first])
                    offset = (first + 1) * CHUNK_BYTES
                if last > first and (name, last) in self._edge_fetches:
                    earlier.append(self._edge_fetches[name, last])
                    end = last * CHUNK_BYTES
                if end > offset:
                    kept.append((offset, end - offset))
            own.append((name, kept))
        return own, earlier

    def _fetch_all(self, spans: Spans, size: int, earlier: Sequence[Future]) -> None:
        """Fetch ``spans``, then wait for the ``earlier`` fetches of their end chunks
        (submitted before this one, so already under way)."""
        if self._failed_in_a_row >= FAILED_IN_A_ROW:
            return
        fetched = sum(_fetch(name, ranges) for name, ranges in spans)
        with self._count_lock:
            self._failed_in_a_row = 0 if fetched == size else self._failed_in_a_row + 1
            if self._failed_in_a_row == FAILED_IN_A_ROW:
                logger.info("%d fetches ahead failed in a row: no more are made",
                            FAILED_IN_A_ROW)
        wait(earlier)

    def close(self) -> None:
        """Stop: fetches not started are dropped, those under way end (bounded by GDAL's
        time-outs) without being waited for."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _fetch(name: str, spans: Sequence[tuple[int, int]]) -> int:
    """Read ``spans`` of ``name`` through GDAL (into its cache), and its header again
    (:data:`HEADER_BYTES`); the bytes of ``spans`` read."""
    vsi = _vsi()
    if vsi is None or not spans:
        return 0
    fetched = 0
    with _gdal_quiet():
        handle = vsi.VSIFOpenL(name.encode(), b"rb")
        if not handle:
            return 0
        try:
            if vsi.VSIFSeekL(handle, 0, 0) == 0:
                vsi.VSIFReadL(_discarded(), 1, HEADER_BYTES, handle)
            for start, size in spans:
                for offset in range(start, start + size, READ_BYTES):
                    length = min(READ_BYTES, start + size - offset)
                    if vsi.VSIFSeekL(handle, offset, 0) != 0:
                        return fetched
                    got = vsi.VSIFReadL(_discarded(), 1, length, handle)
                    fetched += got
                    if got != length:
                        logger.debug("fetching ahead from %s: %d of %d bytes at %d",
                                     redact(name), got, length, offset)
                        return fetched
        finally:
            vsi.VSIFCloseL(handle)
    return fetched
