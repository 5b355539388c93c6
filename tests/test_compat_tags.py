"""Tags as the GeoRacoon package stores them: JSON text in the GDAL domain GEORACOON."""

from __future__ import annotations

import glob
import json

import numpy as np
import pytest
import rasterio

from riogrande.io import (
    Band,
    Source,
    _find_bidxs,
    _get_bidx_by_tag,
    _get_tags,
    _set_tags,
    get_bands_by_tag,
)
from riogrande.io.exceptions import (
    BandSelectionAmbiguousError,
    BandSelectionNoMatchError,
    InvalidBandError,
    RiograndeError,
)

CATEGORIES = {1: "elevation", 2: "slope", 3: "aspect"}


def package_tagged(make_raster, **kwargs):
    """A raster tagged the way the GeoRacoon package writes tags (raw GDAL metadata)."""
    path = make_raster(count=3, **kwargs)
    with rasterio.open(path, "r+") as dst:
        for bidx, category in CATEGORIES.items():
            dst.update_tags(bidx, ns="GEORACOON", category=json.dumps(category),
                            order=json.dumps(bidx), pair=json.dumps([bidx, "x"]))
        dst.update_tags(ns="GEORACOON", kind=json.dumps("stack"))
    return path


def raw_tags(path, bidx=0, ns="GEORACOON"):
    with rasterio.open(path) as src:
        return src.tags(bidx, ns=ns)


def test_written_tags_are_json_text_in_the_georacoon_domain(make_raster):
    path = make_raster(count=2)
    source = Source(path)
    source.set_tags(2, {"category": "model", "weight": 0.5, "ids": (1, 2), "n": np.int64(7),
                        "meta": {"a": None}})
    source.set_tags(None, {"kind": "stack"})
    assert raw_tags(path, 2) == {"category": '"model"', "weight": "0.5", "ids": "[1, 2]",
                                 "n": "7", "meta": '{"a": null}'}
    assert raw_tags(path, 0) == {"kind": '"stack"'}
    assert raw_tags(path, 1) == {}
    with rasterio.open(path) as src:
        assert "category" not in src.tags(2) and "kind" not in src.tags()  # default domain
    assert source.get_tags(2) == {"category": "model", "weight": 0.5, "ids": [1, 2], "n": 7,
                                  "meta": {"a": None}}
    source.set_tags(2, {"weight": 2})  # merges
    assert source.get_tags(2)["weight"] == 2 and source.get_tags(2)["category"] == "model"


def test_files_tagged_by_the_package_read_back(make_raster):
    path = package_tagged(make_raster)
    source = Source(path)
    for bidx, category in CATEGORIES.items():
        assert source.get_tags(bidx) == {"category": category, "order": bidx,
                                         "pair": [bidx, "x"]}
        band = source.get_band(category=category)
        assert band.bidx == bidx and band.tags["order"] == bidx
        assert np.array_equal(band.get_data(), rasterio.open(path).read(bidx))
    assert source.get_tags() == source.get_tags(0) == {"kind": "stack"}
    assert source.get_tag_values("category") == CATEGORIES
    assert source.get_tag_values("order", bidx=2) == {2: 2}
    assert source.get_tag_values("missing", bidx=[1, 3]) == {1: None, 3: None}
    with rasterio.open(path) as src:
        assert _get_tags(src, 3) == {"category": "aspect", "order": 3, "pair": [3, "x"]}
        assert _get_tags(src) == {"kind": "stack"}


def test_legacy_domain_and_foreign_values_are_read(make_raster):
    path = make_raster(count=2)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(1, ns="riogrande", task='"focal_mean"', shared='"old"')
        dst.update_tags(1, ns="GEORACOON", shared='"new"', note="written by hand")
    assert Source(path).get_tags(1) == {"task": "focal_mean", "shared": "new",
                                        "note": "written by hand"}
    assert Source(path).get_band(task="focal_mean").bidx == 1


