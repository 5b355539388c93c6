"""create_views, update_view, get_view and relative_view."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riogrande.io.exceptions import BlockSizeError
from riogrande.prepare import create_views, get_view, relative_view, update_view

sizes = st.tuples(st.integers(1, 60), st.integers(1, 60))
view_sizes = st.tuples(st.integers(1, 70), st.integers(1, 70))
borders = st.tuples(st.integers(0, 8), st.integers(0, 8))


def coverage(views, size):
    width, height = size
    count = np.zeros((height, width), dtype=int)
    for x, y, w, h in views:
        count[y : y + h, x : x + w] += 1
    return count


@settings(max_examples=200, deadline=None)
@given(size=sizes, view_size=view_sizes, border=borders)
def test_inner_views_tile_the_raster_exactly(size, view_size, border):
    views, inner = create_views(view_size, border, size)
    assert len(views) == len(inner)
    assert np.array_equal(coverage(inner, size), np.ones((size[1], size[0]), dtype=int))
    columns = -(-size[0] // view_size[0])
    rows = -(-size[1] // view_size[1])
    assert len(inner) == columns * rows


@settings(max_examples=200, deadline=None)
@given(size=sizes, view_size=view_sizes, border=borders)
def test_inner_views_lie_on_a_grid_anchored_at_origin(size, view_size, border):
    _, inner = create_views(view_size, border, size)
    for x, y, w, h in inner:
        assert x % view_size[0] == 0 and y % view_size[1] == 0
        assert w == min(view_size[0], size[0] - x) and h == min(view_size[1], size[1] - y)
        assert w > 0 and h > 0


@settings(max_examples=200, deadline=None)
@given(size=sizes, view_size=view_sizes, border=borders)
def test_views_are_inner_views_grown_by_border_and_clipped(size, view_size, border):
    views, inner = create_views(view_size, border, size)
    width, height = size
    for (x, y, w, h), (ix, iy, iw, ih) in zip(views, inner, strict=True):
        assert x == max(0, ix - border[0]) and y == max(0, iy - border[1])
        assert x + w == min(width, ix + iw + border[0])
        assert y + h == min(height, iy + ih + border[1])
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height


@settings(max_examples=100, deadline=None)
@given(size=sizes, view_size=view_sizes, border=borders, data=st.data())
def test_relative_view_cuts_inner_part_out_of_block(size, view_size, border, data):
    views, inner = create_views(view_size, border, size)
    raster = np.arange(size[0] * size[1]).reshape(size[1], size[0])
    index = data.draw(st.integers(0, len(views) - 1))
    block = get_view(raster, views[index])
    assert np.array_equal(get_view(block, relative_view(views[index], inner[index])),
                          get_view(raster, inner[index]))


def test_api_example():
    views, inner = create_views((3, 4), (1, 2), (9, 12))
    assert len(inner) == 9
    pairs = dict(zip(inner, views, strict=True))
    assert pairs[(3, 4, 3, 4)] == (2, 2, 5, 8)
    assert pairs[(6, 8, 3, 4)] == (5, 6, 4, 6)
    assert pairs[(0, 0, 3, 4)] == (0, 0, 4, 6)


def test_row_by_row_order():
    _, inner = create_views((2, 2), (0, 0), (5, 3))
    assert inner == [(0, 0, 2, 2), (2, 0, 2, 2), (4, 0, 1, 2),
                     (0, 2, 2, 1), (2, 2, 2, 1), (4, 2, 1, 1)]


@pytest.mark.parametrize("border", [(0, 0), (5, 3)])
def test_raster_smaller_than_view_size_is_one_view(border):
    views, inner = create_views((100, 80), border, (7, 5))
    assert views == [(0, 0, 7, 5)] and inner == [(0, 0, 7, 5)]


@pytest.mark.parametrize(
    "view_size, border",
    [((0, 4), (0, 0)), ((4, 0), (0, 0)), ((-1, 4), (0, 0)), ((4, 4), (-1, 0)),
     ((4, 4), (0, -2)), ((4.5, 4), (0, 0)), ((4,), (0, 0)), ((4, 4, 4), (0, 0)),
     ("44", (0, 0)), (None, (0, 0))],
)
def test_invalid_sizes_raise_value_error(view_size, border):
    with pytest.raises(ValueError) as caught:
        create_views(view_size, border, (10, 10))
    assert isinstance(caught.value, BlockSizeError)
    name = "border" if view_size in ((4, 4),) else "view_size"
    assert name in str(caught.value)


def test_get_view_is_a_view_not_a_copy():
    data = np.zeros((2, 6, 8))
    part = get_view(data, (1, 2, 3, 4))
    assert part.shape == (2, 4, 3)
    part[...] = 7
    assert data[:, 2:6, 1:4].min() == 7 and data.sum() == 7 * 2 * 4 * 3
    assert np.shares_memory(part, data)


@pytest.mark.parametrize("shape", [(6, 8), (3, 6, 8)])
def test_update_view_writes_in_place(shape):
    data = np.zeros(shape, dtype=np.int32)
    block = np.arange(12).reshape(4, 3)
    assert update_view(data, (5, 1, 3, 4), block) is None
    expected = np.zeros(shape, dtype=np.int32)
    expected[..., 1:5, 5:8] = block
    assert np.array_equal(data, expected)


def test_relative_view_api_example():
    assert relative_view((2, 2, 5, 8), (3, 4, 3, 4)) == (1, 2, 3, 4)
    assert relative_view((0, 0, 4, 6), (0, 0, 3, 4)) == (0, 0, 3, 4)
