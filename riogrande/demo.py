"""A generated example raster, and a demonstration of both jobs on it.

``python -m riogrande.demo [DIR]`` writes ``example.tif`` into ``DIR``
(default ``./demo-output``), computes its nodata mask and its valid-pixel
selector, and prints what it did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from riogrande.io.models import Source
from riogrande.masking import write_mask, write_selector

EXAMPLE_NODATA = -9999.0


def generate_example(path: str | Path, size: tuple[int, int] = (2500, 1900), seed: int = 0) -> Path:
    """Write a 3-band float32 GeoTIFF with nodata holes and a per-band stripe.

    Parameters
    ----------
    path : str or path-like
        Where to write it.
    size : tuple of int, default (2500, 1900)
        ``(width, height)``.
    seed : int, default 0
        Random seed.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
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


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; print what was done."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "demo-output")
    folder.mkdir(parents=True, exist_ok=True)
    example = generate_example(folder / "example.tif")
    source = Source(example)
    print(f"example raster: {example} ({source.profile['width']}x{source.profile['height']}, "
          f"{source.count} float32 bands, nodata {EXAMPLE_NODATA})")
    for logic in ("all", "any"):
        report = write_mask(example, folder / f"mask_{logic}.tif", nodata=EXAMPLE_NODATA,
                            logic=logic)
        print(f"compute_mask logic={logic!r}: {report.output} — {report.valid} valid, "
              f"{report.masked} masked pixels, {report.views} blocks of {report.block_size}, "
              f"{report.workers} workers, {report.seconds:.2f} s")
    report = write_selector(*source.get_bands(), output=folder / "selector.tif")
    print(f"prepare_selector over bands 1-3: {report.output} — {report.valid} valid, "
          f"{report.masked} masked pixels, {report.seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
