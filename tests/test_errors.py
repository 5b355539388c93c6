"""Bad input: each case raises a specific, clearly worded error and changes nothing."""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import pytest
from affine import Affine

from riogrande.io.exceptions import (
    BlockSizeError,
    IncompatibleRastersError,
    InvalidBandError,
    InvalidNodataError,
    OutputError,
    RiograndeError,
    SourceError,
    SourceNotFoundError,
    UnsupportedLogicError,
)
from riogrande.io.models import Band, Source
from riogrande.masking import write_selector
from riogrande.parallel import compute_mask, prepare_selector

from . import tasks
from .conftest import TRANSFORM, file_sha256
from .unprivileged import readable_folder, run_as_nobody, unprivileged_raster


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def unchanged(tmp_path):
    """Assert that the test leaves every file of ``tmp_path`` byte-identical, adds none."""
    holder = {}

    def snapshot():
        holder["before"] = folder_state(tmp_path)

    yield snapshot
    assert "before" in holder, "call unchanged() once the inputs exist"
    assert folder_state(tmp_path) == holder["before"]


def check(error_info, kind, builtin, *words):
    error = error_info.value
    assert isinstance(error, kind) and isinstance(error, builtin)
    assert isinstance(error, RiograndeError)
    message = str(error)
    for word in words:
        assert str(word) in message, f"{word!r} not in {message!r}"


# ------------------------------------------------------------------ unreadable sources


def test_missing_file(tmp_path, unchanged):
    unchanged()
    missing = tmp_path / "missing.tif"
    with pytest.raises(SourceNotFoundError) as caught:
        compute_mask(missing, (16, 16), output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, SourceNotFoundError, FileNotFoundError, missing)
    with pytest.raises(SourceNotFoundError) as caught:
        prepare_selector(Band(missing, 1), block_size=(16, 16), nbrcpu=1)
    check(caught, SourceNotFoundError, OSError, missing)


def test_directory(tmp_path, unchanged):
    folder = tmp_path / "folder.tif"
    folder.mkdir()
    unchanged()
    with pytest.raises(SourceError) as caught:
        compute_mask(folder, (16, 16), output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, SourceError, OSError, folder, "directory")
    with pytest.raises(SourceError) as caught:
        prepare_selector(Band(folder, 1), block_size=(16, 16), nbrcpu=1)
    check(caught, SourceError, OSError, folder)


@pytest.mark.parametrize("content, words", [(b"", ["empty"]),
                                             (b"x,y\n1,2\nnot a raster\n", [])])
def test_not_a_raster(tmp_path, unchanged, content, words):
    path = tmp_path / "input.tif"
    path.write_bytes(content)
    unchanged()
    with pytest.raises(SourceError) as caught:
        compute_mask(path, (16, 16), nbrcpu=1)
    check(caught, SourceError, OSError, path, *words)
    with pytest.raises(SourceError) as caught:
        compute_mask(path, (16, 16), output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, SourceError, OSError, path, *words)
    with pytest.raises(SourceError):
        prepare_selector(Band(path, 1), block_size=(16, 16), nbrcpu=1)


# ------------------------------------------------------------------------ bad bands


@pytest.mark.parametrize("bands", [[0], [4], [1, 5], [-1]])
def test_band_out_of_range(make_raster, tmp_path, unchanged, bands):
    path = make_raster("input.tif", count=3)
    unchanged()
    bad = [b for b in bands if not 1 <= b <= 3][0]
    with pytest.raises(InvalidBandError) as caught:
        compute_mask(path, (16, 16), bands=bands, output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, InvalidBandError, ValueError, f"band {bad}", path, "3 band")
    with pytest.raises(InvalidBandError) as caught:
        compute_mask(path, (16, 16), bands=bands, nbrcpu=1)  # in place: nothing written
    check(caught, InvalidBandError, ValueError, f"band {bad}")
    with pytest.raises(InvalidBandError) as caught:
        prepare_selector(Band(path, 1), Band(path, bad), block_size=(16, 16), nbrcpu=1)
    check(caught, InvalidBandError, ValueError, f"band {bad}", path)
    with pytest.raises(InvalidBandError):
        prepare_selector(Band(path, 1), extra_masking_band=Band(path, bad),
                         block_size=(16, 16), nbrcpu=1)


