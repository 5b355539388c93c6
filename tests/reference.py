"""Whole-array reference results computed with numpy and rasterio only."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import rasterio


def read_all(path: str | Path, bands: list[int] | None = None) -> np.ndarray:
    """Read whole bands ``(n, rows, cols)`` with rasterio."""
    with rasterio.open(path) as src:
        return src.read(bands if bands is not None else list(range(1, src.count + 1)))


def is_nodata(data: np.ndarray, nodata: Any) -> np.ndarray:
    """Cells equal to ``nodata`` (NaN matching NaN)."""
    if isinstance(nodata, float) and math.isnan(nodata):
        return np.isnan(data)
    return data == nodata


def mask_reference(path: str | Path, nodata: Any, logic: Any, bands: list[int] | None = None):
    """The expected uint8 mask (1 valid, 0 masked) of ``path``."""
    data = read_all(path, bands)
    if callable(logic):
        return (np.asarray(logic(data, nodata)) != 0).astype(np.uint8)
    hits = is_nodata(data, nodata)
    masked = hits.all(axis=0) if logic == "all" else hits.any(axis=0)
    return (~masked).astype(np.uint8)


def band_mask(path: str | Path, bidx: int, use: str) -> np.ndarray:
    """A band's validity (bool) as rasterio reads it for a ``set_mask_reader`` choice."""
    with rasterio.open(path) as src:
        if use in ("band", "self"):
            return src.read_masks(bidx) != 0
        if use == "source":
            return src.dataset_mask() != 0
        if use == "mask_none":
            return np.ones(src.shape, dtype=bool)
        if use == "mask_all":
            return np.zeros(src.shape, dtype=bool)
    raise ValueError(use)


def selector_reference(specs: list[tuple[Any, int, str]], extra: tuple[Any, int] | None = None):
    """AND of band masks ``(path, bidx, use)`` and of ``extra`` band data ``!= 0``."""
    result = None
    for path, bidx, use in specs:
        valid = band_mask(path, bidx, use)
        result = valid if result is None else result & valid
    if extra is not None:
        result = result & (read_all(extra[0], [extra[1]])[0] != 0)
    return result


def box_mean(data: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` mean of each band of ``(bands, rows, cols)``, edges repeated."""
    radius = size // 2
    padded = np.pad(data.astype("float64"), ((0, 0), (radius, radius), (radius, radius)),
                    mode="edge")
    rows, cols = data.shape[1:]
    return sum(padded[:, dy:dy + rows, dx:dx + cols]
               for dy in range(size) for dx in range(size)) / size**2


def leftovers(folder: str | Path) -> list[str]:
    """Names of temporary or partial files in ``folder``."""
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.name.startswith(".") or ".part" in p.name or p.suffix in (".tmp", ".msk"))


def tiff_is_tiled(path: str | Path) -> bool:
    """Whether the first image of a TIFF file is stored in tiles (has a TileWidth tag)."""
    import struct

    with open(path, "rb") as handle:
        head = handle.read(16)
        order = {b"II": "<", b"MM": ">"}[head[:2]]
        (version,) = struct.unpack(order + "H", head[2:4])
        if version == 42:  # classic TIFF
            (offset,) = struct.unpack(order + "I", head[4:8])
            count_format, entry_size, tag_format = "H", 12, "H"
        else:  # BigTIFF
            (offset,) = struct.unpack(order + "Q", head[8:16])
            count_format, entry_size, tag_format = "Q", 20, "H"
        handle.seek(offset)
        size = struct.calcsize(count_format)
        (entries,) = struct.unpack(order + count_format, handle.read(size))
        table = handle.read(entries * entry_size)
    tags = {struct.unpack(order + tag_format, table[i * entry_size : i * entry_size + 2])[0]
            for i in range(entries)}
    return 322 in tags
