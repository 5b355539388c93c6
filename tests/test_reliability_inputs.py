"""Damaged files and bad paths: a clear riogrande error, the input intact, nothing left.

Complements tests/test_errors.py (missing file, directory, empty file, non-raster,
bands, block sizes, nodata, grids, output in a missing folder, output = input,
read-only input in place) with the cases found only once workers read blocks:
truncated and corrupt GeoTIFFs, plus more output paths.
"""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import rasterio

from riogrande.io.exceptions import (
    BlockProcessingError,
    InvalidBandError,
    OutputError,
    RiograndeError,
    SourceError,
)
from riogrande.io.models import Band
from riogrande.masking import write_selector
from riogrande.parallel import compute_mask, prepare_selector

from .conftest import file_sha256, synthetic_data, write_raster
from .reference import leftovers
from .test_runner import assert_no_orphans, time_limit
from .unprivileged import readable_folder, run_as_nobody, unprivileged_raster

GDAL_INTERNALS = ("Traceback", "rasterio._err", "_io.pyx", "CPLE_")


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The system temporary folder, redirected to an empty folder of the test."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def good_tiff(path: Path) -> Path:
    """A 2-band 200x200 uint16 GeoTIFF, 32x32 DEFLATE tiles (pixel interleaved)."""
    return write_raster(path, synthetic_data(2, 200, 200, "uint16", 0, seed=3), nodata=0,
                        block=(32, 32))


def tile_location(path: Path, column: int, row: int) -> tuple[int, int]:
    """(offset, size) in bytes of one tile's compressed data, as GDAL reports it."""
    with rasterio.open(path) as src:
        offset = src.get_tag_item(f"BLOCK_OFFSET_{column}_{row}", "TIFF", bidx=1)
        size = src.get_tag_item(f"BLOCK_SIZE_{column}_{row}", "TIFF", bidx=1)
    return int(offset), int(size)


