"""The seed's aggregators: consume ``{"view", "data"}`` messages until ``{"signal": "kill"}``.

Thin adapters over the sinks of :mod:`riogrande.outputs.sinks`: the blocks
are written by the same code whether a job or a caller of these functions
runs the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from numpy.typing import NDArray

from riogrande.errors import OutputError, SourceError
from riogrande.io.gdal_cache import bounded_write_cache
from riogrande.io.handles import dataset, open_raster
from riogrande.io.output import atomic_output
from riogrande.io.rasters import Band, profile_differences
from riogrande.io.tags import write_tags
from riogrande.messages import iter_messages
from riogrande.outputs.sinks import ArraySink, write_blocks
from riogrande.prepare import view_to_window
from riogrande.timing import TimedTask


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


def _output_band(output_params: dict[str, Any]) -> tuple[str, Band | int | None]:
    """The output path and band of :func:`combine_views`'s parameters."""
    band = output_params.get("band")
    output_file = output_params.get("output_file")
    if isinstance(band, Band):
        if output_file is None:
            output_file = band.source.name
        elif os.path.abspath(os.fspath(output_file)) != os.path.abspath(band.source.name):
            raise OutputError(f"output_file {os.fspath(output_file)} is not the file of the "
                              f"output band {band.source.name}")
    if output_file is None:
        raise OutputError("combine_views needs 'output_file' (or a 'band' of an output file)")
    return os.fspath(output_file), band


def _reusable(path: str, profile: dict[str, Any], bidx: int) -> bool:
    """Whether ``path`` is a raster with ``profile``'s grid and type, band ``bidx`` included."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return False
    try:
        with dataset(path) as src:
            existing = src.profile
    except SourceError:
        return False
    return bidx <= existing["count"] and not profile_differences(
        existing, {key: value for key, value in profile.items() if key != "count"})


@contextmanager
def _destination(
    path: str, profile: dict[str, Any] | None, band: Band | int | None
) -> Iterator[tuple[Any, int | None]]:
    """Open the raster :func:`combine_views` writes, and the band index (None: all bands)."""
    explicit = band._bidx if isinstance(band, Band) else band
    if profile is not None and not (band is not None and _reusable(path, profile, explicit or 1)):
        profile = dict(profile)
        if band is not None:
            profile["count"] = max(int(profile.get("count", 1)), explicit or 1)
        with atomic_output(path) as temporary, open_raster(temporary, "w", **profile) as dst:
            yield dst, (None if band is None else explicit or 1)
        return
    with open_raster(path, "r+") as dst:
        yield dst, (band.index_in(dst) if isinstance(band, Band) else band)


def combine_views(output_params: dict[str, Any], job_out_q: Any) -> TimedTask:
    """Write each received view into a raster file.

    Parameters
    ----------
    output_params : dict
        ``output_file``: path of the raster; ``profile``: rasterio profile to
        create it with (when absent the file must exist and is updated);
        ``band``: the band to write 2-D blocks into, a 1-based index or a
        :class:`~riogrande.io.models.Band` of the output file (found by its
        tags when it has no index; 3-D blocks fill all bands when absent);
        ``tags``: dict merged over the Band's own tags and stored on the
        band (band 1 when no band is given) in the ``GEORACOON`` domain;
        ``verbose``: log each block. With a ``band`` and a ``profile``, an
        existing file of that profile's grid and type keeps its other bands;
        otherwise a new file is created, appearing once complete.
        ``output_params`` is not modified.
    job_out_q : queue-like
        The queue to listen to.

    Returns
    -------
    TimedTask
        How long the writing took.
    """
    output_file, band = _output_band(output_params)
    profile = output_params.get("profile")
    tags = {**(band.tags if isinstance(band, Band) else {}), **(output_params.get("tags") or {})}
    verbose = bool(output_params.get("verbose", False))
    with TimedTask() as timer, bounded_write_cache():
        with _destination(output_file, profile, band) as (dst, bidx):
            write_blocks(dst, iter_messages(job_out_q), bidx, verbose)
            write_tags(dst, tags, bidx or 1)
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
        ArraySink(matrix)(aggr_q)
    return matrix, (timer,)
