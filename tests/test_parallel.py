"""compute_mask and prepare_selector (and the masking jobs) against whole-array references."""

from __future__ import annotations

import math
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from riogrande.io.models import Band, Source
from riogrande.masking import selector_array, write_mask, write_selector
from riogrande.parallel import compute_mask, prepare_selector
from riogrande.prepare import create_views

from . import tasks
from .conftest import file_sha256, random_mask, synthetic_data, write_raster
from .reference import (
    leftovers,
    mask_reference,
    read_all,
    selector_reference,
    tiff_is_tiled,
)

NAN = float("nan")

# Rasters: keyword arguments of the make_raster fixture.
RASTERS = {
    "odd-tiled-deflate-float32-nan": dict(width=1001, height=777, count=3, dtype="float32",
                                          nodata=NAN, block=(256, 256), compress="deflate"),
    "striped-lzw-int16": dict(width=123, height=87, count=3, dtype="int16", nodata=-9999,
                              tiled=False, block=(123, 8), compress="lzw"),
    "tiled-raw-uint8": dict(width=97, height=61, count=2, dtype="uint8", nodata=0,
                            block=(32, 16), compress=None),
    "tiled-float32-minus9999-no-file-nodata": dict(width=70, height=50, count=4,
                                                   dtype="float32", fill=-9999.0),
    "tiny": dict(width=5, height=3, count=2, dtype="int16", nodata=-9999, block=(16, 16)),
    "striped-uint8-dataset-mask": dict(width=64, height=40, count=3, dtype="uint8",
                                       tiled=False, block=(64, 1), compress="deflate",
                                       mask=True),
}


def options(nbrcpu, start):
    params = {"nbrcpu": nbrcpu}
    if start != "default":
        params["start_method"] = start
    return params


def check_mask_file(path, source_path, expected):
    with rasterio.open(path) as out, rasterio.open(source_path) as src:
        assert out.count == 1 and out.dtypes == ("uint8",)
        assert out.crs == src.crs and out.transform == src.transform
        assert out.shape == src.shape
        assert out.compression is not None
        values = out.read(1)
    assert tiff_is_tiled(path)
    assert set(np.unique(values)) <= {0, 1}
    assert np.array_equal(values, expected)


# (raster, nodata, logic, bands, block_size, nbrcpu, start)
MASK_CASES = [
    ("odd-tiled-deflate-float32-nan", NAN, "all", None, None, 2, "default"),
    ("odd-tiled-deflate-float32-nan", NAN, "any", [1, 3], (100, 70), 1, "spawn"),
    ("striped-lzw-int16", -9999, "all", None, (100, 70), 2, "spawn"),
    ("striped-lzw-int16", -9999, "any", [2], None, 1, "default"),
    ("striped-lzw-int16", -9999, tasks.first_band_above, None, (40, 40), 2, "default"),
    ("tiled-raw-uint8", 0, "any", None, (1000, 1000), 2, "spawn"),
    ("tiled-raw-uint8", 0, "all", [2, 1], (7, 5), 1, "default"),
    ("tiled-float32-minus9999-no-file-nodata", -9999, "all", [1, 2, 4], (33, 17), 2,
     "default"),
    ("tiled-float32-minus9999-no-file-nodata", -9999.0, "any", None, None, 1, "spawn"),
    ("tiny", -9999, "all", None, (2, 2), 2, "default"),
    ("tiny", -9999, "any", None, None, 1, "default"),
    ("striped-uint8-dataset-mask", 0, "all", None, (64, 3), 2, "default"),
]


def case_id(case):
    raster, nodata, logic, bands, block, nbrcpu, start = case
    logic = logic if isinstance(logic, str) else logic.__name__
    return f"{raster}-{nodata}-{logic}-{bands}-{block}-{nbrcpu}cpu-{start}"


@pytest.mark.parametrize("case", MASK_CASES, ids=case_id)
def test_compute_mask_to_new_file(make_raster, tmp_path, case):
    raster, nodata, logic, bands, block, nbrcpu, start = case
    path = make_raster("input.tif", **RASTERS[raster])
    digest = file_sha256(path)
    expected = mask_reference(path, nodata, logic, bands)
    assert 0 < expected.sum() < expected.size
    output = tmp_path / "mask.tif"
    result = compute_mask(str(path), block, nodata, logic, bands, output=output,
                          **options(nbrcpu, start))
    assert result is None
    check_mask_file(output, path, expected)
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif", "mask.tif"]


