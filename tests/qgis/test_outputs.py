"""The output form of both algorithms (ENCODING, KEEP_VALUES, COG, CREATION_OPTIONS, formats).

Run through processing.run and through qgis_process; read back with
rasterio and compared with numpy references and GDAL's COG rules.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import QgsProcessingException  # noqa: E402

from tests.cog_rules import cog_problems  # noqa: E402
from tests.conftest import file_sha256  # noqa: E402
from tests.qgis.test_qgis_process import installed, run_json  # noqa: E402, F401
from tests.reference import leftovers, mask_reference, read_all  # noqa: E402

NODATA = -9999.0


def dataset_mask(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.dataset_mask() != 0


@pytest.fixture
def source(make_raster):
    return make_raster("src.tif", width=640, height=560, count=3, dtype="uint8", nodata=0,
                       block=(128, 128))


@pytest.mark.parametrize("encoding", ["nodata", "keep", "mask", "alpha", "sidecar"])
def test_computemask_encodings(run_alg, source, tmp_path, encoding):
    before = file_sha256(source)
    output = tmp_path / "out.tif"
    keep = encoding == "keep"
    results = run_alg("riogrande:computemask", {
        "INPUT": str(source), "OUTPUT": str(output), "LOGIC": "any", "WORKERS": 2,
        "ENCODING": "nodata" if keep else encoding, "KEEP_VALUES": keep})
    expected = mask_reference(source, 0, "any").astype(bool)
    if encoding == "sidecar":
        assert results["OUTPUT"] == f"{source}.msk" and not output.exists()
        np.testing.assert_array_equal(dataset_mask(source), expected)
    else:
        assert results["OUTPUT"] == str(output)
        np.testing.assert_array_equal(dataset_mask(output), expected)
    if encoding in ("mask", "alpha"):
        np.testing.assert_array_equal(read_all(output)[:3], read_all(source))
    assert file_sha256(source) == before
    assert results["VALID_PIXELS"] == int(expected.sum())


def test_computemask_cog_with_creation_options(run_alg, source, tmp_path):
    output = tmp_path / "cog.tif"
    run_alg("riogrande:computemask", {"INPUT": str(source), "OUTPUT": str(output), "COG": True,
                                      "ENCODING": "mask", "WORKERS": 2,
                                      "CREATION_OPTIONS": "COMPRESS=LZW|BLOCKSIZE=256"})
    assert cog_problems(output) == []
    with rasterio.open(output) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "LZW"
        assert cog.block_shapes[0] == (256, 256) and cog.overviews(1)
    np.testing.assert_array_equal(dataset_mask(output),
                                  mask_reference(source, 0, "all").astype(bool))


def test_prepareselector_cog_and_png(run_alg, source, tmp_path):
    with rasterio.open(source) as src:
        expected = (src.read_masks(1) != 0) & (src.read_masks(2) != 0)
    cog = tmp_path / "sel.tif"
    run_alg("riogrande:prepareselector", {"INPUT": str(source), "BANDS": [1, 2], "COG": True,
                                          "ENCODING": "nodata", "OUTPUT": str(cog)})
    assert cog_problems(cog) == []
    np.testing.assert_array_equal(dataset_mask(cog), expected)
    png = tmp_path / "sel.png"
    run_alg("riogrande:prepareselector", {"INPUT": str(source), "BANDS": [1, 2],
                                          "OUTPUT": str(png)})
    with rasterio.open(png) as written:
        assert written.driver == "PNG"
        np.testing.assert_array_equal(written.read(1), expected.astype(np.uint8))


@pytest.mark.parametrize("params, message", [
    ({"OUTPUT": "{tmp}/out.vrt"}, "VRT"),
    ({"OUTPUT": "{tmp}/out.png", "COG": True}, "GeoTIFF"),
    ({"OUTPUT": "{tmp}/out.tif", "CREATION_OPTIONS": "BOGUS=1"}, "BOGUS"),
    ({"OUTPUT": "{tmp}/out.tif", "CREATION_OPTIONS": "COMPRESS"}, "KEY=VALUE"),
    ({"OUTPUT": "{tmp}/out.tif", "ENCODING": "mask", "KEEP_VALUES": True}, "keep_values"),
])
def test_bad_output_forms_are_refused(run_alg, source, tmp_path, params, message):
    params = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value
              for key, value in params.items()}
    for _ in range(3):
        with pytest.raises(QgsProcessingException, match=message):
            run_alg("riogrande:computemask", {"INPUT": str(source), **params})
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.tif").exists()


def test_the_provider_offers_the_formats_riogrande_writes(riogrande_provider):
    from riogrande.outputs import supported_extensions

    assert riogrande_provider.supportedOutputRasterLayerExtensions() == supported_extensions()
    assert riogrande_provider.defaultRasterFileExtension() == "tif"


def test_cog_mask_through_qgis_process(installed, source, tmp_path):  # noqa: F811
    output = tmp_path / "cog.tif"
    answer = run_json(installed["env"], "riogrande:computemask", f"INPUT={source}",
                      "ENCODING=mask", "COG=true", "WORKERS=2", f"OUTPUT={output}")
    expected = mask_reference(source, 0, "all").astype(bool)
    assert cog_problems(output) == []
    np.testing.assert_array_equal(dataset_mask(output), expected)
    np.testing.assert_array_equal(read_all(output), read_all(source))
    assert answer["results"]["VALID_PIXELS"] == int(expected.sum())


def test_sidecar_through_qgis_process(installed, source, tmp_path):  # noqa: F811
    before = file_sha256(source)
    answer = run_json(installed["env"], "riogrande:prepareselector", f"INPUT={source}",
                      "BANDS=1", "BANDS=3", "ENCODING=sidecar",
                      f"OUTPUT={tmp_path / 'unused.tif'}")
    with rasterio.open(source) as src:
        expected = (src.read_masks(1) != 0) & (src.read_masks(3) != 0)
    assert answer["results"]["OUTPUT"] == f"{source}.msk"
    assert file_sha256(source) == before
    np.testing.assert_array_equal(dataset_mask(source), expected)
