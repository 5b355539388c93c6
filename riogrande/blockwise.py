"""Your own function over the blocks of one or more rasters: :func:`apply`.

One call does what the engine's parts do together: it validates the inputs
(files, bands, grids) and the function before any process starts, cuts the
raster into views (with a border for focal filters), runs the function on
every block with :func:`~riogrande.runner.run_views` (any of its backends:
the local spawn pool, a caller's executor, a Dask client), and streams the
results into a new GeoTIFF, written under a temporary name and moved into
place on success, or into an array.

The output's data type and band count are those of what the function
returns for the first block that arrives; its georeferencing, tiling and
compression are those of the first input, unless creation options say
otherwise (:mod:`riogrande.outputs.derived`); it can be a COG.
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.dtypes
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio passes through as they are
from rasterio.errors import RasterioError

from riogrande.aggregators import combine_views, fill_matrix
from riogrande.blocks import gdal_cache_mb, resolve_block_size
from riogrande.blockwise_worker import MaskRule, apply_block, mask_rule
from riogrande.errors import (
    AggregationError,
    FunctionError,
    InvalidBandError,
    InvalidNodataError,
    OutputError,
)
from riogrande.helper import get_nbr_workers
from riogrande.io.checks import check_nodata, check_same_grid
from riogrande.io.models import Source, check_band_index
from riogrande.masking import open_source
from riogrande.outputs.derived import DerivedOutput, derived_output
from riogrande.outputs.written import write_failure
from riogrande.pool import Pool, is_remote
from riogrande.prepare import as_size, create_views
from riogrande.runner import is_kill, run_views

logger = logging.getLogger(__name__)

Inputs = str | os.PathLike[str] | Source | Mapping[str, str | os.PathLike[str] | Source]
#: Keyword arguments of :func:`~riogrande.runner.run_views` that :func:`apply` sets itself.
_SET_BY_APPLY = {"worker", "jobs", "aggregator", "queue_param", "on_message"}


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


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise FunctionError(f"dtype={dtype!r} is not a data type; give e.g. 'float32' "
                            "or 'uint8'") from None


def _file_dtype(dtype: np.dtype) -> str:
    name = "uint8" if dtype.kind == "b" else dtype.name
    if not rasterio.dtypes.check_dtype(name):
        raise FunctionError(f"a GeoTIFF cannot hold the data type {name} the function "
                            "returns; give dtype= (e.g. float32)")
    return name


class _Blocks:
    """The aggregator's queue with its first block put back in front; band counts checked."""

    def __init__(self, first: dict[str, Any], messages: Any) -> None:
        self._first: dict[str, Any] | None = first
        self._messages = messages
        self.ndim = first["data"].ndim
        self.count = _band_count(first["data"])

    def get(self) -> Any:
        message, self._first = self._first or self._messages.get(), None
        if not is_kill(message):
            data = message["data"]
            if data.ndim != self.ndim or _band_count(data) != self.count:
                raise FunctionError(
                    f"the function returned {_band_count(data)} band(s) ({data.ndim}-D) for "
                    f"view {message['view']} but {self.count} ({self.ndim}-D) for another "
                    "block; every block must give the same number of bands"
                )
        return message


def _band_count(data: NDArray) -> int:
    return 1 if data.ndim == 2 else int(data.shape[0])


class _Sink:
    """The aggregator: creates the output when the first block arrives, then fills it."""

    def __init__(
        self, path: Path | None, output: DerivedOutput | None, profile: dict[str, Any],
        nodata: Any, count: int | None
    ) -> None:
        self.path = path
        self.output = output
        self.profile = profile
        self.nodata = nodata
        self.expected_count = count
        self.array: NDArray | None = None
        self.dtype = ""
        self.count = 0

    def __call__(self, messages: Any) -> None:
        first = messages.get()
        if is_kill(first):
            return
        blocks = _Blocks(first, messages)
        data = first["data"]
        self.count = blocks.count
        if self.expected_count is not None and self.count != self.expected_count:
            raise FunctionError(f"the function returned {self.count} band(s), "
                                f"not count={self.expected_count}")
        if self.path is None or self.output is None:
            self.dtype = data.dtype.name
            shape = (self.profile["height"], self.profile["width"])
            self.array = np.empty(shape if data.ndim == 2 else (self.count, *shape), data.dtype)
            fill_matrix(self.array, blocks)
            return
        self.dtype = _file_dtype(data.dtype)
        if self.nodata is not None:
            check_nodata(self.nodata, self.dtype, "the output")
        profile = self.output.profile(self.dtype, self.count, self.nodata)
        try:
            combine_views({"output_file": self.path, "profile": profile}, blocks)
        except (RasterioError, CPLE_BaseError, OSError) as error:  # a full disk, mostly
            if isinstance(error, OutputError):
                raise
            raise write_failure(self.path, self.output.path, str(error)) from error


def _named_inputs(
    inputs: Inputs, bands: Sequence[int] | Mapping[str, Sequence[int]] | None, masked: bool
) -> tuple[dict[str, tuple[Source, list[int], MaskRule]], bool]:
    """Open the inputs; return name -> (source, bands, mask rule) and whether they are named."""
    named = isinstance(inputs, Mapping)
    sources = dict(inputs) if named else {"data": inputs}
    if not sources:
        raise InvalidBandError("apply needs at least one input raster")
    opened = {}
    for name, path in sources.items():
        if not isinstance(name, str):
            raise TypeError(f"input names must be strings, got {name!r}")
        source = open_source(path)
        wanted = bands.get(name) if isinstance(bands, Mapping) else bands
        if wanted is None:
            indexes = list(range(1, source.count + 1))
        else:
            indexes = [wanted] if isinstance(wanted, int) else list(wanted)
            if not indexes:
                raise InvalidBandError(f"no band selected from {source.name}")
            for bidx in indexes:
                check_band_index(bidx, source.count, source.name)
        indexes = [int(bidx) for bidx in indexes]
        opened[name] = (source, indexes, mask_rule(source, indexes) if masked else None)
    check_same_grid([(source.name, source.profile) for source, _, _ in opened.values()])
    return opened, named


