"""Benchmark rasters: generated tile by tile once, then reused from a cache folder.

Each raster is a 4-band float32 GeoTIFF, DEFLATE-compressed, tiled 512,
pixel-interleaved (the GTiff default), with a nodata value. Band values are
smooth fields at a few scales plus noise, quantized to multiples of 1/8 so
that DEFLATE finds something to compress (like real measurements stored as
floats). Nodata regions: a corner outside the scene footprint and a few
lakes shared by all bands, a stripe and a disc per band, and scattered
single pixels per band.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

logger = logging.getLogger(__name__)

BANDS = 4
TILE = 512
NODATA = -9999.0
#: Bump when the generated content changes, so that cached files are rebuilt.
GENERATOR_VERSION = "1"
GENERATOR_TAG = "RIOGRANDE_BENCH_GENERATOR"
SEED = 20240611


def raster_path(folder: Path, size: int) -> Path:
    return folder / f"bench_{size}x{size}_{BANDS}b_float32.tif"


def profile_for(size: int) -> dict:
    return {
        "driver": "GTiff",
        "dtype": "float32",
        "count": BANDS,
        "width": size,
        "height": size,
        "crs": "EPSG:32633",
        "transform": from_origin(300000.0, 5200000.0, 10.0, 10.0),
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "deflate",
        "interleave": "pixel",
        "bigtiff": "if_safer",
        "num_threads": "all_cpus",
    }


def is_cached(path: Path, size: int) -> bool:
    """Tell whether ``path`` is a complete raster made by this generator version."""
    if not path.is_file() or path.stat().st_size < size * size // 64:
        return False
    try:
        with rasterio.open(path) as src:
            profile = src.profile
            tags = src.tags()
            compression = src.compression
            interleave = src.interleaving
    except rasterio.errors.RasterioIOError:
        return False
    return (
        profile["width"] == size
        and profile["height"] == size
        and profile["count"] == BANDS
        and profile["dtype"] == "float32"
        and profile.get("nodata") == NODATA
        and bool(profile.get("tiled"))
        and (profile.get("blockxsize"), profile.get("blockysize")) == (TILE, TILE)
        and compression is not None
        and compression.name.lower() == "deflate"
        and interleave is not None
        and interleave.name.lower() == "pixel"
        and tags.get(GENERATOR_TAG) == GENERATOR_VERSION
    )


class _Scene:
    """Everything about the synthetic scene that does not depend on the tile."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        rng = np.random.default_rng(seed)
        # (wavelength in pixels, amplitude) of the smooth components
        self.scales = [(size / 1.7, 120.0), (size / 7.0, 35.0), (97.0, 6.0)]
        self.phases = rng.uniform(0, 2 * math.pi, (BANDS, len(self.scales), 2))
        self.offsets = 400.0 + 150.0 * np.arange(BANDS)
        # lakes shared by every band: (centre x, centre y, radius) in pixels
        self.lakes = [(fx * size, fy * size, fr * size) for fx, fy, fr in
                      ((0.62, 0.35, 0.06), (0.30, 0.72, 0.04), (0.80, 0.80, 0.025))]
        # per band: a vertical stripe (x0, x1) and a disc (x, y, r)
        self.stripes = [((0.15 + 0.2 * b) * size, (0.15 + 0.2 * b) * size + size / 96)
                        for b in range(BANDS)]
        self.discs = [((0.2 + 0.18 * b) * size, (0.45 + 0.1 * (b % 2)) * size, 0.03 * size)
                      for b in range(BANDS)]

    def tile(self, row0: int, col0: int, rows: int, cols: int, seed: int) -> np.ndarray:
        y = np.arange(row0, row0 + rows, dtype=np.float64)[:, None]
        x = np.arange(col0, col0 + cols, dtype=np.float64)[None, :]
        shared = (x + y) < 0.22 * self.size  # outside the scene footprint
        for cx, cy, r in self.lakes:
            shared |= (x - cx) ** 2 + (y - cy) ** 2 < r * r
        data = np.empty((BANDS, rows, cols), dtype=np.float32)
        for band in range(BANDS):
            rng = np.random.default_rng([seed, band, row0, col0])
            field = np.full((rows, cols), self.offsets[band])
            components = zip(self.scales, self.phases[band], strict=True)
            for (wavelength, amplitude), (px, py) in components:
                k = 2 * math.pi / wavelength
                field += amplitude * np.cos(k * y + py) * np.sin(k * x * 1.3 + px)
            field += 0.002 * (x + 0.5 * y)  # a gentle trend
            field += rng.normal(0.0, 1.5, (rows, cols))
            values = np.round(field * 8.0) / 8.0
            x0, x1 = self.stripes[band]
            cx, cy, r = self.discs[band]
            nodata = shared | ((x >= x0) & (x < x1)) | ((x - cx) ** 2 + (y - cy) ** 2 < r * r)
            nodata |= rng.random((rows, cols)) < 0.002
            values[nodata] = NODATA
            data[band] = values
        return data


def generate(path: Path, size: int, seed: int = SEED) -> Path:
    """Write the benchmark raster of ``size`` × ``size`` pixels at ``path``.

    Written tile by tile (memory stays at a few tiles) under a temporary
    name of this process, moved into place when complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")  # concurrent runs: own name
    scene = _Scene(size, seed)
    with rasterio.Env(GDAL_CACHEMAX=256):
        with rasterio.open(partial, "w", **profile_for(size)) as dst:
            for row0 in range(0, size, TILE):
                for col0 in range(0, size, TILE):
                    rows, cols = min(TILE, size - row0), min(TILE, size - col0)
                    data = scene.tile(row0, col0, rows, cols, seed)
                    dst.write(data, window=Window(col0, row0, cols, rows))
            dst.update_tags(**{GENERATOR_TAG: GENERATOR_VERSION})
    os.replace(partial, path)
    return path


def ensure_raster(folder: Path, size: int) -> Path:
    """Return the cached benchmark raster of ``size``, generating it if needed."""
    path = raster_path(folder, size)
    if is_cached(path, size):
        logger.info("using cached %s", path)
        return path
    logger.info("generating %s (%d x %d, %d bands)", path, size, size, BANDS)
    return generate(path, size)
