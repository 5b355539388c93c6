"""The two built-in jobs: a nodata mask of one raster, a valid-pixel selector over bands.

A job is planned, then run::

    job = plan_mask(source, output, nodata=-9999)    # or plan_selector(*bands, ...)
    report = job.run()

Planning checks the inputs (:mod:`riogrande.inputs`) and the output
(:mod:`riogrande.outputs.target`) and writes nothing; running hands the
output's sink to the engine (:func:`~riogrande.runner.run_views`) and counts
the pixels. :func:`write_mask`, :func:`write_selector` and
:func:`selector_array` do both steps.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riogrande.blocks import gdal_cache_mb
from riogrande.errors import OutputError, UnsupportedLogicError
from riogrande.inputs import (
    FILE_NODATA,
    RunOptions,
    band_indexes,
    check_sendable,
    mask_nodata,
    open_bands,
    open_source,
    source_name,
    views_of,
)
from riogrande.inputs import run_options as check_run_options
from riogrande.io.rasters import Band, Source
from riogrande.io.remote import gdal_options, redact
from riogrande.logic import check_logic, reduced_mask
from riogrande.outputs.sinks import ArraySink
from riogrande.outputs.target import OutputSpec, OutputTarget, plan_output
from riogrande.runner import run_views
from riogrande.stopping import stop_on_signals
from riogrande.workers import block_jobs, process_block, selector_block

__all__ = ["FILE_NODATA", "MaskJob", "MaskReport", "plan_mask", "plan_selector",
           "selector_array", "write_mask", "write_selector"]

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
        Number of workers.
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
def logging_level(verbose: bool) -> Iterator[None]:
    """With ``verbose``, riogrande logs at INFO level for the ``with`` block."""
    package_logger = logging.getLogger("riogrande")
    previous = package_logger.level
    if verbose and package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        package_logger.setLevel(previous)


@dataclass
class MaskJob:
    """A mask or selector run, planned: every check done, nothing written yet.

    :meth:`run` does the work; :attr:`target` is None for a selector
    computed into an array.
    """

    worker: Callable[..., Any]
    queue_param: str
    jobs: list[dict[str, Any]]
    views: list[tuple[int, int, int, int]]
    block: tuple[int, int]
    shape: tuple[int, int]
    target: OutputTarget | None
    written: Path | None
    tags: dict[str, Any]
    options: RunOptions
    gdal_cachemax_mb: int
    description: str
    verbose: bool = False
    planning_seconds: float = 0.0
    array: NDArray | None = field(default=None, init=False)

    def run(self) -> MaskReport:
        """Compute the result block by block and write it (or fill :attr:`array`).

        Returns
        -------
        MaskReport

        Raises
        ------
        RiograndeError
            Subclasses name the problem: a failed block, a lost worker, a
            full disk, a cancelled run; nothing is left behind.
        """
        started = time.perf_counter()
        counter = _PixelCounter()
        with logging_level(self.verbose), stop_on_signals(self.options.cancel) as stop:
            logger.info(self.description)
            engine = {**self.options.engine(self.gdal_cachemax_mb), "cancel": stop,
                      "queue_param": self.queue_param, "on_message": counter}
            if self.target is None:
                self.array = np.zeros(self.shape, dtype=bool)
                run_views(self.worker, self.jobs, ArraySink(self.array), **engine)
            else:
                with self.target.writing(self.views, self.tags, stop) as sink:
                    run_views(self.worker, self.jobs, sink, **engine)
        pixels = self.shape[0] * self.shape[1]
        return MaskReport(counter.valid, pixels - counter.valid, self.written, self.block,
                          len(self.views), self.options.workers,
                          self.planning_seconds + time.perf_counter() - started)


def plan_mask(
    source: str | os.PathLike[str] | Source,
    output: str | os.PathLike[str] | None = None,
    *,
    block_size: Sequence[int] | None = None,
    nodata: Any = 0,
    logic: str | Callable[..., Any] = "all",
    bands: Sequence[Band | int] | None = None,
    verbose: bool = False,
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> MaskJob:
    """Check the inputs and the output of a mask before any work.

    The parameters are those of :func:`write_mask`.

    Returns
    -------
    MaskJob
        Its :meth:`~MaskJob.run` writes the mask.
    """
    started = time.perf_counter()
    spec = OutputSpec(encoding, keep_values, output_nodata, cog, driver, creation_options)
    check_logic(logic)
    run = check_run_options(run_options, releases_gil=isinstance(logic, str),
                            inputs=[source_name(source)])
    check_sendable(logic, run, f"the logic callable {logic!r}", UnsupportedLogicError)
    with logging_level(verbose), gdal_options(run.gdal_settings):
        source = open_source(source)
        indexes = band_indexes(source, bands)
        nodata = mask_nodata(nodata, source)
        block, views, _ = views_of(source.profile, block_size, run)
        copied = indexes if keep_values else range(1, source.count + 1)
        target = plan_output(output, spec, grid=source.profile,
                             copied=[(source.name, bidx) for bidx in copied],
                             inputs=[source.name], nodata_hint=nodata)
    return MaskJob(
        process_block, "out_q",
        block_jobs(reduced_mask, source, views, bands=indexes,
                   task_params={"nodata": nodata, "logic": logic}),
        views, block, source.shape, target,
        source.path if target.final is None else target.final,
        {"mask_of": redact(source.name), "bands": indexes, "nodata": nodata,
         "logic": logic if isinstance(logic, str) else getattr(logic, "__name__", "")},
        run, gdal_cache_mb(block, source.profile),
        f"mask of {redact(source.name)}, bands {indexes}, nodata {nodata!r}, logic {logic!r}, "
        f"blocks of {block}",
        verbose, time.perf_counter() - started)


def write_mask(
    source: str | os.PathLike[str] | Source,
    output: str | os.PathLike[str] | None = None,
    *,
    block_size: Sequence[int] | None = None,
    nodata: Any = 0,
    logic: str | Callable[..., Any] = "all",
    bands: Sequence[Band | int] | None = None,
    verbose: bool = False,
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
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
    nodata : int, float, None or "file", default 0
        The value marking missing data (NaN allowed for float rasters);
        None: the source's nodata value; ``"file"``: the source's nodata
        value, else 0 (see :mod:`riogrande.inputs`).
    logic : {"all", "any"} or callable, default "all"
        See :func:`~riogrande.helper.reduced_mask`. A callable must be
        defined at module level to run in worker processes.
    bands : list of Band or int, optional
        Bands to check; all by default.
    verbose : bool, default False
        Log progress at INFO level through :mod:`logging`.
    encoding, keep_values, output_nodata, cog, driver, creation_options
        The form of the output: see :class:`~riogrande.outputs.OutputSpec`
        (``output_nodata`` is its ``nodata``: for kept values, default the
        mask's ``nodata`` when the data type holds it). With kept values the
        selected bands are copied; ``mask`` and ``alpha`` copy every band.
    **run_options
        See :class:`~riogrande.inputs.RunOptions`. Without ``backend``,
        ``start_method``, ``executable`` or ``executor``, the blocks run in
        threads of this process when ``logic`` is ``"all"`` or ``"any"``
        (numpy releases the GIL), in worker processes for a callable.

    Returns
    -------
    MaskReport
    """
    return plan_mask(source, output, block_size=block_size, nodata=nodata, logic=logic,
                     bands=bands, verbose=verbose, encoding=encoding, keep_values=keep_values,
                     output_nodata=output_nodata, cog=cog, driver=driver,
                     creation_options=creation_options, **run_options).run()