def test_empty_band_list(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()
    with pytest.raises(InvalidBandError) as caught:
        compute_mask(path, (16, 16), bands=[], output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, InvalidBandError, ValueError, "no band")
    with pytest.raises(InvalidBandError) as caught:
        prepare_selector(block_size=(16, 16), nbrcpu=1)
    check(caught, InvalidBandError, ValueError, "band")


def test_band_of_another_file(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    other = make_raster("other.tif", count=2)
    unchanged()
    with pytest.raises(InvalidBandError) as caught:
        compute_mask(path, (16, 16), bands=[Band(other, 1)], output=tmp_path / "m.tif",
                     nbrcpu=1)
    check(caught, InvalidBandError, ValueError, "other.tif")


def test_not_a_band(make_raster, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()
    with pytest.raises(InvalidBandError) as caught:
        prepare_selector(str(path), block_size=(16, 16), nbrcpu=1)
    check(caught, InvalidBandError, ValueError, "Band")


# ------------------------------------------------------------------- bad block sizes


@pytest.mark.parametrize("block", [(0, 16), (16, 0), (-16, 16), (16, -1), (16.5, 16),
                                   ("16", 16), (16,), (16, 16, 16), 16, (True, 16)])
def test_bad_block_size(make_raster, tmp_path, unchanged, block):
    path = make_raster("input.tif", count=2)
    unchanged()
    with pytest.raises(BlockSizeError) as caught:
        compute_mask(path, block, output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, BlockSizeError, ValueError, "block_size", repr(block))
    with pytest.raises(BlockSizeError) as caught:
        compute_mask(path, block, nbrcpu=1)
    check(caught, BlockSizeError, ValueError, "block_size")
    with pytest.raises(BlockSizeError) as caught:
        prepare_selector(Band(path, 1), block_size=block, nbrcpu=1)
    check(caught, BlockSizeError, ValueError, "block_size")


# ---------------------------------------------------------------- incompatible grids


@pytest.mark.parametrize("difference, words", [
    ({"width": 98}, ["size", "98x61", "97x61"]),
    ({"height": 60}, ["size", "97x60"]),
    ({"transform": Affine(10.0, 0.0, 500010.0, 0.0, -10.0, 5200000.0)}, ["transform"]),
    ({"transform": Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 5200000.0)}, ["transform"]),
    ({"crs": "EPSG:4326"}, ["CRS", "4326"]),
])
def test_incompatible_rasters(make_raster, tmp_path, unchanged, difference, words):
    grid = {"width": 97, "height": 61, "crs": "EPSG:32633", "transform": TRANSFORM}
    first = make_raster("first.tif", count=1, **grid)
    second = make_raster("second.tif", count=1, **{**grid, **difference})
    unchanged()
    with pytest.raises(IncompatibleRastersError) as caught:
        prepare_selector(Band(first, 1), Band(second, 1), block_size=(16, 16), nbrcpu=1)
    check(caught, IncompatibleRastersError, ValueError, "first.tif", "second.tif", *words)
    with pytest.raises(IncompatibleRastersError) as caught:
        prepare_selector(Band(first, 1), extra_masking_band=Band(second, 1),
                         block_size=(16, 16), nbrcpu=1)
    check(caught, IncompatibleRastersError, ValueError, *words)
    with pytest.raises(IncompatibleRastersError):
        write_selector(Band(first, 1), Band(second, 1), output=tmp_path / "s.tif",
                       block_size=(16, 16), nbrcpu=1)


# -------------------------------------------------------------------- logic, nodata


@pytest.mark.parametrize("logic", ["ALL", "some", "", "and", 3])
def test_unknown_logic(make_raster, tmp_path, unchanged, logic):
    path = make_raster("input.tif", count=2)
    unchanged()
    with pytest.raises(UnsupportedLogicError) as caught:
        compute_mask(path, (16, 16), logic=logic, output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, UnsupportedLogicError, ValueError, repr(logic), "'all'", "'any'")
    with pytest.raises(UnsupportedLogicError):
        compute_mask(path, (16, 16), logic=logic, nbrcpu=1)


def test_unpicklable_logic(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()

    def nested(array, nodata):
        return array[0] != nodata

    for logic in (lambda array, nodata: array[0] != nodata, nested):
        with pytest.raises(UnsupportedLogicError) as caught:
            compute_mask(path, (16, 16), logic=logic, output=tmp_path / "m.tif", nbrcpu=1)
        check(caught, UnsupportedLogicError, ValueError, "module level")


def test_picklable_logic_is_accepted(make_raster, tmp_path):
    path = make_raster("input.tif", count=2)
    compute_mask(path, (64, 64), logic=tasks.first_band_above, output=tmp_path / "m.tif",
                 nbrcpu=1)
    assert (tmp_path / "m.tif").exists()


@pytest.mark.parametrize("dtype, nodata, words", [
    ("int16", float("nan"), ["NaN", "int16"]),
    ("uint8", float("nan"), ["NaN", "uint8"]),
    ("uint8", -9999, ["-9999", "uint8", "0 to 255"]),
    ("int16", 0.5, ["0.5", "int16"]),
    ("float32", "zero", ["'zero'"]),
])
def test_bad_nodata(make_raster, tmp_path, unchanged, dtype, nodata, words):
    path = make_raster("input.tif", count=2, dtype=dtype)
    unchanged()
    with pytest.raises(InvalidNodataError) as caught:
        compute_mask(path, (16, 16), nodata=nodata, output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, InvalidNodataError, ValueError, *words)
    with pytest.raises(InvalidNodataError):
        compute_mask(path, (16, 16), nodata=nodata, nbrcpu=1)


def test_nodata_none_without_file_nodata(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2, nodata=None)
    unchanged()
    with pytest.raises(InvalidNodataError) as caught:
        compute_mask(path, (16, 16), nodata=None, output=tmp_path / "m.tif", nbrcpu=1)
    check(caught, InvalidNodataError, ValueError, "nodata", path)


# --------------------------------------------------------------------------- outputs


def test_output_in_missing_folder(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()
    output = tmp_path / "missing" / "mask.tif"
    with pytest.raises(OutputError) as caught:
        compute_mask(path, (16, 16), output=output, nbrcpu=1)
    check(caught, OutputError, OSError, output.parent, "does not exist")
    with pytest.raises(OutputError):
        write_selector(Band(path, 1), output=output, block_size=(16, 16), nbrcpu=1)
    assert not output.parent.exists()


def test_output_is_the_input(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()
    for output in (path, str(path), tmp_path / "." / "input.tif"):
        with pytest.raises(OutputError) as caught:
            compute_mask(path, (16, 16), output=output, nbrcpu=1)
        check(caught, OutputError, OSError, "input")
    with pytest.raises(OutputError):
        write_selector(Band(path, 1), output=path, block_size=(16, 16), nbrcpu=1)
    extra = make_raster("extra.tif", count=1, dtype="uint8")
    unchanged()
    with pytest.raises(OutputError) as caught:
        write_selector(Band(path, 1), output=extra, extra_masking_band=Band(extra, 1),
                       block_size=(16, 16), nbrcpu=1)
    check(caught, OutputError, OSError, "extra.tif", "input")


def test_output_is_a_directory(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    (tmp_path / "out").mkdir()
    unchanged()
    with pytest.raises(OutputError) as caught:
        compute_mask(path, (16, 16), output=tmp_path / "out", nbrcpu=1)
    check(caught, OutputError, OSError, "directory")


def test_read_only_input_in_place():
    # root may write any file: the call runs as an unprivileged user.
    with readable_folder() as folder:
        path = unprivileged_raster(folder / "input.tif")
        path.chmod(0o444)
        digest = file_sha256(path)
        outcome, answer = run_as_nobody(partial(compute_mask, path, (16, 16), nbrcpu=1,
                                                start_method="fork"))
        assert outcome == "raised", "writing the mask into a read-only file did not fail"
        name, message = answer
        assert name == "OutputError"
        assert "read-only" in message and str(path) in message
        assert file_sha256(path) == digest
        assert sorted(p.name for p in folder.iterdir()) == ["input.tif"]


# ---------------------------------------------------------------------- run options


def test_bad_run_options(make_raster, tmp_path, unchanged):
    path = make_raster("input.tif", count=2)
    unchanged()
    with pytest.raises(ValueError, match="start method"):
        compute_mask(path, (16, 16), output=tmp_path / "m.tif", nbrcpu=1, start_method="x")
    with pytest.raises(ValueError, match="workers"):
        compute_mask(path, (16, 16), output=tmp_path / "m.tif", nbrcpu=1.5)
    with pytest.raises(ValueError, match="spawn"):
        prepare_selector(Band(path, 1), block_size=(16, 16), nbrcpu=1, start_method="fork",
                         executable=os.path.realpath(sys.executable))
    with pytest.raises(FileNotFoundError):
        compute_mask(path, (16, 16), output=tmp_path / "m.tif", nbrcpu=1,
                     executable=str(tmp_path / "no-python"))


def test_source_object_errors(tmp_path):
    missing = Source(tmp_path / "nothing.tif")
    assert missing.profile == {}  # a file still to be created (init_source) has an empty profile
    for attribute in ("shape", "count"):
        with pytest.raises(SourceNotFoundError, match="nothing.tif"):
            getattr(missing, attribute)
    with pytest.raises(SourceNotFoundError, match="nothing.tif"):
        missing.import_profile()
