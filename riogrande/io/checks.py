"""Up-front checks that turn bad input into clear errors before any work starts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from riogrande.helper import is_nan
from riogrande.io.exceptions import IncompatibleRastersError, InvalidNodataError, OutputError


def check_same_grid(rasters: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Check that rasters share shape, transform and CRS.

    Parameters
    ----------
    rasters : list of (name, profile)
        The rasters to compare; the first is the reference.

    Raises
    ------
    IncompatibleRastersError
        Naming the two rasters and what differs.
    """
    if not rasters:
        return
    ref_name, ref = rasters[0]
    for name, profile in rasters[1:]:
        problems = []
        ref_shape = (ref["width"], ref["height"])
        shape = (profile["width"], profile["height"])
        if shape != ref_shape:
            problems.append(f"size {shape[0]}x{shape[1]} vs {ref_shape[0]}x{ref_shape[1]}")
        if not profile["transform"].almost_equals(ref["transform"]):
            problems.append(f"transform {tuple(profile['transform'])[:6]} "
                            f"vs {tuple(ref['transform'])[:6]}")
        if profile.get("crs") != ref.get("crs"):
            problems.append(f"CRS {profile.get('crs')} vs {ref.get('crs')}")
        if problems:
            raise IncompatibleRastersError(
                f"{name} and {ref_name} are not on the same grid: " + "; ".join(problems)
                + ". Resample one onto the other first (e.g. gdalwarp)."
            )


def check_nodata(nodata: Any, dtype: str, name: str) -> None:
    """Check that ``nodata`` can occur in data of type ``dtype``.

    Parameters
    ----------
    nodata : int or float
        The value marking missing data.
    dtype : str
        The raster's data type.
    name : str
        The raster, for the message.

    Raises
    ------
    InvalidNodataError
        For a non-number, NaN on an integer raster, or an integer out of range.
    """
    if isinstance(nodata, bool) or not isinstance(nodata, (int, float, np.number)):
        raise InvalidNodataError(f"nodata must be a number or NaN, got {nodata!r}")
    kind = np.dtype(dtype)
    if not np.issubdtype(kind, np.integer):
        return
    if is_nan(nodata):
        raise InvalidNodataError(
            f"nodata NaN cannot occur in {name}: its data type {dtype} is an integer type, "
            "which has no NaN. Use the integer value that marks missing data instead."
        )
    info = np.iinfo(kind)
    if not (info.min <= nodata <= info.max) or float(nodata) != int(nodata):
        raise InvalidNodataError(
            f"nodata {nodata!r} cannot occur in {name}: its data type {dtype} holds integers "
            f"from {info.min} to {info.max}, so nothing would be masked."
        )


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve() or (
            first.exists() and second.exists() and os.path.samefile(first, second)
        )
    except OSError:
        return False


def check_output_path(
    output: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]]
) -> Path:
    """Check that a new raster can be written at ``output``.

    Parameters
    ----------
    output : str or path-like
        Where the new raster goes.
    inputs : list of str or path-like
        The rasters read by the run; none may be overwritten.

    Returns
    -------
    pathlib.Path
        ``output`` as a path.

    Raises
    ------
    OutputError
        If the output is an input, a directory, or its folder is missing or
        not writable.
    """
    path = Path(output)
    for source in inputs:
        if _same_file(path, Path(source)):
            raise OutputError(f"the output {path} is also an input; choose another output path")
    if path.is_dir():
        raise OutputError(f"the output {path} is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        reason = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {path}: the folder {folder} {reason}")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")
    return path


def check_writable_input(path: str | os.PathLike[str]) -> None:
    """Check that a raster can be updated in place.

    Raises
    ------
    OutputError
        If the file is read-only.
    """
    if not os.access(path, os.W_OK):
        raise OutputError(
            f"cannot write the mask into {path}: the file is read-only. "
            "Make it writable or write the mask to a new file (output=...)."
        )
