"""GDAL dataset names: plain files, and names that are not files.

GDAL opens more than paths: virtual file systems (``/vsizip/a.zip/b.tif``,
``/vsicurl/https://...``), URLs, and subdatasets of containers named
``DRIVER:...`` (``NETCDF:"RGB.nc":Band1``, ``netcdf:RGB.nc:Band1``,
``GTIFF_DIR:2:pages.tif``, ``HDF5:"f.h5"://x``). Existence checks apply only
to plain paths; :func:`backing_file` finds the local file behind any name, so
an output can be compared with the files a run reads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: ``DRIVER:`` at the start of a subdataset name (two letters at least: ``C:`` is a drive).
_DRIVER_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]+:")
#: Virtual file systems whose name continues with the path of a local archive.
_ARCHIVES = ("/vsizip/", "/vsitar/", "/vsigzip/", "/vsi7z/", "/vsirar/")


def is_plain_path(name: str | os.PathLike[str]) -> bool:
    """Tell whether ``name`` is a path of the local file system rather than another GDAL name.

    A name is a plain path unless it is a ``/vsi...`` path, a URL, or a
    ``DRIVER:...`` subdataset name; a file that exists under the name
    (``a:b.tif``) is always a plain path.
    """
    text = os.fspath(name)
    if text.startswith("/vsi") or "://" in text:
        return False
    return not _DRIVER_PREFIX.match(text) or os.path.exists(text)


def _longest_existing(parts: list[str], separator: str, anchored: bool) -> Path | None:
    """The longest run of consecutive ``parts`` that, joined, names an existing file.

    ``anchored``: only runs starting with the first part.
    """
    for length in range(len(parts), 0, -1):
        for start in range(1 if anchored else len(parts) - length + 1):
            candidate = separator.join(parts[start:start + length]).strip('"')
            if candidate and os.path.isfile(candidate):
                return Path(candidate)
    return None


def backing_file(name: str | os.PathLike[str]) -> Path | None:
    """The local file that GDAL reads for dataset ``name``, if there is one.

    Parameters
    ----------
    name : str or path-like
        A plain path, a subdataset name (``NETCDF:"RGB.nc":Band1``,
        ``GTIFF_DIR:2:pages.tif``) or an archive path (``/vsizip/a.zip/b.tif``).

    Returns
    -------
    pathlib.Path or None
        The path itself for a plain path (existing or not), the container or
        archive file for the others, None for remote data (``/vsicurl/``, URLs)
        or when no local file can be found.
    """
    text = os.fspath(name)
    if is_plain_path(text):
        return Path(text)
    for prefix in _ARCHIVES:
        if text.startswith(prefix):
            return _longest_existing(text[len(prefix):].split("/"), "/", anchored=True)
    if text.startswith("/vsi") or "://" in text:
        return None
    quoted = re.search(r'"([^"]+)"', text)
    if quoted and os.path.isfile(quoted.group(1)):
        return Path(quoted.group(1))
    return _longest_existing(text.split(":")[1:], ":", anchored=False)
