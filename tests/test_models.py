"""Source and Band: readers, writers, mask readers, init_source, tags."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from riogrande.io.exceptions import InvalidBandError, OutputError, RiograndeError, SourceError
from riogrande.io.models import Band, Source

from .conftest import CRS, TRANSFORM, file_sha256, random_mask, synthetic_data
from .reference import band_mask, read_all

WINDOW = Window(5, 7, 40, 23)


def test_source_properties(make_raster):
    path = make_raster(width=97, height=61, count=3, dtype="int16", nodata=-9999)
    source = Source(path)
    assert source.path == path and source.exists
    assert source.shape == (61, 97)
    with rasterio.open(path) as src:
        assert source.profile["count"] == 3 and source.profile["dtype"] == "int16"
        assert source.import_profile()["transform"] == src.transform
        assert source.profile["crs"] == src.crs and source.profile["nodata"] == -9999
    assert [band.bidx for band in source.get_bands()] == [1, 2, 3]
    assert source.get_band(2) == Band(source, 2)
    assert not Source(path.with_name("missing.tif")).exists


def test_source_data_reader(make_raster):
    path = make_raster(count=3)
    data = read_all(path)
    with Source(path).data_reader() as read:
        assert np.array_equal(read(), data)
        assert np.array_equal(read(window=WINDOW), data[:, 7:30, 5:45])
    with Source(path).data_reader(bands=[3, 1]) as read:
        assert np.array_equal(read(window=WINDOW), data[[2, 0], 7:30, 5:45])
    source = Source(path)
    with source.data_reader(bands=[source.get_band(2)]) as read:
        block = read(window=WINDOW)
        assert block.shape == (1, 23, 40) and np.array_equal(block[0], data[1, 7:30, 5:45])


def test_source_data_writer_and_mask_writer(make_raster):
    path = make_raster(count=2, dtype="uint8")
    new = np.full((2, 23, 40), 77, dtype=np.uint8)
    mask = np.ones((23, 40), dtype=np.uint8)
    mask[:10] = 0
    before = read_all(path)
    with Source(path).data_writer() as write:
        write(new, window=WINDOW)
    with Source(path).mask_writer() as write:
        write(mask, window=WINDOW)
    after = read_all(path)
    before[:, 7:30, 5:45] = 77
    assert np.array_equal(after, before)
    with rasterio.open(path) as src:
        expected = np.zeros(src.shape, dtype=np.uint8)  # GDAL: an unwritten mask is 0
        expected[17:30, 5:45] = 255
        assert np.array_equal(src.dataset_mask(), expected)
        assert src.mask_flag_enums[0] == [rasterio.enums.MaskFlags.per_dataset]
    with Source(path).mask_reader() as read:
        assert np.array_equal(read(window=WINDOW), expected[7:30, 5:45])
    assert not path.with_name(path.name + ".msk").exists()  # internal, no sidecar


def test_band_readers_and_writer(make_raster):
    path = make_raster(count=3, dtype="int16", nodata=-9999)
    data = read_all(path)
    band = Band(path, 2)
    with band.data_reader() as read:
        assert np.array_equal(read(window=WINDOW), data[1, 7:30, 5:45])
    assert np.array_equal(band.get_data(), data[1])
    assert np.array_equal(band.get_data(WINDOW), data[1, 7:30, 5:45])
    assert Band(path).bidx is None and band.bidx == 2
    with band.data_writer() as write:
        write(np.full((23, 40), 5, dtype=np.int16), window=WINDOW)
    data[1, 7:30, 5:45] = 5
    assert np.array_equal(read_all(path), data)


def alpha_raster(path):
    """An RGBA raster: its alpha band is GDAL's mask of every band."""
    data = synthetic_data(4, 61, 97, "uint8", 0, seed=7)
    data[3] = np.where(random_mask(61, 97, seed=8), 255, 0)
    with rasterio.open(path, "w", driver="GTiff", count=4, width=97, height=61,
                       dtype="uint8", crs=CRS, transform=TRANSFORM, photometric="RGB",
                       alpha="YES") as dst:
        dst.write(data)
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                           ColorInterp.alpha]
    return path


@pytest.mark.parametrize("use", ["band", "self", "source", "mask_none", "mask_all"])
@pytest.mark.parametrize("kind", ["nodata", "dataset_mask", "alpha"])
def test_mask_readers_against_rasterio(make_raster, tmp_path, use, kind):
    if kind == "nodata":
        path = make_raster(count=3, dtype="float32", nodata=-9999.0)
    elif kind == "alpha":
        path = alpha_raster(tmp_path / "rgba.tif")
        with rasterio.open(path) as src:
            assert src.mask_flag_enums[0] == [rasterio.enums.MaskFlags.per_dataset,
                                              rasterio.enums.MaskFlags.alpha]
    else:
        path = make_raster(count=3, dtype="uint8", mask=True)
    band = Band(path, 2)
    band.set_mask_reader(use)
    expected = band_mask(path, 2, use)
    with band.get_mask_reader()() as read:
        whole = read()
        part = read(window=WINDOW)
    constant = use in ("mask_none", "mask_all")  # int64 1 or 0, as in the GeoRacoon package
    assert whole.dtype == part.dtype == (np.int64 if constant else np.uint8)
    assert np.array_equal(whole != 0, expected)
    assert np.array_equal(part != 0, expected[7:30, 5:45])


