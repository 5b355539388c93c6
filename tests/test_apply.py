"""riogrande.apply: results equal the function on the whole array, on every backend."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from numpy.testing import assert_allclose, assert_array_equal

import riogrande
from riogrande.io.exceptions import (
    BlockProcessingError,
    FunctionError,
    IncompatibleRastersError,
    InvalidBandError,
    OutputError,
    RunCancelledError,
)
from tests.reference import box_mean, leftovers, read_all, tiff_is_tiled


def scaled(data: np.ndarray, factor: float = 2.0) -> np.ndarray:
    return (data * factor + 1).astype("float32")


def ndvi(data: dict) -> np.ndarray:
    red, nir = data["red"][0].astype("float64"), data["nir"][0].astype("float64")
    total = red + nir
    return np.where(total == 0, 0.0, (nir - red) / np.where(total == 0, 1, total))


def focal_mean5(data: np.ndarray) -> np.ndarray:
    """5 x 5 mean of every band, the nearest pixel repeated past the edges."""
    padded = np.pad(data.astype("float64"), ((0, 0), (2, 2), (2, 2)), mode="edge")
    rows, cols = data.shape[1:]
    return sum(padded[:, dy:dy + rows, dx:dx + cols] for dy in range(5) for dx in range(5)) / 25


def band_mean(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=0)


def positive(data: np.ndarray) -> np.ndarray:
    return data[0] > 50


def fail_on_row(data: np.ndarray, rows: int) -> np.ndarray:
    if data.shape[1] == rows:
        raise ValueError("this block is broken")
    return data[0]


def wrong_shape(data: np.ndarray) -> np.ndarray:
    return data[0, :-1]


def varying_bands(data: np.ndarray) -> np.ndarray:
    return data if data.shape[2] == 32 else data[:1]


@pytest.fixture
def raster(make_raster) -> Path:
    return make_raster(width=173, height=101, count=3, nodata=-9999.0, block=(32, 32))


@pytest.mark.parametrize("nbrcpu", [1, 2])
@pytest.mark.parametrize("block_size", [None, (48, 40)])
def test_single_input_equals_the_whole_array(raster, tmp_path, nbrcpu, block_size):
    report = riogrande.apply(scaled, raster, tmp_path / "out.tif", block_size=block_size,
                             nbrcpu=nbrcpu, kwargs={"factor": 3.0})
    assert_array_equal(read_all(tmp_path / "out.tif"), scaled(read_all(raster), 3.0))
    assert (report.dtype, report.count, report.output) == ("float32", 3, tmp_path / "out.tif")
    with rasterio.open(raster) as src, rasterio.open(report.output) as out:
        assert (out.crs, out.transform, out.shape) == (src.crs, src.transform, src.shape)
        assert out.block_shapes[0] == src.block_shapes[0]
        assert out.compression == src.compression
    assert leftovers(tmp_path) == []


def test_named_inputs_ndvi(make_raster, tmp_path):
    red = make_raster("red.tif", count=1, dtype="uint16", seed=1)
    nir = make_raster("nir.tif", count=1, dtype="uint16", seed=2)
    report = riogrande.apply(ndvi, {"red": red, "nir": nir}, tmp_path / "ndvi.tif",
                             dtype="float32", block_size=(40, 24), nbrcpu=2)
    expected = ndvi({"red": read_all(red), "nir": read_all(nir)}).astype("float32")
    assert_array_equal(read_all(report.output)[0], expected)
    assert report.views == 3 * 3  # 97 x 61 pixels in blocks of 40 x 24


def test_bands_per_input(make_raster, tmp_path):
    first = make_raster("a.tif", count=3, seed=3)
    second = make_raster("b.tif", count=2, seed=4)
    report = riogrande.apply(ndvi, {"red": first, "nir": second}, None,
                             bands={"red": [3], "nir": [2]}, nbrcpu=1)
    expected = ndvi({"red": read_all(first, [3]), "nir": read_all(second, [2])})
    assert_allclose(report.array, expected)


@pytest.mark.parametrize("block_size", [(32, 32), (50, 17)])
def test_border_gives_focal_filters_their_neighbours(raster, tmp_path, block_size):
    report = riogrande.apply(focal_mean5, raster, None, border=2, block_size=block_size,
                             nbrcpu=2)
    expected = box_mean(read_all(raster), 5)
    assert_allclose(report.array, expected, rtol=1e-12)
    without = riogrande.apply(focal_mean5, raster, None, block_size=block_size, nbrcpu=2)
    assert not np.allclose(without.array, expected)  # the border is what makes it right


def test_masked_arrays_and_nodata(raster, tmp_path):
    report = riogrande.apply(band_mean, raster, tmp_path / "mean.tif", masked=True,
                             block_size=(64, 64), nbrcpu=2)
    with rasterio.open(raster) as src:
        expected = src.read(masked=True).mean(axis=0)
    with rasterio.open(report.output) as out:
        assert math.isnan(out.nodata) and math.isnan(report.nodata)  # a float result: NaN
        assert_allclose(out.read(1), expected.filled(np.nan), rtol=1e-6)
        assert_array_equal(out.read_masks(1) == 0, expected.mask)
        assert expected.mask.any() and report.nodata_collisions == 0


@pytest.mark.parametrize("nodata, fill, mask", [(-9999.0, None, False), (float("nan"), None, False),
                                               (None, 0.0, True), (7.0, None, True)])
def test_masked_arrays_equal_rasterio_masks(make_raster, tmp_path, nodata, fill, mask):
    source = make_raster(count=2, nodata=nodata, fill=fill, mask=mask)
    report = riogrande.apply(band_mean, source, None, masked=True, nodata=-1.0,
                             block_size=(32, 32), nbrcpu=2)
    with rasterio.open(source) as src:
        expected = src.read(masked=True).mean(axis=0)
    assert_allclose(report.array, expected.filled(-1.0), rtol=1e-6)
    assert 0 < (report.array == -1.0).sum() < report.array.size


def test_masked_without_a_nodata_value_takes_the_default_of_the_results_type(make_raster,
                                                                             tmp_path):
    plain = make_raster(count=1, nodata=None)
    report = riogrande.apply(band_mean, plain, tmp_path / "m.tif", masked=True, nbrcpu=1)
    with rasterio.open(report.output) as out:
        assert math.isnan(out.nodata) and out.dtypes[0] == "float64"
        assert_allclose(out.read(1), read_all(plain)[0])
    report = riogrande.apply(band_mean, plain, None, masked=True, nodata=-1.0, nbrcpu=1)
    assert_allclose(report.array, read_all(plain)[0])


def test_in_memory_two_and_three_dimensional_results(raster):
    two = riogrande.apply(band_mean, raster, None, nbrcpu=2, block_size=(64, 64))
    assert two.output is None and two.array.shape == (101, 173)
    assert_allclose(two.array, read_all(raster).mean(axis=0))
    three = riogrande.apply(scaled, raster, None, nbrcpu=2, bands=[1, 3])
    assert_array_equal(three.array, scaled(read_all(raster, [1, 3])))
    assert three.count == 2


def test_bool_results_are_written_as_uint8_and_dtype_casts(raster, tmp_path):
    report = riogrande.apply(positive, raster, tmp_path / "p.tif", nbrcpu=1)
    assert report.dtype == "uint8"
    assert_array_equal(read_all(report.output)[0], (read_all(raster)[0] > 50).astype("uint8"))
    cast = riogrande.apply(scaled, raster, tmp_path / "c.tif", dtype="int16", nbrcpu=1)
    assert_array_equal(read_all(cast.output), scaled(read_all(raster)).astype("int16"))


def test_threads_run_lambdas_and_local_functions(raster):
    def local(data):
        return data[1] - data[0]

    with ThreadPoolExecutor(2) as executor:
        report = riogrande.apply(local, raster, None, executor=executor, block_size=(64, 64))
        other = riogrande.apply(lambda data: data[2], raster, None, executor=executor)
    data = read_all(raster)
    assert_array_equal(report.array, data[1] - data[0])
    assert_array_equal(other.array, data[2])


def test_unpicklable_function_on_processes_is_a_clear_error(raster, tmp_path):
    for options in ({}, {"backend": "processes"}, {"start_method": "spawn"}):
        with pytest.raises(FunctionError, match="module level.*backend='threads'"):
            riogrande.apply(lambda data: data, raster, tmp_path / "x.tif", **options)
    with riogrande.Pool(2) as pool, pytest.raises(FunctionError, match="module level"):
        riogrande.apply(lambda data: data, raster, None, executor=pool)
    assert list(tmp_path.iterdir()) == [raster]


def test_backends_and_a_kept_pool_give_the_same_result(raster):
    expected = box_mean(read_all(raster), 5)
    threads = riogrande.apply(lambda data: focal_mean5(data), raster, None, border=2,
                              backend="threads", block_size=(48, 48))
    assert_allclose(threads.array, expected, rtol=1e-12)
    for backend in ("threads", "processes"):
        with riogrande.Pool(2, backend=backend) as pool:
            for _ in range(2):
                report = riogrande.apply(focal_mean5, raster, None, border=2, executor=pool,
                                         block_size=(48, 48))
                assert_allclose(report.array, expected, rtol=1e-12)


def test_failing_function_names_the_view_and_leaves_nothing(raster, tmp_path):
    for _ in range(8):
        with pytest.raises(BlockProcessingError, match=r"view \(\d+, 96, \d+, 5\).*broken") \
                as info:
            riogrande.apply(fail_on_row, raster, tmp_path / "out.tif", kwargs={"rows": 5},
                            block_size=(64, 48), nbrcpu=2)
        assert info.value.view[1::2] == (96, 5)
        assert not (tmp_path / "out.tif").exists() and leftovers(tmp_path) == []


def test_wrong_result_shape_is_a_block_error(raster, tmp_path):
    with pytest.raises(BlockProcessingError, match="FunctionError.*block's size"):
        riogrande.apply(wrong_shape, raster, tmp_path / "out.tif", nbrcpu=1)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.tif").exists()


def test_varying_band_counts_and_count_mismatch(raster, tmp_path):
    with pytest.raises(FunctionError, match="same number of bands"):
        riogrande.apply(varying_bands, raster, tmp_path / "v.tif", block_size=(32, 32),
                        nbrcpu=1)
    with pytest.raises(FunctionError, match="count=2"):
        riogrande.apply(scaled, raster, tmp_path / "c.tif", count=2, nbrcpu=1)
    assert leftovers(tmp_path) == [] and sorted(tmp_path.iterdir()) == [raster]


def test_bad_inputs_are_refused_before_any_work(make_raster, raster, tmp_path):
    other = make_raster("other.tif", width=50, height=50, count=1)
    with pytest.raises(IncompatibleRastersError, match="not on the same grid"):
        riogrande.apply(ndvi, {"red": raster, "nir": other}, tmp_path / "o.tif")
    with pytest.raises(InvalidBandError):
        riogrande.apply(scaled, raster, tmp_path / "o.tif", bands=[4])
    with pytest.raises(OutputError, match="also an input"):
        riogrande.apply(scaled, raster, raster)
    with pytest.raises(TypeError, match="unexpected keyword.*nbrcpus"):
        riogrande.apply(scaled, raster, tmp_path / "o.tif", nbrcpus=2)
    with pytest.raises(FunctionError, match="not a data type"):
        riogrande.apply(positive, raster, None, dtype="float33")
    with pytest.raises(FunctionError, match="float16"):
        riogrande.apply(positive, raster, tmp_path / "o.tif", dtype="float16")
    with pytest.raises(riogrande.RiograndeError, match="not found"):
        riogrande.apply(scaled, tmp_path / "missing.tif", None)
    assert not (tmp_path / "o.tif").exists()


def test_progress_and_cancel(raster, tmp_path):
    calls: list[tuple[int, int]] = []
    riogrande.apply(scaled, raster, tmp_path / "p.tif", block_size=(32, 32), nbrcpu=2,
                    progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 24) and calls[-1] == (24, 24)
    done: list[int] = []
    for _ in range(5):
        done.clear()
        with pytest.raises(RunCancelledError):
            riogrande.apply(scaled, raster, tmp_path / "c.tif", block_size=(16, 16), nbrcpu=2,
                            progress=lambda d, t: done.append(d), cancel=lambda: len(done) > 3)
        assert not (tmp_path / "c.tif").exists() and leftovers(tmp_path) == []


def test_on_a_dask_cluster(raster, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        report = riogrande.apply(focal_mean5, raster, tmp_path / "dask.tif", border=2,
                                 block_size=(64, 64), executor=client)
        with pytest.raises(BlockProcessingError, match="broken"):
            riogrande.apply(fail_on_row, raster, tmp_path / "fail.tif", kwargs={"rows": 5},
                            block_size=(64, 48), executor=client)
    assert_allclose(read_all(report.output), box_mean(read_all(raster), 5), rtol=1e-6)
    assert not (tmp_path / "fail.tif").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["out.png", "out.vrt", "out"])
def test_output_that_is_not_a_geotiff_is_refused_before_any_work(raster, tmp_path, name):
    from riogrande.io.exceptions import OutputFormatError

    progress = []
    with pytest.raises(OutputFormatError, match="GeoTIFF|riogrande writes"):
        riogrande.apply(scaled, raster, tmp_path / name, progress=lambda *done: progress.append(1))
    assert progress == [] and not (tmp_path / name).exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("options, compression", [
    ({"COMPRESS": "NONE"}, None), ({"compress": "zstd", "zstd_level": 1}, "zstd"),
    ({"COMPRESS": "LZW", "PREDICTOR": 3}, "lzw"),
])
def test_creation_options_override_the_first_inputs(raster, tmp_path, options, compression):
    report = riogrande.apply(scaled, raster, tmp_path / "out.tif", creation_options=options,
                             nbrcpu=2, backend="threads")
    assert_array_equal(read_all(report.output), scaled(read_all(raster)))
    with rasterio.open(raster) as src, rasterio.open(report.output) as out:
        assert (out.compression.value.lower() if out.compression else None) == compression
        assert out.block_shapes[0] == src.block_shapes[0]  # the rest stays the first input's
        if "PREDICTOR" in options:
            assert out.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"


def test_untiled_first_input_gives_a_tiled_output(make_raster, tmp_path):
    source = make_raster(width=300, height=70, count=1, tiled=False, compress=None)
    report = riogrande.apply(scaled, source, tmp_path / "out.tif", nbrcpu=1)
    with rasterio.open(report.output) as out:
        assert out.block_shapes[0] == (80, 304)
        assert out.compression is None
    assert tiff_is_tiled(report.output)
    assert_array_equal(read_all(report.output), scaled(read_all(source)))


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_cog_output_is_a_valid_cog_with_the_same_pixels(make_raster, tmp_path, backend):
    from tests.cog_rules import cog_problems

    source = make_raster(width=1100, height=700, count=2, nodata=-9999.0, block=(256, 256))
    report = riogrande.apply(scaled, source, tmp_path / "out.tif", cog=True, nbrcpu=2,
                             backend=backend, nodata=-9999.0)
    assert cog_problems(report.output) == []
    with rasterio.open(report.output) as out:
        assert out.overviews(1) == [2, 4] and out.nodata == -9999.0  # down to one tile
        assert out.compression.value.lower() == "deflate"
    assert_array_equal(read_all(report.output), scaled(read_all(source)))
    assert leftovers(tmp_path) == []


def test_creation_options_gdal_rejects_are_refused_before_any_work(raster, tmp_path):
    from riogrande.io.exceptions import CreationOptionError

    progress = []
    with pytest.raises(CreationOptionError, match="COMPRESS=FOO"):
        riogrande.apply(scaled, raster, tmp_path / "out.tif", dtype="float32", count=3,
                        creation_options={"COMPRESS": "FOO"},
                        progress=lambda *done: progress.append(1))
    assert progress == []
    with pytest.raises(CreationOptionError, match="set by riogrande"):
        riogrande.apply(scaled, raster, tmp_path / "out.tif", creation_options={"dtype": "x"})
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.tif").exists()


def test_creation_options_checked_on_the_first_block_when_the_type_is_unknown(raster, tmp_path):
    from riogrande.io.exceptions import CreationOptionError

    # PREDICTOR=3 is for floating point data: refused once the uint8 result arrives
    with pytest.raises(CreationOptionError, match="PREDICTOR"):
        riogrande.apply(positive, raster, tmp_path / "out.tif",
                        creation_options={"COMPRESS": "LZW", "PREDICTOR": "3"})
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.tif").exists()