def test_tuple_tags_match_the_lists_stored(make_raster):
    path = package_tagged(make_raster)
    source = Source(path)
    assert source.get_band(pair=(2, "x")).bidx == 2
    assert source.has_tags({"pair": (3, "x")})
    assert not source.has_tags({"pair": (4, "x")})
    with rasterio.open(path) as src:
        assert _find_bidxs(src, pair=(1, "x")) == [1]
        assert _find_bidxs(src) == [1, 2, 3]
        assert _get_bidx_by_tag(src, category="slope") == 2
        assert _get_bidx_by_tag(src) == 1
        assert _get_bidx_by_tag(src, indexes=[3, 1]) == [3, 1]


@pytest.mark.parametrize("tags, error", [
    ({"category": "nothing"}, BandSelectionNoMatchError),
    ({"category": "slope", "order": 1}, BandSelectionNoMatchError),
    ({"pair": [1]}, BandSelectionNoMatchError),
    ({"indexes": 4}, BandSelectionNoMatchError),
    ({"indexes": [1, 0]}, BandSelectionNoMatchError),
    ({"group": "terrain"}, BandSelectionAmbiguousError),
    ({"group": "terrain", "kind": "b"}, BandSelectionAmbiguousError),
])
def test_band_selection_errors(make_raster, tags, error):
    path = package_tagged(make_raster)
    Source(path).set_tags(1, {"group": "terrain", "kind": "b"})
    Source(path).set_tags(3, {"group": "terrain", "kind": "b"})
    for _ in range(5):
        with rasterio.open(path) as src, pytest.raises(error) as caught:
            _get_bidx_by_tag(src, **tags)
        assert isinstance(caught.value, InvalidBandError) and isinstance(caught.value, ValueError)
        assert isinstance(caught.value, RiograndeError)
        if "indexes" not in tags:
            with pytest.raises(error):
                Source(path).get_band(**tags)


def test_get_band_with_index_and_tags(make_raster):
    path = package_tagged(make_raster)
    source = Source(path)
    assert source.get_band(2, category="slope").bidx == 2
    with pytest.raises(BandSelectionAmbiguousError, match="band 1"):
        source.get_band(1, category="slope")
    bare = source.get_band()
    assert bare.tags == {} and bare._bidx is None
    assert source.get_band(3).tags == {"category": "aspect", "order": 3, "pair": [3, "x"]}
    assert [band.tags["category"] for band in source.get_bands()] == list(CATEGORIES.values())


def test_band_get_bidx_match_names_tags_not_substrings(make_raster):
    path = package_tagged(make_raster)
    band = Band(Source(path), tags={"category": "slope", "cat": 1, "note": "not in file"})
    assert band.get_bidx(match="category") == 2
    band.tags["order"] = 2
    assert band.get_bidx(match=["category", "order"]) == 2
    with pytest.raises(BandSelectionNoMatchError):
        band.get_bidx()  # all tags, and 'note' is not in the file
    with pytest.raises(BandSelectionNoMatchError):
        Band(Source(path), bidx=4, tags={"category": "slope"}).get_bidx(match="category")
    assert Band(Source(path), bidx=3, tags={"category": "slope"}).get_bidx() == 3  # index wins
    with pytest.raises(BandSelectionNoMatchError, match="neither index nor tags"):
        Band(Source(path)).get_bidx()  # three bands: which one?


def test_band_export_and_import_tags(make_raster):
    path = package_tagged(make_raster)
    band = Band(Source(path), 2, tags={"unit": "degree", "order": 20})
    band.export_tags()
    assert raw_tags(path, 2)["unit"] == '"degree"'
    assert Source(path).get_tags(2) == {"category": "slope", "order": 20, "pair": [2, "x"],
                                        "unit": "degree"}
    found = Band(Source(path), tags={"category": "aspect", "mine": True})
    found.import_tags(match="category")
    assert found.tags == {"category": "aspect", "mine": True, "order": 3, "pair": [3, "x"]}
    found.import_tags(match="category", keep=False)
    assert found.tags == {"category": "aspect", "order": 3, "pair": [3, "x"]}


