"""New output rasters: their profile, and writing them under a temporary name."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Side files GDAL may write next to a raster.
SIDECARS = (".aux.xml", ".msk", ".ovr")


def _tile_length(length: int, largest: int = 512) -> int:
    """A GeoTIFF tile side (multiple of 16) no longer than needed for ``length`` pixels."""
    return min(largest, max(16, -(-int(length) // 16) * 16))


def mask_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """Profile of a mask raster on the grid of ``profile``.

    Single band ``uint8`` (1 valid, 0 masked) stored with one bit per pixel
    (``NBITS=1``: half the compression work of whole bytes, and smaller
    files), same size, CRS and transform, tiled and DEFLATE-compressed,
    BigTIFF when needed.

    Parameters
    ----------
    profile : dict
        rasterio profile of the source raster.

    Returns
    -------
    dict
    """
    return {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": profile["width"],
        "height": profile["height"],
        "crs": profile.get("crs"),
        "transform": profile["transform"],
        "nodata": None,
        "tiled": True,
        "blockxsize": _tile_length(profile["width"]),
        "blockysize": _tile_length(profile["height"]),
        "compress": "deflate",
        "zlevel": 1,
        "nbits": 1,
        "bigtiff": "if_safer",
    }


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDECARS)):
        try:
            candidate.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a file under a temporary name; move it into place only on success.

    Parameters
    ----------
    path : str or path-like
        The final location.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (same folder, so the move is atomic).
        If the ``with`` block raises, it is deleted and ``path`` is untouched.
    """
    final = Path(path)
    handle, name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=".part" + (final.suffix or ".tif"), dir=final.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    os.replace(temporary, final)
    for suffix in SIDECARS:  # side files of an older output describe another raster
        Path(f"{final}{suffix}").unlink(missing_ok=True)
        side = Path(f"{temporary}{suffix}")
        if side.exists():
            os.replace(side, f"{final}{suffix}")
    logger.info("wrote %s", final)
