"""Source as the GeoRacoon package's callers use it, and combine_views with a Band."""

from __future__ import annotations

import queue

import numpy as np
import pytest
import rasterio
from rasterio.enums import MaskFlags

from riogrande.aggregators import combine_views
from riogrande.io import Band, Source
from riogrande.io.exceptions import (
    BandSelectionNoMatchError,
    IncompatibleRastersError,
    InvalidModeError,
    OutputError,
    RasterMismatchError,
    SourceNotFoundError,
    SourceNotSavedError,
    UnknownExtensionError,
)

from .conftest import CRS, TRANSFORM, file_sha256
from .reference import leftovers, read_all


def profile(**changes):
    return {"driver": "GTiff", "dtype": "uint8", "count": 1, "width": 30, "height": 20,
            "crs": CRS, "transform": TRANSFORM, "nodata": None, **changes}


def test_profile_of_a_file_not_written_yet(tmp_path):
    source = Source(tmp_path / "new.tif")
    assert source.profile == {} and not source.exists
    source.profile.update(profile(count=2))  # the package's init pattern
    source.init_source()
    with rasterio.open(source.path) as src:
        assert src.count == 2 and src.shape == (20, 30)
    assert source.shape == (20, 30)
    assert Source(tmp_path / "new.tif").profile["count"] == 2  # read from the file now
    for _ in range(3):
        with pytest.raises(SourceNotSavedError, match="missing.tif") as caught:
            Source(tmp_path / "missing.tif").get_band(1)
        assert isinstance(caught.value, SourceNotFoundError)
    with pytest.raises(SourceNotSavedError):
        Source(tmp_path / "missing.tif").get_bands()


def test_import_profile(make_raster):
    path = make_raster(count=2)
    source = Source(path, profile={"compress": "zstd", "count": 9})
    fresh = source.import_profile(update_self=False)
    with rasterio.open(path) as src:
        assert fresh == src.profile
    assert source.profile["count"] == 9  # untouched
    fresh["count"] = 7
    assert source.profile["count"] == 9  # a new dict
    merged = source.import_profile()
    assert merged is source.profile  # the Source's own profile, as in the package
    with rasterio.open(path) as src:
        assert {key: merged[key] for key in src.profile} == src.profile
    assert merged["count"] == 2 and merged["compress"] == "deflate"
    merged["count"] = 5
    assert source.profile["count"] == 5


def test_init_source_keeps_or_refuses_an_existing_file(tmp_path):
    path = tmp_path / "out.tif"
    Source(path, profile=profile()).init_source()
    with rasterio.open(path, "r+") as dst:
        dst.write(np.full((1, 20, 30), 3, dtype=np.uint8))
    digest = file_sha256(path)
    Source(path, profile=profile()).init_source()
    Source(path).init_source(**profile(compress="lzw"))  # creation options do not matter
    assert file_sha256(path) == digest
    for change in ({"height": 21}, {"dtype": "int16"}, {"count": 3}, {"crs": "EPSG:3035"},
                   {"transform": rasterio.Affine(20.0, 0, 500000, 0, -20.0, 5200000)}):
        for _ in range(2):
            with pytest.raises(OutputError, match="another profile"):
                Source(path, profile=profile(**change)).init_source()
        assert file_sha256(path) == digest
    Source(path, profile=profile(count=3)).init_source(overwrite=True)
    assert read_all(path).shape == (3, 20, 30) and not read_all(path).any()
    for name in ("x.unknownext", "noextension"):
        with pytest.raises(UnknownExtensionError):
            Source(tmp_path / name, profile={**profile(), "driver": None}).init_source()
    assert leftovers(tmp_path) == []


def test_open_modes(make_raster, tmp_path):
    path = make_raster(count=1, dtype="uint8")
    source = Source(path)
    with source.open("r") as src:
        assert src.mode == "r"
    with source.open(mode="r+") as dst:
        dst.write(np.zeros((61, 97), dtype=np.uint8), 1)
    assert not read_all(path).any()
    new = Source(tmp_path / "created.tif", profile=profile())
    with new.open("w", count=2) as dst:
        assert not new.exists
        dst.write(np.ones((2, 20, 30), dtype=np.uint8))
    assert read_all(new.path).sum() == 2 * 20 * 30
    for mode in ("a", "rw", "x"):
        for _ in range(3):
            with pytest.raises(InvalidModeError, match=repr(mode)), source.open(mode):
                pass


def test_band_lookup_methods(make_raster):
    path = make_raster(count=3)
    source = Source(path)
    source.set_tags(3, {"category": "c"})
    assert source.band_indexes == (1, 2, 3)
    assert source.has_bidx(3) and not source.has_bidx(4)
    assert source.get_bidx(Band(source, tags={"category": "c"})) == 3
    assert source.has_band(Band(source, tags={"category": "c"}))
    assert not source.has_band(Band(source, tags={"category": "d"}))
    assert not source.has_band(Band(Source("elsewhere.tif"), 1))
    for bidx in (0, 4, 99):
        with pytest.raises(BandSelectionNoMatchError):
            source.get_band(bidx)


def test_check_compatibility(make_raster):
    first = Source(make_raster(count=1))
    second = Source(make_raster(count=2))
    crss, units, resolutions = first.check_compatibility(second, first)
    with rasterio.open(first.path) as src:
        assert crss == [str(src.crs)] * 2 and resolutions == [src.res] * 2
    assert units == ["metre", "metre"]
    other = Source(make_raster(count=1, crs="EPSG:4326",
                               transform=rasterio.Affine(0.001, 0, 15, 0, -0.001, 47)))
    with pytest.raises(RasterMismatchError):
        first.check_compatibility(second, other)
    with pytest.raises(IncompatibleRastersError, match="same grid"):
        first.check_compatibility(Source(make_raster(count=1, width=20)))


