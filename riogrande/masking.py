"""The two jobs: a nodata mask of one raster, a valid-pixel selector over bands.

:func:`write_mask`, :func:`write_selector` and :func:`selector_array` validate
their input up front (clear errors before any process starts), cut the
raster into views, and hand the views to :func:`~riogrande.runner.run_views`
with the seed's workers and aggregators. They return a :class:`MaskReport`
with pixel counts; :func:`~riogrande.parallel.compute_mask` and
:func:`~riogrande.parallel.prepare_selector` are thin wrappers around them.
"""

from __future__ import annotations

import copy
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.errors import RasterioIOError

from riogrande.aggregators import combine_views, fill_matrix
from riogrande.blocks import gdal_cache_mb, resolve_block_size
from riogrande.helper import (
    aggregated_selector,
    check_logic,
    get_nbr_workers,
    reduced_mask,
    view_to_window,
)
from riogrande.io.checks import (
    check_nodata,
    check_output_path,
    check_same_grid,
    check_writable_input,
)
from riogrande.io.exceptions import (
    InvalidBandError,
    InvalidNodataError,
    OutputError,
    SourceError,
    UnsupportedLogicError,
)
from riogrande.io.handles import dataset
from riogrande.io.locking import exclusive_write
from riogrande.io.models import Band, Source, check_band_index
from riogrande.io.output import atomic_output, mask_profile
from riogrande.pool import check_backend, is_remote
from riogrande.prepare import create_views
from riogrande.runner import Cancel, Progress, run_views
from riogrande.workers import block_jobs, process_block, process_masks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaskReport:
    """What a mask or selector run did.

    Attributes
    ----------
    valid : int
        Pixels marked valid.
    masked : int
        Pixels marked masked.
    output : pathlib.Path or None
        The raster written (the source itself for an internal mask; None
        for an in-memory selector).
    block_size : tuple of int
        ``(width, height)`` of the blocks.
    views : int
        Number of blocks processed.
    workers : int
        Number of worker processes.
    seconds : float
        Wall-clock duration.
    """

    valid: int
    masked: int
    output: Path | None
    block_size: tuple[int, int]
    views: int
    workers: int
    seconds: float

    @property
    def pixels(self) -> int:
        """Total pixels."""
        return self.valid + self.masked


class _PixelCounter:
    """Counts valid pixels in the messages going to the aggregator."""

    def __init__(self) -> None:
        self.valid = 0

    def __call__(self, message: dict[str, Any]) -> None:
        self.valid += int(np.count_nonzero(message["data"]))


@contextmanager
def _logging_level(verbose: bool) -> Iterator[None]:
    package_logger = logging.getLogger("riogrande")
    previous = package_logger.level
    if verbose and package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        package_logger.setLevel(previous)


def open_source(source: str | os.PathLike[str] | Source) -> Source:
    """Return ``source`` as a :class:`Source` whose profile has been read.

    Raises
    ------
    SourceNotFoundError
        If the file does not exist.
    SourceError
        If it is not a readable raster.
    """
    source = source if isinstance(source, Source) else Source(source)
    source.import_profile()
    return source


def _band_indexes(source: Source, bands: Sequence[Band | int] | None) -> list[int]:
    if bands is None:
        return list(range(1, source.count + 1))
    if isinstance(bands, (Band, int)):
        bands = [bands]
    if len(bands) == 0:
        raise InvalidBandError(f"no band selected from {source.name}")
    indexes = []
    for band in bands:
        if isinstance(band, Band):
            if band.source.path.resolve() != source.path.resolve():
                raise InvalidBandError(f"{band!r} does not belong to {source.name}")
            band = band.bidx
        check_band_index(band, source.count, source.name)
        indexes.append(int(band))
    return indexes


def _check_picklable(logic: Any) -> None:
    if isinstance(logic, str):
        return
    try:
        pickle.dumps(logic)
    except Exception as error:
        raise UnsupportedLogicError(
            f"the logic callable {logic!r} cannot be sent to worker processes ({error}); "
            "define it at module level (not a lambda or a nested function)"
        ) from None


