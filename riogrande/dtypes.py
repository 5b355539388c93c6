"""Value ranges of numpy data types and rescaling data from one type to another."""

from __future__ import annotations

import warnings
from collections.abc import Collection
from typing import Any, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray

from riogrande.errors import UnsupportedDtypeError

#: The value range a floating point type stands for when rescaling: [0, 1].
FLOAT_RANGE = (0.0, 1.0)

ValueRange = Union[DTypeLike, Collection[float], NDArray]  # noqa: UP007 (runtime alias, py3.10)


def dtype_range(dtype: DTypeLike) -> tuple[int | float, int | float]:
    """Return ``(max, min)``, the largest and smallest value of a numeric data type.

    The values are Python ``int`` for integer types, ``float`` for floating
    point types.

    Raises
    ------
    UnsupportedDtypeError
        For ``bool`` and non-numeric types (a ``ValueError``).

    Examples
    --------
    >>> dtype_range("uint8")
    (255, 0)
    """
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        return int(info.max), int(info.min)
    if np.issubdtype(kind, np.floating):
        finfo = np.finfo(kind)
        return float(finfo.max), float(finfo.min)
    raise UnsupportedDtypeError(f"the data type {kind} has no numeric value range")


def _is_dtype(value: Any) -> bool:
    if isinstance(value, (str, type, np.dtype)):
        try:
            np.dtype(value)
        except TypeError:
            return False
        return True
    return False


def _value_range(value: ValueRange) -> tuple[float, float]:
    """``(min, max)`` of a range given as a dtype ([0, 1] for floats) or as values."""
    if _is_dtype(value):
        kind = np.dtype(value)
        if np.issubdtype(kind, np.floating):
            return FLOAT_RANGE
        largest, smallest = dtype_range(kind)
        return float(smallest), float(largest)
    values = np.asarray(value, dtype=np.float64)
    if values.size == 0 or np.isnan(values).all():
        raise ValueError("a value range needs at least one number")
    return float(np.nanmin(values)), float(np.nanmax(values))


def convert_to_dtype(
    data: NDArray,
    as_dtype: DTypeLike | None = None,
    in_range: ValueRange | None = None,
    out_range: ValueRange | None = None,
) -> NDArray:
    """Convert ``data`` to another type, rescaling its values from one range to another.

    Without ``in_range`` and ``out_range`` the values are only cast. With
    either, ``in_range`` is mapped linearly onto ``out_range``; the one not
    given is the full range of the type concerned (input type for
    ``in_range``, target type for ``out_range``), where a floating point
    type stands for [0, 1] (with a ``RuntimeWarning`` when ``in_range`` is
    mapped onto a floating point type: its full range cannot be a target).
    The arithmetic runs in float64. Integer results are truncated towards
    zero, as numpy's cast does, after values outside ``out_range`` have been
    clipped to it (with a ``RuntimeWarning``); NaN becomes 0 in integer
    results (with a ``RuntimeWarning``).

    Parameters
    ----------
    data : numpy.ndarray
    as_dtype : numpy dtype, type or str, optional
        Target type; float64 by default (also without rescaling).
    in_range, out_range : dtype or collection of numbers, optional
        A type (its full range; [0, 1] for floats) or values whose minimum
        and maximum (NaN ignored) bound the range.

    Returns
    -------
    numpy.ndarray
        A new array of type ``as_dtype``.

    Raises
    ------
    UnsupportedDtypeError
        If a range is given as a type without numeric range (``bool``).

    Examples
    --------
    >>> convert_to_dtype(np.array([0.0, 0.5, 1.0]), "uint8", out_range="uint8").tolist()
    [0, 127, 255]
    >>> convert_to_dtype(np.array([1, 2], dtype="uint8")).dtype
    dtype('float64')
    """
    array = np.asarray(data)
    target = np.dtype(as_dtype) if as_dtype is not None else np.dtype(np.float64)
    if in_range is None and out_range is None:
        return array.astype(target)
    if out_range is None and np.issubdtype(target, np.floating):
        warnings.warn(f"in_range is mapped onto {target}, whose full range cannot be a "
                      f"target: [{FLOAT_RANGE[0]}, {FLOAT_RANGE[1]}] is used (give out_range)",
                      RuntimeWarning, stacklevel=2)
    in_min, in_max = _value_range(array.dtype if in_range is None else in_range)
    out_min, out_max = _value_range(target if out_range is None else out_range)
    span = in_max - in_min
    scale = (out_max - out_min) / span if span else 0.0
    result = out_min + (array.astype(np.float64) - in_min) * scale
    outside = np.count_nonzero((result < out_min) | (result > out_max))
    if outside:
        warnings.warn(f"{outside} value(s) exceed the target range [{out_min}, {out_max}] "
                      "and are clipped to it", RuntimeWarning, stacklevel=2)
    if np.issubdtype(target, np.integer):
        largest, smallest = dtype_range(target)
        low, high = max(out_min, smallest), min(out_max, largest)
        missing = np.isnan(result)
        result = np.trunc(np.clip(result, low, high))
        if missing.any():
            warnings.warn(f"{np.count_nonzero(missing)} NaN value(s) become 0 in {target}",
                          RuntimeWarning, stacklevel=2)
            result[missing] = 0
    elif outside:
        result = np.clip(result, out_min, out_max)
    return result.astype(target)


#: The rasterio data type names :func:`rasterio_to_numpy_dtype` knows.
RASTERIO_DTYPES = {
    "int16": np.int16, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
    "uint32": np.uint32, "float32": np.float32, "float64": np.float64,
}


def rasterio_to_numpy_dtype(dtype: str) -> type | None:
    """Return the numpy type of a rasterio data type name, as the GeoRacoon package does.

    Parameters
    ----------
    dtype : str
        One of ``int16``, ``int32``, ``uint8``, ``uint16``, ``uint32``,
        ``float32``, ``float64``.

    Returns
    -------
    numpy type or None
        None for any other name (``int8``, ``int64``, complex types...):
        ``numpy.dtype(name)`` knows them all.
    """
    return RASTERIO_DTYPES.get(dtype)
