"""Bad input through processing.run: a QgsProcessingException with a clear message,
the input byte-identical, no output and no temporary file left."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("qgis.core")

from affine import Affine  # noqa: E402
from qgis.core import QgsProcessingException  # noqa: E402

from tests.conftest import file_sha256  # noqa: E402
from tests.reference import leftovers  # noqa: E402
from tests.test_reliability_inputs import corrupt, header_only, truncated  # noqa: E402

ALGORITHMS = ["riogrande:computemask", "riogrande:prepareselector"]
INTERNALS = ("Traceback", "rasterio._err", "_io.pyx", "CPLE_")


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def refused(run_alg, algorithm: str, parameters: dict, folder: Path, *words: str) -> str:
    """Run, expect a QgsProcessingException holding ``words``; nothing in ``folder`` changed."""
    before = folder_state(folder)
    output = Path(parameters["OUTPUT"])
    existed = output.exists()
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(algorithm, parameters)
    message = str(raised.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    for internal in INTERNALS:
        assert internal not in message, f"{internal!r} in {message!r}"
    assert folder_state(folder) == before
    assert existed or not output.exists()
    assert leftovers(folder) == []
    return message


# ------------------------------------------------------------------- unreadable inputs


def make_missing(folder: Path) -> Path:
    return folder / "missing.tif"


def make_directory(folder: Path) -> Path:
    path = folder / "folder.tif"
    path.mkdir()
    return path


def make_empty(folder: Path) -> Path:
    path = folder / "empty.tif"
    path.write_bytes(b"")
    return path


def make_text(folder: Path) -> Path:
    path = folder / "table.tif"
    path.write_text("x,y\n1,2\nnot a raster\n")
    return path


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_missing_input(algorithm, run_alg, tmp_path):
    path = make_missing(tmp_path)
    # QGIS checks the layer parameter itself, before the algorithm runs
    refused(run_alg, algorithm, {"INPUT": str(path), "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, "Could not load source layer for INPUT", path.name)


UNREADABLE = {  # an existing path: the algorithm says what is wrong with the file
    "directory": (make_directory, "got a directory"),
    "zero bytes": (make_empty, "is an empty file"),
    "not a raster": (make_text, "as a raster"),
    "header cut": (header_only, "as a raster"),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("make, problem", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_input_that_is_not_a_raster(algorithm, make, problem, run_alg, tmp_path):
    path = make(tmp_path)
    refused(run_alg, algorithm, {"INPUT": str(path), "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, problem, path.name)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("make", [truncated, corrupt], ids=["truncated", "corrupt tile"])
def test_damaged_raster_read_by_the_workers(algorithm, make, run_alg, tmp_path):
    path = make(tmp_path)
    refused(run_alg, algorithm, {"INPUT": str(path), "BLOCK_SIZE": 64, "WORKERS": 2,
                                 "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, path.name, "damaged or truncated", "processing view (")


# ------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("bands", [[0], [4], [1, 9]])
def test_band_out_of_range(algorithm, bands, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=3, nodata=-9999.0)
    bad = [b for b in bands if not 1 <= b <= 3][0]
    refused(run_alg, algorithm, {"INPUT": str(source), "BANDS": bands,
                                 "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, f"band {bad}", "3 band")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("side", [0, -16, "big"])
def test_bad_block_size(algorithm, side, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    message = refused(run_alg, algorithm, {"INPUT": str(source), "BLOCK_SIZE": side,
                                           "OUTPUT": str(tmp_path / "out.tif")}, tmp_path)
    assert "BLOCK_SIZE" in message.upper()  # QGIS's parameter check, or riogrande's


@pytest.mark.parametrize("dtype", ["int16", "uint8"])
def test_nan_nodata_on_an_integer_raster(dtype, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, dtype=dtype)
    refused(run_alg, "riogrande:computemask",
            {"INPUT": str(source), "NODATA": math.nan, "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, "NaN", dtype, "integer")


@pytest.mark.parametrize("difference, words", [
    ({"width": 98}, ["size", "98x61", "97x61"]),
    ({"transform": Affine(10.0, 0.0, 500010.0, 0.0, -10.0, 5200000.0)}, ["transform"]),
    ({"crs": "EPSG:4326"}, ["CRS", "4326"]),
])
def test_extra_mask_on_another_grid(difference, words, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    extra = make_raster("extra.tif", count=1, dtype="uint8", **difference)
    refused(run_alg, "riogrande:prepareselector",
            {"INPUT": str(source), "EXTRA_MASK": str(extra), "OUTPUT": str(tmp_path / "o.tif")},
            tmp_path, "input.tif", "extra.tif", "not on the same grid", *words)


# ---------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_is_the_input(algorithm, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    refused(run_alg, algorithm, {"INPUT": str(source), "OUTPUT": str(source)},
            tmp_path, "also an input")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_is_a_directory(algorithm, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    (tmp_path / "out.tif").mkdir()
    refused(run_alg, algorithm, {"INPUT": str(source), "OUTPUT": str(tmp_path / "out.tif")},
            tmp_path, "directory")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_under_a_regular_file(algorithm, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    output = source / "out.tif"
    refused(run_alg, algorithm, {"INPUT": str(source), "OUTPUT": str(output)},
            tmp_path, "cannot write", str(output), "is a file, not a folder")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_in_a_missing_folder(algorithm, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    output = tmp_path / "missing" / "out.tif"
    refused(run_alg, algorithm, {"INPUT": str(source), "OUTPUT": str(output)},
            tmp_path, "cannot write", str(output.parent), "does not exist")
    assert not output.parent.exists()