def _resolve_nodata(nodata: Any, source: Source) -> Any:
    if nodata is None:
        nodata = source.profile.get("nodata")
        if nodata is None:
            raise InvalidNodataError(
                f"nodata=None means the source's nodata value, but {source.name} has none; "
                "give the value that marks missing data"
            )
    check_nodata(nodata, source.profile["dtype"], source.name)
    return nodata.item() if isinstance(nodata, np.generic) else nodata  # plain, JSON-able


@contextmanager
def _scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="riogrande-") as folder:
        yield Path(folder)


def _copy_into_mask(scratch: Path, source: Source, views: Sequence[Sequence[int]]) -> None:
    """Write the mask raster ``scratch`` into the internal mask of ``source``, block by block."""
    with dataset(scratch) as mask, source.mask_writer() as write:
        for view in views:
            window = view_to_window(view)
            write(mask.read(1, window=window), window=window)


def _check_written(path: Path, name: str | os.PathLike[str]) -> None:
    """Check that every tile of a written raster is on disk (a full disk must not pass).

    GDAL reports some write errors (when flushing blocks on close) only on
    stderr, so the file is checked: it opens, and every tile's bytes lie
    within the file. Only the tile index is read, not the pixels.

    Raises
    ------
    OutputError
        If the file cannot be opened or a tile is missing or cut short.
    """
    try:
        size = path.stat().st_size
        with dataset(path) as written:
            for (row, col), _ in written.block_windows(1):
                offset = written.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
                length = written.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
                if not offset or not length or int(offset) + int(length) > size:
                    raise OutputError(f"writing {name} failed (is the disk full?): "
                                      f"tile {row}, {col} is missing or cut short")
    except (SourceError, RasterioIOError, OSError) as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"writing {name} failed (is the disk full?): {error}") from None


def _run_into_mask_file(
    run: Callable[[Callable[[Any], Any]], Any],
    path: Path,
    profile: dict[str, Any],
    name: str | os.PathLike[str],
    tags: dict[str, Any] | None = None,
) -> Any:
    """Call ``run(aggregator)`` with :func:`combine_views` writing a new mask raster at ``path``.

    The raster is on the grid of ``profile`` (:func:`mask_profile`); once
    written it is checked with :func:`_check_written` (``name`` is the path
    reported in errors). Returns what ``run`` returned.
    """
    result = run(partial(combine_views, {
        "output_file": path, "profile": mask_profile(profile), "band": 1, "tags": tags or {},
    }))
    _check_written(path, name)
    return result


def _run_options(
    nbrcpu: int | None,
    start_method: str | None,
    executable: str | None,
    progress: Progress | None,
    cancel: Cancel | None,
    executor: Any,
    backend: str | None,
    releases_gil: bool = True,
) -> dict[str, Any]:
    """The engine's options; without a choice, threads for tasks that release the GIL."""
    backend = check_backend(backend, start_method, executable)
    if backend is None and executor is None:
        backend = "threads" if releases_gil else "processes"
    return {
        "executor": executor,
        "nbrcpu": get_nbr_workers(nbrcpu),
        "start_method": start_method,
        "executable": executable,
        "progress": progress,
        "cancel": cancel,
        "backend": backend,
    }


