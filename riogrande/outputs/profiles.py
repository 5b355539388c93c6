"""The profile of a 0/1 result raster."""

from __future__ import annotations

from typing import Any


def tile_length(length: int, largest: int = 512) -> int:
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
        "blockxsize": tile_length(profile["width"]),
        "blockysize": tile_length(profile["height"]),
        "compress": "deflate",
        "zlevel": 1,
        "nbits": 1,
        "bigtiff": "if_safer",
    }
