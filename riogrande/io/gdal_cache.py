"""GDAL's block cache while riogrande reads and writes in this process.

GDAL's block cache is one per process, 5 % of RAM by default, and keeps
every block read or written until evicted: left alone, the memory of a
writer or of worker threads would grow with the raster. Its size is set
for the length of a ``with`` block and restored after.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import rasterio

#: While an aggregator writes: written blocks wait in the cache until evicted
#: or closed.
WRITE_CACHE_BYTES = 8 * 2**20

_lock = threading.Lock()
_runs_capping = 0


@contextmanager
def _cache_size(size: int) -> Iterator[None]:
    with rasterio.Env(GDAL_CACHEMAX=int(size)):  # bytes, see GDALSetCacheMax64
        yield


@contextmanager
def capped_for_run(read_bytes: int) -> Iterator[None]:
    """Cap the cache while threads of this process read blocks and a writer writes.

    Parameters
    ----------
    read_bytes : int
        What the reading threads need together; the writer's share is added.
    """
    global _runs_capping
    with _lock:
        _runs_capping += 1
    try:
        with _cache_size(read_bytes + WRITE_CACHE_BYTES):
            yield
    finally:
        with _lock:
            _runs_capping -= 1


@contextmanager
def bounded_write_cache() -> Iterator[None]:
    """Cap the cache while writing, unless a run in this process caps it already."""
    if _runs_capping:
        yield
        return
    with _cache_size(WRITE_CACHE_BYTES):
        yield
