"""prepareselector on single-band inputs equals QGIS's own native:rasterbooleanand
with "treat nodata as false" (its inputs hold no valid zero, so "non-zero" and
"valid" coincide)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from osgeo import gdal  # noqa: E402

BYTE = 0  # DATA_TYPE option of native:rasterbooleanand (first in 3.22 and later)


def single_band_vrts(path, count, folder):
    """One single-band VRT per band of ``path`` (the native algorithm reads band 1 only)."""
    vrts = []
    for bidx in range(1, count + 1):
        vrt = folder / f"band{bidx}.vrt"
        gdal.BuildVRT(str(vrt), [str(path)], bandList=[bidx]).FlushCache()
        vrts.append(str(vrt))
    return vrts


def native_and(run_alg, inputs, output):
    results = run_alg("native:rasterbooleanand", {
        "INPUT": inputs, "REF_LAYER": inputs[0], "NODATA_AS_FALSE": True, "NO_DATA": 255,
        "DATA_TYPE": BYTE, "OUTPUT": str(output)})
    with rasterio.open(results["OUTPUT"]) as src:
        return src.read(1)


def selector(run_alg, params, output):
    results = run_alg("riogrande:prepareselector", {**params, "OUTPUT": str(output)})
    with rasterio.open(results["OUTPUT"]) as src:
        return src.read(1)


def test_selector_of_all_bands_equals_native_boolean_and(make_raster, run_alg, tmp_path):
    source = make_raster(width=211, height=133, count=4, nodata=-9999.0)
    native = native_and(run_alg, single_band_vrts(source, 4, tmp_path), tmp_path / "native.tif")
    ours = selector(run_alg, {"INPUT": str(source)}, tmp_path / "ours.tif")
    np.testing.assert_array_equal(ours, native)
    assert 0 < ours.sum() < ours.size


def test_single_band_input_and_extra_mask_equal_native_boolean_and(
        make_raster, run_alg, tmp_path):
    source = make_raster(width=150, height=97, count=3, nodata=-9999.0)
    band2 = single_band_vrts(source, 2, tmp_path)[1]
    extra = make_raster(name="extra.tif", width=150, height=97, count=1, dtype="uint8",
                        nodata=None, fill=0, seed=9)
    native = native_and(run_alg, [band2, str(extra)], tmp_path / "native.tif")
    ours = selector(run_alg, {"INPUT": band2, "EXTRA_MASK": str(extra)}, tmp_path / "ours.tif")
    np.testing.assert_array_equal(ours, native)
    assert 0 < ours.sum() < ours.size
