"""The file formats a result can be written in, chosen by extension or driver name.

One table, :data:`FORMATS`, says what works; :func:`output_format` is the one
check every front end (library, CLI, QGIS) runs on an output path before any
work starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from riogrande.errors import OutputFormatError

#: Every encoding of a result (see :mod:`riogrande.outputs.encodings`).
ENCODINGS = ("values", "nodata", "mask", "sidecar", "alpha")


@dataclass(frozen=True)
class OutputFormat:
    """A format riogrande writes.

    Attributes
    ----------
    driver : str
        The GDAL driver that writes the final file.
    title : str
        Name shown to people.
    extensions : tuple of str
        File extensions (lower case, with the dot); the first is the default.
    direct : bool
        True when blocks are written straight into the file (GDAL ``Create``);
        False when the file is a ``CreateCopy`` of a scratch GeoTIFF.
    encodings : tuple of str
        The encodings this format can hold.
    dtypes : tuple of str or None
        Data types of copied pixels it can hold (None: any).
    band_counts : tuple of int or None
        Numbers of copied bands it can hold, alpha excluded (None: any).
    """

    driver: str
    title: str
    extensions: tuple[str, ...]
    direct: bool
    encodings: tuple[str, ...]
    dtypes: tuple[str, ...] | None = None
    band_counts: tuple[int, ...] | None = None


GTIFF = OutputFormat("GTiff", "GeoTIFF", (".tif", ".tiff"), True, ENCODINGS)
COG = OutputFormat("COG", "Cloud-Optimized GeoTIFF", (".tif", ".tiff"), False,
                   ("values", "nodata", "mask", "alpha"))
PNG = OutputFormat("PNG", "PNG", (".png",), False, ("values", "nodata", "alpha"),
                   dtypes=("uint8", "uint16"), band_counts=(1, 3))

#: The formats riogrande writes, by GDAL driver name.
FORMATS = {output.driver: output for output in (GTIFF, COG, PNG)}

#: Extensions that name a format riogrande refuses, and why.
REFUSED = {
    ".vrt": "a VRT only points at other files and holds no pixels of its own",
    ".jpg": "JPEG is lossy: it would change the 0/1 and data values",
    ".jpeg": "JPEG is lossy: it would change the 0/1 and data values",
    ".webp": "WebP is lossy by default: it would change the 0/1 and data values",
}


def formats_text() -> str:
    """What works, in words: ``GeoTIFF (.tif, .tiff), ...``."""
    how = {"COG": " with cog=True / --cog / --driver COG"}
    return "; ".join(f"{output.title} ({', '.join(output.extensions)}{how.get(output.driver, '')})"
                     for output in FORMATS.values())


def supported_extensions() -> list[str]:
    """Extensions (without the dot) of every format riogrande writes, default first."""
    extensions: list[str] = []
    for output in FORMATS.values():
        extensions.extend(ext[1:] for ext in output.extensions if ext[1:] not in extensions)
    return extensions


def output_format(
    path: str | os.PathLike[str], driver: str | None = None, cog: bool = False
) -> OutputFormat:
    """Return the format of an output, from ``driver`` or else the file extension.

    Parameters
    ----------
    path : str or path-like
        The output file.
    driver : str, optional
        A GDAL driver name (``GTiff``, ``COG``, ``PNG``; any case).
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF (the same as ``driver="COG"``).

    Raises
    ------
    OutputFormatError
        For a driver or extension riogrande does not write, naming what works.
    """
    works = f"riogrande writes {formats_text()}"
    if driver is not None:
        by_name = {name.lower(): output for name, output in FORMATS.items()}
        chosen = by_name.get(str(driver).lower())
        if chosen is None:
            raise OutputFormatError(f"cannot write the driver {driver!r}: {works}")
        if cog and chosen.driver not in ("GTiff", "COG"):
            raise OutputFormatError(f"a COG is a GeoTIFF; it cannot be written with the "
                                    f"driver {chosen.driver}")
        return COG if cog else chosen
    suffix = Path(path).suffix.lower()
    if cog:
        if suffix not in COG.extensions:
            raise OutputFormatError(f"a COG is a GeoTIFF: name the output {Path(path).stem}.tif "
                                    f"(got {suffix or 'no extension'})")
        return COG
    for output in FORMATS.values():
        if suffix in output.extensions:
            return output
    if suffix in REFUSED:
        raise OutputFormatError(f"cannot write {Path(path).name}: {REFUSED[suffix]}; {works}")
    raise OutputFormatError(f"cannot tell the format of {Path(path).name} from its extension "
                            f"{suffix or '(none)'}: {works}; or give the driver")