_NO_OUTPUT = "write_selector needs output= (or encoding='sidecar' for the first raster's .msk file)"


def plan_selector(
    *bands: Band,
    output: str | os.PathLike[str] | None = None,
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> MaskJob:
    """Check the inputs and the output of a selector before any work.

    The parameters are those of :func:`write_selector`; without ``output``
    (and not a sidecar) the selector goes into an array (:func:`selector_array`).

    Returns
    -------
    MaskJob
        Its :meth:`~MaskJob.run` writes the selector (or fills its array).
    """
    started = time.perf_counter()
    spec = OutputSpec(encoding, keep_values, output_nodata, cog, driver, creation_options)
    in_memory = output is None and encoding != "sidecar"
    if in_memory and not spec.is_default:
        raise OutputError(_NO_OUTPUT)
    extra = [extra_masking_band] if extra_masking_band is not None else []
    run = check_run_options(run_options, whole_reads=False, inputs=[
        source_name(band.source) for band in (*bands, *extra) if isinstance(band, Band)])
    with logging_level(verbose), gdal_options(run.gdal_settings):
        selected, extra_band = open_bands(bands, extra_masking_band)
        selected_and_extra = [*selected, *([extra_band] if extra_band is not None else [])]
        reference = selected[0].source
        block, views, _ = views_of(reference.profile, block_size, run, band_reads=True)
        target = None
        tags: dict[str, Any] = {}
        if not in_memory:
            target = plan_output(output, spec, grid=reference.profile,
                                 copied=[(band.source.name, band.bidx) for band in selected],
                                 inputs=[band.source.name for band in selected_and_extra])
            tags = {"selector_of": [f"{redact(band.source.name)}:{band.bidx}:{band.mask_use}"
                                    for band in selected]}
            if extra_band is not None:
                tags["extra_masking_band"] = f"{extra_band.source.name}:{extra_band.bidx}"
    jobs = [{"bands": list(selected), "view": view, "extra_masking_band": extra_band}
            for view in views]
    files = {band.source.name for band in selected_and_extra}
    return MaskJob(
        selector_block, "aggr_q", jobs, views, block, reference.shape, target,
        None if target is None else target.final, tags, run,
        min(256, len(files) * gdal_cache_mb(block, reference.profile, band_reads=True)),
        f"selector of {list(selected)}, blocks of {block}", verbose,
        time.perf_counter() - started)


def selector_array(
    *bands: Band,
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    **run_options: Any,
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
    job = plan_selector(*bands, block_size=block_size, extra_masking_band=extra_masking_band,
                        verbose=verbose, **run_options)
    report = job.run()
    return job.array, report


def write_selector(
    *bands: Band,
    output: str | os.PathLike[str] | None = None,
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    encoding: str = "values",
    keep_values: bool = False,
    output_nodata: Any = None,
    cog: bool = False,
    driver: str | None = None,
    creation_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> MaskReport:
    """Compute the valid-pixel selector of ``bands`` and stream it into a raster.

    Like :func:`selector_array`, but each block goes straight into a new
    raster (by default a ``uint8`` GeoTIFF: 1 valid, 0 masked, tiled,
    DEFLATE), so memory stays bounded whatever the raster size. The file is
    written under a temporary name and moved to ``output`` on success.

    Parameters
    ----------
    *bands : Band
        The bands whose masks are combined (each read as chosen by
        :meth:`~riogrande.io.models.Band.set_mask_reader`), on one grid.
    output : str or path-like
        The new raster; None only with ``encoding="sidecar"`` (the ``.msk``
        file of the first band's raster).
    block_size : tuple of int, optional
        ``(width, height)`` of a block; None chooses one aligned to the
        file's tiling.
    extra_masking_band : Band, optional
        A band treated as a mask: values equal to 0 are masked.
    verbose : bool, default False
        Log progress at INFO level.
    encoding, keep_values, output_nodata, cog, driver, creation_options
        The form of the output: see :class:`~riogrande.outputs.OutputSpec`
        (``output_nodata`` is its ``nodata``). The ``mask``, ``alpha`` and
        kept-values encodings copy ``bands``; ``mask`` and ``alpha`` keep the
        nodata value of the first band's raster.
    **run_options
        See :class:`~riogrande.inputs.RunOptions` (threads by default).

    Returns
    -------
    MaskReport
    """
    if output is None and encoding != "sidecar":
        raise OutputError(_NO_OUTPUT)
    return plan_selector(*bands, output=output, block_size=block_size,
                         extra_masking_band=extra_masking_band, verbose=verbose,
                         encoding=encoding, keep_values=keep_values,
                         output_nodata=output_nodata, cog=cog, driver=driver,
                         creation_options=creation_options, **run_options).run()
