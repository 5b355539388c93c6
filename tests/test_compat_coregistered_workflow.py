"""coonfit's set-up, written against the GeoRacoon package's API, run on ours.

Two rasters on different grids: an NDVI at 20 m and a land cover at 10 m,
shifted. The NDVI is coregistered onto the land cover's grid and written back
into its own file, its nodata mask is computed into that file, a selector is
prepared from the dataset mask and the land cover's mask, and a model of the
NDVI is combined view by view into a tagged band of a new file. Every step is
checked against rasterio and numpy; a failure during the in-place
coregistration leaves the NDVI file byte-identical.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import MaskFlags, Resampling
from rasterio.warp import reproject

import riogrande.io.operations
from riogrande.helper import get_nbr_workers, get_or_set_context
from riogrande.io import Band, Source, coregister_raster
from riogrande.parallel import combine_views, compute_mask, prepare_selector, process_block
from riogrande.prepare import create_views

from . import tasks
from .conftest import CRS, file_sha256, write_raster
from .reference import leftovers

BLOCK = (23, 17)
WEIGHTS = [2.0]
OFFSET = 1.0
NDVI_GRID = Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 5200000.0)
LANDCOVER_GRID = Affine(10.0, 0.0, 500105.0, 0.0, -10.0, 5199895.0)


def make_inputs(tmp_path):
    rng = np.random.default_rng(21)
    ndvi = rng.uniform(-0.2, 0.9, size=(1, 30, 40)).astype(np.float32)
    ndvi[0, rng.random((30, 40)) < 0.1] = np.nan
    ndvi[0, 5:9, 12:20] = np.nan
    landcover = rng.integers(1, 6, size=(1, 50, 70)).astype(np.uint8)
    landcover[0, rng.random((50, 70)) < 0.08] = 0
    ndvi_path = write_raster(tmp_path / "ndvi.tif", ndvi, nodata=np.nan, block=(16, 16),
                             transform=NDVI_GRID)
    landcover_path = write_raster(tmp_path / "landcover.tif", landcover, nodata=0,
                                  block=(32, 32), transform=LANDCOVER_GRID)
    return ndvi_path, landcover_path


def ndvi_on_the_landcover_grid(ndvi_path, landcover_path):
    """The NDVI resampled (nearest) onto the land cover's grid by rasterio itself."""
    with rasterio.open(ndvi_path) as src, rasterio.open(landcover_path) as ref:
        expected = np.full((ref.height, ref.width), np.nan, dtype=np.float32)
        reproject(src.read(1), expected, src_transform=src.transform, src_crs=src.crs,
                  dst_transform=ref.transform, dst_crs=ref.crs, src_nodata=np.nan,
                  dst_nodata=np.nan, resampling=Resampling.nearest)
    return expected


