"""Synthetic rasters for the tests, written with explicit georeferencing."""

from __future__ import annotations

import hashlib
import multiprocessing.context
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

CRS = "EPSG:32633"
TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5200000.0)


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` in the tests and the commands they start, as in
    a terminal, also when the suite was started with it ignored (in the background of a
    shell without job control, which would pass the ignoring on to every child)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def file_sha256(path: str | Path) -> str:
    """Return the sha256 of a file's bytes (to prove an input was not modified)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def synthetic_data(
    count: int,
    height: int,
    width: int,
    dtype: str = "float32",
    fill: Any = 0,
    seed: int = 0,
) -> np.ndarray:
    """Random ``(count, height, width)`` data holding ``fill`` in several patterns.

    Each band gets its own scattered ``fill`` cells (so "all" and "any"
    differ), one rectangle holds ``fill`` in every band, another one only in
    the first band.
    """
    rng = np.random.default_rng(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        data = rng.integers(1, 100, size=(count, height, width)).astype(dtype)
    else:
        data = rng.uniform(1.0, 100.0, size=(count, height, width)).astype(dtype)
    for band in data:
        band[rng.random((height, width)) < 0.25] = fill
    data[:, height // 4 : height // 2 + 1, width // 3 : width // 2 + 1] = fill
    data[0, height // 2 :, : max(1, width // 5)] = fill
    return data


def random_mask(height: int, width: int, seed: int = 1) -> np.ndarray:
    """A boolean validity mask with a masked rectangle and scattered masked cells."""
    rng = np.random.default_rng(seed)
    valid = rng.random((height, width)) > 0.1
    valid[: max(1, height // 3), width // 2 :] = False
    return valid


def write_raster(
    path: str | Path,
    data: np.ndarray,
    *,
    nodata: Any = None,
    tiled: bool = True,
    block: tuple[int, int] = (64, 64),
    compress: str | None = "deflate",
    crs: Any = CRS,
    transform: Any = TRANSFORM,
    dataset_mask: np.ndarray | None = None,
) -> Path:
    """Write ``data`` ``(bands, rows, cols)`` to a GeoTIFF and return its path.

    ``block`` is the tile ``(width, height)`` when ``tiled``, else only its
    height is used (rows per strip). ``dataset_mask`` (bool, True = valid) is
    stored as the file's internal per-dataset GDAL mask.
    """
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "count": count,
        "height": height,
        "width": width,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    if tiled:
        profile.update(tiled=True, blockxsize=block[0], blockysize=block[1])
    else:
        profile.update(tiled=False, blockysize=block[1])
    if compress:
        profile["compress"] = compress
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            if dataset_mask is not None:
                dst.write_mask(np.where(dataset_mask, 255, 0).astype(np.uint8))
    return Path(path)


RasterFactory = Callable[..., Path]


@pytest.fixture
def make_raster(tmp_path: Path) -> RasterFactory:
    """Factory writing a synthetic GeoTIFF into ``tmp_path``.

    Keywords: ``name``, ``width``, ``height``, ``count``, ``dtype``,
    ``nodata`` (the file's nodata value, None for none), ``fill`` (the value
    put in the holes; defaults to ``nodata``, or 0), ``seed``, ``tiled``,
    ``block``, ``compress``, ``mask`` (True: an internal dataset mask made by
    :func:`random_mask`), ``data`` (explicit data instead of random).
    """
    counter = iter(range(10**6))

    def factory(
        name: str | None = None,
        *,
        width: int = 97,
        height: int = 61,
        count: int = 3,
        dtype: str = "float32",
        nodata: Any = None,
        fill: Any = None,
        seed: int = 0,
        tiled: bool = True,
        block: tuple[int, int] = (32, 32),
        compress: str | None = "deflate",
        mask: bool = False,
        data: np.ndarray | None = None,
        crs: Any = CRS,
        transform: Any = TRANSFORM,
    ) -> Path:
        if data is None:
            if fill is None:
                fill = 0 if nodata is None else nodata
            data = synthetic_data(count, height, width, dtype, fill, seed)
        height, width = data.shape[1:]
        path = tmp_path / (name or f"raster{next(counter)}.tif")
        return write_raster(
            path,
            data,
            nodata=nodata,
            tiled=tiled,
            block=block,
            compress=compress,
            crs=crs,
            transform=transform,
            dataset_mask=random_mask(height, width, seed + 1) if mask else None,
        )

    return factory


@pytest.fixture(autouse=True)
def _restore_default_start_method():
    """Undo the standard library's side effect of starting a spawn process by hand.

    ``multiprocessing`` records ``get_start_method()`` when preparing a spawn
    child, which fixes the default context as if the application had chosen
    it. Tests that start processes outside the engine must not leak that, and
    each test starts from a fresh interpreter's state (no start method chosen).
    """
    default = multiprocessing.context._default_context
    saved = default._actual_context
    default._actual_context = None
    yield
    default._actual_context = saved
