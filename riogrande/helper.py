"""Small building blocks: windows, per-block mask logic, worker counts, contexts, tags.

The raster compatibility checks (:func:`~riogrande.compatibility.check_compatibility`,
:func:`~riogrande.compatibility.check_crs`, :func:`~riogrande.compatibility.check_units`,
:func:`~riogrande.compatibility.check_resolution`) and the data type helpers
(:func:`~riogrande.dtypes.convert_to_dtype`, :func:`~riogrande.dtypes.dtype_range`) are
importable from here too.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import NDArray

from riogrande.compatibility import (  # noqa: F401 (part of this module's interface)
    check_compatibility,
    check_crs,
    check_resolution,
    check_units,
)
from riogrande.dtypes import convert_to_dtype, dtype_range  # noqa: F401 (idem)
from riogrande.errors import UnsupportedLogicError
from riogrande.prepare import view_to_window  # noqa: F401 (part of this module's interface)

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

MaskLogic = Union[str, Callable[[NDArray, Any], NDArray]]  # noqa: UP007 (runtime alias, py3.10)
START_METHODS = ("spawn", "fork", "forkserver")


def is_nan(value: Any) -> bool:
    """Tell whether ``value`` is a floating point NaN.

    Parameters
    ----------
    value : object
        Anything; non-numbers are never NaN.

    Returns
    -------
    bool
    """
    return isinstance(value, numbers.Real) and math.isnan(value)


def _not_nodata(array: NDArray, nodata: Any) -> NDArray:
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
    not_nodata = _not_nodata(array, nodata)
    valid = not_nodata.any(axis=0) if logic == "all" else not_nodata.all(axis=0)
    return valid.view(np.uint8)


def check_logic(logic: Any) -> None:
    """Reject a mask logic that is neither ``"all"``, ``"any"`` nor a callable.

    Parameters
    ----------
    logic : object
        The logic to check.

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


def get_nbr_workers(number: int | None = None) -> int:
    """Return how many worker processes to use.

    Parameters
    ----------
    number : int or None
        The number asked for; ``None`` means the CPUs this process may use.

    Returns
    -------
    int
        At least 1.
    """
    if number is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not available on Windows and macOS
            return max(1, os.cpu_count() or 1)
    if isinstance(number, bool) or not isinstance(number, numbers.Integral):
        raise ValueError(f"the number of workers must be an integer, got {number!r}")
    return max(1, int(number))


def get_or_set_context(method: str | None = None, *, executable: str | None = None) -> BaseContext:
    """Return the multiprocessing context to run workers with.

    The global start method is never changed.

    Parameters
    ----------
    method : {"spawn", "fork", "forkserver"} or None
        ``None`` uses the start method the application has set, else
        ``"spawn"`` (correct on every platform and inside applications that
        embed Python).
    executable : str or None
        Python interpreter for the worker processes (spawn only). Needed when
        ``sys.executable`` is not a usable Python, e.g. inside QGIS. It only
        applies to the processes of the returned context.

    Returns
    -------
    multiprocessing.context.BaseContext

    Raises
    ------
    ValueError
        For an unknown method, or an executable with a method other than spawn.
    """
    import multiprocessing  # here: a run in threads needs none of it

    if method is not None and method not in START_METHODS:
        raise ValueError(f"unknown start method {method!r}: use one of {START_METHODS}")
    if method is None:
        method = multiprocessing.get_start_method(allow_none=True) or "spawn"
    if executable is None:
        return multiprocessing.get_context(method)
    if method != "spawn":
        raise ValueError(f"a worker interpreter can only be set with 'spawn', not {method!r}")
    from riogrande._interpreter import InterpreterSpawnContext

    return InterpreterSpawnContext(executable)


def _json_default(value: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable (as Python numbers and lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"tag value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def _json_loads(text: str) -> Any:
    """Decode JSON text; text that is not JSON (written by another tool) stays a string."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def serialize(tags: Mapping[str, Any]) -> dict[str, str]:
    """Encode every tag value as JSON text.

    Parameters
    ----------
    tags : mapping
        Values that JSON can hold; numpy scalars and arrays are accepted too.

    Returns
    -------
    dict of str to str

    Raises
    ------
    TypeError
        For a value JSON cannot hold.
    """
    return {str(key): json.dumps(value, default=_json_default) for key, value in tags.items()}


def deserialize(tags: Mapping[str, str]) -> dict[str, Any]:
    """Decode JSON tag values; a value that is not JSON text is kept as the string it is.

    Parameters
    ----------
    tags : mapping of str to str

    Returns
    -------
    dict
    """
    return {key: _json_loads(value) for key, value in tags.items()}


def sanitize(tags: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise tag values as they read back from a file (tuples become lists, ...).

    Parameters
    ----------
    tags : mapping

    Returns
    -------
    dict
        ``deserialize(serialize(tags))``.
    """
    return deserialize(serialize(tags))


def match_all(targets: Mapping[str, Any], tags: Mapping[str, Any]) -> bool:
    """Tell whether every key of ``targets`` is in ``tags`` with an equal value.

    Parameters
    ----------
    targets, tags : mapping

    Returns
    -------
    bool
        True for empty ``targets``.
    """
    return all(key in tags and tags[key] == value for key, value in targets.items())


def match_any(targets: Mapping[str, Any], tags: Mapping[str, Any]) -> bool:
    """Tell whether at least one key of ``targets`` is in ``tags`` with an equal value.

    Parameters
    ----------
    targets, tags : mapping

    Returns
    -------
    bool
        False for empty ``targets``.
    """
    return any(key in tags and tags[key] == value for key, value in targets.items())


def count_contribution(data: NDArray, selector: NDArray | None, no_data: Any = 0) -> int:
    """Count the selected cells of ``data`` that hold data.

    Parameters
    ----------
    data : numpy.ndarray
    selector : numpy.ndarray of bool or None
        Cells to consider (all when None), same shape as ``data``.
    no_data : int or float, default 0
        The value of empty cells; NaN matches NaN.

    Returns
    -------
    int
    """
    valid = _not_nodata(np.asarray(data), no_data)
    if selector is not None:
        valid &= np.asarray(selector, dtype=bool)
    return int(np.count_nonzero(valid))


def output_filename(
    base_name: str | os.PathLike[str],
    out_type: str,
    blur_params: Mapping[str, float] | None = None,
) -> str:
    """Name an output file after its input: ``<stem>_<out_type>[_<key>_<value>...]<ext>``.

    Parameters
    ----------
    base_name : str or path-like
        The input file name (its folder is not part of the result).
    out_type : str
        What the output holds, e.g. ``"entropy"``.
    blur_params : mapping, optional
        Parameters appended as ``_<key>_<round(value)>``, in order.

    Returns
    -------
    str

    Examples
    --------
    >>> output_filename("data/lst.tif", "blur", {"sigma": 2.4})
    'lst_blur_sigma_2.tif'
    """
    path = Path(base_name)
    parts = [path.stem, out_type]
    for key, value in (blur_params or {}).items():
        parts += [str(key), str(round(value))]
    return "_".join(parts) + path.suffix