def _runs_in_processes(run_options: dict[str, Any]) -> bool:
    """Whether the jobs are pickled with the standard pickle (worker processes, a pool)."""
    executor = run_options.get("executor")
    if executor is None:
        return run_options.get("backend") != "threads"
    if isinstance(executor, Pool):
        return executor.backend != "threads"
    return isinstance(executor, ProcessPoolExecutor)


def _check_function(func: Any, kwargs: dict[str, Any], run_options: dict[str, Any]) -> None:
    if not callable(func):
        raise FunctionError(f"func must be callable, got {func!r}")
    if not _runs_in_processes(run_options):
        return
    try:
        pickle.dumps((func, kwargs))
    except Exception as error:
        name = getattr(func, "__qualname__", repr(func))
        raise FunctionError(
            f"the function {name} (or its keyword arguments) cannot be sent to worker "
            f"processes ({type(error).__name__}: {error}). Define it at module level (not a "
            "lambda or a function defined inside another), or run it on threads: "
            "backend='threads'"
        ) from None


def _check_run_options(run_options: dict[str, Any]) -> None:
    known = set(inspect.signature(run_views).parameters) - _SET_BY_APPLY
    unknown = sorted(set(run_options) - known)
    if unknown:
        raise TypeError(f"apply() got unexpected keyword argument(s) {unknown}; "
                        f"the run options are {sorted(known)}")


def _output_nodata(nodata: Any, masked: bool, first: Source, dtype: str | None) -> Any:
    if nodata is None and masked:
        nodata = first.profile.get("nodata")
        if nodata is None:
            raise InvalidNodataError(
                f"masked=True writes masked pixels as the output's nodata value, and "
                f"{first.name} has none: give nodata="
            )
    if nodata is not None:
        check_nodata(nodata, dtype or "float64", "the output")
        return nodata.item() if isinstance(nodata, np.generic) else nodata
    return None


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
        the result are written as this value (default: the first input's
        nodata value).
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
        the result are written as ``nodata``. With False, ``func`` sees the
        raw values, nodata included.
    kwargs : dict, optional
        Keyword arguments of ``func``.
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF (with overviews): the blocks go into
        a scratch GeoTIFF next to the output, which GDAL's COG driver copies.
    creation_options : mapping, optional
        GDAL creation options over riogrande's defaults, e.g.
        ``{"COMPRESS": "ZSTD"}`` or ``{"COMPRESS": "NONE"}`` (fastest);
        see :mod:`riogrande.outputs.derived`. Checked with GDAL before any
        work when ``dtype`` and ``count`` are given, else when the first
        block arrives, before anything is written.
    **run_options
        Passed to :func:`~riogrande.runner.run_views`: ``nbrcpu``,
        ``backend`` (``"processes"``, the default, or ``"threads"``),
        ``start_method``, ``executable``, ``progress``, ``cancel``,
        ``executor`` (a :class:`riogrande.Pool`, a ``concurrent.futures``
        executor, a Dask client), ``gdal_cachemax_mb``.

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
    started = time.perf_counter()
    kwargs = dict(kwargs or {})
    _check_run_options(run_options)
    _check_function(func, kwargs, run_options)
    opened, named = _named_inputs(inputs, bands, masked)
    first = next(iter(opened.values()))[0]
    dtype = None if dtype is None else _dtype_name(dtype)
    if output is not None and dtype is not None:
        _file_dtype(np.dtype(dtype))
    nodata = _output_nodata(nodata, masked, first, dtype)
    target = None
    if output is not None:
        target = derived_output(output, [source.path for source, _, _ in opened.values()],
                                first.profile, cog=cog, creation_options=creation_options,
                                dtype=dtype, count=count)
    border = (border, border) if isinstance(border, int) else border
    border = as_size(border, "border", minimum=0)
    profile = first.profile
    workers = get_nbr_workers(run_options.get("nbrcpu"))
    block = resolve_block_size(block_size, profile, workers,
                               remote=is_remote(run_options.get("executor")))
    views, inner_views = create_views(block, border, (profile["width"], profile["height"]))
    jobs = [{"func": func, "inputs": opened, "named": named, "view": view,
             "inner_view": inner, "kwargs": kwargs, "masked": masked, "dtype": dtype,
             "nodata": nodata} for view, inner in zip(views, inner_views, strict=True)]
    run_options.setdefault("gdal_cachemax_mb",
                           min(256, len(opened) * gdal_cache_mb(block, profile)))
    run = partial(run_views, apply_block, jobs, queue_param="out_q", **run_options)
    logger.info("apply %s to %s, blocks of %s, border %s", getattr(func, "__name__", func),
                [source.name for source, _, _ in opened.values()], block, border)
    if target is None:
        sink = _Sink(None, None, profile, nodata, count)
        _run(run, sink)
    else:
        with target.writing() as path:
            sink = _Sink(path, target, profile, nodata, count)
            _run(run, sink)
    return ApplyReport(None if target is None else target.path, sink.array, sink.dtype,
                       sink.count, nodata, block, len(views), workers,
                       time.perf_counter() - started)


def _run(run: Callable[..., Any], sink: _Sink) -> None:
    """Run with ``sink`` as aggregator; its own clear errors come out unwrapped."""
    try:
        run(sink)
    except AggregationError as error:
        if isinstance(error.__cause__, (FunctionError, InvalidNodataError, OutputError)):
            raise error.__cause__ from None
        raise