# (raster, nodata, logic, bands, block_size, nbrcpu, start)
INTERNAL_CASES = [
    ("odd-tiled-deflate-float32-nan", NAN, "any", None, None, 2, "default"),
    ("striped-lzw-int16", -9999, "all", [1, 3], (50, 20), 1, "spawn"),
    ("tiled-float32-minus9999-no-file-nodata", -9999, tasks.first_band_above, None,
     (64, 64), 2, "spawn"),
    ("striped-uint8-dataset-mask", 0, "any", None, None, 1, "default"),
]


@pytest.mark.parametrize("case", INTERNAL_CASES, ids=case_id)
def test_compute_mask_into_internal_mask(make_raster, tmp_path, case):
    raster, nodata, logic, bands, block, nbrcpu, start = case
    path = make_raster("input.tif", **RASTERS[raster])
    data = read_all(path)
    expected = mask_reference(path, nodata, logic, bands)
    source = Source(path)
    band_objects = None if bands is None else [source.get_band(bidx) for bidx in bands]
    compute_mask(source, block, nodata=nodata, logic=logic, bands=band_objects,
                 **options(nbrcpu, start))
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask() != 0, expected != 0)
        assert all(flags == [rasterio.enums.MaskFlags.per_dataset]
                   for flags in src.mask_flag_enums)
        for bidx in range(1, src.count + 1):
            assert np.array_equal(src.read_masks(bidx) != 0, expected != 0)
    assert np.array_equal(read_all(path), data, equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]  # no .msk, no .aux.xml


def test_compute_mask_nodata_none_uses_file_nodata(make_raster, tmp_path):
    path = make_raster(**RASTERS["striped-lzw-int16"])
    output = tmp_path / "mask.tif"
    compute_mask(path, (64, 64), nodata=None, logic="any", output=output, nbrcpu=1)
    check_mask_file(output, path, mask_reference(path, -9999, "any"))


@pytest.mark.parametrize("nbrcpu", [1, 2])
def test_write_mask_report(make_raster, tmp_path, nbrcpu):
    path = make_raster(**RASTERS["striped-lzw-int16"])
    output = tmp_path / "mask.tif"
    report = write_mask(path, output, block_size=(50, 30), nodata=-9999, logic="any",
                        nbrcpu=nbrcpu)
    expected = mask_reference(path, -9999, "any")
    check_mask_file(output, path, expected)
    assert report.valid == int(expected.sum())
    assert report.masked == expected.size - int(expected.sum())
    assert report.pixels == expected.size
    assert report.output == output
    assert report.block_size == (50, 30)
    assert report.views == len(create_views((50, 30), (0, 0), (123, 87))[0]) == 9
    assert report.workers == nbrcpu
    assert report.seconds > 0
    tags = Source(output).get_tags(1)  # stored on the mask band
    assert (tags["bands"], tags["nodata"], tags["logic"]) == ([1, 2, 3], -9999, "any")


def test_default_block_size_is_aligned_to_tiles(make_raster, tmp_path):
    path = make_raster(**RASTERS["odd-tiled-deflate-float32-nan"])
    report = write_mask(path, tmp_path / "m.tif", nodata=NAN, nbrcpu=2)
    width, height = report.block_size
    assert width == 1001 or width % 256 == 0
    assert height == 777 or height % 256 == 0
    assert report.views >= 2
    striped = make_raster(**RASTERS["striped-lzw-int16"])
    report = write_mask(striped, tmp_path / "s.tif", nodata=-9999, nbrcpu=1)
    assert report.block_size[0] == 123
    assert report.block_size[1] == 87 or report.block_size[1] % 8 == 0


# --------------------------------------------------------------------------- selectors


@pytest.fixture
def grid(make_raster):
    """Three rasters on one grid: per-band nodata masks, a dataset mask, a masking band."""
    shape = dict(width=101, height=67, block=(32, 32))
    first = make_raster("first.tif", count=3, dtype="int16", nodata=-9999, seed=1, **shape)
    second = make_raster("second.tif", count=2, dtype="float32", nodata=NAN, mask=True,
                         seed=2, **shape)
    extra = make_raster("extra.tif", count=1, dtype="uint8", fill=0, seed=3, tiled=False,
                        **{k: v for k, v in shape.items() if k != "block"})
    return first, second, extra