def test_coonfit_set_up_coregistered_in_place(tmp_path, monkeypatch):
    ndvi_path, landcover_path = make_inputs(tmp_path)
    Source(ndvi_path).set_tags(1, {"category": "ndvi"})
    Band(Source(landcover_path), 1, {"category": "landcover"}).export_tags()
    expected = ndvi_on_the_landcover_grid(ndvi_path, landcover_path)
    assert np.isnan(expected).any() and (~np.isnan(expected)).sum() > 1000

    # 1. a failure while the NDVI is coregistered in place leaves its file as it was
    digest = file_sha256(ndvi_path)
    written = []

    def fail_once_the_band_is_written(*args, **kwargs):
        written.append(reproject(*args, **kwargs))
        raise OSError("failure injected during the coregistration")

    monkeypatch.setattr(riogrande.io.operations, "reproject", fail_once_the_band_is_written)
    with pytest.raises(OSError, match="injected"):
        coregister_raster(ndvi_path, landcover_path, output=ndvi_path)
    assert len(written) == 1
    assert file_sha256(ndvi_path) == digest
    assert sorted(path.name for path in tmp_path.iterdir()) == ["landcover.tif", "ndvi.tif"]
    monkeypatch.undo()

    # 2. coregistered in place: the land cover's grid, the NDVI's values and tags
    assert coregister_raster(ndvi_path, landcover_path, output=ndvi_path) == str(ndvi_path)
    with rasterio.open(ndvi_path) as out, rasterio.open(landcover_path) as ref:
        assert (out.transform, out.shape, out.crs) == (ref.transform, ref.shape, ref.crs)
        assert out.crs == rasterio.crs.CRS.from_string(CRS)
        assert out.dtypes == ("float32",) and np.isnan(out.nodata)
        assert np.array_equal(out.read(1), expected, equal_nan=True)
        assert out.tags(1, ns="GEORACOON") == {"category": json.dumps("ndvi")}
    ndvi = Source(ndvi_path).get_band(category="ndvi")
    landcover = Source(landcover_path).get_band(category="landcover")
    assert (ndvi.bidx, landcover.bidx) == (1, 1)
    Source(ndvi_path).check_compatibility(Source(landcover_path))  # now on one grid

    # 3. the NDVI's nodata mask (NaN) computed into its file
    compute_mask(ndvi.source, bands=[ndvi], logic="all", nodata=np.nan, block_size=BLOCK,
                 nbrcpu=2)
    with rasterio.open(ndvi_path) as src:
        assert src.mask_flag_enums[0] == [MaskFlags.per_dataset]
        assert np.array_equal(src.dataset_mask(), np.where(np.isnan(expected), 0, 255))
        assert np.array_equal(src.read(1), expected, equal_nan=True)  # data untouched

    # 4. the selector: the NDVI's dataset mask and the land cover's own (nodata) mask
    ndvi.set_mask_reader(use="source")
    selector = prepare_selector(ndvi, landcover, block_size=BLOCK, nbrcpu=2)
    with rasterio.open(ndvi_path) as src, rasterio.open(landcover_path) as lc:
        reference = (src.dataset_mask() != 0) & (lc.read_masks(1) != 0)
        landcover_data = lc.read(1)
    assert selector.dtype == bool and np.array_equal(selector, reference)
    assert np.array_equal(selector, ~np.isnan(expected) & (landcover_data != 0))
    assert 0 < selector.sum() < selector.size
    assert ndvi.count_valid_pixels(selector, no_data=np.nan) == int(selector.sum())

    # 5. a model of the NDVI, view by view, combined into a tagged band of a new file
    output = tmp_path / "ndvi_model.tif"
    model_band = Band(Source(output), bidx=2, tags={"category": "model", "weights": WEIGHTS})
    profile = dict(Source(ndvi_path).import_profile(update_self=False), count=2)
    views, _ = create_views(BLOCK, (0, 0), (70, 50))
    context = get_or_set_context("spawn")
    with context.Manager() as manager:
        job_out_q = manager.Queue()
        writer = threading.Thread(target=combine_views, args=(
            {"output_file": str(output), "profile": profile, "band": model_band}, job_out_q))
        writer.start()
        with context.Pool(get_nbr_workers(2)) as pool:
            pool.starmap(process_block, [
                (tasks.linear_model, ndvi.source, [ndvi], view,
                 {"weights": WEIGHTS, "offset": OFFSET}, {}, {"mode": "r"}, job_out_q)
                for view in views])
        job_out_q.put({"signal": "kill"})
        writer.join(timeout=120)
    assert not writer.is_alive()
    model = (OFFSET + WEIGHTS[0] * expected.astype(np.float64)).astype(np.float32)
    with rasterio.open(output) as out:
        assert out.count == 2 and out.transform == LANDCOVER_GRID
        assert np.array_equal(out.read(2), model, equal_nan=True)
        assert out.tags(2, ns="GEORACOON") == {"category": json.dumps("model"),
                                               "weights": json.dumps(WEIGHTS)}
    found = Source(output).get_band(category="model")
    assert found.bidx == 2 and found.tags["weights"] == WEIGHTS
    low, high = found.get_min_max(np.nan, selector)
    assert (low, high) == (model[selector].min(), model[selector].max())
    assert leftovers(tmp_path) == []
