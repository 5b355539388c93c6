"""Up-front checks that turn bad input into clear errors before any work starts."""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from riogrande.errors import (
    BandSelectionNoMatchError,
    IncompatibleRastersError,
    InvalidNodataError,
    OutputError,
)
from riogrande.io.names import backing_file, is_plain_path

#: Drivers whose files can hold an internal dataset mask (written in place).
IN_PLACE_DRIVERS = ("GTiff",)


def is_nan(value: Any) -> bool:
    """Tell whether ``value`` is a floating point NaN (non-numbers never are)."""
    return isinstance(value, numbers.Real) and math.isnan(value)


def fits(value: Any, dtype: str) -> bool:
    """Tell whether a pixel of ``dtype`` can hold ``value`` (any number, for a float type)."""
    kind = np.dtype(dtype)
    if kind.kind == "f":
        return True
    info = np.iinfo(kind)
    return not is_nan(value) and info.min <= value <= info.max and value == int(value)


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


def check_band_index(bidx: Any, count: int, name: str) -> None:
    """Raise a clear error unless ``bidx`` is a band of a ``count``-band raster.

    Raises
    ------
    BandSelectionNoMatchError
        Naming the raster, the index and the valid range (an
        :class:`~riogrande.errors.InvalidBandError`).
    """
    if isinstance(bidx, bool) or not isinstance(bidx, (int, np.integer)):
        raise BandSelectionNoMatchError(
            f"band index must be an integer, got {bidx!r} for {name}")
    if not 1 <= bidx <= count:
        raise BandSelectionNoMatchError(
            f"band {bidx} does not exist in {name}: it has {count} band(s), numbered 1 to {count}"
        )


def check_nodata(nodata: Any, dtype: str, name: str) -> None:
    """Check that ``nodata``, the value marking missing data in raster ``name``, fits ``dtype``.

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


def same_file(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    """Tell whether two paths, existing or not, name one file (another spelling, a link...)."""
    first, second = Path(first), Path(second)
    try:
        return first.resolve() == second.resolve() or (
            first.exists() and second.exists() and os.path.samefile(first, second)
        )
    except OSError:
        return False


def _check_folder_accepts_files(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        reason = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {path}: the folder {folder} {reason}")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")
    # some folders look writable and are not (/proc, a read-only mount)
    try:
        handle, probe = tempfile.mkstemp(prefix=".riogrande-probe-", dir=folder)
    except OSError as error:
        raise OutputError(
            f"cannot write {path}: the folder {folder} does not accept new files "
            f"({error.strerror or error})"
        ) from None
    os.close(handle)
    os.unlink(probe)


def check_output_path(
    output: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]]
) -> Path:
    """Check that a new file can be written at ``output``.

    Parameters
    ----------
    inputs : list of str or path-like
        The datasets read by the run (plain paths or any GDAL dataset name:
        the file behind a subdataset or an archive counts); none may be
        overwritten.

    Returns
    -------
    pathlib.Path
        ``output`` as a path.

    Raises
    ------
    OutputError
        If the output is an input (same path, another spelling, a link), a
        directory, or its folder is missing, not
        writable or does not accept new files (such as ``/proc``).
    """
    path = Path(output)
    for source in inputs:
        read = backing_file(source)
        if read is not None and same_file(path, read):
            raise OutputError(f"the output {path} is also an input ({os.fspath(source)}); "
                              "choose another output path")
    if path.is_dir():
        raise OutputError(f"the output {path} is a directory; give a file name")
    _check_folder_accepts_files(path)
    return path


def check_in_place(name: str | os.PathLike[str], driver: str) -> None:
    """Check that the internal mask of raster ``name`` (driver ``driver``) can be written in place.

    Raises
    ------
    OutputError
        If ``name`` is not a plain file (a subdataset, an archive, a URL), its
        format cannot hold an internal mask (a VRT, a PNG...), or it is
        read-only.
    """
    text = os.fspath(name)
    instead = "write the mask to a new file instead (output=...)"
    if not is_plain_path(text):
        raise OutputError(f"cannot write the mask into {text}: it is not a plain file "
                          f"(a subdataset, an archive or a URL); {instead}")
    if driver not in IN_PLACE_DRIVERS:
        raise OutputError(f"cannot write the mask into {text}: its format ({driver}) cannot "
                          f"hold an internal mask, only GeoTIFF can; {instead}")
    if not os.access(text, os.W_OK):
        raise OutputError(f"cannot write the mask into {text}: the file is read-only. "
                          f"Make it writable or {instead}.")
