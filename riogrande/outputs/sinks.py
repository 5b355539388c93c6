"""Sinks: the aggregators that put a run's blocks into a raster or an array.

The engine hands every block message to one sink, which runs in a thread of
the calling process (:mod:`riogrande.runner`). :class:`RasterSink` creates
its raster when the first block arrives (the result's data type and band
count are known then) and writes every block into it; :class:`ArraySink`
places the blocks into an array.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio passes through as they are
from rasterio.errors import RasterioError

from riogrande.errors import SourceError
from riogrande.io.gdal_cache import bounded_write_cache
from riogrande.io.handles import open_raster
from riogrande.io.tags import write_tags
from riogrande.messages import iter_messages
from riogrande.outputs.written import write_failure
from riogrande.prepare import update_view, view_to_window

logger = logging.getLogger(__name__)

#: ``profile_for(dtype, count)``: the profile of a raster holding ``count`` bands of ``dtype``.
ProfileFor = Callable[[str, int], dict[str, Any]]


def block_dtype(data: NDArray) -> str:
    """The data type a block is stored as (``bool`` as ``uint8``)."""
    return "uint8" if data.dtype == bool else data.dtype.name


def band_count(data: NDArray) -> int:
    """Bands of a ``(rows, cols)`` or ``(bands, rows, cols)`` block."""
    return 1 if data.ndim == 2 else int(data.shape[0])


def _as_dtype(data: Any, dtype: str) -> NDArray:
    array = np.asarray(data)
    if array.dtype == bool:
        array = array.view(np.uint8)
    return array.astype(dtype, copy=False)


def write_blocks(dst: Any, messages: Iterable[dict[str, Any]], bidx: int | None = None,
                 verbose: bool = False) -> None:
    """Write block messages into an open dataset.

    Parameters
    ----------
    dst : rasterio dataset opened for writing
    messages : iterable of dict
        ``{"view": view, "data": data}``.
    bidx : int, optional
        The band 2-D blocks go into; without it a 2-D block goes into band
        1 and a 3-D block into every band.
    verbose : bool, default False
        Log each block at INFO level.
    """
    for message in messages:
        window = view_to_window(message["view"])
        if bidx is not None:
            dst.write(_as_dtype(message["data"], dst.dtypes[bidx - 1]), bidx, window=window)
        else:
            data = _as_dtype(message["data"], dst.dtypes[0])
            dst.write(data if data.ndim == 3 else data[np.newaxis], window=window)
        if verbose:
            logger.info("wrote view %s into %s", message["view"], dst.name)


class RasterSink:
    """Writes a run's blocks into a new raster, created when the first block arrives.

    Parameters
    ----------
    path : path-like
        The file to create (a temporary or scratch file of the output).
    profile_for : callable
        ``profile_for(dtype, count)``: its profile for the first block's
        data type and band count.
    name : path-like
        The output the file becomes, for error messages.
    tags : dict, optional
        Stored on band 1 (``GEORACOON`` domain) once every block is written.
    """

    def __init__(self, path: str | os.PathLike[str], profile_for: ProfileFor,
                 name: str | os.PathLike[str], tags: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.profile_for = profile_for
        self.name = name
        self.tags = dict(tags or {})

    def __call__(self, messages: Any) -> None:
        """Consume ``messages`` (a queue) until the end of the run.

        Raises
        ------
        OutputError
            When GDAL fails to write (a full disk, mostly), naming the output.
        """
        blocks = iter_messages(messages)
        first = next(blocks, None)
        if first is None:
            return
        data = np.asarray(first["data"])
        profile = self.profile_for(block_dtype(data), band_count(data))
        try:
            with bounded_write_cache(), open_raster(self.path, "w", **profile) as dst:
                write_blocks(dst, itertools.chain([first], blocks))
                write_tags(dst, self.tags, 1)
        except (RasterioError, CPLE_BaseError, SourceError) as error:
            raise write_failure(self.path, self.name, str(error)) from error


class ArraySink:
    """Places a run's blocks into an array.

    Parameters
    ----------
    array : numpy.ndarray, optional
        The array to fill, in place.
    shape : tuple of int, optional
        Without ``array``: ``(rows, cols)`` of the array created when the
        first block arrives, with its data type (``(bands, rows, cols)`` for
        3-D blocks).
    """

    def __init__(self, array: NDArray | None = None,
                 shape: tuple[int, int] | None = None) -> None:
        if array is None and shape is None:
            raise ValueError("an ArraySink needs the array to fill or the shape of one")
        self.array = array
        self.shape = shape

    def __call__(self, messages: Any) -> NDArray | None:
        """Consume ``messages`` (a queue) until the end of the run; return the array."""
        for message in iter_messages(messages):
            if self.array is None:
                data = np.asarray(message["data"])
                shape = self.shape if data.ndim == 2 else (band_count(data), *self.shape)
                self.array = np.empty(shape, dtype=data.dtype)
            update_view(self.array, message["view"], message["data"])
        return self.array
