"""``riogrande calc`` through click's runner: outputs against numpy on the whole arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_allclose, assert_array_equal

from riogrande.cli.main import cli
from tests.reference import leftovers, read_all

NODATA = -9999.0


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def red(make_raster):
    return make_raster("red.tif", count=1, dtype="uint16", nodata=0, seed=1)


@pytest.fixture
def nir(make_raster):
    return make_raster("nir.tif", count=1, dtype="uint16", nodata=0, seed=2)


def invoke(runner, *args):
    return runner.invoke(cli, ["calc", *(str(arg) for arg in args)])


def read_masked(path):
    with rasterio.open(path) as src:
        return src.read(masked=True)


@pytest.mark.parametrize("backend", [[], ["--backend", "processes"]])
def test_ndvi_of_two_files(runner, red, nir, tmp_path, backend):
    out = tmp_path / "ndvi.tif"
    result = invoke(runner, "(b - a) / (b + a)", "-i", f"a={red}", "-i", f"b={nir}", "-o", out,
                    "-j", 2, "--block-size", 40, 24, "--json", *backend)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["dtype"], report["count"], report["nodata"]) == ("float32", 1, "nan")
    assert report["nodata_collisions"] == 0
    a, b = read_masked(red)[0].astype("float64"), read_masked(nir)[0].astype("float64")
    expected = ((b - a) / (b + a)).astype("float32")
    assert expected.mask.any() and not expected.mask.all()
    # nodata in either input: NaN, the default of a float32 output
    assert_allclose(read_all(out)[0], expected.filled(np.nan), rtol=1e-6)
    assert_array_equal(read_masked(out)[0].mask, expected.mask)
    with rasterio.open(red) as src, rasterio.open(out) as dst:
        assert (dst.crs, dst.transform) == (src.crs, src.transform)


def test_bands_and_all_bands(runner, make_raster, tmp_path):
    multi = make_raster("multi.tif", count=3, nodata=None, seed=3)
    out = tmp_path / "diff.tif"
    result = invoke(runner, "a[3] - a[1] * 2", "-i", f"a={multi}", "-o", out, "-q")
    assert result.exit_code == 0 and result.output == ""
    data = read_all(multi)
    assert_allclose(read_all(out)[0], data[2] - data[0] * 2, rtol=1e-6)
    with rasterio.open(out) as dst:
        assert dst.nodata is None
    every = tmp_path / "every.tif"
    assert invoke(runner, "sqrt(a) + 1", "-i", f"a={multi}", "-o", every, "--dtype",
                  "float64").exit_code == 0
    assert_allclose(read_all(every), np.sqrt(data.astype("float64")) + 1)


def test_reclassification_with_where(runner, make_raster, tmp_path):
    dem = make_raster("dem.tif", count=1, dtype="int16", nodata=-1, fill=-1, seed=4)
    out = tmp_path / "classes.tif"
    result = invoke(runner, "where(a > 60, 2, where(a > 30, 1, 0))", "-i", f"a={dem}",
                    "-o", out, "--dtype", "uint8", "--nodata", 255)
    assert result.exit_code == 0, result.output
    data = read_all(dem)[0]
    expected = np.where(data > 60, 2, np.where(data > 30, 1, 0)).astype("uint8")
    expected[data == -1] = 255
    assert_array_equal(read_all(out)[0], expected)
    assert set(np.unique(expected)) == {0, 1, 2, 255}


@pytest.mark.parametrize("expression, column", [
    ("a.dtype + 1", 1),
    ("__import__('os').remove('x')", 1),
    ("a + open('x')", 5),
    ("b[2]", 3),
    ("(a + b", 1),
])
def test_bad_expression_is_a_usage_error_before_any_work(runner, red, nir, tmp_path,
                                                         expression, column):
    out = tmp_path / "out.tif"
    result = invoke(runner, expression, "-i", f"a={red}", "-i", f"b={nir}", "-o", out)
    assert result.exit_code == 2
    assert f"Invalid value for EXPR: invalid expression at column {column}" in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_bad_inputs(runner, red, make_raster, tmp_path):
    out = tmp_path / "out.tif"
    small = make_raster("small.tif", width=20, height=20, count=1)
    result = invoke(runner, "a + b", "-i", f"a={red}", "-i", f"b={small}", "-o", out)
    assert result.exit_code == 2 and "not on the same grid" in result.output
    result = invoke(runner, "a + 1", "-i", f"a={red}", "-i", f"a={red}", "-o", out)
    assert result.exit_code == 2 and "given twice" in result.output
    result = invoke(runner, "a + 1", "-i", str(red), "-o", out)
    assert result.exit_code == 2 and "NAME=RASTER" in result.output
    result = invoke(runner, "a + 1", "-i", f"a={red}", "-o", out, "--dtype", "uint8",
                    "--nodata", -5)
    assert result.exit_code == 2 and "'--nodata'" in result.output
    result = invoke(runner, "a + 1", "-i", f"a={red}", "-o", red, "--overwrite")
    assert result.exit_code == 2 and "also an input" in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_existing_output_needs_overwrite(runner, red, tmp_path):
    out = tmp_path / "out.tif"
    out.write_bytes(b"old")
    assert invoke(runner, "a * 2", "-i", f"a={red}", "-o", out).exit_code == 2
    assert out.read_bytes() == b"old"
    assert invoke(runner, "a * 2", "-i", f"a={red}", "-o", out, "--overwrite").exit_code == 0
    assert_allclose(read_masked(out)[0], read_masked(red)[0] * 2.0)


def test_creation_options_and_cog(runner, red, nir, tmp_path):
    from tests.cog_rules import cog_problems

    plain, cog = tmp_path / "plain.tif", tmp_path / "cog.tif"
    for out, extra in ((plain, ["--co", "compress=none"]),
                       (cog, ["--cog", "--co", "COMPRESS=ZSTD", "--block-size", 32, 32])):
        result = invoke(runner, "b - a", "-i", f"a={red}", "-i", f"b={nir}", "-o", out, *extra)
        assert result.exit_code == 0, result.output
    assert cog_problems(cog) == []
    with rasterio.open(plain) as one, rasterio.open(cog) as two:
        assert one.compression is None and two.compression.value == "ZSTD"
    expected = (read_masked(nir)[0].astype(float) - read_masked(red)[0]).filled(np.nan)
    assert_array_equal(read_all(plain)[0], expected.astype("float32"))
    assert_array_equal(read_all(cog)[0], read_all(plain)[0])


@pytest.mark.parametrize("extra, hint, words", [
    (["--co", "COMPRESS=FOO"], "'--co'", "COMPRESS=FOO"),
    (["--co", "NODATA=3"], "'--co'", "set by riogrande"),
    (["--co", "COMPRESS"], "'--co'", "KEY=VALUE"),
])
def test_bad_creation_options_are_usage_errors_before_any_work(runner, red, tmp_path, extra,
                                                              hint, words):
    out = tmp_path / "out.tif"
    result = invoke(runner, "a * 2", "-i", f"a={red}", "-o", out, *extra)
    assert result.exit_code == 2 and hint in result.output and words in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_output_that_is_not_a_geotiff(runner, red, tmp_path):
    result = invoke(runner, "a * 2", "-i", f"a={red}", "-o", tmp_path / "out.png")
    assert result.exit_code == 2 and "GeoTIFF" in result.output
    assert list(tmp_path.glob("out*")) == []


@pytest.fixture
def scene(make_raster):
    """A uint8 scene with nodata 0 whose NDVI-like result is exactly 0 on many valid pixels."""
    rng = np.random.default_rng(7)
    red = rng.integers(1, 60, (3, 120, 150), dtype="uint8")
    red[2] = red[0]  # band 3 equals band 1 on every valid pixel: (a[3] - a[1]) is 0
    red[2, :, ::3] += 9  # ... except in every third column
    red[:, 20:40, 30:70] = 0  # holes: nodata in every band
    red[0, 90:100, :] = 0  # nodata in band 1 only
    return make_raster("scene.tif", data=red, nodata=0, block=(64, 64))


def test_valid_results_never_become_nodata_by_default(runner, scene, tmp_path):
    """The first input's nodata (0) is a value the results hold: the default is NaN."""
    out = tmp_path / "ndvi.tif"
    result = invoke(runner, "(a[3] - a[1]) / (a[3] + a[1] + 1.0)", "-i", f"a={scene}", "-o",
                    out, "--dtype", "float32", "--block-size", 64, 64, "--json")
    assert result.exit_code == 0, result.output
    data = read_masked(scene).astype("float64")
    expected = (data[2] - data[0]) / (data[2] + data[0] + 1.0)
    zeros = np.count_nonzero(~expected.mask & (expected.filled(1.0) == 0.0))
    assert zeros > 1000  # the valid results that the old default hid
    written = read_masked(out)[0]  # GDAL's and rasterio's reading of the file's nodata
    assert_array_equal(written.mask, expected.mask)
    assert_allclose(written.filled(np.nan), expected.astype("float32").filled(np.nan))
    assert json.loads(result.stdout)["nodata_collisions"] == 0
    assert "Warning" not in result.output


