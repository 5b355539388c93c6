"""Raster layers whose source is a URL: the algorithms read them like files.

The layers are served by an HTTP range server the test starts on 127.0.0.1;
the results are compared with QGIS's own raster calculator and numpy on the
local files.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from qgis.core import QgsRasterLayer  # noqa: E402

from tests.reference import leftovers, mask_reference  # noqa: E402
from tests.servers import RangeServer  # noqa: E402

from .test_algorithms import read_output  # noqa: E402
from .test_calc import NODATA, qgis_calc  # noqa: E402


@pytest.fixture
def served(make_raster, tmp_path):
    """A folder of two rasters, and the server of that folder."""
    red = make_raster("red.tif", width=300, height=200, count=1, nodata=NODATA, seed=1)
    nir = make_raster("nir.tif", width=300, height=200, count=1, nodata=NODATA, seed=2)
    with RangeServer(tmp_path) as server:
        yield server, red, nir


def url_layer(server: RangeServer, name: str) -> QgsRasterLayer:
    layer = QgsRasterLayer(f"/vsicurl/{server.url(name)}", name, "gdal")
    assert layer.isValid(), layer.error().message()
    return layer


def test_computemask_of_a_url_layer(served, run_alg, tmp_path):
    server, red, _ = served
    output = tmp_path / "mask.tif"
    results = run_alg("riogrande:computemask",
                      {"INPUT": url_layer(server, "red.tif"), "OUTPUT": str(output)})
    mask = read_output(results["OUTPUT"])
    assert_array_equal(mask, mask_reference(red, NODATA, "all"))
    assert 0 < results["VALID_PIXELS"] < mask.size
    assert server.traffic.requests > 0  # read over HTTP, not from the local file
    assert leftovers(tmp_path) == []


def test_calc_of_url_layers_equals_the_qgis_calculator_on_the_files(served, run_alg, tmp_path):
    server, red, nir = served
    results = run_alg("riogrande:calc", {
        "INPUTS": [url_layer(server, "red.tif"), url_layer(server, "nir.tif")],
        "EXPRESSION": "(b - a) / (b + a)", "OUTPUT": str(tmp_path / "ours.tif")})
    native = qgis_calc(run_alg, '("nir@1" - "red@1") / ("nir@1" + "red@1")',
                       [str(red), str(nir)], tmp_path / "native.tif")
    with rasterio.open(results["OUTPUT"]) as src:
        ours = src.read(1, masked=True)
    assert_array_equal(ours.mask, native.mask)
    assert_allclose(ours.compressed(), native.compressed(), rtol=1e-6)
    assert np.ma.count_masked(ours) > 0
