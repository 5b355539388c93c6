"""The output of a function over rasters: a GeoTIFF or COG derived from the first input.

:func:`riogrande.apply` (and so ``riogrande calc`` and the QGIS calculator)
writes what the function returns on the grid of its first input. The data
type and band count are known only once the first block arrives, so
:func:`derived_output` checks what it can before any work (format, path,
creation options when the type and count are given) and
:meth:`DerivedOutput.profile` builds and checks the profile when the first
block arrives, before anything is written.

Defaults, each overridden by a creation option of the same name:

* GeoTIFF: the first input's tiling (when its tiles are multiples of 16,
  else 512 x 512) and compression, DEFLATE at its fastest level (1: a fifth
  less time than 6, a file 1 % larger), compressed on all CPUs, BigTIFF when
  needed; ``COMPRESS=NONE`` writes fastest, ``COMPRESS=ZSTD`` compresses
  nearly as well as DEFLATE in about half the time;
* COG: written into an uncompressed scratch GeoTIFF next to the output, then
  copied by GDAL's COG driver with overviews (``RESAMPLING=NEAREST``, which
  keeps classes), the first input's compression (DEFLATE level 1 when it
  has none or another codec the COG driver lacks), blocks of 512.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riogrande.errors import OutputFormatError
from riogrande.io.checks import check_output_path
from riogrande.io.handles import dataset
from riogrande.io.output import atomic_output
from riogrande.outputs.formats import OutputFormat, output_format
from riogrande.outputs.options import (
    check_creation_options,
    merge_options,
    normalize_creation_options,
)
from riogrande.outputs.profiles import tile_length
from riogrande.outputs.written import check_written, scratch_folder, translate

#: Creation options of the scratch GeoTIFF a COG is copied from: written once, read once.
COG_SCRATCH = {"TILED": "YES", "BLOCKXSIZE": 512, "BLOCKYSIZE": 512, "BIGTIFF": "IF_SAFER"}
#: Codecs the COG driver writes losslessly.
COG_CODECS = ("DEFLATE", "LZW", "ZSTD", "LZMA", "PACKBITS", "NONE")


def grid_profile(profile: Mapping[str, Any], dtype: str, count: int, nodata: Any
                 ) -> dict[str, Any]:
    """The keys of a new GeoTIFF that are not creation options: size, type, georeferencing."""
    return {"driver": "GTiff", "dtype": dtype, "count": count, "width": profile["width"],
            "height": profile["height"], "crs": profile.get("crs"),
            "transform": profile["transform"], "nodata": nodata}


def geotiff_defaults(profile: Mapping[str, Any], count: int) -> dict[str, Any]:
    """riogrande's creation options of a GeoTIFF derived from ``profile`` (see the module).

    Parameters
    ----------
    profile : mapping
        rasterio profile of the first input.
    count : int
        Number of bands of the output.

    Returns
    -------
    dict
        Upper-case GDAL creation options.
    """
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


def cog_defaults(profile: Mapping[str, Any]) -> dict[str, Any]:
    """riogrande's creation options of a COG derived from ``profile`` (see the module)."""
    compress = str(profile.get("compress") or "").upper()
    if compress not in COG_CODECS:
        compress = "DEFLATE"
    options: dict[str, Any] = {"COMPRESS": compress, "BLOCKSIZE": 512, "BIGTIFF": "IF_SAFER",
                               "RESAMPLING": "NEAREST", "NUM_THREADS": "ALL_CPUS"}
    if compress == "DEFLATE":
        options["LEVEL"] = 1
    return options


