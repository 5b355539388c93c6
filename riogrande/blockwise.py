"""Your own function over the blocks of one or more rasters: :func:`apply`.

:func:`plan_apply` checks the inputs (:mod:`riogrande.inputs`), the function
and the output (:mod:`riogrande.outputs.target`) before any process starts;
:meth:`ApplyJob.run` hands the output's sink to the engine
(:func:`~riogrande.runner.run_views`), which calls the function on every
block (with a border for focal filters) and streams the results into a new
GeoTIFF or COG, or into an array. The output's data type and band count are
those of the first block's result (checked for every later one); its grid,
tiling and compression those of the first input unless creation options say
otherwise.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.dtypes
from numpy.typing import NDArray

from riogrande.blocks import gdal_cache_mb
from riogrande.blockwise_worker import apply_block, mask_rule
from riogrande.errors import FunctionError
from riogrande.inputs import (
    PathOrSource,
    RunOptions,
    check_sendable,
    open_named,
    output_nodata,
    source_name,
    views_of,
)
from riogrande.inputs import run_options as check_run_options
from riogrande.io.checks import check_nodata
from riogrande.io.remote import gdal_options
from riogrande.messages import is_kill
from riogrande.outputs.profiles import default_nodata
from riogrande.outputs.sinks import ArraySink, band_count
from riogrande.outputs.target import OutputTarget, plan_derived_output
from riogrande.prepare import as_size
from riogrande.runner import run_views
from riogrande.stopping import stop_on_signals

logger = logging.getLogger(__name__)

Inputs = PathOrSource | Mapping[str, PathOrSource]


@dataclass(frozen=True)
class ApplyReport:
    """What an :func:`apply` run did.

    Attributes
    ----------
    output : pathlib.Path or None
        The raster written; None for an in-memory run.
    array : numpy.ndarray or None
        The result of an in-memory run (``output=None``): ``(rows, cols)``
        when the function returns 2-D blocks, else ``(bands, rows, cols)``.
    dtype : str
        Data type of the result.
    count : int
        Number of bands of the result.
    nodata : int, float or None
        The output's nodata value (masked pixels hold it).
    block_size : tuple of int
        ``(width, height)`` of the blocks, border excluded.
    views : int
        Number of blocks processed.
    workers : int
        Number of blocks processed at once.
    seconds : float
        Wall-clock duration.
    nodata_collisions : int
        Valid pixels whose result is the nodata value: they read back as
        nodata (0 unless the nodata value is one the results hold).
    """

    output: Path | None
    array: NDArray | None
    dtype: str
    count: int
    nodata: Any
    block_size: tuple[int, int]
    views: int
    workers: int
    seconds: float
    nodata_collisions: int = 0


def _file_dtype(dtype: np.dtype) -> str:
    name = "uint8" if dtype.kind == "b" else dtype.name
    if not rasterio.dtypes.check_dtype(name):
        raise FunctionError(f"a GeoTIFF cannot hold the data type {name} the function "
                            "returns; give dtype= (e.g. float32)")
    return name


class _CheckedResults:
    """The aggregator's queue, each result checked before the sink gets it.

    Every block must give the band count of the first one (and ``count``
    when given); a result written to a file must be of a type GeoTIFF holds,
    in which the nodata value can occur. Valid pixels holding the nodata
    value are added up.
    """

    def __init__(self, count: int | None, to_file: bool, nodata: Any, masked: bool) -> None:
        self._messages: Any = None
        self._expected = count
        self._to_file = to_file
        self._masked = masked
        self.nodata = nodata
        self.shape: tuple[int, int] | None = None  # (ndim, bands) of the first result
        self.dtype = ""
        self.collisions = 0

    def feeding(self, sink: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The aggregator that hands ``sink`` the engine's queue through these checks."""
        def aggregate(messages: Any) -> Any:
            self._messages = messages
            return sink(self)
        return aggregate

    def get(self) -> Any:
        message = self._messages.get()
        if is_kill(message):
            return message
        data = np.asarray(message["data"])
        shape = (data.ndim, band_count(data))
        if self.shape is None:
            self._check_first(data, shape[1])
            self.shape = shape
        elif shape != self.shape:
            raise FunctionError(
                f"the function returned {shape[1]} band(s) ({shape[0]}-D) for view "
                f"{message['view']} but {self.shape[1]} ({self.shape[0]}-D) for another "
                "block; every block must give the same number of bands"
            )
        self.collisions += message.get("collisions", 0)
        return message

    def _check_first(self, data: NDArray, count: int) -> None:
        if self._expected is not None and count != self._expected:
            raise FunctionError(f"the function returned {count} band(s), "
                                f"not count={self._expected}")
        self.dtype = _file_dtype(data.dtype) if self._to_file else data.dtype.name
        if self.nodata is None and self._masked:
            self.nodata = default_nodata(self.dtype)
        elif self._to_file and self.nodata is not None:
            check_nodata(self.nodata, self.dtype, "the output")