def write_mask(
    source: str | os.PathLike[str] | Source,
    output: str | os.PathLike[str] | None = None,
    *,
    block_size: Sequence[int] | None = None,
    nodata: Any = 0,
    logic: str | Callable[..., Any] = "all",
    bands: Sequence[Band | int] | None = None,
    verbose: bool = False,
    nbrcpu: int | None = None,
    start_method: str | None = None,
    executable: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    executor: Any = None,
    backend: str | None = None,
) -> MaskReport:
    """Compute the nodata mask of a raster in parallel and write it.

    Parameters
    ----------
    source : str, path-like or Source
        The raster.
    output : str or path-like, optional
        A new single-band ``uint8`` GeoTIFF (1 valid, 0 masked, the source's
        georeferencing, tiled, DEFLATE) written under a temporary name and
        moved into place on success; the source is not touched. When None,
        the mask is written into the source's internal dataset mask, once
        every block succeeded (a failed or cancelled run leaves it untouched).
    block_size : tuple of int, optional
        ``(width, height)`` of a block; None chooses one aligned to the
        file's tiling.
    nodata : int, float or None, default 0
        The value marking missing data (NaN allowed for float rasters);
        None uses the source's nodata value.
    logic : {"all", "any"} or callable, default "all"
        See :func:`~riogrande.helper.reduced_mask`. A callable must be
        defined at module level.
    bands : list of Band or int, optional
        Bands to check; all by default.
    verbose : bool, default False
        Log progress at INFO level through :mod:`logging`.
    nbrcpu, start_method, executable, progress, cancel, executor, backend
        See :func:`~riogrande.runner.run_views`. Without ``backend``,
        ``start_method``, ``executable`` or ``executor``, the blocks run in
        threads of this process when ``logic`` is ``"all"`` or ``"any"``
        (numpy releases the GIL), in worker processes for a callable.

    Returns
    -------
    MaskReport
    """
    started = time.perf_counter()
    with _logging_level(verbose):
        source = open_source(source)
        indexes = _band_indexes(source, bands)
        nodata = _resolve_nodata(nodata, source)
        check_logic(logic)
        _check_picklable(logic)
        options = _run_options(nbrcpu, start_method, executable, progress, cancel, executor,
                               backend, releases_gil=isinstance(logic, str))
        block = resolve_block_size(block_size, source.profile, options["nbrcpu"],
                                   remote=is_remote(executor))
        views, _ = create_views(block, (0, 0), (source.profile["width"], source.profile["height"]))
        jobs = block_jobs(reduced_mask, source, views, bands=indexes,
                          task_params={"nodata": nodata, "logic": logic})
        counter = _PixelCounter()
        run = partial(
            run_views,
            process_block,
            jobs,
            queue_param="out_q",
            on_message=counter,
            gdal_cachemax_mb=gdal_cache_mb(block, source.profile),
            **options,
        )
        logger.info("mask of %s, bands %s, nodata %r, logic %r, blocks of %s",
                    source.name, indexes, nodata, logic, block)
        if output is None:
            check_writable_input(source.path)
            with exclusive_write(source.path, cancel), _scratch_folder() as folder:
                # the source is only modified once every block succeeded
                scratch = folder / "mask.tif"
                _run_into_mask_file(run, scratch, source.profile, source.path)
                _copy_into_mask(scratch, source, views)
            written = source.path
        else:
            written = check_output_path(output, [source.path])
            tags = {"bands": indexes, "nodata": nodata,
                    "logic": logic if isinstance(logic, str) else getattr(logic, "__name__", "")}
            with atomic_output(written) as temporary:
                _run_into_mask_file(run, temporary, source.profile, written,
                                    {"mask_of": source.name, **tags})
        pixels = source.profile["width"] * source.profile["height"]
        return MaskReport(counter.valid, pixels - counter.valid, written, block, len(views),
                          options["nbrcpu"], time.perf_counter() - started)


def _all_bands(bands: Sequence[Band], extra_masking_band: Band | None) -> list[Band]:
    """The bands a selector reads: ``bands``, then the extra masking band if any."""
    return [*bands, *([extra_masking_band] if extra_masking_band is not None else [])]


def _selector_inputs(
    bands: Sequence[Band], extra_masking_band: Band | None
) -> tuple[list[Band], Band | None, Source]:
    if not bands:
        raise InvalidBandError("prepare_selector needs at least one band")
    sources: dict[str, Source] = {}
    checked: list[Band] = []
    for band in _all_bands(bands, extra_masking_band):
        if not isinstance(band, Band):
            raise InvalidBandError(f"expected Band objects, got {band!r}")
        key = band.source.name
        if key not in sources:
            sources[key] = open_source(band.source)
        band = copy.copy(band)  # the caller's Band keeps its own Source
        band.source = sources[key]
        band.check()
        checked.append(band)
    check_same_grid([(source.name, source.profile) for source in sources.values()])
    extra = checked.pop() if extra_masking_band is not None else None
    return checked, extra, next(iter(sources.values()))


