"""Band as the GeoRacoon package's callers use it."""

from __future__ import annotations

import logging
import math
import pickle
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from riogrande.io import Band, Source
from riogrande.io.exceptions import (
    BandSelectionNoMatchError,
    IncompatibleRastersError,
    InvalidMaskSelectorError,
    RiograndeError,
    ValueRangeError,
)

from .conftest import CRS, TRANSFORM, file_sha256, random_mask
from .reference import leftovers, read_all

WINDOW = Window(5, 7, 40, 23)


def profile(**changes):
    return {"driver": "GTiff", "dtype": "float32", "count": 1, "width": 97, "height": 61,
            "crs": CRS, "transform": TRANSFORM, "nodata": None, **changes}


def test_band_given_by_tags_keeps_bidx_none(make_raster):
    path = make_raster(count=3, nodata=0.0)
    Source(path).set_tags(2, {"category": "b"})
    data = read_all(path)
    by_tags = Band(Source(path), {"category": "b"})  # the package's (source, tags, bidx) order
    assert by_tags.tags == {"category": "b"} and by_tags.bidx is None
    assert by_tags.get_bidx() == 2 and by_tags.bidx is None  # resolved, not stored
    assert np.array_equal(by_tags.get_data(), data[1])
    with by_tags.data_reader() as read:
        assert np.array_equal(read(window=WINDOW), data[1, 7:30, 5:45])
    by_tags.export_tags()
    assert Source(path).get_tags(2) == {"category": "b"} and by_tags.bidx is None
    keyword = Band(source=Source(path), tags={"category": "b"})
    assert keyword.bidx is None and keyword.get_bidx() == 2 and keyword.bidx is None
    copy = pickle.loads(pickle.dumps(by_tags))
    assert copy == by_tags and copy.bidx is None and copy.get_bidx() == 2
    assert hash(copy) == hash(by_tags)
    by_tags.bidx = 2  # set by the caller: kept
    assert by_tags.bidx == 2 and by_tags.get_bidx() == 2
    # what Source.get_band returns carries the index it found
    assert Source(path).get_band(category="b").bidx == 2


def test_band_constructor_orders(make_raster):
    path = make_raster(count=3, nodata=0.0)
    assert Band(Source(path), {"category": "b"}, 3).bidx == 3
    assert Band(Source(path), None, 3).bidx == 3 and Band(Source(path), None, 3).tags == {}
    assert Band(path, 3, {"x": 1}).tags == {"x": 1} and Band(path, 3, {"x": 1}).bidx == 3
    assert Band(path, _use_mask="source").mask_use == "source"


def test_band_with_neither_index_nor_tags(make_raster):
    single = make_raster(count=1, nodata=0.0)
    band = Band(single)
    assert band.bidx is None and band.get_bidx() == 1 and band.bidx is None
    assert np.array_equal(band.get_data(), read_all(single)[0])
    several = make_raster(count=3, nodata=0.0)
    for call in (Band(several).get_bidx, Band(several).get_data,
                 Band(several, tags={"category": "b"}).get_bidx,
                 lambda: Band(several, tags={"other": 1}).get_bidx(match="category")):
        for _ in range(3):
            with pytest.raises(BandSelectionNoMatchError):
                call()


def test_read_params_are_kept_not_applied(make_raster):
    path = make_raster(count=2, nodata=0.0)
    band = Band(path, 1, read_params={"masked": True})
    assert band.read_params == {"masked": True}
    data = band.get_data()
    with rasterio.open(path) as src:
        assert type(data) is np.ndarray and np.array_equal(data, src.read(1))
        masked = band.get_data(masked=True)
        assert np.array_equal(masked.mask, src.read(1, masked=True).mask) and masked.mask.any()


def test_equality_and_hash_follow_index_tags_and_mask():
    source = Source("a.tif")
    band = Band(source, 1, {"ids": [1, 2], "meta": {"k": "v"}})
    assert band == Band(Source("a.tif"), 1, {"meta": {"k": "v"}, "ids": [1, 2]})
    assert band != Band(source, 2, band.tags) and band != Band(source, 1, {"ids": [1]})
    other = Band(source, 1, band.tags)
    other.set_mask_reader("source")
    assert band != other
    assert {band: 1}[Band(source, 1, {"ids": [1, 2], "meta": {"k": "v"}})] == 1


