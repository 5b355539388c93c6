"""The GeoRacoon helper functions: compatibility checks, dtype conversion, names, tags."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine

from riogrande import helper
from riogrande.helper import (
    check_compatibility,
    check_crs,
    check_resolution,
    check_units,
    convert_to_dtype,
    count_contribution,
    deserialize,
    dtype_range,
    match_all,
    match_any,
    output_filename,
    rasterio_to_numpy_dtype,
    sanitize,
    serialize,
)
from riogrande.io.exceptions import (
    IncompatibleRastersError,
    RasterMismatchError,
    RiograndeError,
    SourceNotFoundError,
    UnsupportedDtypeError,
)

from .conftest import CRS


def test_helper_names():
    for name in ("check_compatibility", "check_crs", "check_units", "check_resolution",
                 "convert_to_dtype", "dtype_range", "output_filename", "match_all", "match_any",
                 "count_contribution", "serialize", "deserialize", "sanitize", "view_to_window",
                 "reduced_mask", "aggregated_selector", "get_nbr_workers", "get_or_set_context"):
        assert callable(getattr(helper, name)), name


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32",
                                   "int64", "uint64", "float32", "float64"])
def test_dtype_range(dtype):
    largest, smallest = dtype_range(dtype)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    assert (largest, smallest) == (info.max, info.min)
    assert type(largest) is (int if np.dtype(dtype).kind in "iu" else float)
    assert dtype_range(np.dtype(dtype)) == dtype_range(getattr(np, dtype)) == (largest, smallest)


@pytest.mark.parametrize("dtype", [bool, "bool", "complex64", "U3"])
def test_dtype_range_rejects_types_without_range(dtype):
    for _ in range(3):
        with pytest.raises(UnsupportedDtypeError) as caught:
            dtype_range(dtype)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, RiograndeError)


def rescale_reference(data, in_min, in_max, out_min, out_max, dtype):
    """Linear rescaling computed in float64, clipped, then cast (truncated) by numpy."""
    result = out_min + (np.asarray(data, dtype=np.float64) - in_min) * (
        (out_max - out_min) / (in_max - in_min))
    if np.dtype(dtype).kind in "iu":
        result = np.clip(result, out_min, out_max)
    return result.astype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64"])
def test_convert_to_dtype_without_as_dtype_returns_float64(dtype):
    data = np.array([[1, 2], [3, 120]], dtype=dtype)
    converted = convert_to_dtype(data)
    assert converted.dtype == np.float64 and converted is not data
    assert np.array_equal(converted, data.astype(np.float64))
    rescaled = convert_to_dtype(data, in_range=[1, 120], out_range=[0, 1])
    assert rescaled.dtype == np.float64
    assert np.array_equal(rescaled, (data.astype(np.float64) - 1) * (1 / 119))
    assert convert_to_dtype(data, "int16").dtype == np.int16
    assert convert_to_dtype(data, np.uint16).dtype == np.uint16


def test_convert_to_dtype_warns_when_in_range_goes_to_a_float_type():
    data = np.array([0, 51, 255], dtype=np.uint8)
    for as_dtype in ("float32", None, np.float64):
        with pytest.warns(RuntimeWarning, match="full range") as caught:
            converted = convert_to_dtype(data, as_dtype, in_range="uint8")
        assert len(caught) == 1
        assert np.allclose(converted, data / 255.0) and np.isfinite(converted).all()
    with warnings.catch_warnings():  # an output range, or an integer target: nothing to say
        warnings.simplefilter("error")
        convert_to_dtype(data, "float32", in_range="uint8", out_range=[0, 1])
        convert_to_dtype(data, "uint16", in_range="uint8")
        convert_to_dtype((data / 255).astype(np.float32), out_range=[0, 10])


def test_convert_to_dtype_float_range_is_zero_to_one():
    data = np.array([0.0, 0.25, 0.5, 1.0])
    converted = convert_to_dtype(data, "uint8", out_range="uint8")
    assert np.array_equal(converted, rescale_reference(data, 0, 1, 0, 255, "uint8"))
    assert np.array_equal(converted, (data * 255).astype(np.uint8))
    assert converted.tolist() == [0, 63, 127, 255]  # truncated, as numpy's cast
    back = convert_to_dtype(converted, "float32", in_range="uint8", out_range="float32")
    assert back.dtype == np.float32
    assert np.allclose(back, converted / 255.0)


def test_convert_to_dtype_with_value_ranges():
    rng = np.random.default_rng(3)
    data = rng.uniform(-20, 40, size=(30, 20)).astype(np.float32)
    converted = convert_to_dtype(data, "uint16", in_range=data, out_range=[100, 60000])
    expected = rescale_reference(data, data.min(), data.max(), 100, 60000, "uint16")
    assert np.array_equal(converted, expected)
    assert converted.min() == 100 and converted.max() >= 59999
    with_nan = data.copy()
    with_nan[0, 0] = np.nan
    assert convert_to_dtype(with_nan, "float64", in_range=with_nan,
                            out_range=(0, 1))[1:].max() <= 1.0


def test_convert_to_dtype_signed_full_range_does_not_overflow():
    data = np.array([-128, 0, 127], dtype=np.int8)
    converted = convert_to_dtype(data, "float64", out_range=[0, 1])
    assert np.allclose(converted, (data.astype(np.float64) + 128) / 255)
    assert np.array_equal(convert_to_dtype(data, "uint8", out_range="uint8"),
                          (data.astype(np.int16) + 128).astype(np.uint8))


def test_convert_to_dtype_clips_values_outside_the_range():
    data = np.array([-0.5, 0.0, 0.5, 1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="exceed"):
        converted = convert_to_dtype(data, "uint8", in_range=[0, 1], out_range="uint8")
    assert converted.tolist() == [0, 0, 127, 255, 255]
    with pytest.warns(RuntimeWarning, match="2 value"):
        floats = convert_to_dtype(data, "float32", in_range=[0, 1], out_range=[0, 1])
    assert floats.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    with_nan = np.array([np.nan, 0.5, np.nan])
    with pytest.warns(RuntimeWarning, match="2 NaN"):
        assert convert_to_dtype(with_nan, "uint8", in_range=[0, 1]).tolist() == [0, 127, 0]
    with pytest.warns(RuntimeWarning, match="NaN value"):  # 0, not the bottom of out_range
        assert convert_to_dtype(with_nan, "int16", in_range=[0, 1],
                                out_range=[100, 200]).tolist() == [0, 150, 0]
    negative = np.array([-1.0, -0.5, 0.0, 0.75])
    assert convert_to_dtype(negative, "int8", in_range=[-1, 1], out_range=[-10, 10]).tolist() == [
        -10, -5, 0, 7]  # towards zero, as numpy's cast


def test_output_filename():
    assert output_filename("lst.tif", "entropy") == "lst_entropy.tif"
    assert output_filename("/data/run/lst.tif", "blur",
                           {"sigma": 2.6, "size": 5}) == "lst_blur_sigma_3_size_5.tif"
    assert output_filename("scene.v2.tiff", "mask", {}) == "scene.v2_mask.tiff"


@pytest.mark.parametrize("targets, tags, every, some", [
    ({}, {"a": 1}, True, False),
    ({}, {}, True, False),
    ({"a": 1}, {"a": 1, "b": 2}, True, True),
    ({"a": 1, "b": 3}, {"a": 1, "b": 2}, False, True),
    ({"c": 1}, {"a": 1}, False, False),
    ({"a": [1, 2]}, {"a": [1, 2]}, True, True),
    ({"a": (1, 2)}, {"a": [1, 2]}, False, False),
])
def test_match_all_and_any(targets, tags, every, some):
    assert match_all(targets, tags) is every
    assert match_any(targets, tags) is some
    assert match_all(sanitize(targets), tags) is (every or targets == {"a": (1, 2)})


def test_serialize_deserialize_sanitize():
    tags = {"s": "x", "f": 1.5, "l": (1, 2), "n": None, "d": {"k": [1]}, "i": np.int64(4),
            "a": np.arange(3), "b": np.bool_(True)}
    encoded = serialize(tags)
    assert all(isinstance(value, str) for value in encoded.values())
    assert encoded["s"] == '"x"' and encoded["l"] == "[1, 2]" and encoded["i"] == "4"
    assert deserialize(encoded) == sanitize(tags) == {
        "s": "x", "f": 1.5, "l": [1, 2], "n": None, "d": {"k": [1]}, "i": 4, "a": [0, 1, 2],
        "b": True}
    assert deserialize({"raw": "not json", "q": '"quoted"'}) == {"raw": "not json", "q": "quoted"}
    with pytest.raises(TypeError, match="set"):
        serialize({"bad": {1, 2}})


def test_count_contribution():
    rng = np.random.default_rng(5)
    data = rng.integers(0, 4, size=(17, 13))
    selector = rng.random((17, 13)) > 0.3
    assert count_contribution(data, selector) == np.count_nonzero((data != 0) & selector)
    assert count_contribution(data, selector, no_data=3) == np.count_nonzero((data != 3) & selector)
    assert count_contribution(data, None, no_data=1) == np.count_nonzero(data != 1)
    floats = data.astype(float)
    floats[floats == 2] = np.nan
    assert count_contribution(floats, selector, no_data=math.nan) == np.count_nonzero(
        ~np.isnan(floats) & selector)


def test_compatibility_checks(make_raster):
    first = make_raster(count=1)
    second = make_raster(count=2)
    assert check_units(first, second) == ["metre", "metre"]
    with rasterio.open(first) as src:
        assert check_crs(first, second) == [str(src.crs)] * 2
    assert check_crs(first, second)[0] == str(rasterio.crs.CRS.from_string(CRS))
    assert check_resolution(first, second) == [(10.0, 10.0), (10.0, 10.0)]
    assert check_compatibility(first, second) == (
        check_crs(first, second), check_units(first, second), check_resolution(first, second))


@pytest.mark.parametrize("change, check, what", [
    ({"crs": "EPSG:4326", "transform": Affine(0.001, 0, 15, 0, -0.001, 47)}, check_crs, "CRS"),
    ({"crs": "EPSG:4326", "transform": Affine(0.001, 0, 15, 0, -0.001, 47)}, check_units,
     "units"),
    ({"transform": Affine(20.0, 0, 500000, 0, -20.0, 5200000)}, check_resolution, "resolution"),
    ({"crs": "EPSG:4326", "transform": Affine(0.001, 0, 15, 0, -0.001, 47)}, check_compatibility,
     "units"),
])
def test_compatibility_mismatches(make_raster, change, check, what):
    first = make_raster(count=1)
    second = make_raster(count=1, **change)
    for _ in range(5):
        with pytest.raises(RasterMismatchError, match=what) as caught:
            check(first, first, second)
        assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
        assert str(second) in str(caught.value)


def test_check_compatibility_compares_the_grid(make_raster):
    first = make_raster(width=20, height=10, count=1)
    other_size = make_raster(width=9, height=3, count=1)
    shifted = make_raster(width=20, height=10, count=1,
                          transform=Affine(10.0, 0.0, 500020.0, 0.0, -10.0, 5200000.0))
    for other in (other_size, shifted):
        for _ in range(3):
            with pytest.raises(IncompatibleRastersError, match="same grid"):
                check_compatibility(first, other)
        assert check_compatibility(first, other, same_grid=False)[0] == check_crs(first, other)


def test_compatibility_of_missing_file(tmp_path, make_raster):
    with pytest.raises(SourceNotFoundError, match="missing.tif"):
        check_crs(make_raster(count=1), tmp_path / "missing.tif")


def test_rasterio_to_numpy_dtype():
    for name in ("int16", "int32", "uint8", "uint16", "uint32", "float32", "float64"):
        assert np.dtype(rasterio_to_numpy_dtype(name)) == np.dtype(name)
    for name in ("int8", "int64", "uint64", "complex64", "bool", "x"):
        assert rasterio_to_numpy_dtype(name) is None