def test_write_tags_with_set_tags_helper(make_raster):
    path = make_raster(count=2)
    with rasterio.open(path, "r+") as dst:
        _set_tags(dst, 2, category="b", value=np.float32(1.5))
        _set_tags(dst, category="dataset")
    assert raw_tags(path, 2) == {"category": '"b"', "value": "1.5"}
    assert raw_tags(path, 0) == {"category": '"dataset"'}


def test_find_indexes_any_and_find_index(make_raster, caplog):
    path = package_tagged(make_raster)
    source = Source(path)
    assert source.find_indexes({"category": "slope", "order": 3}) == []
    assert source.find_indexes({"category": "slope", "order": 3}, mode="any") == [2, 3]
    assert source.find_index({"category": "aspect"}) == 3
    assert source.find_index({"pair": [9]}) is None
    assert "no bands" in caplog.text
    with pytest.raises(ValueError, match="mode"):
        source.find_indexes({}, mode="some")


def bands_tagged(pattern, ns="GEORACOON", **tags):
    """The (path, bidx) pairs whose raw GDAL metadata holds ``tags`` as JSON text (rasterio)."""
    wanted = {key: json.dumps(value) for key, value in tags.items()}
    found = []
    for path in sorted(glob.glob(pattern)):
        with rasterio.open(path) as src:
            for bidx in (*src.indexes, 0):
                if wanted.items() <= src.tags(bidx, ns=ns).items():
                    found.append((path, bidx or None))
    return found


def test_get_bands_by_tag_keywords(make_raster, tmp_path):
    first = package_tagged(make_raster)
    second = make_raster(count=2)
    Source(second).set_tags(1, {"category": "slope", "order": 2})
    Source(second).set_tags(0, {"category": "slope"})
    with rasterio.open(second, "r+") as dst:
        dst.update_tags(2, ns="OTHER", category=json.dumps("slope"))
    pattern = str(tmp_path / "*.tif")
    expected = bands_tagged(pattern, category="slope")
    assert expected == [(str(first), 2), (str(second), 1), (str(second), None)]
    assert get_bands_by_tag(source=pattern, category="slope") == expected
    assert get_bands_by_tag(pattern, category="slope") == expected
    assert get_bands_by_tag(source=pattern, category="slope", order=2) == bands_tagged(
        pattern, category="slope", order=2) == [(str(first), 2), (str(second), 1)]
    assert get_bands_by_tag(source=pattern, ns="OTHER", category="slope") == bands_tagged(
        pattern, "OTHER", category="slope") == [(str(second), 2)]
    assert get_bands_by_tag(source=str(second), category="slope") == expected[1:]


def test_get_bands_by_tag(make_raster, tmp_path):
    first = package_tagged(make_raster)
    second = make_raster(count=2)
    Source(second).set_tags(2, {"category": "slope"})
    Source(second).set_tags(0, {"category": "slope"})
    found = get_bands_by_tag(str(tmp_path / "*.tif"), category="slope")
    assert found == [(str(first), 2), (str(second), 2), (str(second), None)]
    assert get_bands_by_tag(str(tmp_path / "*.tif"), category="none") == []
    everything = get_bands_by_tag(str(tmp_path / "*.tif"))
    assert everything == [(str(first), 1), (str(first), 2), (str(first), 3), (str(first), None),
                          (str(second), 1), (str(second), 2), (str(second), None)]


def test_bands_with_list_tags_are_hashable_keys(make_raster):
    path = package_tagged(make_raster)
    bands = Source(path).get_bands()
    results = {band: band.tags["order"] for band in bands}
    assert results[Source(path).get_band(category="slope")] == 2
    assert len(set(bands)) == 3


def test_tags_of_a_band_that_does_not_exist(make_raster):
    path = package_tagged(make_raster)
    for bidx in (4, 10):
        for _ in range(3):
            with pytest.raises(BandSelectionNoMatchError, match=str(bidx)):
                Source(path).get_tags(bidx)
            with pytest.raises(BandSelectionNoMatchError):
                Source(path).get_tag_values("category", bidx=[1, bidx])
    with rasterio.open(path) as src:
        assert _get_bidx_by_tag(src, indexes=np.int64(2)) == 2
        assert _get_bidx_by_tag(src, indexes=(np.int32(3), 1)) == [3, 1]