@dataclass
class ApplyJob:
    """An :func:`apply` run, planned: every check done, nothing written yet."""

    jobs: list[dict[str, Any]]
    views: list[tuple[int, int, int, int]]
    block: tuple[int, int]
    shape: tuple[int, int]
    target: OutputTarget | None
    nodata: Any
    masked: bool
    count: int | None
    options: RunOptions
    gdal_cachemax_mb: int
    planning_seconds: float = 0.0

    def run(self) -> ApplyReport:
        """Run the function on every block; write the result or return it in the report.

        Raises the errors of a run that :func:`apply` lists; no output is left behind.
        """
        started = time.perf_counter()
        array = ArraySink(shape=self.shape)
        results = _CheckedResults(self.count, self.target is not None, self.nodata, self.masked)
        with stop_on_signals(self.options.cancel) as stop:
            engine = {**self.options.engine(self.gdal_cachemax_mb), "cancel": stop,
                      "queue_param": "out_q"}
            if self.target is None:
                run_views(apply_block, self.jobs, results.feeding(array), **engine)
            else:
                with self.target.writing(self.views, None, stop) as sink:
                    run_views(apply_block, self.jobs, results.feeding(sink), **engine)
        report = ApplyReport(
            None if self.target is None else self.target.final,
            array.array if self.target is None else None, results.dtype,
            results.shape[1] if results.shape else 0, results.nodata, self.block,
            len(self.views), self.options.workers,
            self.planning_seconds + time.perf_counter() - started, results.collisions)
        if report.nodata_collisions:
            logger.warning("%d valid pixel(s) of the result hold the nodata value %r and read "
                           "back as nodata; choose another nodata value", report.nodata_collisions,
                           report.nodata)
        return report


