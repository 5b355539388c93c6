"""A coonfit-like workflow written against the GeoRacoon package's API, run on ours.

Tag the bands of a predictor stack by category, select them by tag, compute
the response's nodata mask into the file, prepare a selector from that
dataset mask, apply a model block by block into a tagged output band, and
compress it; every step is checked against rasterio and numpy.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import rasterio
from rasterio.enums import MaskFlags

from riogrande.helper import (
    check_compatibility,
    convert_to_dtype,
    get_nbr_workers,
    get_or_set_context,
    output_filename,
)
from riogrande.io import Band, Source
from riogrande.masking import write_selector
from riogrande.parallel import combine_views, compute_mask, prepare_selector, process_block
from riogrande.prepare import create_views

from . import tasks
from .conftest import synthetic_data, write_raster
from .reference import leftovers, read_all

CATEGORIES = ("elevation", "slope", "aspect")
WEIGHTS = [0.5, -2.0, 0.25]
OFFSET = 3.0
BLOCK = (37, 23)


def make_inputs(tmp_path):
    predictors = synthetic_data(3, 80, 110, "float32", np.nan, seed=11)
    response = synthetic_data(1, 80, 110, "float32", np.nan, seed=12)
    predictors_path = write_raster(tmp_path / "predictors.tif", predictors, nodata=np.nan,
                                   block=(32, 32))
    response_path = write_raster(tmp_path / "lst.tif", response, block=(32, 32))
    return predictors_path, response_path


def test_coonfit_like_workflow(tmp_path):
    predictors_path, response_path = make_inputs(tmp_path)
    predictors_data = read_all(predictors_path)
    response_data = read_all(response_path)[0]

    # 1. tag the bands by category, as the package's README does
    stack = Source(predictors_path)
    for bidx, category in enumerate(CATEGORIES, start=1):
        stack.set_tags(bidx=bidx, tags={"category": category})
    Band(Source(response_path), bidx=1, tags={"category": "response"}).export_tags()
    with rasterio.open(predictors_path) as src:
        assert [src.tags(b, ns="GEORACOON")["category"] for b in (1, 2, 3)] == [
            f'"{category}"' for category in CATEGORIES]

    # 2. select them by tag; bands without index resolve through their file tags
    predictors = [stack.get_band(category=category) for category in CATEGORIES]
    assert [band.bidx for band in predictors] == [1, 2, 3]
    response = Source(response_path).get_band(category="response")
    assert stack.get_tag_values("category") == dict(enumerate(CATEGORIES, start=1))
    crss, units, _ = stack.check_compatibility(response.source)
    assert crss == check_compatibility(predictors_path, response_path)[0] and units[0] == "metre"

    # 3. the response's nodata mask (NaN) into the file's internal mask
    compute_mask(response.source, bands=[response], logic="all", nodata=np.nan,
                 block_size=BLOCK, nbrcpu=2)
    with rasterio.open(response_path) as src:
        assert src.mask_flag_enums[0] == [MaskFlags.per_dataset]
        assert np.array_equal(src.dataset_mask(), np.where(np.isnan(response_data), 0, 255))

    # 4. a selector from that dataset mask and the predictors' own masks
    response.set_mask_reader(use="source")
    selector = prepare_selector(response, *predictors, block_size=BLOCK, nbrcpu=2)
    with rasterio.open(response_path) as src, rasterio.open(predictors_path) as pred:
        expected = src.dataset_mask() != 0
        for bidx in (1, 2, 3):
            expected &= pred.read_masks(bidx) != 0
    assert selector.dtype == bool and np.array_equal(selector, expected)
    valid = ~np.isnan(response_data) & ~np.isnan(predictors_data).any(axis=0)
    assert np.array_equal(selector, valid) and 0 < np.count_nonzero(valid) < valid.size
    assert response.count_valid_pixels(selector, no_data=np.nan) == np.count_nonzero(
        selector & ~np.isnan(response_data))

    # 5. the model, block by block, into a tagged band of a new file (coonfit's compute_model)
    output = tmp_path / output_filename(response_path, "model", {"order": 1.0})
    assert output.name == "lst_model_order_1.tif"
    model_band = Band(Source(output), bidx=1, tags={"category": "model", "weights": WEIGHTS})
    profile = dict(stack.import_profile(), count=1, dtype="float32", nodata=np.nan)
    views, _ = create_views(BLOCK, (0, 0), (110, 80))
    context = get_or_set_context("spawn")
    with context.Manager() as manager:
        job_out_q = manager.Queue()
        writer = threading.Thread(target=combine_views, args=(
            {"output_file": str(output), "profile": profile, "band": model_band}, job_out_q))
        writer.start()
        with context.Pool(get_nbr_workers(2)) as pool:
            pool.starmap(process_block, [
                (tasks.linear_model, stack, predictors, view,
                 {"weights": WEIGHTS, "offset": OFFSET}, {}, {"mode": "r"}, job_out_q)
                for view in views])
        job_out_q.put({"signal": "kill"})
        writer.join(timeout=120)
    model_expected = (OFFSET + np.tensordot(np.array(WEIGHTS), predictors_data.astype(np.float64),
                                            axes=1)).astype(np.float32)
    with rasterio.open(output) as out:
        assert out.dtypes[0] == "float32" and out.transform == profile["transform"]
        assert np.array_equal(out.read(1), model_expected, equal_nan=True)
    found = Source(output).get_band(category="model")
    assert found.bidx == 1 and found.tags["weights"] == WEIGHTS

    # 6. compress it (the file moves to <stem>_compress.tif): data, tags and nodata survive
    model = Source(output)
    model.compress(compression="deflate")
    assert model.path == output.with_name("lst_model_order_1_compress.tif")
    assert not output.exists()
    output = model.path
    with rasterio.open(output) as out:
        assert out.compression.value == "DEFLATE"
        assert np.array_equal(out.read(1), model_expected, equal_nan=True)
        assert np.isnan(out.nodata)
    assert Source(output).get_band(category="model").get_tags()["weights"] == WEIGHTS
    low, high = Source(output).get_band(category="model").get_min_max(np.nan, selector)
    assert (low, high) == (model_expected[selector].min(), model_expected[selector].max())

    # 7. a quicklook-style 8-bit version of the model over the selected cells
    with pytest.warns(RuntimeWarning, match="NaN"):  # the cells outside the selector
        scaled = convert_to_dtype(np.where(selector, model_expected, np.nan), "uint8",
                                  in_range=model_expected[selector], out_range="uint8")
    assert (scaled[~selector] == 0).all()
    low, high = float(low), float(high)
    reference = (model_expected.astype(np.float64) - low) * (255 / (high - low))
    assert np.array_equal(scaled[selector], reference[selector].astype(np.uint8))
    assert leftovers(tmp_path) == []


def test_bands_chosen_by_tags_only_run_in_workers(tmp_path):
    predictors_path, _ = make_inputs(tmp_path)
    data = read_all(predictors_path)
    stack = Source(predictors_path)
    for bidx, category in enumerate(CATEGORIES, start=1):
        stack.set_tags(bidx, {"category": category})
    bands = [Band(stack, tags={"category": category}) for category in ("aspect", "elevation")]
    assert all(band._bidx is None for band in bands)
    selector = prepare_selector(*bands, block_size=BLOCK, nbrcpu=2, start_method="spawn")
    assert np.array_equal(selector, ~np.isnan(data[[2, 0]]).any(axis=0))
    output = tmp_path / "mask.tif"
    compute_mask(stack, BLOCK, nodata=np.nan, logic="any", bands=bands[:1], output=output,
                 nbrcpu=2)
    assert np.array_equal(read_all(output)[0], (~np.isnan(data[2])).astype(np.uint8))
    # the engine's own selector, keeping the values of the bands found by their tags
    kept = tmp_path / "kept.tif"
    write_selector(*bands, output=kept, encoding="nodata", keep_values=True, nbrcpu=2)
    with rasterio.open(kept) as out:
        assert out.count == 2
        assert np.array_equal(out.read(), np.where(np.isnan(data[[2, 0]]).any(axis=0),
                                                   out.nodata, data[[2, 0]]), equal_nan=True)
    assert all(band.bidx is None for band in bands)
