"""The output-form options (--as, --keep-values, --cog, --driver, --co) of mask and selector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from riogrande.cli.main import cli
from tests.cog_rules import cog_problems
from tests.conftest import file_sha256
from tests.reference import leftovers, mask_reference, read_all

NODATA = -9999.0


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def raster(make_raster):
    return make_raster("source.tif", width=700, height=600, count=3, dtype="float32",
                       nodata=NODATA, block=(128, 128))


def invoke(runner: CliRunner, *args: object):
    return runner.invoke(cli, [str(arg) for arg in args])


def ok(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dataset_mask(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.dataset_mask() != 0


@pytest.mark.parametrize("encoding", ["nodata", "mask", "sidecar"])
def test_mask_as_encoding_reads_back_to_the_reference(runner, raster, tmp_path, encoding):
    before = file_sha256(raster)
    expected = mask_reference(raster, NODATA, "any").astype(bool)
    args = ["mask", raster, "--as", encoding, "--logic", "any", "-j", 2, "--json"]
    if encoding != "sidecar":
        args += ["-o", tmp_path / "out.tif"]
    report = ok(invoke(runner, *args))
    shown = raster if encoding == "sidecar" else tmp_path / "out.tif"
    assert report["output"] == str(tmp_path / "source.tif.msk" if encoding == "sidecar"
                                   else tmp_path / "out.tif")
    assert_array_equal(dataset_mask(shown), expected)
    assert file_sha256(raster) == before


def test_mask_keep_values_with_output_nodata(runner, raster, tmp_path):
    out = tmp_path / "kept.tif"
    ok(invoke(runner, "mask", raster, "-o", out, "--as", "nodata", "--keep-values", "-b", "1,2",
              "--output-nodata", "nan", "-j", 2, "--json"))
    expected = mask_reference(raster, NODATA, "all", [1, 2]).astype(bool)
    kept, data = read_all(out), read_all(raster, [1, 2])
    assert_array_equal(kept[:, expected], data[:, expected])
    assert np.isnan(kept[:, ~expected]).all()
    assert_array_equal(dataset_mask(out), expected)


def test_mask_cog_with_creation_options(runner, raster, tmp_path):
    out = tmp_path / "cog.tif"
    ok(invoke(runner, "mask", raster, "-o", out, "--cog", "--co", "COMPRESS=ZSTD",
              "--co", "blocksize=256", "-j", 2, "--json"))
    assert cog_problems(out) == []
    with rasterio.open(out) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "ZSTD"
        assert cog.block_shapes[0] == (256, 256) and cog.overviews(1)
        assert_array_equal(cog.read(1), mask_reference(raster, NODATA, "all"))


def test_mask_driver_png(runner, make_raster, tmp_path):
    source = make_raster("u8.tif", count=1, dtype="uint8", nodata=0)
    out = tmp_path / "mask.data"
    ok(invoke(runner, "mask", source, "-o", out, "--driver", "png", "--json"))
    with rasterio.open(out) as png:
        assert png.driver == "PNG"
        assert_array_equal(png.read(1), mask_reference(source, 0, "all")[0:])


@pytest.mark.parametrize("args, hint, message", [
    (["-o", "{tmp}/o.tif", "--co", "BOGUS=1"], "--co", "BOGUS"),
    (["-o", "{tmp}/o.tif", "--co", "NOEQUALS"], "--co", "KEY=VALUE"),
    (["-o", "{tmp}/o.tif", "--co", "COMPRESS=NOPE"], "--co", "NOPE"),
    (["-o", "{tmp}/o.vrt"], "--output", "VRT"),
    (["-o", "{tmp}/o.jpg"], "--output", "lossy"),
    (["-o", "{tmp}/o.tif", "--driver", "HFA"], "--driver", "HFA"),
    (["-o", "{tmp}/o.tif", "--as", "alpha"], "", "Byte or UInt16"),
    (["-o", "{tmp}/o.tif", "--keep-values"], "", "keep_values"),
    (["--in-place", "--as", "mask"], "", "--in-place"),
    (["--as", "mask"], "", "--output"),
])
def test_mask_output_form_errors(runner, raster, tmp_path, args, hint, message):
    args = [arg.format(tmp=tmp_path) for arg in args]
    for _ in range(3):
        result = invoke(runner, "mask", raster, *args)
        assert result.exit_code in (1, 2), result.output
        assert message in result.output and hint in result.output
        assert "Traceback" not in result.output
    assert leftovers(tmp_path) == [] and not (tmp_path / "o.tif").exists()


def test_sidecar_needs_overwrite_when_the_msk_exists(runner, raster, tmp_path):
    ok(invoke(runner, "mask", raster, "--as", "sidecar", "-j", 1, "--json"))
    first = file_sha256(tmp_path / "source.tif.msk")
    result = invoke(runner, "mask", raster, "--as", "sidecar", "--logic", "any")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert file_sha256(tmp_path / "source.tif.msk") == first
    ok(invoke(runner, "mask", raster, "--as", "sidecar", "--logic", "any", "--overwrite",
              "--json"))
    assert_array_equal(dataset_mask(raster), mask_reference(raster, NODATA, "any").astype(bool))


@pytest.mark.parametrize("encoding", ["values", "nodata", "mask", "sidecar"])
def test_selector_as_encoding(runner, raster, tmp_path, encoding):
    out = tmp_path / "sel.tif"
    args = ["selector", raster, "-b", "1,3", "--as", encoding, "-j", 2, "--json"]
    if encoding != "sidecar":
        args += ["-o", out]
    ok(invoke(runner, *args))
    with rasterio.open(raster) as src:
        expected = (src.read_masks(1) != 0) & (src.read_masks(3) != 0)
    if encoding == "values":
        assert_array_equal(read_all(out)[0], expected.astype(np.uint8))
    else:
        assert_array_equal(dataset_mask(raster if encoding == "sidecar" else out), expected)
    if encoding == "mask":
        assert_array_equal(read_all(out), read_all(raster, [1, 3]))


def test_selector_cog(runner, raster, tmp_path):
    out = tmp_path / "sel.tif"
    ok(invoke(runner, "selector", raster, "-o", out, "--cog", "--as", "nodata", "--json"))
    assert cog_problems(out) == []
    with rasterio.open(raster) as src:
        expected = np.logical_and.reduce([src.read_masks(b) != 0 for b in (1, 2, 3)])
    assert_array_equal(dataset_mask(out), expected)


def test_selector_without_output_is_a_usage_error(runner, raster):
    result = invoke(runner, "selector", raster)
    assert result.exit_code == 2 and "--output" in result.output