def test_get_data_window_and_keywords(make_raster):
    path = make_raster(count=2, dtype="int16", nodata=-9999)
    data = read_all(path)
    band = Band(path, 2)
    assert np.array_equal(band.get_data(), data[1])
    assert np.array_equal(band.get_data(window=WINDOW), data[1, 7:30, 5:45])
    masked = band.get_data(WINDOW, masked=True)
    assert np.array_equal(masked.mask, data[1, 7:30, 5:45] == -9999)
    assert band.get_data(out_shape=(10, 20)).shape == (10, 20)
    assert np.array_equal(band.get_data(okwargs={"sharing": False}), data[1])
    assert band.shape == (61, 97) == Source(path).shape


def test_get_data_of_a_missing_band_raises(make_raster):
    path = make_raster(count=3)
    for bidx in (4, 9, 0):
        for _ in range(3):
            with pytest.raises(BandSelectionNoMatchError, match=str(bidx)):
                Band(Source(path), bidx=bidx).get_data()


def test_data_reader_and_writer_modes(make_raster):
    path = make_raster(count=2, dtype="float32")
    Source(path).set_tags(2, {"category": "target"})
    data = read_all(path)
    with rasterio.open(path) as src:
        file_profile = src.profile
    band = Band(Source(path), tags={"category": "target", "unit": "m"})
    with band.data_reader(match="category", mode="r") as read:
        assert np.array_equal(read(window=WINDOW), data[1, 7:30, 5:45])
    with band.data_writer(match="category", mode="r+", **file_profile) as write:
        write(np.full((23, 40), 4.5, dtype=np.float32), window=WINDOW)
    data[1, 7:30, 5:45] = 4.5
    assert np.array_equal(read_all(path), data)
    with band.mask_reader(match="category") as read:
        mask = read()
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}


def test_data_writer_creates_a_new_file(tmp_path):
    path = tmp_path / "new.tif"
    source = Source(path, profile=profile(dtype="int16", nodata=-1))
    band = Band(source, 2)
    with band.data_writer() as write:
        assert not path.exists()  # appears when complete
        write(np.full((61, 97), 7, dtype=np.int16))
    with rasterio.open(path) as src:
        assert src.count == 2 and src.dtypes[1] == "int16" and src.nodata == -1
        assert (src.read(2) == 7).all() and src.crs == rasterio.crs.CRS.from_string(CRS)
    assert leftovers(tmp_path) == []


def test_data_writer_failure_leaves_no_file(tmp_path):
    path = tmp_path / "new.tif"
    band = Band(Source(path, profile=profile()), 1)
    for _ in range(5):
        with pytest.raises(ZeroDivisionError):
            with band.data_writer() as write:
                write(np.ones((61, 97), dtype=np.float32))
                1 / 0  # noqa: B018
        assert not path.exists() and leftovers(tmp_path) == []


def test_set_data(tmp_path, make_raster):
    path = tmp_path / "set.tif"
    values = np.random.default_rng(2).random((12, 9)).astype(np.float32)
    band = Band(Source(path, profile={"driver": "GTiff", "crs": CRS, "transform": TRANSFORM}), 1)
    band.set_data(values)
    with rasterio.open(path) as src:
        assert src.shape == (12, 9) and src.dtypes[0] == "float32"
        assert np.array_equal(src.read(1), values)
    existing = make_raster(count=2, dtype="float32")
    data = read_all(existing)
    Band(existing, 2).set_data(np.zeros((61, 97), dtype=np.float32))
    data[1] = 0
    assert np.array_equal(read_all(existing), data)
    Band(Source(existing), 1).set_data(np.ones((61, 97), dtype=np.float32), overwrite=True)
    with rasterio.open(existing) as src:  # recreated from the profile: only this band written
        assert src.count == 2 and (src.read(1) == 1).all() and (src.read(2) == 0).all()


def test_init_source_updates_the_shared_source(tmp_path):
    source = Source(tmp_path / "out.tif")
    band = Band(source, 2, {"category": "model"})
    band.init_source(profile(count=1, dtype="uint16"))
    assert source.profile["dtype"] == "uint16" and source.profile["count"] == 2
    with rasterio.open(source.path) as src:
        assert src.count == 2 and src.dtypes == ("uint16", "uint16")
        assert (src.read() == 0).all()
    digest = file_sha256(source.path)
    band.init_source(profile(count=2, dtype="uint16"))  # the same: kept
    assert file_sha256(source.path) == digest
    band.export_tags()
    assert Source(source.path).get_band(category="model").bidx == 2


