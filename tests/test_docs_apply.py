"""The three examples of the apply guide run as shown and give the whole-array results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from numpy.testing import assert_allclose, assert_array_equal

from tests.reference import box_mean, read_all

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def run_example(name: str, *args: Path) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ndvi_example(make_raster, tmp_path):
    red = make_raster("red.tif", width=300, height=260, count=1, dtype="uint16", nodata=0,
                      block=(64, 64), seed=1)
    nir = make_raster("nir.tif", width=300, height=260, count=1, dtype="uint16", nodata=0,
                      block=(64, 64), seed=2)
    out = tmp_path / "ndvi.tif"
    assert "1 band of float32" in run_example("ndvi.py", red, nir, out)
    a, b = read_all(red)[0].astype("float64"), read_all(nir)[0].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where((a == 0) | (b == 0), -9999, (b - a) / (b + a))
    with rasterio.open(out) as src:
        assert src.nodata == -9999
        assert_allclose(src.read(1), expected, rtol=1e-6)
    assert (expected == -9999).any()


def test_focal_mean_example(make_raster, tmp_path):
    source = make_raster(width=301, height=270, count=2, block=(64, 64))
    out = tmp_path / "mean.tif"
    run_example("focal_mean.py", source, out)
    assert_allclose(read_all(out), box_mean(read_all(source), 5), rtol=1e-5)


def test_reclassify_example(make_raster, tmp_path):
    rng = np.random.default_rng(7)
    dem = rng.uniform(0, 2500, (1, 230, 190)).astype("float32")
    dem[0, 50:70, 20:90] = -32768
    source = make_raster("dem.tif", data=dem, nodata=-32768, block=(64, 64))
    out = tmp_path / "classes.tif"
    run_example("reclassify.py", source, out)
    expected = np.select([dem[0] == -32768, dem[0] < 500, dem[0] < 1500], [0, 1, 2], 3)
    with rasterio.open(out) as src:
        assert (src.dtypes[0], src.nodata) == ("uint8", 0)
        assert_array_equal(src.read(1), expected)
    assert set(np.unique(expected)) == {0, 1, 2, 3}
