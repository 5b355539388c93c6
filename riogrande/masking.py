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
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riogrande.aggregators import fill_matrix
from riogrande.blocks import gdal_cache_mb, resolve_block_size
from riogrande.errors import (
    InvalidBandError,
    InvalidNodataError,
    OutputError,
    UnsupportedLogicError,
)
from riogrande.helper import (
    aggregated_selector,
    check_logic,
    get_nbr_workers,
    reduced_mask,
)
from riogrande.io.checks import check_nodata, check_same_grid
from riogrande.io.models import Band, Source, check_band_index
from riogrande.outputs import OutputSpec, plan_output
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
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
) -> MaskReport:
    """Compute the nodata mask of a raster in parallel and write it.

    Parameters
    ----------
    source : str, path-like or Source
        The raster.
    output : str or path-like, optional
        A new raster (by default a single-band ``uint8`` GeoTIFF: 1 valid,
        0 masked, the source's georeferencing, tiled, DEFLATE) written under
        a temporary name and moved into place on success; the source is not
        touched. When None, the mask is written into the source's internal
        dataset mask, once every block succeeded (a failed or cancelled run
        leaves it untouched), or with ``encoding="sidecar"`` into its
        ``.msk`` file.
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
    encoding, keep_values, output_nodata, cog, driver, creation_options
        The form of the output: see :class:`~riogrande.outputs.OutputSpec`
        (``output_nodata`` is its ``nodata``: for kept values, default the
        mask's ``nodata`` when the data type holds it). With kept values the
        selected bands are copied; ``mask`` and ``alpha`` copy every band.

    Returns
    -------
    MaskReport
    """
    started = time.perf_counter()
    spec = OutputSpec(encoding, keep_values, output_nodata, cog, driver, creation_options)
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
        copied = indexes if keep_values else range(1, source.count + 1)
        plan = plan_output(output, spec, grid=source.profile,
                           copied=[(source.name, bidx) for bidx in copied],
                           inputs=[source.name], nodata_hint=nodata)
        tags = {"mask_of": source.name, "bands": indexes, "nodata": nodata,
                "logic": logic if isinstance(logic, str) else getattr(logic, "__name__", "")}
        plan.write(run, views, tags, cancel)
        written = source.path if plan.final is None else plan.final
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


def _selector_views(
    block_size: Sequence[int] | None, reference: Source, options: dict[str, Any]
) -> tuple[tuple[int, int], list]:
    """The block size and the views of a selector run."""
    profile = reference.profile
    block = resolve_block_size(block_size, profile, options["nbrcpu"], band_reads=True,
                               remote=is_remote(options["executor"]))
    views, _ = create_views(block, (0, 0), (profile["width"], profile["height"]))
    return block, views


def _selector_run(
    bands: Sequence[Band],
    block: tuple[int, int],
    views: Sequence[Sequence[int]],
    extra_masking_band: Band | None,
    aggregator: Callable[[Any], Any],
    options: dict[str, Any],
    reference: Source,
    counter: _PixelCounter,
) -> None:
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
        gdal_cachemax_mb=min(256, len(files) * gdal_cache_mb(block, reference.profile,
                                                             band_reads=True)),
        **options,
    )


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
        block, views = _selector_views(block_size, reference, options)
        _selector_run(checked, block, views, extra, partial(fill_matrix, matrix), options,
                      reference, counter)
        report = MaskReport(counter.valid, matrix.size - counter.valid, None, block, len(views),
                            options["nbrcpu"], time.perf_counter() - started)
        return matrix, report


def write_selector(
    *bands: Band,
    output: str | os.PathLike[str] | None = None,
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
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
) -> MaskReport:
    """Compute the valid-pixel selector of ``bands`` and stream it into a raster.

    Like :func:`selector_array`, but each block goes straight into a new
    raster (by default a ``uint8`` GeoTIFF: 1 valid, 0 masked, tiled,
    DEFLATE), so memory stays bounded whatever the raster size. The file is
    written under a temporary name and moved to ``output`` on success.
    Parameters not listed are those of :func:`selector_array`.

    Parameters
    ----------
    output : str or path-like
        The new raster; None only with ``encoding="sidecar"`` (the ``.msk``
        file of the first band's raster).
    encoding, keep_values, output_nodata, cog, driver, creation_options
        The form of the output: see :class:`~riogrande.outputs.OutputSpec`
        (``output_nodata`` is its ``nodata``). The ``mask``, ``alpha`` and
        kept-values encodings copy ``bands``; ``mask`` and ``alpha`` keep the
        nodata value of the first band's raster.

    Returns
    -------
    MaskReport
    """
    started = time.perf_counter()
    spec = OutputSpec(encoding, keep_values, output_nodata, cog, driver, creation_options)
    if output is None and encoding != "sidecar":
        raise OutputError("write_selector needs output= (or encoding='sidecar' for the "
                          "first raster's .msk file)")
    with _logging_level(verbose):
        checked, extra, reference = _selector_inputs(bands, extra_masking_band)
        inputs = [band.source.name for band in _all_bands(checked, extra)]
        plan = plan_output(output, spec, grid=reference.profile,
                           copied=[(band.source.name, band.bidx) for band in checked],
                           inputs=inputs)
        options = _run_options(nbrcpu, start_method, executable, progress, cancel, executor,
                               backend)
        counter = _PixelCounter()
        tags = {"selector_of": [f"{band.source.name}:{band.bidx}:{band.mask_use}"
                                for band in checked]}
        if extra is not None:
            tags["extra_masking_band"] = f"{extra.source.name}:{extra.bidx}"
        block, views = _selector_views(block_size, reference, options)
        plan.write(lambda aggregator: _selector_run(checked, block, views, extra, aggregator,
                                                    options, reference, counter),
                   views, tags, cancel)
        written = plan.final
        pixels = reference.shape[0] * reference.shape[1]
        return MaskReport(counter.valid, pixels - counter.valid, written, block, len(views),
                          options["nbrcpu"], time.perf_counter() - started)
