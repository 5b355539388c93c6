"""A generated example raster with nodata holes, for demonstrations and tests.

:func:`generate_example` writes it; ``riogrande demo [DIR]`` (see
:mod:`riogrande.cli.demo`) writes it into ``DIR`` and runs both jobs on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

EXAMPLE_NODATA = -9999.0


def generate_example(path: str | Path, size: tuple[int, int] = (2500, 1900), seed: int = 0) -> Path:
    """Write a 3-band float32 GeoTIFF of ``size`` ``(width, height)`` with nodata holes and a
    per-band stripe at ``path`` (random with ``seed``); return ``path``."""
    width, height = size
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    data = np.empty((3, height, width), dtype="float32")
    for band in range(3):
        data[band] = np.sin(cols / (40.0 + band * 7)) * np.cos(rows / 55.0) * 100 + band
    # a lake of nodata shared by all bands, and one stripe per band
    lake = (rows - height / 2) ** 2 + (cols - width / 3) ** 2 < (min(size) / 5) ** 2
    data[:, lake] = EXAMPLE_NODATA
    for band in range(3):
        start = (band + 1) * width // 5
        data[band, :, start:start + width // 40] = EXAMPLE_NODATA
    data[:, rng.random((height, width)) < 0.01] = EXAMPLE_NODATA
    profile = {
        "driver": "GTiff", "dtype": "float32", "count": 3, "width": width, "height": height,
        "crs": "EPSG:32633", "transform": from_origin(500000, 4800000, 10, 10),
        "nodata": EXAMPLE_NODATA, "tiled": True, "blockxsize": 256, "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return Path(path)
