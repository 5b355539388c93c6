"""Property tests: random rasters and run options through worker processes.

tests/test_parallel.py checks random grids on a thread executor; here each example
goes through the real process pool (spawn, or fork/forkserver) with random data types, nodata
(NaN included), logic, band subsets, mask readers, extra masking bands, in-place
writes and borders, against whole-array references.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riogrande.io.models import Band, Source
from riogrande.parallel import compute_mask, fill_matrix, prepare_selector, process_block
from riogrande.prepare import create_views
from riogrande.runner import run_views
from riogrande.workers import block_jobs

from . import tasks
from .conftest import random_mask, synthetic_data, write_raster
from .reference import leftovers, mask_reference, read_all, selector_reference
from .test_reliability_load import FAST_START

NAN = float("nan")
NODATA = {
    "uint8": [0, 255, 42],
    "int16": [-32768, -9999, 0, 42],
    "uint16": [0, 65535, 42],
    "int32": [-2147483648, -1, 42],
    "float32": [NAN, -9999.0, 0.0, 3.5],
    "float64": [NAN, -1e300, 0.0, 42.0],
}
PROPERTY_SETTINGS = settings(max_examples=15, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rasters(draw):
    """Keyword arguments of a random raster and of a run on it."""
    count = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(sorted(NODATA)))
    bands = draw(st.none() | st.lists(st.integers(1, count), min_size=1, max_size=count,
                                      unique=True))
    return {
        "width": draw(st.integers(1, 80)),
        "height": draw(st.integers(1, 80)),
        "count": count,
        "dtype": dtype,
        "nodata": draw(st.sampled_from(NODATA[dtype])),
        "file_nodata": draw(st.booleans()),
        "dataset_mask": draw(st.booleans()),
        "tiled": draw(st.booleans()),
        "seed": draw(st.integers(0, 999)),
        "block": draw(st.none() | st.tuples(st.integers(1, 90), st.integers(1, 90))),
        "logic": draw(st.sampled_from(["all", "any"])),
        "bands": bands,
        "uses": draw(st.lists(st.sampled_from(["band", "self", "source", "mask_none",
                                               "mask_all"]),
                              min_size=count, max_size=count)),
        "extra": draw(st.none() | st.integers(1, count)),
        "in_place": draw(st.booleans()),
        "nbrcpu": draw(st.sampled_from([1, 2])),
        "start_method": draw(st.sampled_from([None, FAST_START])),  # None: spawn
    }


def make_file(folder: Path, case: dict) -> Path:
    data = synthetic_data(case["count"], case["height"], case["width"], case["dtype"],
                          case["nodata"], case["seed"])
    dataset_mask = None
    if case["dataset_mask"]:
        dataset_mask = random_mask(case["height"], case["width"], case["seed"] + 1)
    return write_raster(folder / "input.tif", data,
                        nodata=case["nodata"] if case["file_nodata"] else None,
                        tiled=case["tiled"], block=(16, 16), dataset_mask=dataset_mask)


@PROPERTY_SETTINGS
@given(case=rasters())
def test_compute_mask_and_prepare_selector_equal_the_references(case):
    folder = Path(tempfile.mkdtemp(prefix="riogrande-property-"))
    try:
        path = make_file(folder, case)
        run = {"nbrcpu": case["nbrcpu"], "start_method": case["start_method"]}
        indexes = case["bands"] or list(range(1, case["count"] + 1))

        # the selector of the chosen bands, each with its own mask reader
        specs = [(path, bidx, case["uses"][bidx - 1]) for bidx in indexes]
        bands = []
        for _, bidx, use in specs:
            band = Band(Source(path), bidx)
            band.set_mask_reader(use)
            bands.append(band)
        extra = None if case["extra"] is None else Band(path, case["extra"])
        selector = prepare_selector(*bands, block_size=case["block"],
                                    extra_masking_band=extra, **run)
        expected = selector_reference(specs, None if extra is None else (path, case["extra"]))
        assert np.array_equal(selector, expected)

        # the mask of the chosen bands, to a new file or into the file itself
        data = read_all(path)
        expected = mask_reference(path, case["nodata"], case["logic"], case["bands"])
        output = None if case["in_place"] else folder / "mask.tif"
        compute_mask(path, case["block"], case["nodata"], case["logic"], case["bands"],
                     output=output, **run)
        if output is None:
            with rasterio.open(path) as src:
                assert np.array_equal(src.dataset_mask() != 0, expected != 0)
            assert np.array_equal(read_all(path), data, equal_nan=data.dtype.kind == "f")
        else:
            assert np.array_equal(read_all(output)[0], expected)
        assert leftovers(folder) == []
    finally:
        shutil.rmtree(folder)


@PROPERTY_SETTINGS
@given(width=st.integers(1, 70), height=st.integers(1, 70),
       view=st.tuples(st.integers(1, 40), st.integers(1, 40)),
       border=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       seed=st.integers(0, 999), start_method=st.sampled_from([None, FAST_START]))
def test_blocks_with_borders_equal_the_whole_array(width, height, view, border, seed,
                                                    start_method):
    """A 3x3 focal mean per block, with a border of 1 to 3 pixels, equals the whole one."""
    folder = Path(tempfile.mkdtemp(prefix="riogrande-property-"))
    try:
        path = write_raster(folder / "input.tif",
                            synthetic_data(1, height, width, "float32", 0, seed), block=(16, 16))
        views, inner_views = create_views(view, border, (width, height))
        jobs = block_jobs(tasks.focal_mean, path, views, inner_views=inner_views)
        result = np.full((height, width), math.nan)
        run_views(process_block, jobs, partial(fill_matrix, result), nbrcpu=2,
                  start_method=start_method)
        expected = tasks.focal_mean(read_all(path))
        np.testing.assert_allclose(result, expected, rtol=1e-12)
    finally:
        shutil.rmtree(folder)
