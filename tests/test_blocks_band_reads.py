"""Default blocks of band-by-band reads (selectors) on pixel-interleaved tiled files."""

from __future__ import annotations

import rasterio

from riogrande.blocks import choose_block_size, resolve_block_size
from riogrande.io.models import Band
from riogrande.masking import selector_array
from tests.reference import selector_reference


def profile_of(path):
    with rasterio.open(path) as src:
        return src.profile


def test_band_reads_use_one_tile_of_a_pixel_interleaved_file(make_raster):
    profile = profile_of(make_raster(width=300, height=200, count=3, block=(32, 16)))
    assert profile["interleave"] == "pixel"
    assert choose_block_size(profile, 2, band_reads=True) == (32, 16)
    assert resolve_block_size(None, profile, 2, band_reads=True) == (32, 16)
    assert choose_block_size(profile, 2) != (32, 16)  # whole-band reads: bigger blocks
    assert resolve_block_size((50, 40), profile, 2, band_reads=True) == (50, 40)


def test_band_reads_of_single_band_or_striped_files_are_unchanged(make_raster):
    for path in (make_raster(width=300, height=200, count=1, block=(32, 16)),
                 make_raster(width=300, height=200, count=3, tiled=False, block=(300, 8))):
        profile = profile_of(path)
        assert choose_block_size(profile, 2, band_reads=True) == choose_block_size(profile, 2)


def test_selector_default_blocks_follow_the_tiles(make_raster):
    path = make_raster(width=600, height=400, count=3, nodata=-9999.0, block=(64, 64))
    whole_band_block = choose_block_size(profile_of(path), 2)
    assert whole_band_block[0] % 64 == 0 and whole_band_block[1] % 64 == 0
    assert whole_band_block[0] * whole_band_block[1] > 64 * 64
    array, report = selector_array(*[Band(path, bidx) for bidx in (1, 2, 3)], nbrcpu=2)
    assert report.block_size == (64, 64)
    assert (array == selector_reference([(path, bidx, "band") for bidx in (1, 2, 3)])).all()
