"""Per-band statistics and arithmetic, computed block by block over the file's own tiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from riogrande.dtypes import dtype_range
from riogrande.errors import IncompatibleRastersError, ValueRangeError
from riogrande.io.checks import check_same_grid
from riogrande.io.create import new_raster
from riogrande.io.handles import dataset
from riogrande.logic import count_contribution, not_nodata

if TYPE_CHECKING:
    from riogrande.io.rasters import Band


def _selected_blocks(
    band: Band, selector: NDArray | None
) -> Iterator[tuple[NDArray, NDArray | None]]:
    """The band's data over its file's own tiles, each with its part of ``selector``."""
    with dataset(band.source.name) as src:
        bidx = band.index_in(src)
        if selector is not None:
            selector = np.asarray(selector, dtype=bool)
            if selector.shape != src.shape:
                raise IncompatibleRastersError(
                    f"the selector has shape {selector.shape} but {src.name} has {src.shape}")
        for _, window in src.block_windows(bidx):
            yield src.read(bidx, window=window), (
                None if selector is None else selector[window.toslices()])


def count_valid_pixels(
    band: Band, selector: NDArray | None = None, no_data: Any = 0, limit_count: int = 0
) -> int | bool:
    """Count the cells of ``band`` that hold data (and are selected).

    Parameters
    ----------
    band : Band
    selector : numpy.ndarray of bool, optional
        ``(rows, cols)`` of the raster: cells to consider (all by default).
    no_data : int or float, default 0
        The value of empty cells; NaN matches NaN.
    limit_count : int, default 0
        When positive, only tell whether more than this many cells hold
        data (stops reading as soon as they do).

    Returns
    -------
    int or bool
        The count; with ``limit_count``, whether it exceeds the limit.
    """
    total = 0
    for data, selected in _selected_blocks(band, selector):
        total += count_contribution(data, selected, no_data)
        if 0 < limit_count < total:
            return True
    return False if limit_count > 0 else total


def get_min_max(band: Band, no_data: Any = 0, selector: NDArray | None = None) -> Any:
    """Smallest and largest data value of ``band``.

    Parameters
    ----------
    band : Band
    no_data : int or float, default 0
        Cells holding it are left out; NaN leaves NaN cells out.
    selector : numpy.ndarray of bool, optional
        Cells to consider (all by default).

    Returns
    -------
    (min, max) or None
        numpy scalars of the band's type; None when no cell holds data.
    """
    low: Any = None
    high: Any = None
    for data, selected in _selected_blocks(band, selector):
        valid = not_nodata(data, no_data)
        if np.issubdtype(data.dtype, np.floating):
            valid &= ~np.isnan(data)
        if selected is not None:
            valid &= selected
        values = data[valid]
        if values.size:
            low = values.min() if low is None else min(low, values.min())
            high = values.max() if high is None else max(high, values.max())
    return None if low is None else (low, high)


def _wide_type(*dtypes: Any) -> np.dtype:
    kind = np.result_type(*dtypes)
    if np.issubdtype(kind, np.floating) or kind == np.uint64:
        return np.dtype(np.float64)
    return np.dtype(np.int64)


def _fit(result: NDArray, dtype: Any, name: str) -> NDArray:
    target = np.dtype(dtype)
    if np.issubdtype(target, np.integer) and result.size:
        largest, smallest = dtype_range(target)
        if result.min() < smallest or result.max() > largest:
            raise ValueRangeError(
                f"the result ranges from {result.min()} to {result.max()}, which {name}'s data "
                f"type {target} cannot hold ({smallest} to {largest}); write into a band of "
                "a wider type (out_band=...)")
    return result.astype(target)


def pair_operation(
    band: Band, other: Band, out_band: Band | None, operation: Callable[..., NDArray],
    **np_kwargs: Any,
) -> None:
    """Write ``operation(band, other)`` into ``out_band``, block by block.

    The arithmetic runs in a wide type (int64 or float64, or ``dtype`` of
    ``np_kwargs``), so nothing wraps around; a result the output band's
    type cannot hold raises before anything is written (the blocks are
    computed twice: checked, then written). ``out_band``
    defaults to ``band`` (updated in place); a new file is created on the
    grid of ``band`` and appears once complete.

    Parameters
    ----------
    band, other : Band
        On the same grid (size, transform, CRS).
    out_band : Band or None
        Where the result goes.
    operation : callable
        A numpy ufunc such as :data:`numpy.add`.
    **np_kwargs
        Keywords of ``operation``.

    Raises
    ------
    IncompatibleRastersError
        If the rasters are not on the same grid.
    ValueRangeError
        If a result does not fit the output band's type.
    """
    out_band = band if out_band is None else out_band
    names = list(dict.fromkeys([band.source.name, other.source.name]))
    with ExitStack() as stack:
        if out_band.source.exists:
            out = stack.enter_context(dataset(out_band.source.name, "r+"))
        else:
            profile = {**band.source.import_profile(update_self=False),
                       **out_band._new_file_profile({})}
            out = stack.enter_context(new_raster(out_band.source.name, **profile))
        opened = {name: out if name == out_band.source.name
                  else stack.enter_context(dataset(name)) for name in names}
        check_same_grid([(name, src.profile) for name, src in opened.items()]
                        + [(out_band.source.name, out.profile)])
        first, second = opened[band.source.name], opened[other.source.name]
        bidx, other_bidx = band.index_in(first), other.index_in(second)
        out_bidx = out_band.index_in(out) if out_band.source.exists else out_band._bidx or 1
        kwargs = {"dtype": _wide_type(first.dtypes[bidx - 1], second.dtypes[other_bidx - 1]),
                  **np_kwargs}

        def results() -> Iterator[tuple[Any, NDArray]]:
            for _, window in first.block_windows(bidx):
                yield window, operation(first.read(bidx, window=window),
                                        second.read(other_bidx, window=window), **kwargs)

        out_dtype, out_name = out.dtypes[out_bidx - 1], out_band.source.name
        for _, result in results():  # check every block before anything is written
            _fit(result, out_dtype, out_name)
        for window, result in results():
            out.write(result.astype(out_dtype), out_bidx, window=window)
