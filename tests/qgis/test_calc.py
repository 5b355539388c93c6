"""riogrande:calc equals QGIS's own raster calculator on the same expression, and numpy."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback  # noqa: E402

from tests.reference import leftovers, read_all  # noqa: E402

NODATA = -9999.0


def native_calculator() -> str:
    """QGIS's raster calculator: C++ ``native:rastercalc`` (3.34+), else the Python one."""
    registry = QgsApplication.processingRegistry()
    if registry.algorithmById("native:rastercalc") is not None:
        return "native:rastercalc"
    return "qgis:rastercalculator"


def qgis_calc(run_alg, expression, layers, output):
    results = run_alg(native_calculator(), {"EXPRESSION": expression, "LAYERS": layers,
                                            "OUTPUT": str(output)})
    with rasterio.open(results["OUTPUT"]) as src:
        return src.read(1, masked=True)


def riogrande_calc(run_alg, expression, layers, output, **params):
    results = run_alg("riogrande:calc", {"INPUTS": layers, "EXPRESSION": expression,
                                         "WORKERS": 2, "BLOCK_SIZE": 64,
                                         "OUTPUT": str(output), **params})
    assert results["OUTPUT"] == str(output)
    with rasterio.open(output) as src:
        return src.read(1, masked=True)


@pytest.fixture
def layers(make_raster):
    red = make_raster("red.tif", width=157, height=113, count=1, nodata=NODATA, seed=1)
    nir = make_raster("nir.tif", width=157, height=113, count=1, nodata=NODATA, seed=2)
    return [str(red), str(nir)]


@pytest.mark.parametrize("ours, theirs", [
    ("(b - a) / (b + a)", '("nir@1" - "red@1") / ("nir@1" + "red@1")'),
    ("(a > 50) * 2 + (b <= 30) * sqrt(b)",
     '("red@1" > 50) * 2 + ("nir@1" <= 30) * sqrt("nir@1")'),
])
def test_equals_the_qgis_raster_calculator(ours, theirs, layers, run_alg, tmp_path):
    native = qgis_calc(run_alg, theirs, layers, tmp_path / "native.tif")
    result = riogrande_calc(run_alg, ours, layers, tmp_path / "ours.tif")
    assert 0 < native.mask.sum() < native.size  # nodata in either input gives nodata
    assert_array_equal(result.mask, native.mask)
    assert_allclose(result.compressed(), native.compressed(), rtol=1e-6)


def test_equals_numpy_with_bands_data_type_and_nodata(make_raster, run_alg, tmp_path):
    source = make_raster("multi.tif", width=130, height=90, count=3, dtype="int16", nodata=0,
                         seed=3)
    result = riogrande_calc(run_alg, "where(a[3] > a[1], 1, 2)", [str(source)],
                            tmp_path / "ours.tif", DATA_TYPE="uint8", NODATA=255)
    data = read_all(source)
    expected = np.where(data[2] > data[0], 1, 2).astype("uint8")
    expected[(data[2] == 0) | (data[0] == 0)] = 255
    assert_array_equal(result.data, expected)
    with rasterio.open(tmp_path / "ours.tif") as src:
        assert (src.dtypes[0], src.nodata) == ("uint8", 255)


