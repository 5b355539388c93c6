"""Elevation classes with numpy's where: 1 below 500 m, 2 below 1500 m, 3 above.

Usage: python reclassify.py DEM OUTPUT
"""

import sys

import numpy as np

import riogrande


def classes(data, breaks):
    """``data`` is the DEM's masked (1, rows, cols) block; nodata stays masked."""
    dem = data[0]
    low, high = breaks
    return np.ma.where(dem < low, 1, np.ma.where(dem < high, 2, 3)).astype("uint8")


if __name__ == "__main__":
    dem, output = sys.argv[1:3]
    report = riogrande.apply(classes, dem, output, kwargs={"breaks": (500, 1500)},
                             masked=True, nodata=0)
    print(f"{report.output}: classes 1-3, nodata {report.nodata}")