# (specs [(file index, bidx, use)], extra, block_size, nbrcpu, start)
SELECTOR_CASES = [
    ([(0, 1, "band"), (0, 2, "band"), (0, 3, "self")], False, None, 2, "default"),
    ([(0, 1, "band"), (1, 2, "band")], True, (100, 70), 1, "spawn"),
    ([(0, 2, "source"), (1, 1, "source")], False, (1000, 1000), 2, "spawn"),
    ([(0, 1, "band"), (1, 1, "mask_none")], True, (9, 13), 2, "default"),
    ([(1, 2, "band"), (0, 3, "mask_all")], False, None, 1, "default"),
    ([(1, 1, "band")], True, (64, 64), 1, "default"),
]


def selector_id(case):
    specs, extra, block, nbrcpu, start = case
    bands = "+".join(f"f{f}b{b}{u}" for f, b, u in specs)
    return f"{bands}-extra{extra}-{block}-{nbrcpu}cpu-{start}"


def make_bands(files, specs):
    bands = []
    for index, bidx, use in specs:
        band = Band(Source(files[index]), bidx)
        band.set_mask_reader(use)
        bands.append(band)
    return bands


@pytest.mark.parametrize("case", SELECTOR_CASES, ids=selector_id)
def test_prepare_selector(grid, tmp_path, case):
    specs, with_extra, block, nbrcpu, start = case
    digests = [file_sha256(path) for path in grid]
    bands = make_bands(grid, specs)
    extra = Band(grid[2], 1) if with_extra else None
    expected = selector_reference([(grid[f], b, u) for f, b, u in specs],
                                  (grid[2], 1) if with_extra else None)
    if not any(use == "mask_all" for _, _, use in specs):
        assert 0 < expected.sum() < expected.size
    result = prepare_selector(*bands, block_size=block, extra_masking_band=extra,
                              **options(nbrcpu, start))
    assert result.dtype == bool and result.shape == (67, 101)
    assert np.array_equal(result, expected)
    assert [file_sha256(path) for path in grid] == digests
    assert [band.mask_use for band in bands] == [
        "band" if use == "self" else use for _, _, use in specs]
    assert leftovers(tmp_path) == []


def test_prepare_selector_on_odd_tiled_raster(make_raster):
    path = make_raster(**RASTERS["odd-tiled-deflate-float32-nan"])
    bands = Source(path).get_bands()
    expected = selector_reference([(path, b, "band") for b in (1, 2, 3)])
    assert np.array_equal(prepare_selector(*bands, block_size=None, nbrcpu=2), expected)


def test_prepare_selector_tiny_raster(make_raster):
    path = make_raster(**RASTERS["tiny"])
    expected = selector_reference([(path, 1, "band"), (path, 2, "band")])
    result = prepare_selector(Band(path, 1), Band(path, 2), block_size=(1, 2), nbrcpu=2)
    assert np.array_equal(result, expected)


@pytest.mark.parametrize("nbrcpu", [1, 2])
def test_write_selector_matches_prepare_selector(grid, tmp_path, nbrcpu):
    bands = make_bands(grid, [(0, 1, "band"), (1, 2, "band"), (0, 3, "source")])
    extra = Band(grid[2], 1)
    expected = selector_reference([(grid[0], 1, "band"), (grid[1], 2, "band"),
                                   (grid[0], 3, "source")], (grid[2], 1))
    array, report = selector_array(*bands, block_size=(40, 30), extra_masking_band=extra,
                                   nbrcpu=nbrcpu)
    assert np.array_equal(array, expected)
    assert report.valid == int(expected.sum()) and report.masked == int((~expected).sum())
    assert report.output is None and report.views == 9 and report.block_size == (40, 30)
    output = tmp_path / "selector.tif"
    written = write_selector(*bands, output=output, block_size=(40, 30),
                             extra_masking_band=extra, nbrcpu=nbrcpu)
    check_mask_file(output, grid[0], expected.astype(np.uint8))
    assert np.array_equal(read_all(output)[0] != 0,
                          prepare_selector(*bands, block_size=(64, 64), extra_masking_band=extra,
                                           nbrcpu=nbrcpu))
    assert written.valid == report.valid and written.masked == report.masked
    assert written.output == output
    assert leftovers(tmp_path) == []


def test_selector_ignores_the_extra_bands_own_mask(make_raster):
    data = np.array([[[0, 1, 2, 3], [4, 0, 0, 7]]], dtype=np.int16)
    extra_path = make_raster("extra.tif", data=data, nodata=2)  # its nodata mask is ignored
    band_path = make_raster("band.tif", data=np.ones((1, 2, 4), dtype=np.uint8))
    result = prepare_selector(Band(band_path, 1), block_size=(3, 1),
                              extra_masking_band=Band(extra_path, 1), nbrcpu=1)
    assert result.tolist() == [[False, True, True, True], [True, False, False, True]]