def _selector_run(
    bands: Sequence[Band],
    block_size: Sequence[int] | None,
    extra_masking_band: Band | None,
    aggregator: Callable[[Any], Any],
    options: dict[str, Any],
    reference: Source,
    counter: _PixelCounter,
) -> tuple[tuple[int, int], int]:
    profile = reference.profile
    block = resolve_block_size(block_size, profile, options["nbrcpu"], band_reads=True,
                               remote=is_remote(options["executor"]))
    views, _ = create_views(block, (0, 0), (profile["width"], profile["height"]))
    jobs = [
        {
            "task": aggregated_selector,
            "bands": list(bands),
            "view": view,
            "task_params": {"logic": "all"},
            "read_params": {},
            "open_params": {},
            "extra_masking_band": extra_masking_band,
        }
        for view in views
    ]
    files = {band.source.name for band in _all_bands(bands, extra_masking_band)}
    logger.info("selector of %s, blocks of %s", list(bands), block)
    run_views(
        process_masks,
        jobs,
        aggregator,
        queue_param="aggr_q",
        on_message=counter,
        gdal_cachemax_mb=min(256, len(files) * gdal_cache_mb(block, profile, band_reads=True)),
        **options,
    )
    return block, len(views)


def selector_array(
    *bands: Band,
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    nbrcpu: int | None = None,
    start_method: str | None = None,
    executable: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    executor: Any = None,
    backend: str | None = None,
) -> tuple[NDArray, MaskReport]:
    """Compute the valid-pixel selector of ``bands`` into an array.

    Parameters are those of :func:`~riogrande.parallel.prepare_selector`.

    Returns
    -------
    selector : numpy.ndarray
        ``bool`` ``(rows, cols)``, True where every band's mask is valid and
        ``extra_masking_band`` is not 0.
    report : MaskReport
    """
    started = time.perf_counter()
    with _logging_level(verbose):
        checked, extra, reference = _selector_inputs(bands, extra_masking_band)
        options = _run_options(nbrcpu, start_method, executable, progress, cancel, executor,
                               backend)
        matrix = np.zeros(reference.shape, dtype=bool)
        counter = _PixelCounter()
        block, views = _selector_run(checked, block_size, extra, partial(fill_matrix, matrix),
                                     options, reference, counter)
        report = MaskReport(counter.valid, matrix.size - counter.valid, None, block, views,
                            options["nbrcpu"], time.perf_counter() - started)
        return matrix, report


def write_selector(
    *bands: Band,
    output: str | os.PathLike[str],
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    nbrcpu: int | None = None,
    start_method: str | None = None,
    executable: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    executor: Any = None,
    backend: str | None = None,
) -> MaskReport:
    """Compute the valid-pixel selector of ``bands`` and stream it into a raster.

    Like :func:`selector_array`, but each block goes straight into a new
    ``uint8`` GeoTIFF (1 valid, 0 masked, tiled, DEFLATE), so memory stays
    bounded whatever the raster size. The file is written under a temporary
    name and moved to ``output`` on success.

    Returns
    -------
    MaskReport
    """
    started = time.perf_counter()
    with _logging_level(verbose):
        checked, extra, reference = _selector_inputs(bands, extra_masking_band)
        inputs = [band.source.path for band in _all_bands(checked, extra)]
        written = check_output_path(output, inputs)
        options = _run_options(nbrcpu, start_method, executable, progress, cancel, executor,
                               backend)
        counter = _PixelCounter()
        tags = {"selector_of": [f"{band.source.name}:{band.bidx}:{band.mask_use}"
                                for band in checked]}
        if extra is not None:
            tags["extra_masking_band"] = f"{extra.source.name}:{extra.bidx}"
        with atomic_output(written) as temporary:
            block, views = _run_into_mask_file(
                lambda aggregator: _selector_run(checked, block_size, extra, aggregator,
                                                 options, reference, counter),
                temporary, reference.profile, written, tags,
            )
        pixels = reference.shape[0] * reference.shape[1]
        return MaskReport(counter.valid, pixels - counter.valid, written, block, views,
                          options["nbrcpu"], time.perf_counter() - started)
