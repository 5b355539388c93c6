"""Checks that rasters can be combined: same CRS, linear units, resolution and grid."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from riogrande.errors import IncompatibleRastersError, RasterMismatchError
from riogrande.io.handles import dataset

PathLike = str | os.PathLike[str]


def _georeference(path: PathLike) -> dict[str, Any]:
    with dataset(path) as src:
        return {"crs": src.crs, "res": src.res, "shape": src.shape, "transform": src.transform}


def _same_for_all(
    paths: Sequence[PathLike], what: str, value: Callable[[dict[str, Any]], Any]
) -> list[Any]:
    values: list[Any] = []
    for path in paths:
        values.append(value(_georeference(path)))
        if values[-1] != values[0]:
            raise RasterMismatchError(
                f"{os.fspath(path)} and {os.fspath(paths[0])} differ in {what}: "
                f"{values[-1]!r} vs {values[0]!r}"
            )
    return values


def check_units(*paths: PathLike) -> list[str | None]:
    """Check that the rasters ``paths`` share the linear unit of their CRS.

    Returns each raster's unit, lower case (None without a CRS), in order.

    Raises
    ------
    RasterMismatchError
        At the first raster that differs from the first (also a ``TypeError``).
    """
    def unit(info: dict[str, Any]) -> str | None:
        crs = info["crs"]
        units = crs.linear_units if crs is not None else None
        return units.lower() if units is not None else None

    return _same_for_all(paths, "linear units", unit)


def check_crs(*paths: PathLike) -> list[str]:
    """Check that the rasters ``paths`` share one CRS.

    Returns each raster's CRS as text (``"None"`` without one), in order.

    Raises
    ------
    RasterMismatchError
        At the first raster that differs from the first.
    """
    return _same_for_all(paths, "CRS", lambda info: str(info["crs"]))


def check_resolution(*paths: PathLike) -> list[tuple[float, float]]:
    """Check that the rasters ``paths`` share one pixel size (to 8 decimals).

    Returns each raster's ``(x, y)`` resolution, in order.

    Raises
    ------
    RasterMismatchError
        At the first raster that differs from the first.
    """
    return _same_for_all(paths, "resolution",
                         lambda info: tuple(round(value, 8) for value in info["res"]))


def check_compatibility(
    *paths: PathLike, same_grid: bool = True
) -> tuple[list[str], list[str | None], list[tuple[float, float]]]:
    """Check that rasters can be combined cell by cell.

    Runs :func:`check_units`, :func:`check_crs` and :func:`check_resolution`,
    then (with ``same_grid``) compares size and transform, so that rasters
    of the same resolution but another extent or origin are not combined
    pixel by pixel.

    Parameters
    ----------
    *paths : str or path-like
        The rasters.
    same_grid : bool, default True
        Also require the same size and transform.

    Returns
    -------
    (crss, units, resolutions)
        The per-raster lists of the three checks.

    Raises
    ------
    RasterMismatchError
        If units, CRS or resolution differ.
    IncompatibleRastersError
        If size or transform differ.
    """
    units = check_units(*paths)
    crss = check_crs(*paths)
    resolutions = check_resolution(*paths)
    if same_grid and paths:
        reference = _georeference(paths[0])
        for path in paths[1:]:
            info = _georeference(path)
            if info["shape"] != reference["shape"] or not info["transform"].almost_equals(
                reference["transform"]
            ):
                raise IncompatibleRastersError(
                    f"{os.fspath(path)} and {os.fspath(paths[0])} are not on the same grid: "
                    f"shape {info['shape']} vs {reference['shape']}, transform "
                    f"{tuple(info['transform'])[:6]} vs {tuple(reference['transform'])[:6]}"
                )
    return crss, units, resolutions
