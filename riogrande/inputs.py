"""A job's inputs, checked once before any work: rasters, bands, grids, nodata, run options.

Every job (mask, selector, apply, calc) goes through this module, and the
command line and the QGIS algorithms only translate their arguments into its
terms: a raster is opened once, a band or a grid is checked in one place,
and the nodata policy and the run options have one definition.

Nodata of the input bands (the mask job)
    A number or NaN; ``None``: the raster's own nodata value (an error when
    it has none); ``"file"`` (:data:`FILE_NODATA`): the raster's own nodata
    value, or 0 when it has none, which is what the command line and QGIS
    use when no nodata value is given.

Nodata of a calculated output (apply, calc)
    Given, or with ``masked`` reads the default of the result's type: NaN
    for floating point results, the type's largest value for unsigned
    integers, its smallest for signed ones (never the inputs' nodata value,
    which is often a value results hold, such as 0). Pixels where an input
    band is masked (its nodata value, an internal mask) are written as that
    value; valid pixels whose result is that value would read back as
    nodata, and the run counts them (``ApplyReport.nodata_collisions``).
"""

from __future__ import annotations

import copy
import os
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import rasterio.env

from riogrande.blocks import resolve_block_size
from riogrande.contexts import get_nbr_workers
from riogrande.errors import (
    ExtraMaskBandError,
    FunctionError,
    InvalidBandError,
    InvalidNodataError,
    RiograndeError,
)
from riogrande.io.checks import check_band_index, check_nodata, check_same_grid
from riogrande.io.handles import dataset
from riogrande.io.rasters import Band, Source
from riogrande.io.remote import is_remote, read_settings, vsi_name
from riogrande.pool import Pool, check_backend, is_distributed
from riogrande.prepare import View, create_views

#: Blocks read at once by threads from rasters over the network, where their tiles are not
#: fetched ahead (see :func:`run_options`).
REMOTE_READS = 16
#: ``nodata="file"``: the raster's own nodata value, or 0 when it has none.
FILE_NODATA = "file"

Progress = Callable[[int, int], Any]
Cancel = Callable[[], bool]
PathOrSource = str | os.PathLike[str] | Source