@pytest.mark.parametrize("nodata", [0, -9999.0, math.nan])
def test_count_valid_pixels(make_raster, nodata):
    path = make_raster(count=2, dtype="float32", nodata=None if math.isnan(nodata) else nodata,
                       fill=nodata, block=(16, 16))
    data = read_all(path, [2])[0]
    valid = ~np.isnan(data) if math.isnan(nodata) else data != nodata
    selector = random_mask(61, 97, seed=9)
    band = Band(path, 2)
    assert band.count_valid_pixels(no_data=nodata) == np.count_nonzero(valid)
    assert band.count_valid_pixels(selector, nodata) == np.count_nonzero(valid & selector)
    total = int(np.count_nonzero(valid & selector))
    assert band.count_valid_pixels(selector, nodata, limit_count=total - 1) is True
    assert band.count_valid_pixels(selector, nodata, limit_count=total) is False
    for _ in range(3):
        with pytest.raises(IncompatibleRastersError, match="shape"):
            band.count_valid_pixels(selector[1:], nodata)


@pytest.mark.parametrize("nodata", [0, math.nan])
def test_get_min_max(make_raster, nodata):
    path = make_raster(count=1, dtype="float32", fill=nodata, block=(16, 16))
    data = read_all(path)[0]
    valid = ~np.isnan(data) & (True if math.isnan(nodata) else data != nodata)
    selector = random_mask(61, 97, seed=3)
    low, high = Band(path, 1).get_min_max(nodata)
    assert (low, high) == (data[valid].min(), data[valid].max())
    assert low.dtype == np.float32
    assert Band(path, 1).get_min_max(nodata, selector) == (data[valid & selector].min(),
                                                           data[valid & selector].max())
    assert Band(path, 1).get_min_max(nodata, np.zeros((61, 97), dtype=bool)) is None


def test_add_and_subtract_into_bands(make_raster, tmp_path):
    first = make_raster(count=2, dtype="uint8", seed=1)
    second = make_raster(count=1, dtype="uint8", seed=2)
    a, b = read_all(first)[0].astype(np.int64), read_all(second)[0].astype(np.int64)
    out = Band(Source(tmp_path / "diff.tif", profile={"dtype": "int16"}), 1)
    Band(first, 1).subtract(Band(second, 1), out_band=out)
    with rasterio.open(out.source.path) as src:
        assert src.count == 1  # not the two bands of the first input
        assert src.dtypes[0] == "int16" and np.array_equal(src.read(1), a - b)
        assert src.transform == TRANSFORM
    total = Band(Source(tmp_path / "sum.tif", profile={"dtype": "uint16"}), 1)
    Band(first, 1).add(Band(second, 1), out_band=total)
    assert np.array_equal(read_all(total.source.path)[0], a + b)
    before = read_all(first).astype(np.int64)  # values 0 to 99: sums fit uint8
    Band(first, 2).add(Band(first, 1), out_band=Band(first, 1))  # into the file read
    after = read_all(first)
    assert np.array_equal(after[0], before[1] + before[0]) and np.array_equal(after[1], before[1])
    assert leftovers(tmp_path) == []


def test_arithmetic_that_does_not_fit_raises(make_raster):
    first = make_raster(count=1, dtype="uint8", seed=1)
    second = make_raster(count=1, dtype="uint8", seed=2)
    digest = file_sha256(first)
    for _ in range(3):
        with pytest.raises(ValueRangeError, match="uint8") as caught:
            Band(first, 1).subtract(Band(second, 1))
        assert isinstance(caught.value, OverflowError) and isinstance(caught.value, RiograndeError)
    assert file_sha256(first) == digest  # checked before anything was written
    other_grid = make_raster(count=1, dtype="uint8", width=50)
    with pytest.raises(IncompatibleRastersError, match="same grid"):
        Band(first, 1).add(Band(other_grid, 1))


def test_mask_readers_types_and_values(make_raster):
    path = make_raster(count=2, dtype="uint8", mask=True)
    with rasterio.open(path) as src:
        dataset_mask = src.dataset_mask()
        band_mask = src.read_masks(2)
    for use, dtype, expected in (("self", np.uint8, band_mask), ("band", np.uint8, band_mask),
                                 ("source", np.uint8, dataset_mask),
                                 ("mask_none", np.int64, np.ones((61, 97))),
                                 ("mask_all", np.int64, np.zeros((61, 97)))):
        band = Band(path, 2)
        band.set_mask_reader(use)
        with band.get_mask_reader()(mode="r") as read:
            mask = read(window=WINDOW)
            resampled = read(window=WINDOW, out_shape=(10, 20))
        assert mask.dtype == dtype and resampled.dtype == dtype, use
        assert np.array_equal(mask, expected[7:30, 5:45]), use
        assert resampled.shape == (10, 20), use
    band.set_mask_reader("mask_none")
    with band.get_mask_reader()() as read:
        assert (read() == 1).all() and read().shape == (61, 97)


