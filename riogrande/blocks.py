"""Choosing block sizes that fit the file's internal tiling."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from riogrande.prepare import as_size

#: Pixels of all bands a block should hold, in bytes: large enough to make
#: per-block overhead negligible, small enough to keep memory low.
TARGET_BLOCK_BYTES = 8 * 2**20
#: The same on an executor riogrande does not own (e.g. a Dask cluster), where
#: scheduling a job costs milliseconds of messages.
DISTRIBUTED_TARGET_BLOCK_BYTES = 40 * 2**20
#: Each worker should get at least this many blocks, so that none idles at the end.
MIN_BLOCKS_PER_WORKER = 4
#: A block size asked for is warned about when it makes this many blocks or more...
MANY_BLOCKS = 1000
#: ... of fewer pixels than this each (per-block overhead then dominates the run).
SMALL_BLOCK_PIXELS = 64 * 64

logger = logging.getLogger(__name__)


def internal_block_shape(profile: dict[str, Any]) -> tuple[int, int]:
    """Return the ``(width, height)`` of the blocks of a file of rasterio ``profile``: its
    tiles, or ``(width, rows per strip)`` for a striped file (one row when unknown)."""
    width = int(profile["width"])
    if profile.get("tiled") and profile.get("blockxsize") and profile.get("blockysize"):
        return int(profile["blockxsize"]), int(profile["blockysize"])
    return width, int(profile.get("blockysize") or 1)


def _pixel_interleaved_tiles(profile: dict[str, Any]) -> bool:
    return (bool(profile.get("tiled")) and int(profile.get("count", 1)) > 1
            and str(profile.get("interleave", "pixel")).lower() == "pixel")


def choose_block_size(
    profile: dict[str, Any], workers: int = 1, band_reads: bool = False, distributed: bool = False
) -> tuple[int, int]:
    """Pick a block size aligned to the file's internal blocks.

    The block is a whole number of internal blocks (none decompressed
    twice), holds about :data:`TARGET_BLOCK_BYTES` of pixels of all bands,
    and gives every worker several blocks. Blocks read band by band
    (``band_reads``) from a tiled, pixel-interleaved multi-band file are one
    tile, so the GDAL cache sparing the other bands' decompression stays a
    few MB (:func:`gdal_cache_mb`). On an executor riogrande does not own
    (``distributed``; workers keep GDAL's default cache) blocks hold about
    :data:`DISTRIBUTED_TARGET_BLOCK_BYTES` and band reads are not cut to one tile.

    Parameters
    ----------
    profile : dict
        rasterio profile of the raster to read.
    workers : int, default 1
        Number of worker processes.
    band_reads : bool, default False
        Whether blocks are read band by band.
    distributed : bool, default False
        Whether the blocks run on an executor riogrande does not own.

    Returns
    -------
    tuple of int
        ``(width, height)`` in pixels.
    """
    width, height = int(profile["width"]), int(profile["height"])
    tile_w, tile_h = internal_block_shape(profile)
    tile_w, tile_h = min(tile_w, width), min(tile_h, height)
    if band_reads and not distributed and _pixel_interleaved_tiles(profile):
        return tile_w, tile_h
    pixel_bytes = np.dtype(profile["dtype"]).itemsize * int(profile.get("count", 1))
    target_pixels = (DISTRIBUTED_TARGET_BLOCK_BYTES if distributed
                     else TARGET_BLOCK_BYTES) / pixel_bytes
    enough_blocks = width * height / (MIN_BLOCKS_PER_WORKER * max(workers, 1))
    target_pixels = max(min(target_pixels, enough_blocks), tile_w * tile_h)
    if tile_w >= width:  # strips: stack whole rows
        rows = tile_h * max(1, int(target_pixels // (width * tile_h)))
        return width, min(rows, height)
    tiles = max(1, int(target_pixels // (tile_w * tile_h)))
    rows = max(1, math.isqrt(tiles))  # as square as the number of tiles allows
    columns = max(1, tiles // rows)
    return min(tile_w * columns, width), min(tile_h * rows, height)


def resolve_block_size(
    block_size: Sequence[int] | None,
    profile: dict[str, Any],
    workers: int = 1,
    band_reads: bool = False,
    distributed: bool = False,
) -> tuple[int, int]:
    """Validate ``block_size`` ``(width, height)``, or choose one with
    :func:`choose_block_size` (whose other parameters these are) when it is None.

    Raises
    ------
    BlockSizeError
        If ``block_size`` is not a pair of positive integers.

    Notes
    -----
    :data:`MANY_BLOCKS` blocks or more of fewer than :data:`SMALL_BLOCK_PIXELS`
    pixels are logged as a warning (per-block overhead).
    """
    if block_size is None:
        return choose_block_size(profile, workers, band_reads, distributed)
    size = as_size(block_size, "block_size")
    width, height = int(profile["width"]), int(profile["height"])
    blocks = -(-width // size[0]) * -(-height // size[1])
    if blocks >= MANY_BLOCKS and size[0] * size[1] < SMALL_BLOCK_PIXELS:
        tile_w, tile_h = internal_block_shape(profile)
        logger.warning(
            "a block size of %d x %d pixels cuts the %d x %d raster into %d tiny blocks: the "
            "run will spend its time on per-block overhead; use larger blocks (e.g. the "
            "file's tiles, %d x %d) or let riogrande choose (no block size)",
            size[0], size[1], width, height, blocks, tile_w, tile_h,
        )
    return size


def gdal_cache_mb(
    block_size: Sequence[int], profile: dict[str, Any], band_reads: bool = False
) -> int:
    """GDAL block cache a worker needs, in MB, to read blocks of ``block_size`` (width,
    height) of a raster of rasterio ``profile``.

    A block read for all bands in one call decompresses each tile once: 8 MB.
    One read band by band (``band_reads``) needs the cache to hold the tiles
    it touches, all bands: those with a margin, within [8, 256].
    """
    if not band_reads:
        return 8
    tile_w, tile_h = internal_block_shape(profile)
    tile_w, tile_h = min(tile_w, int(profile["width"])), min(tile_h, int(profile["height"]))

    def tiles(length: int, tile: int) -> int:  # an unaligned block touches one more tile
        return -(-length // tile) + (length % tile != 0)

    touched = tiles(block_size[0], tile_w) * tile_w * tiles(block_size[1], tile_h) * tile_h
    pixel_bytes = np.dtype(profile["dtype"]).itemsize * int(profile.get("count", 1))
    megabytes = math.ceil(1.5 * touched * pixel_bytes / 2**20)
    return int(min(max(megabytes, 8), 256))
