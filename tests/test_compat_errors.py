"""A missing file or one that is not a raster: rasterio's RasterioIOError, and a riogrande error.

Callers of the GeoRacoon package catch ``rasterio.errors.RasterioIOError``,
which rasterio raises when it opens such a file; every call of the
compatible surface raises an error that is one, as rasterio's own open does.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.errors import RasterioIOError

from riogrande.helper import check_compatibility, check_crs
from riogrande.io import (
    Band,
    Source,
    compress_tif,
    coregister_raster,
    get_bands_by_tag,
    load_block,
)
from riogrande.io.exceptions import (
    RiograndeError,
    SourceError,
    SourceNotFoundError,
    SourceNotSavedError,
)

from .conftest import file_sha256


def not_a_raster(folder):
    path = folder / "notes.tif"
    path.write_text("not a raster\n" * 20)
    return path


def empty_file(folder):
    path = folder / "empty.tif"
    path.write_bytes(b"")
    return path


def folder(folder):
    path = folder / "folder.tif"
    path.mkdir()
    return path


def missing(folder):
    return folder / "missing.tif"


def band_reader(path):
    with Band(path, 1).data_reader() as read:
        return read()


def band_writer(path):
    with Band(path, 1).data_writer(mode="r+") as write:
        write(np.zeros((2, 2), dtype=np.uint8))


CALLS = {
    "load_block": lambda path, other: load_block(str(path), view=(0, 0, 2, 2)),
    "load_block scaled": lambda path, other: load_block(path, None, {"scaling": (2, 2)}),
    "Source.load_block": lambda path, other: Source(path).load_block((0, 0, 2, 2)),
    "Source.get_band tags": lambda path, other: Source(path).get_band(category="x"),
    "Source.get_tags": lambda path, other: Source(path).get_tags(1),
    "Source.import_profile": lambda path, other: Source(path).import_profile(),
    "Source.get_mask": lambda path, other: Source(path).get_mask(),
    "Source.check_compatibility": lambda path, other: Source(other).check_compatibility(
        Source(path)),
    "Band.get_data": lambda path, other: Band(path, 1).get_data(),
    "Band.get_bidx": lambda path, other: Band(path, tags={"category": "x"}).get_bidx(),
    "Band.data_reader": lambda path, other: band_reader(path),
    "Band.data_writer r+": lambda path, other: band_writer(path),
    "Band.export_tags": lambda path, other: Band(path, 1, {"category": "x"}).export_tags(),
    "Source.set_tags": lambda path, other: Source(path).set_tags(1, {"category": "x"}),
    "Band.count_valid_pixels": lambda path, other: Band(path, 1).count_valid_pixels(),
    "compress_tif": lambda path, other: compress_tif(path, other.with_name("c.tif")),
    "coregister_raster source": lambda path, other: coregister_raster(path, other),
    "coregister_raster reference": lambda path, other: coregister_raster(
        other, path, other.with_name("r.tif")),
    "check_crs": lambda path, other: check_crs(other, path),
    "check_compatibility": lambda path, other: check_compatibility(other, path),
}


def cases():
    for make in (missing, not_a_raster, empty_file, folder):
        for call in sorted(CALLS):
            yield pytest.param(make, call, id=f"{make.__name__}-{call}")


@pytest.mark.parametrize("make, call", list(cases()))
def test_unusable_files_raise_rasterio_io_errors(tmp_path, make_raster, make, call):
    other = make_raster("good.tif", count=1, dtype="uint8")
    digest = file_sha256(other)
    path = make(tmp_path)
    with pytest.raises(RasterioIOError):  # what rasterio itself raises for the file
        rasterio.open(path)
    for _ in range(2):
        try:
            CALLS[call](path, other)
        except RasterioIOError as error:  # how a caller of the package catches it
            assert isinstance(error, SourceError) and isinstance(error, RiograndeError)
            assert isinstance(error, OSError)
            assert path.name in str(error)
            if make is missing:
                assert isinstance(error, SourceNotFoundError)
                assert isinstance(error, FileNotFoundError)
        else:
            pytest.fail(f"{call} on {path.name} raised nothing")
    assert file_sha256(other) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["good.tif", path.name]
                                                                if path.exists() else
                                                                ["good.tif"])


def test_source_not_saved_is_a_rasterio_io_error(tmp_path):
    for _ in range(3):
        with pytest.raises(RasterioIOError) as caught:
            Source(tmp_path / "new.tif").get_band(1)
        assert isinstance(caught.value, SourceNotSavedError)
        with pytest.raises(RasterioIOError):
            Source(tmp_path / "new.tif").get_bands()


def test_get_bands_by_tag_over_a_file_that_is_not_a_raster(tmp_path, make_raster):
    good = make_raster("good.tif", count=1)
    Source(good).set_tags(1, {"category": "x"})
    assert get_bands_by_tag(str(tmp_path / "*.tif"), category="x") == [(str(good), 1)]
    bad = not_a_raster(tmp_path)
    with pytest.raises(RasterioIOError):
        rasterio.open(bad)
    for _ in range(3):
        with pytest.raises(RasterioIOError, match="notes.tif") as caught:
            get_bands_by_tag(source=str(tmp_path / "*.tif"), category="x")
        assert isinstance(caught.value, RiograndeError)


def test_a_damaged_file_is_a_rasterio_io_error_when_read(make_raster, tmp_path):
    path = make_raster("cut.tif", count=1, dtype="float32", compress=None, tiled=True,
                       block=(16, 16), width=64, height=64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header holds, the tiles do not
    with rasterio.open(path) as src, pytest.raises(RasterioIOError):
        src.read(1)
    for _ in range(3):
        with pytest.raises(RasterioIOError) as caught:
            Band(path, 1).get_data()
        assert isinstance(caught.value, SourceError) and "cut.tif" in str(caught.value)
        with pytest.raises(RasterioIOError):
            load_block(path)