def masked_tagged(make_raster):
    path = make_raster(count=2, dtype="uint8", compress=None, mask=True)
    Source(path).set_tags(2, {"category": "b"})
    return path


@pytest.mark.parametrize("keep_original", [False, True])
def test_compress_without_output_names_the_copy(make_raster, keep_original):
    path = masked_tagged(make_raster)
    with rasterio.open(path) as src:
        data, mask = src.read(), src.dataset_mask()
    source = Source(path)
    source.compress(keep_original=keep_original)
    assert source.path == path.with_name(f"{path.stem}_compress.tif")
    assert path.exists() is keep_original  # the package moves the file
    with rasterio.open(source.path) as src:
        assert src.compression.value == "LZW"
        assert np.array_equal(src.read(), data) and np.array_equal(src.dataset_mask(), mask)
        assert src.mask_flag_enums[0] == [MaskFlags.per_dataset]
    assert source.get_band(category="b").bidx == 2
    assert leftovers(path.parent) == []


def test_compress_in_place_keeps_mask_and_tags(make_raster):
    path = masked_tagged(make_raster)
    with rasterio.open(path) as src:
        data, mask = src.read(), src.dataset_mask()
    source = Source(path)
    source.compress(path, "deflate")
    assert source.path == path and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    with rasterio.open(path) as src:
        assert src.compression.value == "DEFLATE"
        assert np.array_equal(src.read(), data) and np.array_equal(src.dataset_mask(), mask)
        assert src.mask_flag_enums[0] == [MaskFlags.per_dataset]
    assert source.get_band(category="b").bidx == 2


@pytest.mark.parametrize("keep_original", [False, True])
def test_compress_to_an_output(make_raster, tmp_path, keep_original):
    path = masked_tagged(make_raster)
    data = read_all(path)
    source = Source(path)
    source.compress(tmp_path / "small.tif", "deflate", keep_original=keep_original)
    assert source.path == tmp_path / "small.tif"
    assert path.exists() is keep_original
    assert np.array_equal(read_all(source.path), data)
    assert source.get_tags(2) == {"category": "b"}


def test_combine_views_into_a_tagged_band(make_raster, tmp_path):
    output = tmp_path / "model.tif"
    values = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    jobs = queue.Queue()
    for y in range(0, 20, 8):
        jobs.put({"view": (0, y, 30, min(8, 20 - y)), "data": values[y:y + 8]})
    jobs.put({"signal": "kill"})
    band = Band(Source(output), 2, {"category": "model"})
    params = {"profile": profile(dtype="float32", count=2), "band": band,
              "tags": {"run": 1}}
    combine_views(params, jobs)
    assert set(params) == {"profile", "band", "tags"}  # not modified
    assert np.array_equal(read_all(output, [2])[0], values)
    assert Source(output).get_band(category="model").bidx == 2
    assert Source(output).get_tags(2) == {"category": "model", "run": 1}
    # a second call fills band 1 of the same file
    jobs.put({"view": (0, 0, 30, 20), "data": values + 1})
    jobs.put({"signal": "kill"})
    combine_views({"output_file": output, "profile": profile(dtype="float32", count=2),
                   "band": Band(Source(output), 1, {"category": "offset"})}, jobs)
    assert np.array_equal(read_all(output), np.stack([values + 1, values]))
    assert Source(output).get_band(category="offset").bidx == 1
    # without band: the tags go on band 1, as the package stores them
    jobs.put({"view": (0, 0, 30, 20), "data": values})
    jobs.put({"signal": "kill"})
    single = tmp_path / "single.tif"
    combine_views({"output_file": single, "profile": profile(dtype="float32"),
                   "tags": {"category": "single"}}, jobs)
    assert Source(single).get_band(category="single").bidx == 1
    with rasterio.open(single) as src:
        assert src.tags(1, ns="GEORACOON") == {"category": '"single"'}
        assert src.tags(ns="GEORACOON") == {} and src.tags(1, ns="riogrande") == {}
    assert leftovers(tmp_path) == []


def test_combine_views_replaces_a_file_of_another_grid(tmp_path):
    output = tmp_path / "out.tif"
    Source(output, profile=profile(width=5, height=5)).init_source()
    jobs = queue.Queue()
    jobs.put({"view": (0, 0, 30, 20), "data": np.full((20, 30), 6, dtype=np.uint8)})
    jobs.put({"signal": "kill"})
    combine_views({"output_file": output, "profile": profile(), "band": 1}, jobs)
    assert read_all(output).shape == (1, 20, 30) and (read_all(output) == 6).all()


def test_combine_views_band_of_another_file(tmp_path):
    for _ in range(3):
        with pytest.raises(OutputError, match="not the file"):
            combine_views({"output_file": tmp_path / "a.tif", "profile": profile(),
                           "band": Band(tmp_path / "b.tif", 1)}, queue.Queue())
    with pytest.raises(OutputError, match="output_file"):
        combine_views({"profile": profile()}, queue.Queue())


def test_export_mask_and_get_mask(make_raster):
    path = make_raster(count=2, dtype="uint8", compress=None)
    valid = np.zeros((61, 97), dtype=np.uint8)
    valid[10:40, 20:90] = 7
    source = Source(path)
    source.export_mask(valid)
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask(), np.where(valid != 0, 255, 0))
        assert src.mask_flag_enums[1] == [MaskFlags.per_dataset]
    window = rasterio.windows.Window(15, 5, 30, 20)
    assert np.array_equal(source.get_mask(window=window),
                          np.where(valid != 0, 255, 0)[5:25, 15:45])
    assert source.get_mask(okwargs={"mode": "r"}).dtype == np.uint8
    assert not path.with_name(path.name + ".msk").exists()