def truncated(folder: Path) -> Path:
    """The header is intact, the file is cut in the middle of the tile data."""
    path = good_tiff(folder / "truncated.tif")
    data = path.read_bytes()
    offset, size = tile_location(path, 3, 3)
    path.write_bytes(data[: offset + size // 2])
    return path


def corrupt(folder: Path) -> Path:
    """Full length, but one tile's compressed bytes are scrambled."""
    path = good_tiff(folder / "corrupt.tif")
    data = bytearray(path.read_bytes())
    offset, size = tile_location(path, 2, 3)
    data[offset : offset + size] = bytes(byte ^ 0x5A for byte in data[offset : offset + size])
    path.write_bytes(bytes(data))
    return path


def header_only(folder: Path) -> Path:
    """A GeoTIFF cut inside its header: GDAL cannot even open it."""
    path = good_tiff(folder / "header.tif")
    path.write_bytes(path.read_bytes()[:200])
    return path


def in_truncated_part(view) -> bool:
    """The view reaches the rows of tile (3, 3), where the file is cut."""
    x, y, width, height = view
    return y + height > 96


def on_corrupt_tile(view) -> bool:
    """The view holds tile (2, 3): columns 64-95, rows 96-127."""
    x, y, width, height = view
    return x <= 64 < x + width and y <= 96 < y + height


DAMAGED = {"truncated": (truncated, in_truncated_part),
           "corrupt-tile": (corrupt, on_corrupt_tile)}


def entry_points(path: Path, output: Path):
    """(name, call) of every public way to read ``path`` in parallel."""
    return [
        ("compute_mask to a file",
         lambda: compute_mask(path, (64, 64), 0, "any", output=output, nbrcpu=2)),
        ("compute_mask in place", lambda: compute_mask(path, (64, 64), 0, "any", nbrcpu=2)),
        ("prepare_selector", lambda: prepare_selector(Band(path, 1), Band(path, 2),
                                                      block_size=(64, 64), nbrcpu=2)),
        ("write_selector", lambda: write_selector(Band(path, 1), output=output,
                                                  block_size=(64, 64), nbrcpu=2)),
        ("extra masking band", lambda: prepare_selector(
            Band(good_tiff(path.parent / "good.tif"), 1), extra_masking_band=Band(path, 2),
            block_size=(64, 64), nbrcpu=1)),
    ]


def clear_message(error: BaseException, *words: object) -> str:
    message = error.args[0]
    assert isinstance(error, RiograndeError)
    for word in words:
        assert str(word) in message, f"{word!r} not in {message!r}"
    for internal in GDAL_INTERNALS:
        assert internal not in message, f"{internal!r} in {message!r}"
    return message


@pytest.mark.parametrize("damage", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_tiff_fails_when_a_worker_reads_the_block(tmp_path, scratch, damage):
    make, broken_view = damage
    path = make(tmp_path)
    digest = file_sha256(path)
    with rasterio.open(path) as src:  # the header is fine: opening works, up-front checks too
        assert src.count == 2
    output = tmp_path / "out.tif"
    for name, call in entry_points(path, output):
        with time_limit(60), pytest.raises(BlockProcessingError) as caught:
            call()
        error = caught.value
        clear_message(error, path.name, "damaged or truncated", "SourceError",
                      str(tuple(error.view)))
        assert broken_view(error.view), (name, error.view)
        assert file_sha256(path) == digest, name
        assert not output.exists(), name
        assert leftovers(tmp_path) == [], name
        assert list(scratch.iterdir()) == [], name
    assert_no_orphans()


def test_damaged_tiff_untouched_by_an_in_place_run_that_stops_late(tmp_path, scratch):
    """Blocks before the broken one were computed: none of them reaches the file."""
    path = corrupt(tmp_path)
    digest = file_sha256(path)
    with rasterio.open(path) as src:
        flags_before = src.mask_flag_enums
    with time_limit(60), pytest.raises(BlockProcessingError):
        compute_mask(path, (32, 32), 0, "all", nbrcpu=1)  # one worker, blocks in order
    assert file_sha256(path) == digest
    with rasterio.open(path) as src:
        assert src.mask_flag_enums == flags_before
    assert leftovers(tmp_path) == [] and list(scratch.iterdir()) == []


def test_cut_header_fails_before_any_process_starts(tmp_path):
    path = header_only(tmp_path)
    digest = file_sha256(path)
    output = tmp_path / "out.tif"
    for name, call in entry_points(path, output)[:4]:
        with pytest.raises(SourceError) as caught:
            call()
        clear_message(caught.value, path, "cannot open")
        assert isinstance(caught.value, OSError), name
    assert file_sha256(path) == digest
    assert not output.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("bands", [[1.0], ["1"], [None], [np.float32(2)]])
def test_band_index_of_the_wrong_type(make_raster, tmp_path, bands):
    path = make_raster("input.tif", count=2)
    digest = file_sha256(path)
    with pytest.raises(InvalidBandError) as caught:
        compute_mask(path, (16, 16), bands=bands, output=tmp_path / "m.tif", nbrcpu=1)
    clear_message(caught.value, "band index must be an integer", repr(bands[0]))
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]


def test_output_under_a_regular_file(make_raster, tmp_path):
    path = make_raster("input.tif", count=2)
    output = path / "mask.tif"  # "input.tif/mask.tif": the parent is a file
    digest = file_sha256(path)
    with pytest.raises(OutputError) as caught:
        compute_mask(path, (16, 16), output=output, nbrcpu=1)
    clear_message(caught.value, "cannot write", output, "is a file, not a folder")
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]


def test_output_is_a_hard_link_to_the_input(make_raster, tmp_path):
    path = make_raster("input.tif", count=2)
    link = tmp_path / "link.tif"
    os.link(path, link)
    digest = file_sha256(path)
    with pytest.raises(OutputError) as caught:
        compute_mask(path, (16, 16), output=link, nbrcpu=1)
    clear_message(caught.value, "also an input")
    with pytest.raises(OutputError):
        write_selector(Band(path, 1), output=link, block_size=(16, 16), nbrcpu=1)
    assert file_sha256(path) == digest == file_sha256(link)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif", "link.tif"]


def _write_twice(path, output):
    """compute_mask, then write_selector, to ``output``: the outcome of each."""
    outcomes = []
    for call in (lambda: compute_mask(path, (16, 16), output=output, nbrcpu=1,
                                      start_method="fork"),
                 lambda: write_selector(Band(path, 1), output=output, block_size=(16, 16),
                                        nbrcpu=1, start_method="fork")):
        try:
            call()
        except RiograndeError as error:
            outcomes.append((type(error).__name__, str(error)))
        else:
            outcomes.append(None)
    return outcomes


def test_output_in_a_read_only_folder():
    # root may write anywhere: the calls run as an unprivileged user.
    with readable_folder() as root:
        path = unprivileged_raster(root / "input.tif")
        path.chmod(0o644)
        folder = root / "locked"
        folder.mkdir(mode=0o555)
        digest = file_sha256(path)
        outcome, outcomes = run_as_nobody(partial(_write_twice, path, folder / "mask.tif"))
        assert outcome == "returned", outcomes
        for result in outcomes:
            assert result is not None, "writing into a read-only folder did not fail"
            name, message = result
            assert name == "OutputError"
            assert "not writable" in message and str(folder) in message
        assert file_sha256(path) == digest
        assert list(folder.iterdir()) == []
        assert sorted(p.name for p in root.iterdir()) == ["input.tif", "locked"]


def test_in_place_while_a_reader_holds_the_file_open(make_raster, tmp_path):
    """Like a layer open in QGIS: the reader keeps reading the same data, the mask is right."""
    path = make_raster("input.tif", count=2, dtype="int16", nodata=-9999)
    with rasterio.open(path) as reader:
        data = reader.read()
        compute_mask(path, (32, 32), -9999, "any", nbrcpu=2)
        assert np.array_equal(reader.read(), data)
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask() != 0, np.all(data != -9999, axis=0))
        assert np.array_equal(src.read(), data)
    assert leftovers(tmp_path) == []
