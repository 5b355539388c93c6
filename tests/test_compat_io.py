"""riogrande.io as the GeoRacoon package exposes it: re-exports, errors, file operations."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

import riogrande.io
import riogrande.io.operations
from riogrande.io import (
    Source,
    compress_tif,
    coregister_raster,
    exceptions,
    load_block,
    update_band,
    write_band,
)
from riogrande.io.checks import check_output_path
from riogrande.io.exceptions import (
    BandSelectionNoMatchError,
    OutputError,
    RasterMismatchError,
    RiograndeError,
    UnknownExtensionError,
)
from riogrande.parallel import compute_mask

from .conftest import file_sha256, random_mask, synthetic_data, write_raster
from .reference import leftovers, read_all

PACKAGE_ERRORS = ("BandSelectionAmbiguousError", "BandSelectionNoMatchError",
                  "SourceNotSavedError", "UnknownExtensionError", "InvalidMaskSelectorError")


def test_io_exports():
    for name in ("Source", "Band", "load_block", "write_band", "update_band", "compress_tif",
                 "coregister_raster", "get_bands_by_tag", "_set_tags", "_get_tags",
                 "_find_bidxs", "_get_bidx_by_tag", "exceptions"):
        assert hasattr(riogrande.io, name), name
        assert name in dir(riogrande.io)
    assert riogrande.io.Source is riogrande.Source and riogrande.io.Band is riogrande.Band
    from riogrande.io import core

    assert core.NS == "GEORACOON" and core.load_block is load_block
    assert core.compress_tif is compress_tif and core._get_tags is riogrande.io._get_tags
    with pytest.raises(AttributeError):
        riogrande.io.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", PACKAGE_ERRORS)
def test_package_error_names(name):
    error = getattr(exceptions, name)
    assert issubclass(error, exceptions.RiograndeError)
    assert issubclass(error, (ValueError, OSError))
    assert str(error("the message")) == "the message"


def tagged_stack(make_raster, **kwargs):
    path = make_raster(count=3, **kwargs)
    with rasterio.open(path, "r+") as dst:
        for bidx, category in ((1, "a"), (2, "b"), (3, "c")):
            dst.update_tags(bidx, ns="GEORACOON", category=json.dumps(category))
    return path


@pytest.mark.parametrize("view", [None, (5, 7, 40, 23), (0, 0, 97, 61), (90, 60, 7, 1)])
def test_load_block(make_raster, view):
    path = tagged_stack(make_raster, width=97, height=61)
    data = read_all(path)
    with rasterio.open(path) as src:
        profile = src.profile
        window = None if view is None else Window(*view)
        transform = src.window_transform(window) if window else src.transform
    rows = slice(None) if view is None else slice(view[1], view[1] + view[3])
    cols = slice(None) if view is None else slice(view[0], view[0] + view[2])
    block = load_block(str(path), view=view, category="b")
    assert np.array_equal(block["data"], data[1, rows, cols]) and block["data"].ndim == 2
    assert block["transform"] == transform and block["orig_profile"] == profile
    assert np.array_equal(load_block(path, view)["data"], data[0, rows, cols])
    several = load_block(path, view, indexes=[3, 1])["data"]
    assert np.array_equal(several, data[[2, 0], rows, cols])
    assert np.array_equal(Source(path).load_block(view, category="c")["data"],
                          data[2, rows, cols])


@pytest.mark.parametrize("scaling, view", [((2, 2), (0, 0, 4, 2)), ((0.5, 0.5), (10, 4, 40, 22)),
                                           ((1.5, 3), None), ((2, 1), (3, 3, 9, 5))])
def test_load_block_scaled(make_raster, scaling, view):
    path = tagged_stack(make_raster, width=48, height=30)
    with rasterio.open(path) as src:
        window = Window(*view) if view else Window(0, 0, src.width, src.height)
        rows, cols = int(window.height * scaling[0]), int(window.width * scaling[1])
        expected = src.read(3, window=window, out_shape=(rows, cols),
                            resampling=Resampling.bilinear)
        nearest = src.read([1, 2], window=window, out_shape=(2, rows, cols),
                           resampling=Resampling.nearest)
        base = src.window_transform(window)
    block = load_block(path, view, {"scaling": scaling}, category="c")
    assert block["data"].shape == (rows, cols) and np.array_equal(block["data"], expected)
    assert block["transform"].almost_equals(
        Affine(base.a * window.width / cols, 0, base.c, 0, base.e * window.height / rows, base.f))
    both = load_block(path, view, {"scaling": scaling, "method": Resampling.nearest},
                      indexes=[1, 2])
    assert np.array_equal(both["data"], nearest)
    band = Source(path).get_band(category="c")
    assert np.array_equal(band.load_block(view, {"scaling": scaling})["data"], expected)


def test_load_block_errors(make_raster):
    path = tagged_stack(make_raster)
    for tags in ({"category": "z"}, {"indexes": 4}, {"indexes": [1, 9]}):
        for _ in range(3):
            with pytest.raises(BandSelectionNoMatchError):
                load_block(path, **tags)
    with pytest.raises(ValueError, match="no pixel"):
        load_block(path, (0, 0, 3, 3), {"scaling": (0.2, 0.2)})


def test_write_band_and_update_band(make_raster):
    path = make_raster(count=2, dtype="int16")
    data = read_all(path)
    new = np.full((23, 40), 9, dtype=np.int16)
    with rasterio.open(path, "r+") as dst:
        write_band(dst, new, 2, Window(5, 7, 40, 23), category="target", weight=2)
    data[1, 7:30, 5:45] = 9
    assert np.array_equal(read_all(path), data)
    assert Source(path).get_tags(2) == {"category": "target", "weight": 2}
    with rasterio.open(path, "r+") as dst:
        update_band(dst, np.full((61, 97), 3, dtype=np.int16), category="target")
        update_band(dst, np.zeros((2, 2), dtype=np.int16), Window(0, 0, 2, 2))
        for _ in range(3):
            with pytest.raises(BandSelectionNoMatchError, match="write_band"):
                update_band(dst, new, category="nothing")
        with pytest.raises(BandSelectionNoMatchError):
            write_band(dst, new, 3, Window(5, 7, 40, 23))
    data[1] = 3
    data[0, :2, :2] = 0
    assert np.array_equal(read_all(path), data)
    assert Source(path).get_tags(2) == {"category": "target", "weight": 2}


def rich_raster(path):
    """A raster with an internal mask, tags in several domains, descriptions, colours."""
    data = synthetic_data(2, 61, 97, "uint8", 0, seed=4)
    write_raster(path, data, nodata=None, compress=None, dataset_mask=random_mask(61, 97, 6))
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(ns="GEORACOON", kind='"stack"')
        dst.update_tags(1, ns="GEORACOON", category='"a"')
        dst.update_tags(2, ns="other", note="kept")
        dst.update_tags(author="me")
        dst.update_tags(1, STATISTICS_X="1")
        dst.set_band_description(1, "first")
        dst.set_band_unit(2, "m")
        dst.colorinterp = [ColorInterp.palette, ColorInterp.undefined]
        dst.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255)})
    return path


@pytest.mark.parametrize("compression", ["lzw", "deflate", None, "none"])
def test_compress_tif_keeps_data_mask_and_metadata(tmp_path, compression):
    path = rich_raster(tmp_path / "scene.tif")
    digest = file_sha256(path)
    output = compress_tif(path, compression=compression)
    name = "scene_decompressed.tif" if compression in (None, "none") else "scene_compress.tif"
    assert output == str(tmp_path / name)
    assert file_sha256(path) == digest
    with rasterio.open(path) as src, rasterio.open(output) as out:
        assert np.array_equal(out.read(), src.read())
        assert np.array_equal(out.dataset_mask(), src.dataset_mask())
        assert out.mask_flag_enums == src.mask_flag_enums
        assert out.mask_flag_enums[0] == [MaskFlags.per_dataset]
        expected = None if compression in (None, "none") else compression
        assert (out.compression.value.lower() if out.compression else None) == expected
        for bidx in (0, 1, 2):
            for ns in (None, "GEORACOON", "other"):
                assert out.tags(bidx, ns=ns) == src.tags(bidx, ns=ns), (bidx, ns)
        assert out.descriptions == src.descriptions and out.units == src.units
        assert out.colorinterp == src.colorinterp
        assert out.colormap(1)[1] == src.colormap(1)[1]
        assert (out.width, out.height, out.dtypes, out.crs, out.transform) == (
            src.width, src.height, src.dtypes, src.crs, src.transform)
        assert out.block_shapes == src.block_shapes
    assert leftovers(tmp_path) == []


def test_compress_tif_in_place_and_to_a_name(tmp_path):
    path = rich_raster(tmp_path / "scene.tif")
    expected = read_all(path)
    size = os.path.getsize(path)
    assert compress_tif(path, tmp_path / "small.tif", "deflate") == str(tmp_path / "small.tif")
    assert compress_tif(path, path, "deflate") == str(path)
    with rasterio.open(path) as src:
        assert src.compression.value == "DEFLATE" and np.array_equal(src.read(), expected)
        assert src.tags(1, ns="GEORACOON") == {"category": '"a"'}
    assert os.path.getsize(path) < size
    assert leftovers(tmp_path) == []


def test_compress_tif_errors(tmp_path, make_raster):
    path = make_raster(count=1)
    digest = file_sha256(path)
    for output in ("out.png", "out.vrt", "out"):
        for _ in range(3):
            with pytest.raises(UnknownExtensionError, match="tif"):
                compress_tif(path, tmp_path / output)
    with pytest.raises(OutputError, match="does not exist"):
        compress_tif(path, tmp_path / "missing" / "out.tif")
    with pytest.raises(OutputError, match="directory"):
        (tmp_path / "folder.tif").mkdir()
        compress_tif(path, tmp_path / "folder.tif")
    assert file_sha256(path) == digest
    assert leftovers(tmp_path) == []


def reprojected_reference(source, reference):
    with rasterio.open(source) as src, rasterio.open(reference) as ref:
        expected = np.zeros((src.count, ref.height, ref.width), dtype=src.dtypes[0])
        if src.nodata is not None:
            expected[:] = src.nodata
        reproject(src.read(), expected, src_transform=src.transform, src_crs=src.crs,
                  dst_transform=ref.transform, dst_crs=ref.crs, src_nodata=src.nodata,
                  dst_nodata=src.nodata, resampling=Resampling.nearest)
    return expected


def test_coregister_raster(make_raster, tmp_path):
    source = make_raster("coarse.tif", width=30, height=20, count=2, dtype="int16",
                         nodata=-9999, transform=Affine(20.0, 0, 500000, 0, -20.0, 5200000))
    Source(source).set_tags(1, {"category": "dem"})
    reference = make_raster("fine.tif", width=50, height=35, count=1,
                            transform=Affine(10.0, 0, 500105, 0, -10.0, 5199895))
    digests = file_sha256(source), file_sha256(reference)
    output = coregister_raster(source, reference)
    assert output == str(tmp_path / "coarse_coreg.tif")
    with rasterio.open(output) as out, rasterio.open(reference) as ref:
        assert (out.transform, out.width, out.height, out.crs) == (
            ref.transform, ref.width, ref.height, ref.crs)
        assert out.count == 2 and out.nodata == -9999 and out.dtypes[0] == "int16"
        assert np.array_equal(out.read(), reprojected_reference(source, reference))
    assert Source(output).get_tags(1) == {"category": "dem"}
    assert (file_sha256(source), file_sha256(reference)) == digests
    named = coregister_raster(source, reference, tmp_path / "named.tif")
    assert np.array_equal(read_all(named), read_all(output))


def test_coregister_raster_errors(make_raster, tmp_path):
    source = make_raster("a.tif", count=1)
    other_crs = make_raster("b.tif", count=1, crs="EPSG:4326",
                            transform=Affine(0.001, 0, 15, 0, -0.001, 47))
    digest = file_sha256(source)
    for _ in range(3):
        with pytest.raises(RasterMismatchError, match="CRS"):
            coregister_raster(source, other_crs, tmp_path / "out.tif")
        with pytest.raises(RasterMismatchError, match="CRS"):
            coregister_raster(source, other_crs, source)
    reference = make_raster("c.tif", count=1)
    (tmp_path / "folder.tif").mkdir()
    for output, words in ((tmp_path / "folder.tif", "directory"),
                          (tmp_path / "missing" / "out.tif", "does not exist")):
        with pytest.raises(OutputError, match=words) as caught:
            coregister_raster(source, reference, output)
        assert isinstance(caught.value, RiograndeError)
    assert file_sha256(source) == digest
    assert not (tmp_path / "out.tif").exists() and leftovers(tmp_path) == []


def coarse_and_fine(make_raster):
    """A tagged 2-band int16 raster at 20 m and a reference at 10 m, shifted by half a pixel."""
    source = make_raster("coarse.tif", width=30, height=20, count=2, dtype="int16",
                         nodata=-9999, transform=Affine(20.0, 0, 500000, 0, -20.0, 5200000))
    Source(source).set_tags(1, {"category": "dem"})
    Source(source).set_tags(0, {"kind": "stack"})
    with rasterio.open(source, "r+") as dst:
        dst.update_tags(2, ns="other", note="kept")
    reference = make_raster("fine.tif", width=50, height=35, count=1,
                            transform=Affine(10.0, 0, 500105, 0, -10.0, 5199895))
    return source, reference


@pytest.mark.parametrize("onto", ["source", "reference"])
def test_coregister_raster_in_place(make_raster, tmp_path, onto):
    source, reference = coarse_and_fine(make_raster)
    expected = reprojected_reference(source, reference)
    with rasterio.open(reference) as ref:
        grid = (ref.transform, ref.width, ref.height, ref.crs)
    with rasterio.open(source) as src:
        tags = {(bidx, ns): src.tags(bidx, ns=ns) for bidx in (0, 1, 2)
                for ns in ("GEORACOON", "other")}
    target = source if onto == "source" else reference
    assert coregister_raster(source, reference, output=target) == str(target)
    with rasterio.open(target) as out:
        assert (out.transform, out.width, out.height, out.crs) == grid
        assert out.count == 2 and out.nodata == -9999 and out.dtypes == ("int16", "int16")
        assert np.array_equal(out.read(), expected)
        assert {(bidx, ns): out.tags(bidx, ns=ns) for bidx in (0, 1, 2)
                for ns in ("GEORACOON", "other")} == tags
    assert Source(target).get_band(category="dem").bidx == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["coarse.tif", "fine.tif"]


def test_failed_coregistration_in_place_leaves_the_input(make_raster, tmp_path, monkeypatch):
    source, reference = coarse_and_fine(make_raster)
    digests = file_sha256(source), file_sha256(reference)
    calls = []

    def fail_on_the_second_band(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("failure injected while writing band 2")
        return reproject(*args, **kwargs)

    monkeypatch.setattr(riogrande.io.operations, "reproject", fail_on_the_second_band)
    for output in (source, reference):
        calls.clear()
        with pytest.raises(RuntimeError, match="injected"):
            coregister_raster(source, reference, output=output)
        assert len(calls) == 2  # band 1 was written before the failure
        assert (file_sha256(source), file_sha256(reference)) == digests
        assert sorted(path.name for path in tmp_path.iterdir()) == ["coarse.tif", "fine.tif"]


def test_overwriting_an_input_by_accident_is_still_refused(make_raster, tmp_path):
    path = make_raster(count=1, dtype="uint8", nodata=0)
    digest = file_sha256(path)
    with pytest.raises(OutputError, match="also an input"):
        check_output_path(path, [path])
    with pytest.raises(OutputError, match="also an input"):
        compute_mask(path, (16, 16), 0, output=path, nbrcpu=1)
    assert file_sha256(path) == digest and leftovers(tmp_path) == []
