"""Encodings, COG, creation options and formats of write_mask / write_selector outputs.

Every output is read back with rasterio (band values, ``read_masks``,
``dataset_mask``) and compared with a numpy reference of the whole array.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio

from riogrande.io.exceptions import (
    CreationOptionError,
    EncodingError,
    OutputError,
    OutputFormatError,
)
from riogrande.io.models import Band, Source
from riogrande.masking import write_mask, write_selector
from riogrande.outputs.formats import output_format, supported_extensions
from riogrande.parallel import compute_mask

from .cog_rules import cog_problems
from .conftest import file_sha256
from .reference import leftovers, mask_reference, read_all

RUN = {"nbrcpu": 2}


def valid_reference(path, nodata, logic="all", bands=None):
    return mask_reference(path, nodata, logic, bands).astype(bool)


def masks_of(path):
    """(dataset_mask, per-band read_masks) as booleans."""
    with rasterio.open(path) as out:
        return out.dataset_mask() != 0, [out.read_masks(b) != 0 for b in range(1, out.count + 1)]


@pytest.fixture
def uint8_source(make_raster):
    return make_raster("u8.tif", width=150, height=110, count=3, dtype="uint8", nodata=0,
                       block=(32, 32), compress="lzw")


@pytest.fixture
def float_source(make_raster):
    return make_raster("f32.tif", width=130, height=90, count=2, dtype="float32",
                       nodata=-9999.0, block=(64, 64))


@pytest.mark.parametrize("logic", ["all", "any"])
def test_values_and_nodata_encodings(uint8_source, tmp_path, logic):
    expected = valid_reference(uint8_source, 0, logic)
    values = write_mask(uint8_source, tmp_path / "v.tif", logic=logic, **RUN).output
    nodata = write_mask(uint8_source, tmp_path / "n.tif", logic=logic, encoding="nodata",
                        **RUN).output
    np.testing.assert_array_equal(read_all(values)[0], expected.astype(np.uint8))
    with rasterio.open(nodata) as out:
        assert out.nodata == 0 and out.count == 1 and out.dtypes == ("uint8",)
        np.testing.assert_array_equal(out.read(1), expected.astype(np.uint8))
    dataset, bands = masks_of(nodata)
    np.testing.assert_array_equal(dataset, expected)
    np.testing.assert_array_equal(bands[0], expected)


@pytest.mark.parametrize("logic", ["all", "any"])
@pytest.mark.parametrize("kind", ["uint8", "float32"])
def test_kept_values_have_masked_pixels_at_nodata(uint8_source, float_source, tmp_path, logic,
                                                 kind):
    source, nodata = (uint8_source, 0) if kind == "uint8" else (float_source, -9999.0)
    expected = valid_reference(source, nodata, logic, [1, 2])
    out = write_mask(source, tmp_path / "k.tif", nodata=nodata, logic=logic, bands=[1, 2],
                     encoding="nodata", keep_values=True, **RUN).output
    data, kept = read_all(source, [1, 2]), read_all(out)
    with rasterio.open(out) as written:
        assert written.nodata == nodata and written.count == 2
    np.testing.assert_array_equal(kept[:, expected], data[:, expected])
    assert (kept[:, ~expected] == nodata).all()
    np.testing.assert_array_equal(masks_of(out)[0], expected)


def test_kept_values_default_nodata_is_nan_for_floats_without_a_fitting_value(make_raster,
                                                                             tmp_path):
    source = make_raster("f.tif", width=60, height=40, count=2, dtype="float32", fill=0)
    out = write_mask(source, tmp_path / "k.tif", nodata=0, encoding="nodata",
                     keep_values=True, output_nodata=None, **RUN).output
    with rasterio.open(out) as written:
        assert written.nodata == 0  # the mask's own nodata fits the type
    out = write_mask(source, tmp_path / "nan.tif", nodata=0, encoding="nodata",
                     keep_values=True, output_nodata=float("nan"), **RUN).output
    expected = valid_reference(source, 0)
    with rasterio.open(out) as written:
        assert math.isnan(written.nodata)
        assert np.isnan(written.read()[:, ~expected]).all()
    np.testing.assert_array_equal(masks_of(out)[0], expected)


def test_kept_values_refuse_a_nodata_that_valid_pixels_hold(make_raster, tmp_path):
    data = np.full((1, 40, 50), 7, dtype="uint8")
    data[0, :10] = 0
    source = make_raster("c.tif", data=data)
    for _ in range(5):
        with pytest.raises(EncodingError, match="output nodata value 7"):
            write_mask(source, tmp_path / "k.tif", nodata=0, encoding="nodata",
                       keep_values=True, output_nodata=7, nbrcpu=1)
        assert not (tmp_path / "k.tif").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["uint8", "float32"])
def test_mask_encoding_is_a_lossless_copy_with_the_result_as_dataset_mask(
        uint8_source, float_source, tmp_path, kind):
    source, nodata = (uint8_source, 0) if kind == "uint8" else (float_source, -9999.0)
    before = file_sha256(source)
    expected = valid_reference(source, nodata, "any")
    out = write_mask(source, tmp_path / "m.tif", nodata=nodata, logic="any", encoding="mask",
                     **RUN).output
    assert file_sha256(source) == before
    np.testing.assert_array_equal(read_all(out), read_all(source))
    with rasterio.open(out) as copy, rasterio.open(source) as src:
        assert copy.dtypes == src.dtypes and copy.block_shapes == src.block_shapes
        assert copy.compression == src.compression and copy.crs == src.crs
        assert copy.transform == src.transform
        assert all(flag.name == "per_dataset" for flag in copy.mask_flag_enums[0])
    dataset, bands = masks_of(out)
    np.testing.assert_array_equal(dataset, expected)
    for band in bands:
        np.testing.assert_array_equal(band, expected)


def test_sidecar_is_the_sources_msk_and_leaves_its_bytes(uint8_source, tmp_path):
    before = file_sha256(uint8_source)
    expected = valid_reference(uint8_source, 0, "any", [2, 3])
    report = write_mask(uint8_source, bands=[2, 3], logic="any", encoding="sidecar", **RUN)
    assert report.output == tmp_path / "u8.tif.msk" and report.output.exists()
    assert file_sha256(uint8_source) == before
    dataset, bands = masks_of(uint8_source)
    np.testing.assert_array_equal(dataset, expected)
    for band in bands:
        np.testing.assert_array_equal(band, expected)
    # again: the .msk is replaced by the new result
    write_mask(uint8_source, bands=[1], encoding="sidecar", **RUN)
    np.testing.assert_array_equal(masks_of(uint8_source)[0], valid_reference(uint8_source, 0,
                                                                              "all", [1]))
    assert file_sha256(uint8_source) == before


def test_sidecar_refused_where_gdal_would_ignore_it(make_raster, uint8_source, tmp_path):
    masked = make_raster("masked.tif", mask=True)
    for _ in range(3):
        with pytest.raises(EncodingError, match="internal mask"):
            write_mask(masked, encoding="sidecar", nbrcpu=1)
        with pytest.raises(EncodingError, match="must be"):
            write_mask(uint8_source, tmp_path / "elsewhere.msk", encoding="sidecar", nbrcpu=1)
        with pytest.raises(EncodingError, match="COG"):
            write_mask(uint8_source, encoding="sidecar", cog=True, nbrcpu=1)
    assert not (tmp_path / "masked.tif.msk").exists()


@pytest.mark.parametrize("kind", ["uint8", "uint16"])
def test_alpha_encoding(make_raster, tmp_path, kind):
    source = make_raster("a.tif", width=80, height=70, count=3, dtype=kind, nodata=0)
    expected = valid_reference(source, 0)
    out = write_mask(source, tmp_path / "alpha.tif", encoding="alpha", **RUN).output
    with rasterio.open(out) as copy:
        assert copy.count == 4 and copy.colorinterp[-1].name == "alpha"
        alpha = copy.read(4)
    np.testing.assert_array_equal(read_all(out)[:3], read_all(source))
    opaque = 255 if kind == "uint8" else 65535
    np.testing.assert_array_equal(alpha, np.where(expected, opaque, 0))
    np.testing.assert_array_equal(masks_of(out)[0], expected)


def test_alpha_refused_where_gdal_would_not_read_it_as_a_mask(float_source, make_raster,
                                                              tmp_path):
    two_bands = make_raster("two.tif", count=2, dtype="uint8", nodata=0)
    for _ in range(5):
        with pytest.raises(EncodingError, match="Byte or UInt16"):
            write_mask(float_source, tmp_path / "a.tif", encoding="alpha", nbrcpu=1)
        with pytest.raises(EncodingError, match="gray"):
            write_mask(two_bands, tmp_path / "a.tif", encoding="alpha", nbrcpu=1)
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.tif").exists()


@pytest.mark.parametrize("encoding", ["values", "nodata", "mask", "alpha", "keep"])
def test_cog_output_follows_gdal_rules(make_raster, tmp_path, encoding):
    source = make_raster("big.tif", width=1100, height=700, count=3, dtype="uint8", nodata=0,
                         block=(256, 256))
    expected = valid_reference(source, 0)
    keep = encoding == "keep"
    out = write_mask(source, tmp_path / "c.tif", encoding="nodata" if keep else encoding,
                     keep_values=keep, cog=True, **RUN).output
    assert cog_problems(out) == []
    with rasterio.open(out) as cog:
        assert cog.overviews(1) == [2, 4] and cog.block_shapes[0] == (512, 512)
        first = cog.read(1)
    if encoding in ("values", "nodata"):
        np.testing.assert_array_equal(first, expected.astype(np.uint8))
    else:
        np.testing.assert_array_equal(masks_of(out)[0], expected)
    with rasterio.open(out, overview_level=0) as overview:
        # nearest resampling: the overview holds pixels of the full image, never averages
        np.testing.assert_array_equal(overview.read(1), first[::2, ::2][:overview.height,
                                                                          :overview.width])
        assert set(np.unique(overview.dataset_mask())) <= {0, 255}


def test_cog_passes_rio_cogeo(make_raster, tmp_path):
    cogeo = pytest.importorskip("rio_cogeo.cogeo")
    source = make_raster("big.tif", width=900, height=800, count=1, dtype="uint8", nodata=0)
    out = write_mask(source, tmp_path / "c.tif", cog=True, encoding="mask", **RUN).output
    valid, errors, warnings = cogeo.cog_validate(str(out))
    assert valid and errors == [] and warnings == []


def test_cog_refuses_averaging_a_mask(uint8_source, tmp_path):
    for _ in range(5):
        with pytest.raises(CreationOptionError, match="average"):
            write_mask(uint8_source, tmp_path / "c.tif", cog=True,
                       creation_options={"RESAMPLING": "AVERAGE"}, nbrcpu=1)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("options, structure", [
    ({"COMPRESS": "ZSTD"}, {"COMPRESSION": "ZSTD"}),
    ({"compress": "lzw"}, {"COMPRESSION": "LZW"}),
    ({"COMPRESS": "DEFLATE", "NBITS": "8", "PREDICTOR": "2"}, {"PREDICTOR": "2"}),
    ({"BLOCKXSIZE": "64", "BLOCKYSIZE": "32"}, {}),
    ({"BIGTIFF": "YES"}, {}),
])
def test_creation_options_reach_the_file(uint8_source, tmp_path, options, structure):
    out = write_mask(uint8_source, tmp_path / "o.tif", creation_options=options, **RUN).output
    with rasterio.open(out) as written:
        tags = written.tags(ns="IMAGE_STRUCTURE")
        for key, value in structure.items():
            assert tags.get(key) == value
        if "BLOCKXSIZE" in options:
            assert written.block_shapes[0] == (32, 64)
        np.testing.assert_array_equal(written.read(1), valid_reference(uint8_source, 0))
    if options.get("BIGTIFF") == "YES":
        assert out.read_bytes()[2] == 43  # BigTIFF version number


def test_lerc_on_a_float_copy_is_lossless(float_source, tmp_path):
    out = write_mask(float_source, tmp_path / "l.tif", nodata=-9999.0, encoding="mask",
                     creation_options={"COMPRESS": "LERC"}, **RUN).output
    with rasterio.open(out) as written:
        assert written.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"].startswith("LERC")
    np.testing.assert_array_equal(read_all(out), read_all(float_source))


@pytest.mark.parametrize("options, message", [
    ({"BOGUS": "1"}, "BOGUS"),
    ({"COMPRESS": "NOPE"}, "NOPE"),
    ({"BIGTIFF": "MAYBE"}, "MAYBE"),
    ({"PREDICTOR": "7"}, "PREDICTOR"),
    ({"COUNT": "2"}, "set by riogrande"),
])
def test_a_bad_creation_option_is_a_clear_error_before_any_work(uint8_source, tmp_path,
                                                                options, message):
    calls = []
    for _ in range(5):
        with pytest.raises(CreationOptionError, match=message):
            write_mask(uint8_source, tmp_path / "o.tif", creation_options=options,
                       progress=lambda done, total: calls.append(done), nbrcpu=1)
    assert calls == [] and leftovers(tmp_path) == [] and not (tmp_path / "o.tif").exists()


def test_png_output(uint8_source, tmp_path):
    expected = valid_reference(uint8_source, 0)
    values = write_mask(uint8_source, tmp_path / "v.png", **RUN).output
    with rasterio.open(values) as png:
        assert png.driver == "PNG"
        np.testing.assert_array_equal(png.read(1), expected.astype(np.uint8))
        assert png.crs == rasterio.open(uint8_source).crs
    nodata = write_mask(uint8_source, tmp_path / "n.png", encoding="nodata", **RUN).output
    np.testing.assert_array_equal(masks_of(nodata)[0], expected)
    alpha = write_mask(uint8_source, tmp_path / "a.png", encoding="alpha", **RUN).output
    np.testing.assert_array_equal(masks_of(alpha)[0], expected)
    np.testing.assert_array_equal(read_all(alpha)[:3], read_all(uint8_source))


@pytest.mark.parametrize("name, message", [
    ("o.vrt", "VRT"), ("o.jpg", "lossy"), ("o.xyz", "extension"), ("o", "extension"),
])
def test_unsupported_formats_are_refused_listing_what_works(uint8_source, tmp_path, name,
                                                            message):
    for _ in range(3):
        with pytest.raises(OutputFormatError, match=message) as caught:
            write_mask(uint8_source, tmp_path / name, nbrcpu=1)
        assert "GeoTIFF (.tif, .tiff)" in str(caught.value) and "PNG (.png)" in str(caught.value)
    assert leftovers(tmp_path) == []


def test_formats_by_driver_and_extension(tmp_path):
    assert output_format("x.TIF").driver == "GTiff"
    assert output_format("x.tif", cog=True).driver == "COG"
    assert output_format("x.tif", driver="cog").driver == "COG"
    assert output_format("x.png").driver == "PNG"
    assert output_format("x.data", driver="PNG").driver == "PNG"
    assert supported_extensions() == ["tif", "tiff", "png"]
    with pytest.raises(OutputFormatError, match="HFA"):
        output_format("x.img", driver="HFA")
    with pytest.raises(OutputFormatError, match="GeoTIFF"):
        output_format("x.png", cog=True)


def test_encodings_a_format_cannot_hold_are_refused(uint8_source, float_source, tmp_path):
    with pytest.raises(EncodingError, match="cannot hold the encoding 'mask'"):
        write_mask(uint8_source, tmp_path / "m.png", encoding="mask", nbrcpu=1)
    with pytest.raises(EncodingError, match="float32"):
        write_mask(float_source, tmp_path / "k.png", encoding="nodata", keep_values=True,
                   nodata=-9999.0, nbrcpu=1)
    with pytest.raises(EncodingError, match="keep_values"):
        write_mask(uint8_source, tmp_path / "x.tif", encoding="mask", keep_values=True)
    with pytest.raises(EncodingError, match="unknown encoding"):
        write_mask(uint8_source, tmp_path / "x.tif", encoding="colour")
    with pytest.raises(EncodingError, match="needs an output file"):
        write_mask(uint8_source, None, encoding="mask")
    assert leftovers(tmp_path) == []


def test_compute_mask_output_takes_the_output_form(uint8_source, tmp_path):
    out = tmp_path / "c.tif"
    compute_mask(uint8_source, output=out, encoding="mask", cog=True, nbrcpu=2)
    assert cog_problems(out) == []
    np.testing.assert_array_equal(masks_of(out)[0], valid_reference(uint8_source, 0))


def selector_reference_of(path):
    with rasterio.open(path) as src:
        return np.logical_and.reduce([src.read_masks(b) != 0 for b in range(1, src.count + 1)])


@pytest.mark.parametrize("encoding", ["values", "nodata", "keep", "mask", "alpha", "sidecar"])
def test_selector_encodings(make_raster, tmp_path, encoding):
    first = make_raster("s1.tif", width=120, height=80, count=2, dtype="uint8", nodata=0)
    second = make_raster("s2.tif", width=120, height=80, count=1, dtype="uint8", nodata=0,
                         seed=5)
    bands = [Band(Source(first), 1), Band(Source(first), 2), Band(Source(second), 1)]
    expected = selector_reference_of(first) & selector_reference_of(second)
    keep = encoding == "keep"
    report = write_selector(*bands, output=None if encoding == "sidecar" else tmp_path / "o.tif",
                            encoding="nodata" if keep else encoding, keep_values=keep, **RUN)
    out = report.output
    if encoding == "values":
        np.testing.assert_array_equal(read_all(out)[0], expected.astype(np.uint8))
        return
    shown = first if encoding == "sidecar" else out
    np.testing.assert_array_equal(masks_of(shown)[0], expected)
    if encoding in ("keep", "mask", "alpha"):
        copied = np.concatenate([read_all(first), read_all(second)])
        written = read_all(out)[:3]
        if keep:
            np.testing.assert_array_equal(written[:, expected], copied[:, expected])
        else:
            np.testing.assert_array_equal(written, copied)


def test_selector_needs_an_output_except_as_sidecar(make_raster):
    band = Band(Source(make_raster("s.tif")), 1)
    with pytest.raises(OutputError, match="needs output"):
        write_selector(band)
