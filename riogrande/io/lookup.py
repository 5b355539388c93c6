"""Finding bands by their tags across files, under the GeoRacoon package's names.

:func:`get_bands_by_tag` searches the files of a glob pattern; the private
names of the package's ``io.core`` (``_set_tags``, ``_get_tags``,
``_find_bidxs``, ``_get_bidx_by_tag``) are the tag functions of
:mod:`riogrande.io.tags`.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from riogrande.io.handles import dataset
from riogrande.io.tags import (
    NS,
    bidx_by_tags,
    find_bidxs,
    match_all,
    read_tags,
    sanitize,
    write_tags,
)

__all__ = ["_find_bidxs", "_get_bidx_by_tag", "_get_tags", "_set_tags", "get_bands_by_tag"]


def _set_tags(src: Any, bidx: int | None = None, ns: str = NS, **tags: Any) -> None:
    """Merge ``tags`` into a band's (or the dataset's) metadata: :func:`write_tags`."""
    write_tags(src, tags, bidx, ns)


_get_tags = read_tags
_find_bidxs = find_bidxs
_get_bidx_by_tag = bidx_by_tags


def get_bands_by_tag(
    source: str | os.PathLike[str], ns: str = NS, **tags: Any
) -> list[tuple[str, int | None]]:
    """Find the bands, in the files matching a glob pattern, whose tags hold ``tags``.

    Parameters
    ----------
    source : str or path-like
        A :func:`glob.glob` pattern (or one file's path).
    ns : str, default NS
    **tags
        Values to match (no tag can be named ``source`` or ``ns``).

    Returns
    -------
    list of (path, bidx)
        Files in sorted order; per file its matching bands, then
        ``(path, None)`` if the dataset's own tags match.
    """
    found: list[tuple[str, int | None]] = []
    wanted = sanitize(tags)
    for path in sorted(glob.glob(os.fspath(source))):
        with dataset(path) as src:
            found += [(path, bidx) for bidx in find_bidxs(src, ns, **tags)]
            if match_all(wanted, read_tags(src, None, ns)):
                found.append((path, None))
    return found
