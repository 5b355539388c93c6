"""GDAL's rules for a Cloud-Optimized GeoTIFF, checked through GDAL's own metadata.

The same checks as GDAL's ``validate_cloud_optimized_geotiff.py``: the
``LAYOUT=COG`` structure metadata and the ghost area at the start of the
file; tiles; overviews when the image is larger than a tile; the IFDs of
the full image, then the overviews (largest first) at the
start of the file, ahead of the pixel data; the smallest overview's tiles
first and the full-resolution tiles last.
"""

from __future__ import annotations

import struct
from pathlib import Path

import rasterio

GHOST = b"GDAL_STRUCTURAL_METADATA_SIZE="


def _offsets(path: Path, level: int | None) -> tuple[int, int]:
    """(IFD offset, first tile offset) of the full image or an overview."""
    kwargs = {} if level is None else {"overview_level": level}
    with rasterio.open(path, **kwargs) as src:
        return (int(src.get_tag_item("IFD_OFFSET", "TIFF", bidx=1)),
                int(src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)))


def cog_problems(path: str | Path) -> list[str]:
    """Every rule of a COG that ``path`` breaks (empty: a valid COG)."""
    path = Path(path)
    problems = []
    head = path.read_bytes()[:64]
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        return ["not a TIFF"]
    (version,) = struct.unpack(order + "H", head[2:4])
    ghost_at = 8 if version == 42 else 16
    if head[ghost_at:ghost_at + len(GHOST)] != GHOST:
        problems.append("no ghost area (GDAL_STRUCTURAL_METADATA) after the header")
    with rasterio.open(path) as src:
        if src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") != "COG":
            problems.append("IMAGE_STRUCTURE metadata has no LAYOUT=COG")
        width, height = src.width, src.height
        block = src.block_shapes[0]
        tiled = block[1] < width or block[0] < height or src.profile.get("tiled", False)
        if not tiled and max(width, height) > 512:
            problems.append("not tiled")
        levels = len(src.overviews(1))
    if max(width, height) > 512 and levels == 0:
        problems.append("no overviews although larger than 512 pixels")
    images = [_offsets(path, None)] + [_offsets(path, level) for level in range(levels)]
    ifds = [ifd for ifd, _ in images]
    if ifds != sorted(ifds):
        problems.append(f"IFDs not in order full image, then overviews largest first: {ifds}")
    firsts = [first for _, first in images]
    if firsts != sorted(firsts, reverse=True):
        problems.append(f"tile data not smallest overview first, full resolution last: {firsts}")
    if min(firsts) < max(ifds):
        problems.append("tile data starts before the last IFD")
    return problems
