"""Small PNG previews of masks: valid and masked pixels in two colours.

The PNG is written by a few lines of numpy and :mod:`zlib` (an 8-bit
palette image with two entries), so no imaging library is needed.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rasterio.enums import Resampling

from riogrande.io.handles import open_raster
from riogrande.io.output import atomic_output

#: Longest side of a preview, in pixels.
QUICKLOOK_MAX = 800
#: Colour of valid pixels (palette index 1).
VALID_RGB = (31, 119, 180)
#: Colour of masked pixels (palette index 0).
MASKED_RGB = (236, 236, 236)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def write_png(
    path: str | os.PathLike[str], indexes: NDArray, palette: Sequence[Sequence[int]]
) -> Path:
    """Write a palette PNG; return its path.

    Parameters
    ----------
    path : str or path-like
        The PNG file.
    indexes : numpy.ndarray
        ``(rows, cols)`` integers, each an index into ``palette``.
    palette : sequence of (r, g, b)
        At most 256 colours.

    Raises
    ------
    ValueError
        If ``indexes`` is not 2-D, is empty, or refers past the palette.
    """
    pixels = np.asarray(indexes)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"a PNG needs a non-empty 2-D array, got shape {pixels.shape}")
    if not 0 < len(palette) <= 256 or pixels.min() < 0 or pixels.max() >= len(palette):
        raise ValueError(f"indexes must lie within a palette of 1 to 256 colours ({len(palette)})")
    rows, cols = pixels.shape
    scanlines = np.zeros((rows, cols + 1), dtype=np.uint8)  # filter byte 0 on each row
    scanlines[:, 1:] = pixels
    header = struct.pack(">IIBBBBB", cols, rows, 8, 3, 0, 0, 0)  # 8-bit, palette colour
    plte = bytes(int(channel) for colour in palette for channel in colour)
    data = (_PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"PLTE", plte)
            + _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 9)) + _chunk(b"IEND", b""))
    target = Path(path)
    with atomic_output(target) as temporary:
        temporary.write_bytes(data)
    return target


def preview_shape(width: int, height: int) -> tuple[int, int]:
    """``(rows, cols)`` of a preview of a ``width`` x ``height`` raster keeping its aspect
    ratio, with :data:`QUICKLOOK_MAX` pixels on its longest side (smaller rasters keep their
    size)."""
    scale = min(1.0, QUICKLOOK_MAX / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def write_quicklook(raster: str | os.PathLike[str], png: str | os.PathLike[str], *,
                    dataset_mask: bool = False) -> Path:
    """Write a two-colour preview of a mask raster to ``png``; return the PNG's path.

    The mask is band 1 of ``raster`` (0 masked, non-zero valid: a mask
    written by riogrande), or with ``dataset_mask`` the raster's dataset mask
    (e.g. after ``mask --in-place``).
    """
    with open_raster(raster) as src:
        shape = preview_shape(src.width, src.height)
        if dataset_mask:
            values = src.dataset_mask(out_shape=shape, resampling=Resampling.nearest)
        else:
            values = src.read(1, out_shape=shape, resampling=Resampling.nearest)
    return write_png(png, (values != 0).astype(np.uint8), [MASKED_RGB, VALID_RGB])