def test_a_nodata_value_that_valid_results_hold_is_reported(runner, scene, tmp_path):
    out = tmp_path / "diff.tif"
    result = invoke(runner, "a[3] - a[1]", "-i", f"a={scene}", "-o", out, "--nodata", 0,
                    "--json")
    assert result.exit_code == 0, result.output
    data = read_masked(scene).astype("float64")
    expected = data[2] - data[0]
    collided = int(np.count_nonzero(~expected.mask & (expected.filled(1.0) == 0.0)))
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["nodata_collisions"] == collided > 1000
    assert f"Warning: {collided:,} valid pixel(s)" in result.output
    with rasterio.open(out) as dst:  # they read back as nodata, as the warning says
        assert dst.nodata == 0
        assert np.count_nonzero(dst.read_masks(1) == 0) == expected.mask.sum() + collided


def test_an_integer_output_takes_its_types_extreme_as_nodata(runner, scene, tmp_path):
    out = tmp_path / "classes.tif"
    result = invoke(runner, "where(a[1] > 30, 2, 1) * 0", "-i", f"a={scene}", "-o", out,
                    "--dtype", "uint8", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["nodata"], report["nodata_collisions"]) == (255, 0)
    data = read_masked(scene)
    with rasterio.open(out) as dst:
        assert dst.nodata == 255
        assert_array_equal(dst.read_masks(1) == 0, data[0].mask)
        assert set(np.unique(dst.read(1))) == {0, 255}
