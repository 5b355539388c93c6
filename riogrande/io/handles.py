"""Opening raster datasets, with clear errors and optional caches of open datasets.

Workers read many blocks of the same few files; re-opening a GeoTIFF costs
milliseconds and throws away GDAL's block cache, which holds the tiles a
block's bands share. Three caches avoid that:

* :func:`enable_cache` (called by the local pool's worker initializer) keeps
  read-only datasets open for the life of the worker process;
* :class:`RunDatasets` keeps them open in each worker thread of one
  in-process run, until the run ends;
* :func:`job_cache` keeps them open for the duration of one job, in the
  current thread, and closes them after: the cache used on executors that
  riogrande does not own (a Dask cluster, a caller's pool), where nothing may
  stay open.

In the caller's process nothing is cached, so no file handle outlives a call.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import rasterio
from rasterio.errors import RasterioIOError

from riogrande.errors import NoBandsError, RunError, SourceError, SourceNotFoundError
from riogrande.io.names import is_plain_path
from riogrande.io.remote import checked_open, is_remote, redact

logger = logging.getLogger(__name__)

_MAX_CACHED = 8
_cache: OrderedDict[tuple, Any] | None = None
_job = threading.local()


def enable_cache() -> None:
    """Keep read-only datasets open in this process (worker processes only)."""
    global _cache
    if _cache is None:
        _cache = OrderedDict()


@contextmanager
def job_cache() -> Iterator[None]:
    """Keep read-only datasets open until the end of the ``with`` block (this thread).

    Does nothing where the process-wide cache of :func:`enable_cache` is on.
    """
    if _cache is not None or getattr(_job, "cache", None) is not None:
        yield
        return
    _job.cache = OrderedDict()
    try:
        yield
    finally:
        cache, _job.cache = _job.cache, None
        close_all(cache)


class RunDatasets:
    """The datasets the threads of one run keep open, each thread its own.

    A GDAL dataset is not safe to share between threads: each worker thread
    of an in-process run opens a file once, and :meth:`close` closes them all
    once no job uses them any more. A job that starts after :meth:`close` (a
    thread the executor started while the run was being stopped) is refused.
    """

    def __init__(self) -> None:
        self._caches: dict[int, OrderedDict[tuple, Any]] = {}
        self._condition = threading.Condition()
        self._active = 0
        self._closed = False

    @contextmanager
    def in_this_thread(self) -> Iterator[None]:
        """Use this thread's datasets of the run for the ``with`` block.

        Raises
        ------
        RunError
            If the run has ended.
        """
        with self._condition:
            if self._closed:
                raise RunError("the run has ended: the job is not started")
            self._active += 1
            cache = self._caches.setdefault(threading.get_ident(), OrderedDict())
        previous = getattr(_job, "cache", None)
        _job.cache = cache
        try:
            yield
        finally:
            _job.cache = previous
            with self._condition:
                self._active -= 1
                self._condition.notify_all()

    def close(self) -> None:
        """Wait for the jobs using the datasets to end, then close every dataset."""
        with self._condition:
            self._closed = True
            while self._active:
                self._condition.wait()
            caches, self._caches = list(self._caches.values()), {}
        for cache in caches:
            close_all(cache)


def close_all(cache: OrderedDict[tuple, Any]) -> None:
    """Close the open datasets of ``cache`` and empty it."""
    while cache:
        cache.popitem()[1].close()


def open_raster(path: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> Any:
    """Open a raster with rasterio, turning GDAL's errors into clear ones.

    Parameters
    ----------
    path : str or path-like
        The raster file, or any other name GDAL opens (``/vsizip/...``, a
        URL, a subdataset such as ``NETCDF:"x.nc":Band1``).
    mode : str, default "r"
        ``"r"``, ``"r+"`` or ``"w"``.
    **kwargs
        Passed to :func:`rasterio.open`.

    Returns
    -------
    rasterio.io.DatasetReader or DatasetWriter

    Raises
    ------
    SourceNotFoundError
        If the file does not exist.
    NoBandsError
        If it is a container of subdatasets without bands of its own.
    SourceError
        If it is a directory or not a raster GDAL can read.
    """
    name = os.fspath(path)
    if mode in ("r", "r+") and is_plain_path(name):
        if not os.path.exists(name):
            raise SourceNotFoundError(f"raster not found: {name}")
        if os.path.isdir(name):
            raise SourceError(f"expected a raster file but got a directory: {name}")
        if os.path.getsize(name) == 0:
            raise SourceError(f"not a raster: {name} is an empty file")
    try:
        if mode == "r":
            opened = checked_open(name, lambda: rasterio.open(name, mode, **kwargs))
        else:
            opened = rasterio.open(name, mode, **kwargs)
    except (RasterioIOError, TypeError) as error:
        # rasterio raises a TypeError for a file it cannot open for update
        if isinstance(error, TypeError) and (mode != "r+" or "not recognized" not in str(error)):
            raise
        # GDAL's message of a remote raster may hold its signed URL: not chained
        raise SourceError(redact(f"cannot open {name} as a raster: {error}")) from (
            None if is_remote(name) else error)
    if mode != "w" and opened.count == 0:
        _refuse_container(opened, name)
    return opened


def _refuse_container(opened: Any, name: str) -> None:
    """Close a dataset without bands and raise, listing its subdatasets (if any)."""
    subdatasets = list(opened.subdatasets)
    opened.close()
    if not subdatasets:
        raise NoBandsError(f"{name} has no raster bands")
    listed = "\n  ".join(subdatasets)
    raise NoBandsError(
        f"{name} has no raster bands of its own: it holds {len(subdatasets)} subdataset(s); "
        f"give one of them instead:\n  {listed}"
    )


@contextmanager
def dataset(path: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> Iterator[Any]:
    """Open a dataset for the duration of a ``with`` block: :func:`open_raster`.

    In a process where :func:`enable_cache` was called, or inside
    :func:`job_cache` or :meth:`RunDatasets.in_this_thread`, read-only
    datasets come from (and stay in) a small cache instead of being closed.
    """
    cache = _cache if _cache is not None else getattr(_job, "cache", None)
    if cache is None or mode != "r":
        with open_raster(path, mode, **kwargs) as opened:
            yield opened
        return
    key = (os.fspath(path), tuple(sorted(kwargs.items())))
    opened = cache.get(key)
    if opened is None or opened.closed:
        opened = open_raster(path, mode, **kwargs)
        cache[key] = opened
        while len(cache) > _MAX_CACHED:
            cache.popitem(last=False)[1].close()
    else:
        cache.move_to_end(key)
    yield opened