@dataclass(frozen=True)
class DerivedOutput:
    """A checked output path and form, ready for the first block.

    Attributes
    ----------
    path : pathlib.Path
        The final file.
    source : mapping
        rasterio profile of the first input (grid, tiling, compression).
    cog : bool
        Whether it is a Cloud-Optimized GeoTIFF.
    creation_options : dict
        The caller's creation options (upper-case keys), over the defaults.
    """

    path: Path
    source: Mapping[str, Any]
    cog: bool
    creation_options: dict[str, str]

    def options(self, count: int) -> dict[str, Any]:
        """The final file's creation options for ``count`` bands: defaults, then the caller's."""
        defaults = cog_defaults(self.source) if self.cog else geotiff_defaults(self.source, count)
        return merge_options(defaults, self.creation_options)

    def check(self, dtype: str, count: int) -> dict[str, Any]:
        """Check the final options with GDAL for ``count`` bands of ``dtype``; return them.

        Raises
        ------
        CreationOptionError
            Quoting what GDAL said.
        """
        options = self.options(count)
        check_creation_options("COG" if self.cog else "GTiff", not self.cog, dtype, count,
                               options)
        return options

    def profile(self, dtype: str, count: int, nodata: Any) -> dict[str, Any]:
        """The profile the blocks are written with: the final file's, or a COG's scratch.

        Parameters
        ----------
        dtype : str
            Data type of the result.
        count : int
            Its number of bands.
        nodata : int, float or None
            Its nodata value.

        Returns
        -------
        dict

        Raises
        ------
        CreationOptionError
            For options GDAL rejects for this type and band count.
        """
        options = self.check(dtype, count)
        written = dict(COG_SCRATCH) if self.cog else options
        return {**grid_profile(self.source, dtype, count, nodata), **written}

    @contextmanager
    def writing(self) -> Iterator[Path]:
        """Yield where the blocks go; on success the final file appears, checked whole.

        The blocks are written into a temporary file next to the output (a
        GeoTIFF), or into a scratch GeoTIFF that GDAL's COG driver then
        copies; the output appears under its name only once complete.

        Raises
        ------
        OutputError
            If the file cannot be written or comes out incomplete (a full disk).
        """
        with atomic_output(self.path) as temporary:
            if self.cog:
                with scratch_folder(self.path.parent) as folder:
                    scratch = folder / "blocks.tif"
                    yield scratch
                    check_written(scratch, self.path)
                    with dataset(scratch) as written:
                        count = written.count
                    translate(scratch, temporary, "COG", self.options(count))
            else:
                yield temporary
            check_written(temporary, self.path)


def check_derived_format(output: str | os.PathLike[str], cog: bool = False) -> OutputFormat:
    """The format of a calculated result at ``output``: a GeoTIFF or a COG.

    Raises
    ------
    OutputFormatError
        For any other format, or an extension riogrande does not write.
    """
    chosen = output_format(output, cog=cog)
    if chosen.driver not in ("GTiff", "COG"):
        raise OutputFormatError(f"cannot write {Path(output).name}: a calculated result is "
                                f"written as a GeoTIFF (.tif, .tiff) or a COG, not as "
                                f"{chosen.title}")
    return chosen


def derived_output(
    output: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    profile: Mapping[str, Any],
    *,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    count: int | None = None,
) -> DerivedOutput:
    """Check an output of :func:`riogrande.apply` before any work.

    Parameters
    ----------
    output : str or path-like
        The new file: a GeoTIFF (``.tif``, ``.tiff``).
    inputs : list of path-like
        Every raster read, none of which may be overwritten.
    profile : mapping
        rasterio profile of the first input.
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF.
    creation_options : mapping, optional
        GDAL creation options over riogrande's defaults (see the module).
    dtype : str, optional
        The output's data type, when known before the first block.
    count : int, optional
        Its number of bands, when known.

    Returns
    -------
    DerivedOutput

    Raises
    ------
    OutputFormatError
        For an output that is not a GeoTIFF.
    CreationOptionError
        For a reserved option, or one GDAL rejects (checked when ``dtype``
        and ``count`` are known).
    OutputError
        For an output that is an input, or a folder that cannot take it.
    """
    chosen = check_derived_format(output, cog)
    path = check_output_path(output, inputs)
    derived = DerivedOutput(path, dict(profile), chosen.driver == "COG",
                            normalize_creation_options(creation_options))
    if dtype is not None and count is not None:
        derived.check(dtype, count)
    return derived
