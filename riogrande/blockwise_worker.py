"""The worker of :func:`riogrande.apply`: read a view of every input, call the function.

Masks made of nodata values (the usual case) are computed from the data,
without reading GDAL's mask bands (a masked read of the benchmark raster
takes twice as long); any other mask (internal, alpha) is read by rasterio.
Masked pixels of the result are written as the output's nodata value, and
the valid pixels whose result is that value are counted: they would read
back as nodata.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.enums import MaskFlags

from riogrande.errors import FunctionError, InvalidNodataError
from riogrande.io.checks import check_nodata, fits, is_nan
from riogrande.io.handles import dataset
from riogrande.io.rasters import Source
from riogrande.outputs.profiles import default_nodata
from riogrande.outputs.sinks import block_dtype
from riogrande.prepare import relative_view, view_to_window

#: Per band, the nodata value its mask is made of (None: all valid); None: read the masks.
MaskRule = list[Any] | None


def apply_block(
    func: Callable[..., Any],
    inputs: dict[str, tuple[Source, list[int], MaskRule]],
    named: bool,
    view: Sequence[int],
    inner_view: Sequence[int],
    kwargs: dict[str, Any],
    masked: bool,
    dtype: str | None,
    nodata: Any,
    out_q: Any,
) -> None:
    """Read one view of every input, call ``func``, put the cropped result on ``out_q``.

    The worker of :func:`apply` (it runs in the engine's workers).

    Parameters
    ----------
    func : callable
        ``func(data, **kwargs)``.
    inputs : dict
        Name -> (source, band indexes, mask rule of :func:`mask_rule`).
    named : bool
        Hand ``func`` a dict of arrays by name (else the one input's array).
    view, inner_view : tuple of int
        The view read (border included) and the part of it this block writes.
    kwargs : dict
        Keyword arguments of ``func``.
    masked : bool
        Read ``numpy.ma`` arrays (rasterio's masks) and write the masked
        pixels of the result as the output's nodata value.
    dtype : str or None
        Cast the result to this type.
    nodata : int, float or None
        The output's nodata value; None with ``masked``: the default of the
        result's type (:func:`~riogrande.outputs.profiles.default_nodata`).
    out_q : queue-like
        Receives ``{"view": inner_view, "data": result, "collisions": n}``,
        ``n`` the valid pixels whose result equals the nodata value.

    Raises
    ------
    FunctionError
        If ``func`` does not return an array of the block's shape.
    InvalidNodataError
        If masked pixels cannot be written as ``nodata`` in the result's type.
    """
    window = view_to_window(view)
    arrays = {}
    for name, (source, bands, rule) in inputs.items():
        with source.data_reader(bands) as read:
            if masked and rule is not None:  # masks from nodata values: no mask band to read
                arrays[name] = _masked_by_nodata(read(window=window), rule)
            else:
                arrays[name] = read(window=window, masked=masked)
    data = arrays if named else next(iter(arrays.values()))
    result = _checked_result(func(data, **kwargs), view)
    if dtype is not None:
        result = result.astype(dtype, copy=False)
    x, y, width, height = relative_view(view, inner_view)
    result = result[..., y:y + height, x:x + width]
    if masked and nodata is None:
        nodata = default_nodata(block_dtype(result))
    collisions = 0 if nodata is None else _collisions(result, nodata)
    if isinstance(result, np.ma.MaskedArray):
        result = _filled(result, nodata)
    out_q.put({"view": tuple(inner_view), "data": result, "collisions": collisions})


def _collisions(result: NDArray, nodata: Any) -> int:
    """The valid pixels of ``result`` that hold ``nodata`` (NaN for NaN)."""
    values = np.ma.getdata(result)
    same = np.isnan(values) if is_nan(nodata) else values == nodata
    if values.dtype == bool:
        same = values.view(np.uint8) == nodata
    return int(np.count_nonzero(same & ~np.ma.getmaskarray(result)))


def mask_rule(source: Source, bands: Sequence[int]) -> MaskRule:
    """How to mask ``bands`` of ``source`` without reading GDAL's mask bands.

    Parameters
    ----------
    source : Source
        The raster.
    bands : list of int
        Its bands to read.

    Returns
    -------
    list or None
        Per band, the nodata value its mask is made of (None: all valid),
        when every band's mask comes from a nodata value the data type can
        hold (or there is none); None when a band has another mask (an
        internal mask, alpha), which rasterio must read.
    """
    rule = []
    with dataset(source.name) as src:
        for bidx in bands:
            flags = set(src.mask_flag_enums[bidx - 1])
            nodata = src.nodatavals[bidx - 1]
            if flags == {MaskFlags.all_valid}:
                rule.append(None)
            elif flags == {MaskFlags.nodata} and fits(nodata, src.dtypes[bidx - 1]):
                rule.append(nodata)
            else:
                return None
    return rule


def has_mask(source: Source, bands: Sequence[int]) -> bool:
    """Whether GDAL masks pixels of any of ``bands`` (a nodata value, an internal mask...)."""
    with dataset(source.name) as src:
        return any(set(src.mask_flag_enums[bidx - 1]) != {MaskFlags.all_valid}
                   for bidx in bands)


def _masked_by_nodata(data: NDArray, rule: list[Any]) -> np.ma.MaskedArray:
    """``data`` masked where each band equals its nodata value (NaN matching NaN)."""
    mask = np.zeros(data.shape, dtype=bool)
    for index, nodata in enumerate(rule):
        if nodata is None:
            continue
        band = data[index]
        mask[index] = np.isnan(band) if math.isnan(nodata) else band == band.dtype.type(nodata)
    return np.ma.masked_array(data, mask=mask)


def _checked_result(result: Any, view: Sequence[int]) -> NDArray:
    if not isinstance(result, np.ndarray):
        result = np.asanyarray(result)
    shape = (int(view[3]), int(view[2]))
    if result.ndim not in (2, 3) or result.shape[-2:] != shape:
        raise FunctionError(
            f"the function must return a (rows, cols) or (bands, rows, cols) array of the "
            f"block's size {shape}, got shape {result.shape}"
        )
    return result


def _filled(result: np.ma.MaskedArray, nodata: Any) -> NDArray:
    if not np.ma.is_masked(result):
        return np.ma.getdata(result)
    if nodata is None:
        raise InvalidNodataError("the result has masked pixels but no nodata value to write "
                                 "them as; give nodata=")
    if result.dtype == bool:  # stored as uint8, where the nodata value can be other than 0/1
        result = result.astype(np.uint8)
    check_nodata(nodata, result.dtype.name, "the result")
    return np.ma.filled(result, nodata)
