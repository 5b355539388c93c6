"""The profiles and default creation options of the files riogrande writes.

Defaults, each overridden by a creation option of the same name:

* a 0/1 result (mask, selector): one ``uint8`` band stored with one bit per
  pixel (``NBITS=1``), tiled, DEFLATE at level 1;
* a function's result (:func:`riogrande.apply`): the first input's tiling
  (when its tiles are multiples of 16, else 512 x 512) and compression,
  DEFLATE at its fastest level (1: a fifth less time than 6, a file 1 %
  larger), compressed on all CPUs, BigTIFF when needed;
* a COG: GDAL's COG driver copying a scratch GeoTIFF (tiled, uncompressed:
  written once, read once) with overviews (``RESAMPLING=NEAREST``, which
  keeps classes and 0/1 values), DEFLATE at level 1 unless the data came
  with another codec the COG driver writes, blocks of 512.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Creation options of a scratch GeoTIFF another driver copies: written once, read once.
SCRATCH_TILES = {"TILED": "YES", "BLOCKXSIZE": 512, "BLOCKYSIZE": 512, "BIGTIFF": "IF_SAFER"}
#: Codecs the COG driver writes losslessly.
COG_CODECS = ("DEFLATE", "LZW", "ZSTD", "LZMA", "PACKBITS", "NONE")


def tile_length(length: int, largest: int = 512) -> int:
    """A GeoTIFF tile side (multiple of 16) no longer than needed for ``length`` pixels."""
    return min(largest, max(16, -(-int(length) // 16) * 16))


def default_nodata(dtype: str) -> int | float:
    """The nodata value of a new raster of ``dtype`` when none is given.

    NaN for floating point types; the type's largest value for unsigned
    integers (255 for ``uint8``, and ``bool`` stored as ``uint8``), its
    smallest for signed ones: the values a result is least likely to hold.
    """
    kind = np.dtype("uint8" if np.dtype(dtype) == bool else dtype)
    if np.issubdtype(kind, np.floating):
        return float("nan")
    info = np.iinfo(kind)
    return int(info.max if info.min == 0 else info.min)


def grid_profile(profile: Mapping[str, Any], dtype: str, count: int, nodata: Any
                 ) -> dict[str, Any]:
    """The keys of a new GeoTIFF that are not creation options: ``dtype``, ``count`` and
    ``nodata``, with the size and georeferencing of the rasterio ``profile``."""
    return {"driver": "GTiff", "dtype": dtype, "count": count, "width": profile["width"],
            "height": profile["height"], "crs": profile.get("crs"),
            "transform": profile["transform"], "nodata": nodata}


def mask_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Profile of a 0/1 result on the grid of the source's rasterio ``profile``.

    Single band ``uint8`` (1 valid, 0 masked) stored with one bit per pixel
    (``NBITS=1``: half the compression work of whole bytes, and smaller
    files), same size, CRS and transform, tiled and DEFLATE-compressed,
    BigTIFF when needed.
    """
    return {
        **grid_profile(profile, "uint8", 1, None),
        "tiled": True,
        "blockxsize": tile_length(profile["width"]),
        "blockysize": tile_length(profile["height"]),
        "compress": "deflate",
        "zlevel": 1,
        "nbits": 1,
        "bigtiff": "if_safer",
    }


def geotiff_defaults(profile: Mapping[str, Any], count: int) -> dict[str, Any]:
    """The upper-case GDAL creation options of a GeoTIFF of ``count`` bands derived from
    the first input's rasterio ``profile`` (see the module)."""
    width, height = profile.get("blockxsize"), profile.get("blockysize")
    aligned = profile.get("tiled") and width and height and width % 16 == 0 \
        and height % 16 == 0
    options: dict[str, Any] = {
        "TILED": "YES",
        "BLOCKXSIZE": width if aligned else tile_length(profile["width"]),
        "BLOCKYSIZE": height if aligned else tile_length(profile["height"]),
        "BIGTIFF": "IF_SAFER",
    }
    compress = str(profile.get("compress") or "").upper()
    if compress and compress != "NONE":
        options.update(COMPRESS=compress, NUM_THREADS="ALL_CPUS")
        if compress == "DEFLATE":
            options["ZLEVEL"] = 1
    if count > 1:
        options["INTERLEAVE"] = str(profile.get("interleave") or "pixel").upper()
    return options


def cog_defaults(compress: str | None = None, predictor: Any = None) -> dict[str, Any]:
    """The upper-case GDAL creation options of a COG (see the module).

    Parameters
    ----------
    compress : str, optional
        The codec of the data copied (DEFLATE when None, or one the COG
        driver does not write).
    predictor : optional
        The data's predictor, kept with its codec.
    """
    codec = str(compress or "").upper()
    if codec not in COG_CODECS:
        codec, predictor = "DEFLATE", None
    options: dict[str, Any] = {"COMPRESS": codec, "BLOCKSIZE": 512, "BIGTIFF": "IF_SAFER",
                               "RESAMPLING": "NEAREST", "NUM_THREADS": "ALL_CPUS"}
    if codec == "DEFLATE":
        options["LEVEL"] = 1
    if predictor:
        options["PREDICTOR"] = predictor
    return options