def test_mask_counts_are_consistent_with_math(make_raster, tmp_path):
    path = make_raster(**RASTERS["tiled-float32-minus9999-no-file-nodata"])
    report = write_mask(path, tmp_path / "m.tif", block_size=(16, 16), nodata=-9999.0,
                        nbrcpu=2)
    assert report.views == math.ceil(70 / 16) * math.ceil(50 / 16)
    assert report.valid + report.masked == 70 * 50


# --------------------------------------------------------------------------- details


def test_output_replaces_an_existing_file_and_its_side_files(make_raster, tmp_path):
    path = make_raster(**RASTERS["tiled-raw-uint8"])
    output = tmp_path / "mask.tif"
    output.write_bytes(b"an older, unrelated file")
    stale = tmp_path / "mask.tif.aux.xml"
    stale.write_text("<PAMDataset><Metadata><MDI key='old'>1</MDI></Metadata></PAMDataset>")
    compute_mask(path, (50, 50), 0, "any", output=output, nbrcpu=1)
    check_mask_file(output, path, mask_reference(path, 0, "any"))
    assert not stale.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("nodata, file_nodata, dtype", [
    (np.int16(-9999), -9999, "int16"),
    (np.float32(-9999.0), None, "float32"),
    (None, NAN, "float32"),
    (None, 0, "uint8"),
    (np.nan, NAN, "float64"),
])
def test_nodata_forms(make_raster, tmp_path, nodata, file_nodata, dtype):
    fill = -9999 if file_nodata is None else file_nodata
    path = make_raster(width=40, height=30, count=2, dtype=dtype, nodata=file_nodata,
                       fill=fill)
    output = tmp_path / "m.tif"
    compute_mask(path, (16, 16), nodata, "any", output=output, nbrcpu=1)
    expected = mask_reference(path, fill, "any")
    assert 0 < expected.sum() < expected.size
    check_mask_file(output, path, expected)


@pytest.mark.parametrize("width, height", [(1, 1), (1, 9), (9, 1)])
def test_smallest_rasters(make_raster, tmp_path, width, height):
    data = np.arange(width * height * 2, dtype=np.int16).reshape(2, height, width) % 3
    path = make_raster(data=data, block=(16, 16))
    with ThreadPoolExecutor(2) as executor:
        for block in (None, (1, 1), (4, 4)):
            output = tmp_path / f"mask-{block}.tif"
            report = write_mask(path, output, block_size=block, nodata=0, logic="any",
                                executor=executor)
            check_mask_file(output, path, mask_reference(path, 0, "any"))
            assert report.pixels == width * height
    selector = prepare_selector(Band(path, 1), Band(path, 2), block_size=(1, 1), nbrcpu=2)
    assert selector.shape == (height, width)
    assert np.array_equal(selector, np.ones((height, width), dtype=bool))


def test_verbose_logs_through_logging_and_prints_nothing(make_raster, tmp_path, capfd, caplog):
    import logging

    path = make_raster(**RASTERS["tiled-raw-uint8"])
    level = logging.getLogger("riogrande").level
    with caplog.at_level(logging.DEBUG, logger="riogrande"):
        logging.getLogger("riogrande").setLevel(logging.NOTSET)
        compute_mask(path, (50, 50), output=tmp_path / "m.tif", verbose=True, nbrcpu=2)
        prepare_selector(Band(path, 1), block_size=(50, 50), verbose=True, nbrcpu=1)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    messages = [record.getMessage() for record in caplog.records
                if record.name.startswith("riogrande")]
    assert any(str(path) in message for message in messages)
    assert logging.getLogger("riogrande").level == logging.NOTSET
    logging.getLogger("riogrande").setLevel(level)
    caplog.clear()
    compute_mask(path, (50, 50), output=tmp_path / "m2.tif", nbrcpu=1)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_path_with_spaces_and_accents(make_raster, tmp_path):
    path = make_raster("mon raster é.tif", **RASTERS["tiled-raw-uint8"])
    output = tmp_path / "masque à part.tif"
    compute_mask(Source(str(path)), (40, 40), 0, "all", output=output, nbrcpu=1,
                 start_method="spawn")
    check_mask_file(output, path, mask_reference(path, 0, "all"))
    selector = prepare_selector(Band(path, 1), Band(path, 2), block_size=(40, 40), nbrcpu=1)
    assert np.array_equal(selector, selector_reference([(path, 1, "band"), (path, 2, "band")]))


