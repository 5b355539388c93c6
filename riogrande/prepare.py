"""Cut a raster into views and move blocks in and out of arrays.

A *view* is a tuple ``(x, y, width, height)``: column offset, row offset,
number of columns, number of rows, in pixels; rasterio calls it a window
(:func:`view_to_window`). Every size argument is ``(width, height)``; arrays
are ``(rows, cols)`` or ``(bands, rows, cols)``. This module does no I/O.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.errors import BlockSizeError

View = tuple[int, int, int, int]


def as_size(value: Sequence[int], name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Return ``value``, a ``(width, height)`` pair, as plain ints; ``name`` says what it is.

    Raises
    ------
    BlockSizeError
        If ``value`` is not a pair of integers at least ``minimum``.
    """
    try:
        width, height = value
    except (TypeError, ValueError):
        width = height = None
    if any(isinstance(member, bool) or not isinstance(member, numbers.Integral)
           for member in (width, height)):
        raise BlockSizeError(f"{name} must be a (width, height) pair of integers, got {value!r}")
    if min(width, height) < minimum:
        raise BlockSizeError(f"{name} members must be at least {minimum}, got {value!r}")
    return int(width), int(height)


def create_views(
    view_size: Sequence[int], border: Sequence[int], size: Sequence[int]
) -> tuple[list[View], list[View]]:
    """Cover a raster with views, optionally grown by a border.

    Parameters
    ----------
    view_size : tuple of int
        ``(width, height)`` of the inner views.
    border : tuple of int
        ``(x, y)`` pixels added on every side of each inner view, clipped to
        the raster.
    size : tuple of int
        ``(width, height)`` of the raster.

    Returns
    -------
    views : list of tuple
        The inner views grown by ``border`` and clipped to the raster.
    inner_views : list of tuple
        Views tiling the raster exactly, without overlap, on a grid anchored
        at (0, 0), row by row. The last column and row are narrower where
        ``view_size`` does not divide ``size``.

    Raises
    ------
    BlockSizeError
        If ``view_size`` is not a pair of positive integers or ``border`` has
        a negative member (both are ``ValueError``).

    Examples
    --------
    >>> views, inner = create_views((3, 4), (1, 2), (9, 12))
    >>> inner[4], views[4]
    ((3, 4, 3, 4), (2, 2, 5, 8))
    """
    step_x, step_y = as_size(view_size, "view_size")
    border_x, border_y = as_size(border, "border", minimum=0)
    width, height = as_size(size, "size", minimum=0)
    views: list[View] = []
    inner_views: list[View] = []
    for y in range(0, height, step_y):
        rows = min(step_y, height - y)
        top = max(0, y - border_y)
        bottom = min(height, y + rows + border_y)
        for x in range(0, width, step_x):
            cols = min(step_x, width - x)
            left = max(0, x - border_x)
            right = min(width, x + cols + border_x)
            inner_views.append((x, y, cols, rows))
            views.append((left, top, right - left, bottom - top))
    return views, inner_views


def view_to_window(view: Sequence[int] | None) -> Window | None:
    """Convert a view ``(x, y, width, height)`` (column and row offsets, columns, rows) into a
    rasterio window; None (the whole raster) stays None."""
    return None if view is None else Window(*view)


def _slices(view: Sequence[int]) -> tuple[slice, slice]:
    x, y, width, height = view
    return slice(y, y + height), slice(x, x + width)


def get_view(data: NDArray, view: Sequence[int]) -> NDArray:
    """Return the part of ``data`` covered by ``view`` (a numpy view, no copy).

    Parameters
    ----------
    data : numpy.ndarray
        A ``(rows, cols)`` or ``(bands, rows, cols)`` array.
    view : tuple of int
        ``(x, y, width, height)``.

    Returns
    -------
    numpy.ndarray
        ``data[..., y:y+height, x:x+width]``.
    """
    rows, cols = _slices(view)
    return data[..., rows, cols]


def update_view(data: NDArray, view: Sequence[int], block: NDArray) -> None:
    """Write ``block`` into ``data`` at ``view``, in place.

    Parameters
    ----------
    data : numpy.ndarray
        The array to update.
    view : tuple of int
        ``(x, y, width, height)`` where the block goes.
    block : numpy.ndarray
        Values broadcastable to the view's shape.
    """
    rows, cols = _slices(view)
    data[..., rows, cols] = np.asarray(block)


def relative_view(view: Sequence[int], inner_view: Sequence[int]) -> View:
    """Express ``inner_view`` in the coordinates of ``view``.

    Parameters
    ----------
    view : tuple of int
        The view a block was read with (border included).
    inner_view : tuple of int
        The usable part of that block, in raster coordinates.

    Returns
    -------
    tuple of int
        Where to cut ``inner_view`` out of the block read at ``view``.

    Examples
    --------
    >>> relative_view((2, 2, 5, 8), (3, 4, 3, 4))
    (1, 2, 3, 4)
    """
    x, y, _, _ = view
    inner_x, inner_y, width, height = inner_view
    return (inner_x - x, inner_y - y, width, height)