@dataclass(frozen=True)
class RunOptions:
    """Where and how a job's blocks run: the keywords every job takes (``**run_options``).

    Attributes
    ----------
    nbrcpu : int or None
        Workers started for the run, or blocks at once on an executor; by
        default all usable CPUs (an executor's own worker count).
    backend : {"threads", "processes"} or None
        Threads of this process (work that releases Python's GIL: numpy,
        GDAL) or worker processes (Python code that holds it). By default
        threads for the built-in jobs and expressions, processes for a
        function of yours.
    start_method : {"spawn", "fork", "forkserver"} or None
        How worker processes start (spawn by default); implies processes.
    executable : str or None
        The worker processes' Python interpreter (e.g. inside QGIS).
    executor : riogrande.Pool, concurrent.futures.Executor or distributed.Client
        Run the blocks there instead of workers started for the run.
    progress : callable or None
        ``progress(done, total)`` after each block.
    cancel : callable or None
        ``cancel() -> bool``, polled several times a second; True stops the
        run (:class:`~riogrande.errors.RunCancelledError`), as Ctrl-C and
        SIGTERM do.
    gdal_cachemax_mb : int or None
        GDAL block cache of each worker, in MB; chosen from the blocks when None.
    gdal_settings : dict or None
        GDAL configuration options of the reads, over riogrande's own for
        rasters over the network (:func:`riogrande.io.remote.read_settings`:
        those the environment does not set).
    fetch_ahead : tuple of str
        Rasters over the network whose tiles threads of this process
        download ahead of the blocks (set from the job's inputs).

    Notes
    -----
    A raster read over the network waits on round trips more than on the
    CPUs: with threads (the default of the built-in jobs and expressions),
    the tiles of the blocks to come are downloaded ahead by
    :data:`~riogrande.io.prefetch.FETCH_THREADS` threads while the workers
    decode (the selector, which reads masks band by band and stops early,
    reads with :data:`REMOTE_READS` threads instead), and the options of a
    ``rasterio.Env`` the caller opened (a session's credentials) go to worker
    processes too.
    """

    nbrcpu: int | None = None
    backend: str | None = None
    start_method: str | None = None
    executable: str | None = None
    executor: Any = None
    progress: Progress | None = None
    cancel: Cancel | None = None
    gdal_cachemax_mb: int | None = None
    gdal_settings: dict[str, str] | None = None
    fetch_ahead: tuple[str, ...] = ()

    @property
    def workers(self) -> int:
        """Blocks processed at once by workers started for the run (the block size and the
        report count on it)."""
        return get_nbr_workers(self.nbrcpu)

    @property
    def in_processes(self) -> bool:
        """Whether jobs are pickled for other processes by the standard pickle."""
        if self.executor is None:
            return self.backend != "threads"
        if isinstance(self.executor, Pool):
            return self.executor.backend != "threads"
        process_pools = sys.modules.get("concurrent.futures.process")  # loaded if one exists
        return process_pools is not None and isinstance(self.executor,
                                                         process_pools.ProcessPoolExecutor)

    def as_dict(self) -> dict[str, Any]:
        """The options as keywords (the same objects: an executor is not copied)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def engine(self, gdal_cachemax_mb: int) -> dict[str, Any]:
        """Keywords of :func:`~riogrande.runner.run_views`; ``gdal_cachemax_mb`` unless set."""
        options = self.as_dict()
        if options["gdal_cachemax_mb"] is None:
            options["gdal_cachemax_mb"] = gdal_cachemax_mb
        return options


def run_options(options: Mapping[str, Any], *, releases_gil: bool = True,
                inputs: Sequence[str | os.PathLike[str]] = (), whole_reads: bool = True
                ) -> RunOptions:
    """Check a job's ``**run_options`` (see :class:`RunOptions`).

    Parameters
    ----------
    options : mapping
        The keywords given.
    releases_gil : bool, default True
        Whether the work releases Python's GIL: threads by default, else
        processes (when neither a backend nor an executor is given).
    inputs : list of str or path-like
        The rasters read: network reads get their own defaults.
    whole_reads : bool, default True
        Whether every block reads all of its tiles of the inputs: then, in
        threads, they are fetched ahead of the block; else (masks read band
        by band, which stop once the block is decided) :data:`REMOTE_READS`
        threads read at once.

    Raises
    ------
    TypeError
        For a keyword that is not a run option.
    ValueError
        For a backend that contradicts the process options.
    """
    known = RunOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}; the run options are "
                        f"{sorted(known)}")
    checked = RunOptions(**options)
    if checked.nbrcpu is not None:
        get_nbr_workers(checked.nbrcpu)
    backend = check_backend(checked.backend, checked.start_method, checked.executable)
    if backend is None and checked.executor is None:
        backend = "threads" if releases_gil else "processes"
    checked = replace(checked, backend=backend)
    remote = [vsi_name(name) for name in inputs if is_remote(name)]
    if not remote:
        return checked
    in_threads = backend == "threads" and checked.executor is None
    nbrcpu = checked.nbrcpu
    if in_threads and not whole_reads and nbrcpu is None:
        nbrcpu = max(REMOTE_READS, get_nbr_workers())
    caller = rasterio.env.getenv() if rasterio.env.hasenv() else {}
    fetched = tuple(remote) if in_threads and whole_reads else ()
    return replace(checked, nbrcpu=nbrcpu, fetch_ahead=fetched, gdal_settings={
        **read_settings(), **{key: str(value) for key, value in caller.items()},
        **(checked.gdal_settings or {})})


def check_sendable(value: Any, options: RunOptions, what: str,
                   error: type[RiograndeError] = FunctionError) -> None:
    """Check that ``value`` can be sent to the run's worker processes, if it goes there.

    Raises
    ------
    RiograndeError
        Of class ``error``, saying to define ``what`` at module level or to
        run on threads.
    """
    if not options.in_processes:
        return
    try:
        pickle.dumps(value)
    except Exception as problem:
        raise error(
            f"{what} cannot be sent to worker processes ({type(problem).__name__}: "
            f"{problem}). Define it at module level (not a lambda or a function defined "
            "inside another), or run it on threads: backend='threads'"
        ) from None


def source_name(source: PathOrSource) -> str:
    """The dataset name of a path or a :class:`Source`, as given."""
    return source.name if isinstance(source, Source) else os.fspath(source)


def open_source(source: PathOrSource) -> Source:
    """Return ``source`` as a :class:`Source` whose profile has been read.

    Raises
    ------
    SourceNotFoundError
        If the file does not exist.
    SourceError
        If it is not a readable raster.
    """
    source = source if isinstance(source, Source) else Source(source)
    if not source.profile_from_file:
        source.import_profile()
    return source


def band_indexes(source: Source, bands: Sequence[Band | int] | Band | int | None
                 ) -> list[int]:
    """The 1-based bands of ``source`` to read: ``bands``, checked; all when None.

    Raises
    ------
    InvalidBandError
        For an empty selection, a band of another file, or an index out of range.
    """
    if bands is None:
        return list(range(1, source.count + 1))
    if isinstance(bands, (Band, int, np.integer)):
        bands = [bands]
    if len(bands) == 0:
        raise InvalidBandError(f"no band selected from {source.name}")
    indexes = []
    for band in bands:
        if isinstance(band, Band):
            if band.source.path.resolve() != source.path.resolve():
                raise InvalidBandError(f"{band!r} does not belong to {source.name}")
            band = band.bidx if band.bidx is not None else band.get_bidx()
        check_band_index(band, source.count, source.name)
        indexes.append(int(band))
    return indexes


def open_bands(bands: Sequence[Band], extra: Band | None = None
               ) -> tuple[list[Band], Band | None]:
    """Check the bands of a selector, each file opened once, all on one grid.

    Parameters
    ----------
    bands : list of Band
        The bands whose masks are combined (at least one).
    extra : Band, optional
        The extra masking band.

    Returns
    -------
    (bands, extra)
        Copies whose sources have their profiles read (the caller's bands
        keep their own sources).

    Raises
    ------
    InvalidBandError
        For no band, something else than a Band, or a band its file does
        not have (:class:`~riogrande.errors.ExtraMaskBandError` for ``extra``).
    SourceError
        For a missing or unreadable file.
    IncompatibleRastersError
        If the files differ in size, transform or CRS.
    """
    if not bands:
        raise InvalidBandError("prepare_selector needs at least one band")
    for band in (*bands, *([extra] if extra is not None else [])):
        if not isinstance(band, Band):
            raise InvalidBandError(f"expected Band objects, got {band!r}")
    sources = {band.source.name: open_source(band.source) for band in bands}
    if extra is not None:
        sources.setdefault(extra.source.name, open_source(extra.source))

    def checked(band: Band, src: Any) -> Band:
        band = copy.copy(band)  # the caller's Band keeps its own Source
        band.source = sources[band.source.name]
        band.bidx = band.index_in(src)
        return band

    selected = []
    for name in sources:
        with dataset(name) as src:  # each file opened once for all its bands
            selected += [(position, checked(band, src)) for position, band in enumerate(bands)
                         if band.source.name == name]
            if extra is not None and extra.source.name == name:
                try:
                    extra_band = checked(extra, src)
                except InvalidBandError as error:
                    raise ExtraMaskBandError(f"the extra masking band: {error}") from None
    selected = [band for _, band in sorted(selected, key=lambda pair: pair[0])]
    if extra is None:
        extra_band = None
    check_same_grid([(source.name, source.profile) for source in sources.values()])
    return selected, extra_band


def open_named(inputs: PathOrSource | Mapping[str, PathOrSource],
               bands: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
               ) -> dict[str, tuple[Source, list[int]]]:
    """Open the named inputs of a calculation and check their bands and grids.

    Parameters
    ----------
    inputs : path, Source, or mapping of name to those
        One raster (named ``"data"``), or several on one grid.
    bands : list of int, or mapping of name to list of int, optional
        Bands to read: the same for every input, or per name; all by default.

    Returns
    -------
    dict
        Name -> (source, band indexes), in the order given.

    Raises
    ------
    InvalidBandError, SourceError, IncompatibleRastersError
        As :func:`band_indexes`, :func:`open_source`, :func:`check_same_grid`.
    """
    sources = dict(inputs) if isinstance(inputs, Mapping) else {"data": inputs}
    if not sources:
        raise InvalidBandError("apply needs at least one input raster")
    opened = {}
    for name, path in sources.items():
        if not isinstance(name, str):
            raise TypeError(f"input names must be strings, got {name!r}")
        source = open_source(path)
        wanted = bands.get(name) if isinstance(bands, Mapping) else bands
        opened[name] = (source, band_indexes(source, wanted))
    check_same_grid([(source.name, source.profile) for source, _ in opened.values()])
    return opened


def mask_nodata(nodata: Any, source: Source) -> Any:
    """The nodata value of the input bands of a mask (see the module).

    Returns
    -------
    int or float
        A plain Python number (JSON-able).

    Raises
    ------
    InvalidNodataError
        For None when the raster has no nodata value, or a value its data
        type cannot hold.
    """
    if nodata is None or (isinstance(nodata, str) and nodata == FILE_NODATA):
        found = source.profile.get("nodata")
        if found is None and nodata is None:
            raise InvalidNodataError(
                f"nodata=None means the source's nodata value, but {source.name} has none; "
                "give the value that marks missing data"
            )
        nodata = 0 if found is None else found
    check_nodata(nodata, source.profile["dtype"], source.name)
    return nodata.item() if isinstance(nodata, np.generic) else nodata


def output_nodata(nodata: Any, dtype: str | None) -> Any:
    """The nodata value asked for a calculated output (see the module), checked.

    Returns
    -------
    int, float or None
        A plain Python number (an int for an integer type); None: the
        default of the result's type, when pixels are masked.

    Raises
    ------
    InvalidNodataError
        For a value the output's data type (when known) cannot hold.
    """
    if nodata is None:
        return None
    check_nodata(nodata, dtype or "float64", "the output")
    value = nodata.item() if isinstance(nodata, np.generic) else nodata
    return int(value) if dtype is not None and np.dtype(dtype).kind in "iu" else value


def views_of(profile: Mapping[str, Any], block_size: Sequence[int] | None,
             options: RunOptions, border: Sequence[int] = (0, 0), band_reads: bool = False
             ) -> tuple[tuple[int, int], list[View], list[View]]:
    """The block size and the views of a run over a raster of ``profile``.

    Returns
    -------
    (block, views, inner_views)
        See :func:`~riogrande.blocks.resolve_block_size` and
        :func:`~riogrande.prepare.create_views`.

    Raises
    ------
    BlockSizeError
        For a block size or border that is not a pair of integers.
    """
    block = resolve_block_size(block_size, dict(profile), options.workers, band_reads=band_reads,
                               distributed=is_distributed(options.executor))
    views, inner_views = create_views(block, border, (profile["width"], profile["height"]))
    return block, views, inner_views
