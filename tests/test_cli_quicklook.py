"""Quicklook PNGs, decoded by GDAL's own PNG driver."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from riogrande.cli.main import cli
from riogrande.cli.quicklook import (
    MASKED_RGB,
    QUICKLOOK_MAX,
    VALID_RGB,
    preview_shape,
    write_png,
    write_quicklook,
)
from tests.reference import mask_reference

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

NODATA = -9999.0


def decode(path) -> tuple[np.ndarray, np.ndarray]:
    """``(indexes, rgb)`` of a palette PNG, as GDAL reads it."""
    with rasterio.open(path) as src:
        assert src.driver == "PNG" and src.count == 1
        indexes = src.read(1)
        colormap = src.colormap(1)
    rgb = np.array([colormap[int(i)][:3] for i in range(256) if i in colormap])
    return indexes, rgb[indexes]


def same_aspect(rows: int, cols: int, width: int, height: int) -> bool:
    """The longer side is exact; the shorter one is within one pixel of the exact ratio."""
    if width >= height:
        return cols == min(width, QUICKLOOK_MAX) and abs(rows - cols * height / width) <= 1
    return rows == min(height, QUICKLOOK_MAX) and abs(cols - rows * width / height) <= 1


def colours(rgb: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(c) for c in colour) for colour in rgb.reshape(-1, 3)}


def test_write_png_round_trips_through_gdal(tmp_path):
    indexes = np.random.default_rng(0).integers(0, 3, size=(37, 53)).astype(np.uint8)
    palette = [(0, 0, 0), (255, 0, 0), (10, 200, 30)]
    decoded, rgb = decode(write_png(tmp_path / "p.png", indexes, palette))
    assert_array_equal(decoded, indexes)
    assert_array_equal(rgb, np.array(palette)[indexes])


@pytest.mark.parametrize("indexes, palette", [
    (np.zeros((3, 3, 3), np.uint8), [(0, 0, 0)]),
    (np.zeros((0, 4), np.uint8), [(0, 0, 0)]),
    (np.full((2, 2), 2, np.uint8), [(0, 0, 0), (1, 1, 1)]),
])
def test_write_png_rejects_bad_input(tmp_path, indexes, palette):
    with pytest.raises(ValueError):
        write_png(tmp_path / "p.png", indexes, palette)


@pytest.mark.parametrize(
    "width, height", [(97, 61), (1000, 300), (200, 2000), (1, 5000), (801, 800)]
)
def test_preview_shape_keeps_the_aspect_ratio(width, height):
    rows, cols = preview_shape(width, height)
    assert max(rows, cols) <= max(QUICKLOOK_MAX, 1)
    if max(width, height) <= QUICKLOOK_MAX:
        assert (rows, cols) == (height, width)
    assert same_aspect(rows, cols, width, height)


@pytest.mark.parametrize("width, height", [(97, 61), (1000, 300)])
def test_cli_quicklook_has_the_aspect_and_two_colours(make_raster, tmp_path, width, height):
    raster = make_raster(width=width, height=height, count=2, nodata=NODATA, block=(256, 256))
    out, png = tmp_path / "mask.tif", tmp_path / "mask.png"
    result = CliRunner().invoke(cli, ["mask", str(raster), "-o", str(out), "--logic", "any",
                                      "--quicklook", str(png), "-j", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quicklook"] == str(png)
    indexes, rgb = decode(png)
    rows, cols = indexes.shape
    assert same_aspect(rows, cols, width, height)
    assert colours(rgb) == {VALID_RGB, MASKED_RGB}
    expected = mask_reference(raster, NODATA, "any")
    valid_share = (rgb == VALID_RGB).all(axis=-1).mean()
    assert valid_share == pytest.approx(expected.mean(), abs=0.02)
    if (rows, cols) == expected.shape:
        assert_array_equal((rgb == VALID_RGB).all(axis=-1), expected == 1)


def test_quicklook_of_an_internal_mask(make_raster, tmp_path):
    raster = make_raster(mask=True)
    png = write_quicklook(raster, tmp_path / "m.png", dataset_mask=True)
    _, rgb = decode(png)
    with rasterio.open(raster) as src:
        expected = src.dataset_mask() != 0
    assert_array_equal((rgb == VALID_RGB).all(axis=-1), expected)
    assert colours(rgb) == {VALID_RGB, MASKED_RGB}