def test_per_band_masks_differ_and_readers_follow_them(make_raster):
    path = make_raster(count=3, dtype="int16", nodata=-9999)
    masks = [Band(path, bidx) for bidx in (1, 2, 3)]
    results = []
    for band in masks:
        with band.mask_reader() as read:
            results.append(read() != 0)
    with rasterio.open(path) as src:
        for bidx, result in enumerate(results, start=1):
            assert np.array_equal(result, src.read_masks(bidx) != 0)
            assert np.array_equal(result, src.read(bidx) != -9999)
    assert not np.array_equal(results[0], results[1])


def test_set_mask_reader_rejects_unknown():
    band = Band("whatever.tif", 1)
    with pytest.raises(ValueError, match="mask"):
        band.set_mask_reader("alpha")


def test_band_and_source_pickle(make_raster):
    path = make_raster(count=2)
    source = Source(path)
    band = source.get_band(2)
    band.set_mask_reader("source")
    copy = pickle.loads(pickle.dumps(band))
    assert copy == band and copy.mask_use == "source"
    assert copy.source.profile["width"] == source.profile["width"]


def test_source_init_source(tmp_path):
    path = tmp_path / "new.tif"
    profile = {"driver": "GTiff", "dtype": "float32", "count": 2, "width": 30, "height": 20,
               "crs": CRS, "transform": TRANSFORM}
    source = Source(path)
    source.init_source(**profile)
    with rasterio.open(path) as src:
        assert (src.count, src.width, src.height, src.dtypes[0]) == (2, 30, 20, "float32")
        assert src.crs == rasterio.crs.CRS.from_string(CRS) and src.transform == TRANSFORM
    digest = file_sha256(path)
    Source(path).init_source(**profile)  # the same profile: the file is kept as it is
    assert file_sha256(path) == digest
    for change in ({"count": 1}, {"width": 31}, {"dtype": "uint8"}, {"crs": "EPSG:4326"}):
        with pytest.raises(OutputError, match="exists"):
            Source(path).init_source(**{**profile, **change})
        assert file_sha256(path) == digest
    Source(path).init_source(overwrite=True, **{**profile, "count": 1})
    with rasterio.open(path) as src:
        assert src.count == 1


def test_band_init_source(tmp_path):
    path = tmp_path / "band.tif"
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": 12, "height": 9,
               "crs": CRS, "transform": TRANSFORM}
    band = Band(path, 3)
    band.init_source(profile)
    with rasterio.open(path) as src:
        assert src.count == 3 and src.shape == (9, 12)
    with band.data_writer() as write:
        write(np.full((9, 12), 4, dtype=np.uint8))
    assert np.array_equal(band.get_data(), np.full((9, 12), 4))


def test_init_source_in_missing_folder(tmp_path):
    profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": 4, "height": 4,
               "crs": CRS, "transform": TRANSFORM}
    with pytest.raises(OutputError):
        Source(tmp_path / "missing" / "new.tif").init_source(**profile)


def test_tags_round_trip(make_raster):
    path = make_raster(count=2)
    tags = {"name": "elevation", "scale": 0.5, "bands": [1, 2], "meta": {"a": None}}
    Source(path, tags=tags).export_tags()
    assert Source(path).get_tags() == tags
    band = Band(path, 2, tags={"unit": "m", "valid": True})
    band.export_tags()
    assert band.get_tags() == {"unit": "m", "valid": True}
    assert Source(path).get_tags(2) == {"unit": "m", "valid": True}
    assert Band(path, 1).get_tags() == {}
    with rasterio.open(path) as src:
        assert "unit" not in src.tags(2)  # stored in a namespace of its own


def test_band_errors(make_raster, tmp_path):
    path = make_raster(count=2)
    source = Source(path)
    for bidx in (0, 3, -1):
        with pytest.raises(InvalidBandError, match=str(bidx)):
            source.get_band(bidx)
    with pytest.raises(InvalidBandError):
        with Band(path, 3).data_reader():
            pass
    with pytest.raises(InvalidBandError):
        with source.data_reader(bands=[1, 5]):
            pass
    with pytest.raises(SourceError) as caught:
        Source(tmp_path / "missing.tif").import_profile()
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, RiograndeError)
    assert "missing.tif" in str(caught.value)