@pytest.mark.parametrize("use", ["alpha", "Band", "", None, 1])
def test_unknown_mask_reader(use):
    band = Band("x.tif", 1)
    for _ in range(3):
        with pytest.raises(InvalidMaskSelectorError, match="mask reader") as caught:
            band.set_mask_reader(use)
        assert isinstance(caught.value, ValueError)
    assert band.mask_use == "band"


def test_band_status_properties(make_raster, tmp_path, caplog):
    path = make_raster(count=2)
    assert Band(path, 2).index_exists and Band(path, 2).source_exists
    assert not Band(path, 3).index_exists and not Band(path).index_exists
    assert not Band(tmp_path / "none.tif", 1).source_exists
    Source(path).set_tags(2, {"category": "b"})
    with caplog.at_level(logging.INFO, logger="riogrande.io.models"):
        assert Band(path, tags={"category": "b"}).status is None
    assert "file exists: True" in caplog.text and "index: None (exists: False)" in caplog.text
    assert "bands with all the tags: [2]" in caplog.text


def test_bands_with_any_tag_values_compare_and_hash():
    source = Source("a.tif")
    band = Band(source, 1, {"n": np.int64(3), "a": np.arange(2), "s": {1, 2}})
    assert band == Band(source, 1, {"n": 3, "a": [0, 1], "s": {1, 2}})
    assert hash(band) == hash(Band(source, 1, {"n": 3, "a": [0, 1], "s": {1, 2}}))
    assert band != Band(source, 1, {"n": 4, "a": [0, 1], "s": {1, 2}})
    text = repr(Band(source, 2, {"category": "x"}))
    assert "a.tif" in text and "bidx=2" in text and "'category': 'x'" in text


def test_band_writer_takes_rasterio_write_keywords(make_raster, tmp_path):
    path = make_raster(count=2, dtype="float32", nodata=-9999.0)
    copy = tmp_path / "by_rasterio.tif"
    shutil.copy(path, copy)
    values = np.ma.masked_array(np.arange(23 * 40, dtype=np.float32).reshape(23, 40),
                                mask=~random_mask(23, 40, seed=5))
    with Band(Source(path), tags={}, bidx=2).data_writer() as write:
        write(values, window=WINDOW, masked=True)
    with rasterio.open(copy, "r+") as dst:  # the same write, by rasterio itself
        dst.write(values, indexes=2, window=WINDOW, masked=True)
    with rasterio.open(path) as ours, rasterio.open(copy) as theirs:
        assert np.array_equal(ours.read(), theirs.read())
        for bidx in (1, 2):
            assert np.array_equal(ours.read_masks(bidx), theirs.read_masks(bidx))
        written = ours.read(2, window=WINDOW, masked=True)
    assert np.array_equal(written.mask, values.mask) and values.mask.any()
    assert np.array_equal(written.compressed(), values.compressed())
    before = read_all(path)
    with Band(path, 1).data_writer() as write:  # indexes= replaces the band, as with partial
        write(np.zeros((23, 40), dtype=np.float32), WINDOW, indexes=2)
    before[1, 7:30, 5:45] = 0
    assert np.array_equal(read_all(path), before)


def test_readers_take_rasterio_read_keywords(make_raster):
    path = make_raster(count=3, dtype="int16", nodata=-9999)
    Source(path).set_tags(3, {"category": "c"})
    with rasterio.open(path) as src:
        masked = src.read(3, window=WINDOW, masked=True)
        resampled = src.read(3, out_shape=(30, 50), resampling=Resampling.bilinear)
        boundless = src.read(3, window=Window(90, 55, 20, 10), boundless=True, fill_value=7)
        stacked = src.read([3, 1], window=WINDOW, masked=True)
        band_masks = src.read_masks(3, out_shape=(30, 50))
    band = Band(path, tags={"category": "c"})
    with band.data_reader() as read:
        got = read(window=WINDOW, masked=True)
        assert np.array_equal(got.mask, masked.mask) and np.array_equal(got.data, masked.data)
        assert np.array_equal(read(out_shape=(30, 50), resampling=Resampling.bilinear),
                              resampled)
        assert np.array_equal(read(window=Window(90, 55, 20, 10), boundless=True,
                                   fill_value=7), boundless)
        assert np.array_equal(read(indexes=1), read_all(path)[0])
    with band.mask_reader() as read:
        assert np.array_equal(read(out_shape=(30, 50)), band_masks)
    with Source(path).data_reader([band, 1]) as read:
        got = read(window=WINDOW, masked=True)
        assert got.shape == (2, 23, 40) and np.array_equal(got.mask, stacked.mask)
        assert np.array_equal(got.data, stacked.data)
