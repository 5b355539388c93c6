"""Opening rasters with a caller's keywords, and creating them from a profile, atomically."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from riogrande.errors import OutputError, UnknownExtensionError
from riogrande.io.handles import dataset
from riogrande.io.output import atomic_output

#: Keys of a rasterio profile (and GeoTIFF creation options) that mean
#: nothing when an existing file is opened: dropped from open keywords.
PROFILE_KEYS = frozenset({
    "driver", "width", "height", "count", "crs", "transform", "dtype", "nodata",
    "tiled", "blockxsize", "blockysize", "blocksize", "compress", "interleave",
    "photometric", "predictor", "zlevel", "zstd_level", "jpeg_quality", "bigtiff",
    "nbits", "alpha", "sparse_ok", "num_threads",
})

_GTIFF_SUFFIXES = (".tif", ".tiff")


def open_existing(path: str | os.PathLike[str], open_kwargs: Mapping[str, Any]) -> Any:
    """Open an existing raster with a caller's keywords: a :func:`~riogrande.io.handles.dataset`.

    ``open_kwargs`` hold ``mode`` (``"r"`` when absent) and open options.
    Profile keys (size, dtype, creation options) are dropped, so that a
    caller may pass a whole profile, as in ``data_writer(mode="r+", **profile)``.
    """
    kwargs = {key: value for key, value in open_kwargs.items()
              if key.lower() not in PROFILE_KEYS}
    return dataset(path, kwargs.pop("mode", "r"), **kwargs)


def driver_for(path: str | os.PathLike[str]) -> str:
    """The GDAL driver that writes files named like ``path``.

    Raises
    ------
    UnknownExtensionError
        If the extension names no raster format GDAL can write.
    """
    suffix = Path(path).suffix.lower()
    if suffix in _GTIFF_SUFFIXES:
        return "GTiff"
    try:
        from rasterio.drivers import driver_from_extension

        return driver_from_extension(os.fspath(path))
    except (ImportError, ValueError):
        raise UnknownExtensionError(
            f"cannot tell which raster format to write for {os.fspath(path)}: use the "
            "extension .tif (GeoTIFF) or give 'driver' in the profile"
        ) from None


@contextmanager
def new_raster(path: str | os.PathLike[str], **profile: Any) -> Iterator[Any]:
    """Create a raster and open it for writing; it appears at ``path`` only if the block succeeds.

    Parameters
    ----------
    path : str or path-like
        The final location; an existing file there is replaced on success.
    **profile
        rasterio profile; ``driver`` defaults to the one of the extension.

    Yields
    ------
    rasterio.io.DatasetWriter
        Writing into a temporary file next to ``path``.

    Raises
    ------
    OutputError
        If the folder is missing or the file cannot be created.
    UnknownExtensionError
        If no driver is given and the extension names none.
    """
    profile = dict(profile)
    if not profile.get("driver"):
        profile["driver"] = driver_for(path)
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {os.fspath(path)}: the folder {folder} does not exist")
    with atomic_output(path) as temporary:
        try:
            opened = rasterio.open(temporary, "w", **profile)
        except (RasterioError, OSError, TypeError, ValueError) as error:
            raise OutputError(f"cannot create {os.fspath(path)}: {error}") from error
        with opened as dst:
            yield dst
