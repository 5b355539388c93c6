"""NDVI from a red and a near-infrared raster, block by block, in parallel.

Usage: python ndvi.py RED NIR OUTPUT
"""

import sys

import numpy as np

import riogrande


def ndvi(data):
    """``data`` holds one masked array per input, by name: (bands, rows, cols)."""
    red = data["red"][0].astype("float32")
    nir = data["nir"][0].astype("float32")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (nir - red) / (nir + red)


if __name__ == "__main__":
    red_path, nir_path, output = sys.argv[1:4]
    report = riogrande.apply(ndvi, {"red": red_path, "nir": nir_path}, output,
                             masked=True, nodata=-9999)
    print(f"{report.output}: {report.count} band of {report.dtype}, "
          f"{report.views} blocks in {report.seconds:.2f} s")
