"""Finishing a written file: copying it into another format, and checking it is whole."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio passes through as they are
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from riogrande.errors import OutputError, SourceError
from riogrande.io.handles import dataset

#: GDAL block cache while a file is copied (an encoding, another driver's copy with its
#: overviews): a few blocks of every band, whatever the raster size.
COPY_CACHE_BYTES = 64 * 2**20


@contextmanager
def scratch_folder(near: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """A temporary folder, removed afterwards; in ``near``'s folder when given.

    Scratch rasters next to the output stay on its file system (which has
    room for the output) rather than in a possibly small ``/tmp``.
    """
    folder = None if near is None else os.fspath(near)
    with tempfile.TemporaryDirectory(prefix=".riogrande-", dir=folder) as name:
        yield Path(name)


def translate(
    scratch: str | os.PathLike[str], target: str | os.PathLike[str], driver: str,
    options: dict[str, Any],
) -> None:
    """Copy ``scratch`` into ``target`` with GDAL's ``CreateCopy`` of ``driver``.

    GDAL reads and writes block by block with a bounded cache; the COG
    driver computes the overviews (in a temporary file) the same way.

    Raises
    ------
    OutputError
        If GDAL fails (a full disk, an option the data does not allow).
    """
    try:
        with rasterio.Env(GDAL_CACHEMAX=COPY_CACHE_BYTES, GDAL_TIFF_INTERNAL_MASK=True):
            rasterio.shutil.copy(os.fspath(scratch), os.fspath(target), driver=driver,
                                 **options)
    except (RasterioError, CPLE_BaseError, OSError) as error:
        raise OutputError(f"writing the {driver} file failed: {error}") from None


#: Less free space than this on the output's disk after a failed write: the disk is full.
FULL_DISK_BYTES = 2**20


def _free_bytes(folder: Path) -> int | None:
    try:
        stats = os.statvfs(folder)
    except (AttributeError, OSError):  # Windows has no statvfs
        return None
    return stats.f_bavail * stats.f_frsize


def _holes_on_a_full_disk(path: Path, size: int) -> bool:
    """Whether ``path`` has unwritten parts and its disk is full.

    Some GDAL versions let tiles that could not be written pass silently,
    leaving holes in a file whose tile index looks complete; fewer bytes
    allocated than the file's size on a full disk is that. (A compressing
    file system allocates less than the size too, but its disk is not full.)
    """
    blocks = getattr(path.stat(), "st_blocks", None)
    if blocks is None or blocks * 512 >= size:
        return False
    free = _free_bytes(path.parent)
    return free is not None and free < FULL_DISK_BYTES


def write_failure(path: Path, name: str | os.PathLike[str], detail: str | None = None
                  ) -> OutputError:
    """The error of a failed write of ``path`` (to become ``name``): the disk is full, or
    the file is incomplete (with GDAL's ``detail`` when there is one)."""
    free = _free_bytes(path.parent)
    if free is not None and free < FULL_DISK_BYTES:
        return OutputError(f"writing {name} failed: the disk is full "
                           f"({free // 1024} KiB free in {path.parent})")
    if detail:
        return OutputError(f"writing {name} failed: {detail}")
    return OutputError(f"writing {name} failed: the file came out incomplete "
                       "(is the disk full?)")


def check_written(path: str | os.PathLike[str], name: str | os.PathLike[str]) -> None:
    """Check that a written raster is whole (a full disk must not pass).

    GDAL reports some write errors (when flushing blocks on close) only on
    stderr, so the file is checked: it opens, and in a TIFF every tile's
    bytes lie within the file (only the tile index is read, not the pixels)
    and, on a full disk, the file has no holes; another format's last row is
    read.

    Raises
    ------
    OutputError
        If the file cannot be opened or a tile is missing or cut short; the
        message says when the disk is full.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with dataset(path) as written:
            if written.driver != "GTiff":
                written.read(1, window=Window(0, written.height - 1, written.width, 1))
                return
            for (row, col), _ in written.block_windows(1):
                offset = written.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
                length = written.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
                if not offset or not length or int(offset) + int(length) > size:
                    raise write_failure(path, name)
        if _holes_on_a_full_disk(path, size):
            raise write_failure(path, name)
    except OutputError:
        raise
    except (SourceError, RasterioIOError, OSError):
        raise write_failure(path, name) from None