def plan_apply(
    func: Callable[..., Any],
    inputs: Inputs,
    output: str | os.PathLike[str] | None,
    *,
    bands: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    dtype: Any = None,
    nodata: Any = None,
    border: int | Sequence[int] = 0,
    block_size: Sequence[int] | None = None,
    count: int | None = None,
    masked: bool = False,
    kwargs: dict[str, Any] | None = None,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> ApplyJob:
    """Check everything :func:`apply` needs before any work.

    The parameters are those of :func:`apply`.

    Returns
    -------
    ApplyJob
        Its :meth:`~ApplyJob.run` does the work.
    """
    started = time.perf_counter()
    kwargs = dict(kwargs or {})
    names = inputs.values() if isinstance(inputs, Mapping) else [inputs]
    run = check_run_options(run_options, releases_gil=False,
                            inputs=[source_name(name) for name in names])
    if not callable(func):
        raise FunctionError(f"func must be callable, got {func!r}")
    name = getattr(func, "__qualname__", repr(func))
    check_sendable((func, kwargs), run, f"the function {name} (or its keyword arguments)")
    with gdal_options(run.gdal_settings):
        opened = open_named(inputs, bands)
        first = next(iter(opened.values()))[0]
        if dtype is not None:
            try:
                dtype = np.dtype(dtype).name
            except TypeError:
                raise FunctionError(f"dtype={dtype!r} is not a data type; give e.g. 'float32' "
                                    "or 'uint8'") from None
            if output is not None:
                _file_dtype(np.dtype(dtype))
        nodata = output_nodata(nodata, dtype)
        target = None
        if output is not None:
            by_type = masked and nodata is None
            target = plan_derived_output(
                output, [source.path for source, _ in opened.values()], first.profile,
                nodata=default_nodata if by_type else nodata, cog=cog,
                creation_options=creation_options, dtype=dtype, count=count)
        border = as_size((border, border) if isinstance(border, int) else border, "border",
                         minimum=0)
        block, views, inner_views = views_of(first.profile, block_size, run, border)
        read = {name: (source, indexes, mask_rule(source, indexes) if masked else None)
                for name, (source, indexes) in opened.items()}
    jobs = [{"func": func, "inputs": read, "named": isinstance(inputs, Mapping),
             "view": view, "inner_view": inner, "kwargs": kwargs, "masked": masked,
             "dtype": dtype, "nodata": nodata}
            for view, inner in zip(views, inner_views, strict=True)]
    logger.info("apply %s to %s, blocks of %s, border %s", getattr(func, "__name__", func),
                [source.name for source, _ in opened.values()], block, border)
    return ApplyJob(jobs, views, block, first.shape, target, nodata, masked, count, run,
                    min(256, len(opened) * gdal_cache_mb(block, first.profile)),
                    time.perf_counter() - started)


def apply(
    func: Callable[..., Any],
    inputs: Inputs,
    output: str | os.PathLike[str] | None,
    *,
    bands: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    dtype: Any = None,
    nodata: Any = None,
    border: int | Sequence[int] = 0,
    block_size: Sequence[int] | None = None,
    count: int | None = None,
    masked: bool = False,
    kwargs: dict[str, Any] | None = None,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> ApplyReport:
    """Run ``func`` over the blocks of rasters in parallel; write or return the result.

    Parameters
    ----------
    func : callable
        ``func(data, **kwargs)`` returning a ``(rows, cols)`` or ``(bands,
        rows, cols)`` array of the block's size. ``data`` is the block's
        ``(bands, rows, cols)`` array for one input, or a dict of them by
        name for several. On worker processes (the default) it must pickle:
        define it at module level (not a lambda or a nested function), or
        run on threads (``backend="threads"``: best for numpy code, which
        releases the GIL).
    inputs : str, path-like, Source, or mapping of name to those
        One raster, or several on the same grid (size, transform, CRS),
        e.g. ``{"red": "b4.tif", "nir": "b8.tif"}``.
    output : str, path-like or None
        A new GeoTIFF, written under a temporary name and moved into place
        on success (never left half-written). Its grid, tiling and
        compression are those of the first input; its data type and band
        count those of ``func``'s result (a bool result is stored as
        ``uint8``). None: nothing is written and the result is returned in
        :attr:`ApplyReport.array`.
    bands : list of int, or mapping of name to list of int, optional
        Bands to read (1-based): the same for every input, or per input
        name; all bands by default.
    dtype : str or numpy dtype, optional
        Cast every result to this type; by default the type of the first
        result that arrives.
    nodata : int, float or None
        The output's nodata value. With ``masked=True``, masked pixels of
        the result are written as this value; by default NaN for floating
        point results, the type's largest value for unsigned integers, its
        smallest for signed ones (see :mod:`riogrande.inputs`). Valid pixels
        whose result is the nodata value are counted in
        :attr:`ApplyReport.nodata_collisions` and logged as a warning.
    border : int or (int, int), default 0
        Pixels of context added on every side of each block (clipped at the
        raster's edges), e.g. 2 for a 5 x 5 focal filter; the result is
        cropped back to the block.
    block_size : tuple of int, optional
        ``(width, height)`` of a block, border excluded; by default a
        multiple of the first input's tiles of a few MB.
    count : int, optional
        The number of bands ``func`` returns; checked against the result.
    masked : bool, default False
        Hand ``func`` ``numpy.ma`` arrays masked by rasterio's masks (the
        band's nodata value or the file's internal mask). Masked pixels of
        the result are written as the output's nodata value. With False,
        ``func`` sees the raw values, nodata included.
    kwargs : dict, optional
        Keyword arguments of ``func``.
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF (with overviews): the blocks go into
        a scratch GeoTIFF next to the output, which GDAL's COG driver copies.
    creation_options : mapping, optional
        GDAL creation options over riogrande's defaults, e.g.
        ``{"COMPRESS": "ZSTD"}`` or ``{"COMPRESS": "NONE"}`` (fastest);
        see :mod:`riogrande.outputs.profiles`. Checked with GDAL before any
        work when ``dtype`` and ``count`` are given, else when the first
        block arrives, before anything is written.
    **run_options
        See :class:`~riogrande.inputs.RunOptions`; the blocks run in worker
        processes unless ``backend="threads"`` or an executor is given.

    Returns
    -------
    ApplyReport

    Raises
    ------
    FunctionError
        ``func`` is not callable or cannot be sent to worker processes, or
        its results have varying band counts or a type GeoTIFF cannot hold.
    SourceError, InvalidBandError, IncompatibleRastersError
        An input is missing or unreadable, a band does not exist, the
        inputs are not on the same grid.
    InvalidNodataError, BlockSizeError, OutputError
        Bad ``nodata``, ``block_size`` or ``border``; an output that cannot
        be written (or is an input).
    BlockProcessingError
        ``func`` raised (or returned a wrong shape) on a block; names the
        view. No output is left behind.
    RunCancelledError, WorkerLostError
        As in :func:`~riogrande.runner.run_views`.

    Examples
    --------
    >>> def ndvi(data):                                     # doctest: +SKIP
    ...     red, nir = data["red"][0], data["nir"][0]
    ...     return (nir - red) / (nir + red)
    >>> apply(ndvi, {"red": "b4.tif", "nir": "b8.tif"}, "ndvi.tif",
    ...       dtype="float32")                              # doctest: +SKIP
    """
    return plan_apply(func, inputs, output, bands=bands, dtype=dtype, nodata=nodata,
                      border=border, block_size=block_size, count=count, masked=masked,
                      kwargs=kwargs, cog=cog, creation_options=creation_options,
                      **run_options).run()
