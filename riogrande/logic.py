"""Per-block validity: a stack of bands reduced to one mask, masks combined into a selector.

The tasks of the built-in jobs (:func:`reduced_mask` for the nodata mask,
:func:`aggregated_selector` for the selector) and the counting of cells that
hold data. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from riogrande.errors import UnsupportedLogicError
from riogrande.io.checks import is_nan

MaskLogic = Union[str, Callable[[NDArray, Any], NDArray]]  # noqa: UP007 (runtime alias, py3.10)


def not_nodata(array: NDArray, nodata: Any) -> NDArray:
    """Boolean array of the cells that differ from ``nodata`` (NaN matching NaN)."""
    if not is_nan(nodata):
        return np.not_equal(array, nodata)
    if np.issubdtype(array.dtype, np.floating):
        return ~np.isnan(array)
    return np.ones(array.shape, dtype=bool)


def reduced_mask(array: NDArray, nodata: Any = 0, logic: MaskLogic = "all") -> NDArray:
    """Reduce a stack of bands to one validity mask.

    Parameters
    ----------
    array : numpy.ndarray
        ``(bands, rows, cols)`` data (a 2-D array is taken as one band).
    nodata : int or float, default 0
        The value marking missing data; NaN matches NaN cells.
    logic : {"all", "any"} or callable, default "all"
        ``"all"``: a cell is masked where **all** bands equal ``nodata``.
        ``"any"``: a cell is masked where **any** band equals ``nodata``.
        A callable ``logic(array, nodata)`` returns a 2-D array, True or
        non-zero where the cell is valid.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array ``(rows, cols)``: 1 valid, 0 masked.

    Raises
    ------
    UnsupportedLogicError
        If ``logic`` is another string or not callable (a ``ValueError``).

    Examples
    --------
    >>> data = np.array([[[0, 1]], [[0, 0]]])
    >>> reduced_mask(data, 0, "all").tolist(), reduced_mask(data, 0, "any").tolist()
    ([[0, 1]], [[0, 0]])
    """
    array = np.asarray(array)
    if isinstance(nodata, np.generic):  # compare in the data's type, like GDAL (and numpy 1)
        nodata = nodata.item()
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"reduced_mask expects a (bands, rows, cols) array, got {array.shape}")
    if callable(logic):
        result = np.asarray(logic(array, nodata))
        if result.shape != array.shape[1:]:
            raise ValueError(
                f"the mask logic returned shape {result.shape}, expected {array.shape[1:]}"
            )
        return (result != 0).view(np.uint8)
    check_logic(logic)
    valid_cells = not_nodata(array, nodata)
    valid = valid_cells.any(axis=0) if logic == "all" else valid_cells.all(axis=0)
    return valid.view(np.uint8)


def check_logic(logic: Any) -> None:
    """Reject a mask logic that is neither ``"all"``, ``"any"`` nor a callable.

    Raises
    ------
    UnsupportedLogicError
        Naming the value received and the ones allowed.
    """
    if callable(logic) or logic in ("all", "any"):
        return
    raise UnsupportedLogicError(
        f"unsupported logic {logic!r}: use 'all', 'any' or a callable(array, nodata)"
    )


def aggregated_selector(masks: Sequence[NDArray], logic: str = "all") -> NDArray:
    """Combine validity masks into a boolean selector.

    Parameters
    ----------
    masks : list of numpy.ndarray
        2-D masks of equal shape, non-zero where valid.
    logic : {"all", "any"}, default "all"
        ``"all"``: True where every mask is valid; ``"any"``: True where at
        least one is.

    Returns
    -------
    numpy.ndarray
        ``bool`` array, True where valid.

    Raises
    ------
    ValueError
        If ``masks`` is empty or ``logic`` unknown.
    """
    if logic not in ("all", "any"):
        raise UnsupportedLogicError(f"unsupported logic {logic!r}: use 'all' or 'any'")
    if len(masks) == 0:
        raise ValueError("aggregated_selector needs at least one mask")
    selector = np.asarray(masks[0]) != 0
    combine = np.logical_and if logic == "all" else np.logical_or
    for mask in masks[1:]:
        combine(selector, np.asarray(mask), out=selector)
    return selector


def count_contribution(data: NDArray, selector: NDArray | None, no_data: Any = 0) -> int:
    """Count the cells of ``data`` that hold data (not ``no_data``; NaN matches NaN).

    Only the cells ``selector`` (``bool``, the shape of ``data``) marks count;
    all of them when it is None.
    """
    valid = not_nodata(np.asarray(data), no_data)
    if selector is not None:
        valid &= np.asarray(selector, dtype=bool)
    return int(np.count_nonzero(valid))