@settings(max_examples=20, deadline=None)
@given(
    width=st.integers(1, 60), height=st.integers(1, 60), count=st.integers(1, 3),
    kind=st.sampled_from([("uint8", 0), ("int16", -9999), ("float32", NAN)]),
    block=st.tuples(st.integers(1, 70), st.integers(1, 70)),
    logic=st.sampled_from(["all", "any"]), tiled=st.booleans(), seed=st.integers(0, 99),
    uses=st.lists(st.sampled_from(["band", "self", "source", "mask_none", "mask_all"]),
                  min_size=3, max_size=3),
    with_mask=st.booleans(), with_extra=st.booleans(),
)
def test_random_grids_and_blocks_on_a_thread_executor(width, height, count, kind, block,
                                                      logic, tiled, seed, uses, with_mask,
                                                      with_extra):
    """Block decomposition and aggregation for arbitrary shapes (threads: fast to start)."""
    dtype, nodata = kind
    folder = Path(tempfile.mkdtemp(prefix="riogrande-hypothesis-"))
    try:
        path = write_raster(folder / "input.tif",
                            synthetic_data(count, height, width, dtype, nodata, seed),
                            nodata=nodata, tiled=tiled, block=(16, 16),
                            dataset_mask=random_mask(height, width, seed) if with_mask else None)
        extra = None
        if with_extra:
            extra = write_raster(folder / "extra.tif",
                                 synthetic_data(1, height, width, "uint8", 0, seed + 1))
        bands = Source(path).get_bands()
        for band, use in zip(bands, uses, strict=False):
            band.set_mask_reader(use)
        with ThreadPoolExecutor(2) as executor:
            report = write_mask(path, folder / "mask.tif", block_size=block, nodata=nodata,
                                logic=logic, executor=executor)
            selector = prepare_selector(*bands, block_size=block, executor=executor,
                                        extra_masking_band=extra and Band(extra, 1))
        expected = mask_reference(path, nodata, logic)
        assert np.array_equal(read_all(folder / "mask.tif")[0], expected)
        assert report.valid == int(expected.sum())
        assert report.views == len(create_views(block, (0, 0), (width, height))[0])
        assert np.array_equal(selector, selector_reference(
            [(path, band.bidx, use) for band, use in zip(bands, uses, strict=False)],
            (extra, 1) if extra else None))
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("nodata", [None, 0.1, np.float64(0.1)])
def test_float_nodata_matches_gdal_nodata_mask(make_raster, tmp_path, nodata):
    path = make_raster(width=40, height=30, count=1, dtype="float32", nodata=0.1)
    with rasterio.open(path) as src:
        gdal_mask = src.read_masks(1) != 0
    assert 0 < gdal_mask.sum() < gdal_mask.size
    compute_mask(path, (16, 16), nodata, "all", output=tmp_path / "m.tif", nbrcpu=1)
    check_mask_file(tmp_path / "m.tif", path, gdal_mask.astype(np.uint8))


def test_selector_and_mask_of_an_rgba_raster(tmp_path):
    from .test_models import alpha_raster

    path = alpha_raster(tmp_path / "rgba.tif")
    bands = Source(path).get_bands()[:3]
    expected = selector_reference([(path, bidx, "band") for bidx in (1, 2, 3)])
    with rasterio.open(path) as src:
        assert np.array_equal(expected, src.read(4) != 0)  # the alpha band masks every band
    assert np.array_equal(prepare_selector(*bands, block_size=(40, 40), nbrcpu=2), expected)
    compute_mask(path, (40, 40), 0, "all", bands=[1, 2, 3], output=tmp_path / "m.tif",
                 nbrcpu=1)
    check_mask_file(tmp_path / "m.tif", path, mask_reference(path, 0, "all", [1, 2, 3]))


def test_band_selection_forms(make_raster, tmp_path):
    path = make_raster(**RASTERS["striped-lzw-int16"])
    expected = mask_reference(path, -9999, "all", [2])
    source = Source(path)
    forms = [2, [2], (2,), np.array([2]), source.get_band(2), [Band(str(path), 2)]]
    with ThreadPoolExecutor(2) as executor:
        for index, bands in enumerate(forms):
            output = tmp_path / f"m{index}.tif"
            compute_mask(source, (50, 50), -9999, "all", bands, output=output,
                         executor=executor)
            check_mask_file(output, path, expected)
