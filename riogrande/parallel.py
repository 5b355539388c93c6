"""Block-parallel processing utilities for raster operations.

Rasters are decomposed into spatial views (see :mod:`riogrande.prepare`) and
each view is processed independently by a pool of worker processes:

- **Block processing**: read a spatial block and apply a task function
  (:func:`process_block`, :func:`process_masks`).
- **Result aggregation**: write processed blocks into an output raster or an
  array (:func:`combine_views`, :func:`fill_matrix`, :func:`data_writer`).
- **Mask computation**: a nodata mask or a combined boolean selector across
  bands, in parallel (:func:`compute_mask`, :func:`prepare_selector`).
- **Queue-based runners**: a generic callback wrapper (:func:`runner_call`).

The pool itself, with backpressure, progress, cancellation and failure
handling, is :func:`riogrande.runner.run_views`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from numpy.typing import NDArray

from riogrande.aggregators import combine_views, data_writer, fill_matrix
from riogrande.io.rasters import Band, Source
from riogrande.masking import selector_array, write_mask
from riogrande.workers import process_block, process_masks, runner_call

__all__ = [
    "combine_views",
    "compute_mask",
    "data_writer",
    "fill_matrix",
    "prepare_selector",
    "process_block",
    "process_masks",
    "runner_call",
]


def compute_mask(
    source: str | os.PathLike[str] | Source,
    block_size: Sequence[int] | None = None,
    nodata: Any = 0,
    logic: str | Callable[..., Any] = "all",
    bands: Sequence[Band | int] | None = None,
    verbose: bool = False,
    *,
    output: str | os.PathLike[str] | None = None,
    **params: Any,
) -> None:
    """Compute the mask of a dataset in parallel and write it out.

    A cell is checked against the nodata rule across the selected bands with
    the chosen logic (via :func:`~riogrande.helper.reduced_mask`). The dataset
    is split into blocks with :func:`~riogrande.prepare.create_views`, each
    block is processed by :func:`process_block` in a pool of worker
    processes (context from :func:`~riogrande.helper.get_or_set_context`),
    and the aggregator writes the blocks as they arrive.

    Parameters
    ----------
    source : str or Source
        Path to the raster, or a :class:`~riogrande.io.models.Source`.
    block_size : tuple of int or None
        ``(width, height)`` in pixels of the block a single job processes;
        None chooses a block aligned to the file's internal tiling.
    nodata : int or float, default 0
        Value marking missing data; NaN matches NaN (float rasters only);
        None uses the source's nodata value.
    logic : str or callable, default "all"
        ``"any"``: mask each cell where *any* band matches nodata.
        ``"all"``: mask each cell where *all* bands match nodata.
        A module-level callable ``logic(array, nodata)`` returning a 2-D
        array, True/non-zero where valid.
    bands : list of Band or int, optional
        Bands to use; all by default.
    verbose : bool, default False
        Log processing steps through :mod:`logging` (INFO).
    output : str or path-like, optional
        Write the mask to this new single-band ``uint8`` GeoTIFF (1 valid,
        0 masked, same georeferencing, tiled and compressed) and leave the
        source untouched. Without it, the mask is written into the source's
        internal dataset mask (the file is modified).
    **params
        The run options (:class:`~riogrande.inputs.RunOptions`). Without
        ``backend``, ``start_method``, ``executable`` or ``executor``, the
        blocks run in threads of this process for ``logic`` ``"all"`` or
        ``"any"``, in worker processes for a callable ``logic``.

    Returns
    -------
    None

    Raises
    ------
    RiograndeError
        Subclasses name the problem: missing or unreadable file, bad band,
        bad block size, bad nodata, unsupported logic, unwritable output,
        a failed block, a lost worker, a cancelled run.

    See Also
    --------
    prepare_selector : Build a boolean selector from band masks.
    riogrande.masking.write_mask : The same, returning pixel counts.
    """
    write_mask(source, output, block_size=block_size, nodata=nodata, logic=logic, bands=bands,
               verbose=verbose, **params)


def prepare_selector(
    *bands: Band,
    block_size: Sequence[int] | None = None,
    extra_masking_band: Band | None = None,
    verbose: bool = False,
    **params: Any,
) -> NDArray:
    """Compute a boolean selector from the masks of the given bands.

    Band masks (each read as chosen by :meth:`Band.set_mask_reader`) are
    combined by :func:`~riogrande.helper.aggregated_selector`: a pixel is
    selected where every band is valid and, if given, ``extra_masking_band``
    is not 0. Blocks are processed by :func:`process_masks` in a pool of
    worker processes and assembled by :func:`fill_matrix` in the caller's
    process. Bands may come from different files on the same grid.

    Parameters
    ----------
    *bands : Band
        The bands whose masks are combined.
    block_size : tuple of int or None
        ``(width, height)`` in pixels of a block; None chooses one aligned
        to the file's internal tiling.
    extra_masking_band : Band or None
        A band treated as a mask: values equal to 0 are masked. Its own
        mask is ignored.
    verbose : bool, default False
        Log processing steps through :mod:`logging` (INFO).
    **params
        The run options (:class:`~riogrande.inputs.RunOptions`); threads
        of this process by default.

    Returns
    -------
    numpy.ndarray
        ``bool`` ``(rows, cols)``, True where the pixel is valid.

    Raises
    ------
    IncompatibleRastersError
        If the bands' files differ in shape, transform or CRS.

    See Also
    --------
    compute_mask : The nodata mask of one raster, written to a file.
    riogrande.masking.write_selector : Stream the selector into a raster.
    """
    selector, _ = selector_array(*bands, block_size=block_size,
                                 extra_masking_band=extra_masking_band, verbose=verbose, **params)
    return selector
