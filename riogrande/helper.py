"""The small helpers under the module name the seed and the GeoRacoon package use.

Each is defined where it does its job and importable from here:
:func:`~riogrande.prepare.view_to_window` (views); :func:`~riogrande.logic.reduced_mask`,
:func:`~riogrande.logic.aggregated_selector`, :func:`~riogrande.logic.count_contribution`
(per-block validity); :func:`~riogrande.contexts.get_nbr_workers`,
:func:`~riogrande.contexts.get_or_set_context` (worker processes); the tag
encoding of :mod:`riogrande.io.tags`; the raster compatibility checks of
:mod:`riogrande.compatibility`; the data type helpers of
:mod:`riogrande.dtypes`. :func:`output_filename` is defined here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from riogrande.compatibility import (
    check_compatibility,
    check_crs,
    check_resolution,
    check_units,
)
from riogrande.contexts import START_METHODS, get_nbr_workers, get_or_set_context
from riogrande.dtypes import convert_to_dtype, dtype_range, rasterio_to_numpy_dtype
from riogrande.io.checks import is_nan
from riogrande.io.tags import deserialize, match_all, match_any, sanitize, serialize
from riogrande.logic import (
    MaskLogic,
    aggregated_selector,
    check_logic,
    count_contribution,
    reduced_mask,
)
from riogrande.prepare import view_to_window

__all__ = [
    "START_METHODS",
    "MaskLogic",
    "aggregated_selector",
    "check_compatibility",
    "check_crs",
    "check_logic",
    "check_resolution",
    "check_units",
    "convert_to_dtype",
    "count_contribution",
    "deserialize",
    "dtype_range",
    "get_nbr_workers",
    "get_or_set_context",
    "is_nan",
    "match_all",
    "match_any",
    "output_filename",
    "rasterio_to_numpy_dtype",
    "reduced_mask",
    "sanitize",
    "serialize",
    "view_to_window",
]


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