@pytest.mark.parametrize("expression, words", [
    ("a.shape", "column 1: attribute access"),
    ("a + c", "column 5: unknown name 'c'"),
    ("b[2]", "column 3: b has 1 band"),
    ("__import__('os')", "cannot be called"),
])
def test_bad_expression_is_refused_before_any_work(expression, words, layers, run_alg,
                                                   tmp_path):
    with pytest.raises(QgsProcessingException, match=words):
        riogrande_calc(run_alg, expression, layers, tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists() and leftovers(tmp_path) == []


def test_cancel_after_first_blocks(make_raster, run_alg, tmp_path):
    from tests.qgis.test_cancel import CancelAfterFirstBlocks, worker_processes

    data = np.random.default_rng(3).uniform(1, 9, (1, 1200, 1500)).astype("float32")
    source = make_raster(data=data, nodata=0.0)
    output = tmp_path / "out.tif"
    feedback = CancelAfterFirstBlocks()
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        run_alg("riogrande:calc", {"INPUTS": [str(source)], "EXPRESSION": "sqrt(a) * 2",
                                   "BLOCK_SIZE": 64, "WORKERS": 2, "OUTPUT": str(output)},
                feedback=feedback)
    assert 0 < feedback.progress() < 50  # it did stop early: 1750 blocks in all
    assert not output.exists() and leftovers(tmp_path) == []
    assert worker_processes() == []


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_raster_is_a_processing_error_naming_the_view(damage, run_alg, tmp_path):
    from tests.qgis.test_bad_input import refused
    from tests.test_reliability_inputs import corrupt, truncated

    path = {"truncated": truncated, "corrupt": corrupt}[damage](tmp_path)
    refused(run_alg, "riogrande:calc", {"INPUTS": [str(path)], "EXPRESSION": "a * 2",
                                        "BLOCK_SIZE": 64, "WORKERS": 2,
                                        "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, path.name, "damaged or truncated", "processing view (")


@pytest.mark.parametrize("name", ["out.png", "out.jpg", "out.vrt"])
def test_output_that_is_not_a_geotiff_is_refused(name, layers, run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match=r"GeoTIFF|\.tif"):
        riogrande_calc(run_alg, "a + b", layers, tmp_path / name)
    assert sorted(path.name for path in tmp_path.iterdir()
                  if path.suffix in (".png", ".jpg", ".vrt")) == []
    assert leftovers(tmp_path) == []


def test_creation_options_and_cog(layers, run_alg, tmp_path):
    from tests.cog_rules import cog_problems

    plain = riogrande_calc(run_alg, "b - a", layers, tmp_path / "plain.tif",
                           CREATION_OPTIONS="COMPRESS=NONE")
    cog = riogrande_calc(run_alg, "b - a", layers, tmp_path / "cog.tif", COG=True,
                         CREATION_OPTIONS="COMPRESS=LZW|BLOCKSIZE=128")
    assert cog_problems(tmp_path / "cog.tif") == []
    with rasterio.open(tmp_path / "plain.tif") as one, rasterio.open(tmp_path / "cog.tif") as two:
        assert one.compression is None and two.compression.value == "LZW"
        assert two.block_shapes[0] == (128, 128) and two.overviews(1) == [2]
    red, nir = (rasterio.open(path).read(1, masked=True) for path in layers)
    assert_array_equal(plain.mask, red.mask | nir.mask)
    assert_allclose(plain.compressed(), (nir.astype(float) - red).compressed(), rtol=1e-6)
    assert_array_equal(cog.filled(0), plain.filled(0))


@pytest.mark.parametrize("options, words", [
    ("COMPRESS=FOO", "COMPRESS=FOO"), ("COMPRESS", "KEY=VALUE"), ("NODATA=1", "set by riogrande"),
])
def test_bad_creation_options_are_refused(options, words, layers, run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match=words):
        riogrande_calc(run_alg, "a + b", layers, tmp_path / "out.tif", CREATION_OPTIONS=options)
    assert not (tmp_path / "out.tif").exists() and leftovers(tmp_path) == []


def test_temporary_output_is_uncompressed_a_named_one_like_the_first_layer(layers, run_alg,
                                                                            tmp_path):
    from qgis.core import QgsProcessing

    temporary = run_alg("riogrande:calc", {"INPUTS": layers, "EXPRESSION": "a * 2",
                                           "WORKERS": 2, "OUTPUT": QgsProcessing.TEMPORARY_OUTPUT})
    riogrande_calc(run_alg, "a * 2", layers, tmp_path / "named.tif")
    with rasterio.open(temporary["OUTPUT"]) as one, rasterio.open(tmp_path / "named.tif") as two, \
            rasterio.open(layers[0]) as first:
        assert one.compression is None
        assert two.compression == first.compression and first.compression is not None
        assert_array_equal(one.read(), two.read())


class WarningFeedback(QgsProcessingFeedback):
    """Keeps the warnings of a run."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def pushWarning(self, warning: str) -> None:  # noqa: N802 (QGIS API)
        self.warnings.append(warning)
        super().pushWarning(warning)


@pytest.mark.parametrize("data_type, nodata", [
    ("float32", None), ("float64", None), ("uint8", 255), ("uint16", 65535), ("int16", -32768),
    ("int32", -2147483648),
])
def test_empty_nodata_is_nan_or_the_types_extreme(data_type, nodata, layers, run_alg, tmp_path):
    result = riogrande_calc(run_alg, "a > b", layers, tmp_path / "out.tif", DATA_TYPE=data_type)
    with rasterio.open(tmp_path / "out.tif") as src:
        assert src.dtypes[0] == data_type
        if nodata is None:
            assert np.isnan(src.nodata)
        else:
            assert src.nodata == nodata
    red, nir = (rasterio.open(path).read(1, masked=True) for path in layers)
    assert_array_equal(result.mask, red.mask | nir.mask)
    assert_array_equal(result.compressed(), (red > nir).compressed().astype(data_type))


def test_valid_results_equal_to_nodata_are_a_warning(layers, run_alg, tmp_path):
    red, nir = (rasterio.open(path).read(1, masked=True) for path in layers)
    colliding = int(((red <= nir) & ~(red.mask | nir.mask)).sum())
    assert colliding > 0
    feedback = WarningFeedback()
    run_alg("riogrande:calc", {"INPUTS": layers, "EXPRESSION": "a > b", "DATA_TYPE": "uint8",
                               "NODATA": 0, "WORKERS": 2, "BLOCK_SIZE": 64,
                               "OUTPUT": str(tmp_path / "out.tif")}, feedback=feedback)
    assert [warning for warning in feedback.warnings if "nodata value 0" in warning] == [
        f"{colliding:,} valid pixel(s) of the result hold the nodata value 0 and read back as "
        "nodata; choose another nodata value"]
    clean = WarningFeedback()
    run_alg("riogrande:calc", {"INPUTS": layers, "EXPRESSION": "a > b", "DATA_TYPE": "uint8",
                               "WORKERS": 2, "OUTPUT": str(tmp_path / "clean.tif")},
            feedback=clean)
    assert not any("nodata value" in warning for warning in clean.warnings)
