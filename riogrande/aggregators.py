"""Aggregators: consume ``{"view", "data"}`` messages from a queue until ``{"signal": "kill"}``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riogrande.helper import view_to_window
from riogrande.io.gdal_cache import bounded_write_cache
from riogrande.io.handles import open_raster
from riogrande.io.models import write_tags
from riogrande.prepare import update_view
from riogrande.runner import is_kill
from riogrande.timing import TimedTask

logger = logging.getLogger(__name__)


def iter_messages(aggr_q: Any) -> Iterator[dict[str, Any]]:
    """Yield the messages of a queue until the kill signal.

    Parameters
    ----------
    aggr_q : queue-like
        Anything with a blocking ``get``.

    Yields
    ------
    dict
        ``{"view": view, "data": data}`` messages.
    """
    while True:
        message = aggr_q.get()
        if is_kill(message):
            return
        yield message


def data_writer(
    writer: Callable[..., Any], writer_params: dict[str, Any], aggr_q: Any
) -> TimedTask:
    """Write each received view with the context manager ``writer``.

    Parameters
    ----------
    writer : callable
        A context manager factory yielding ``write(data, window=...)``, such as
        :meth:`Source.data_writer`, :meth:`Source.mask_writer` or
        :meth:`Band.data_writer`.
    writer_params : dict
        Keyword arguments of ``writer``.
    aggr_q : queue-like
        The queue to listen to.

    Returns
    -------
    TimedTask
        How long the writing took.
    """
    with TimedTask() as timer, bounded_write_cache():
        with writer(**(writer_params or {})) as write:
            for message in iter_messages(aggr_q):
                write(message["data"], window=view_to_window(message["view"]))
    return timer


def _as_dtype(data: Any, dtype: str) -> NDArray:
    array = np.asarray(data)
    if array.dtype == bool:
        array = array.view(np.uint8)
    return array.astype(dtype, copy=False)


def combine_views(output_params: dict[str, Any], job_out_q: Any) -> TimedTask:
    """Write each received view into a raster file.

    Parameters
    ----------
    output_params : dict
        ``output_file``: path of the raster; ``profile``: rasterio profile to
        create it with (when absent the file must exist and is updated);
        ``band``: 1-based band to write 2-D blocks into (3-D blocks fill all
        bands when absent); ``tags``: dict stored as JSON metadata at the
        end; ``verbose``: log each block.
    job_out_q : queue-like
        The queue to listen to.

    Returns
    -------
    TimedTask
        How long the writing took.
    """
    output_file = os.fspath(output_params["output_file"])
    profile = output_params.get("profile")
    band = output_params.get("band")
    verbose = bool(output_params.get("verbose", False))
    with TimedTask() as timer, bounded_write_cache():
        if profile is not None:
            destination = open_raster(output_file, "w", **profile)
        else:
            destination = open_raster(output_file, "r+")
        with destination as dst:
            for message in iter_messages(job_out_q):
                window = view_to_window(message["view"])
                if band is not None:
                    dst.write(_as_dtype(message["data"], dst.dtypes[band - 1]), band,
                              window=window)
                else:
                    data = _as_dtype(message["data"], dst.dtypes[0])
                    dst.write(data if data.ndim == 3 else data[np.newaxis], window=window)
                if verbose:
                    logger.info("wrote view %s into %s", message["view"], output_file)
            write_tags(dst, output_params.get("tags") or {}, band or 0)
    return timer


def fill_matrix(matrix: NDArray, aggr_q: Any) -> tuple[NDArray, tuple[TimedTask]]:
    """Place each received block into ``matrix`` (in place).

    Parameters
    ----------
    matrix : numpy.ndarray
        The array to fill.
    aggr_q : queue-like
        The queue to listen to; ``{"view": ..., "data": ...}`` messages are
        written with :func:`~riogrande.prepare.update_view`,
        ``{"signal": "kill"}`` ends.

    Returns
    -------
    matrix : numpy.ndarray
        The filled array (the same object).
    timers : tuple of TimedTask
        How long filling took.
    """
    with TimedTask() as timer:
        for message in iter_messages(aggr_q):
            update_view(matrix, message["view"], message["data"])
    return matrix, (timer,)
