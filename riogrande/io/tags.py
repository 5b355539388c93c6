"""Tags: JSON metadata of a raster's bands and dataset, and finding bands by their tags.

Tags are stored as GDAL metadata in the domain :data:`NS` (``"GEORACOON"``),
of a band (index 1 and up) or of the dataset (index 0 or None), one item per
tag, each value as JSON text: a string is stored with its quotes
(``category = "model"``), numbers, lists and dicts round-trip. Files tagged
by the GeoRacoon package read back here and the other way round.

Reading also accepts what other tools write: a value that is not JSON text
comes back as the plain string, and tags of the domain ``"riogrande"``
are read as well, under those of :data:`NS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from riogrande.errors import BandSelectionAmbiguousError, BandSelectionNoMatchError

#: The GDAL metadata domain of riogrande tags.
NS = "GEORACOON"
#: A second domain whose tags are read, under those of :data:`NS`.
LEGACY_NS = "riogrande"


def _json_default(value: Any) -> Any:
    """Make numpy scalars and arrays JSON-serialisable (as Python numbers and lists)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"tag value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def _json_loads(text: str) -> Any:
    """Decode JSON text; text that is not JSON (written by another tool) stays a string."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def serialize(tags: Mapping[str, Any]) -> dict[str, str]:
    """Encode every tag value as JSON text (numpy scalars and arrays included).

    Raises
    ------
    TypeError
        For a value JSON cannot hold.
    """
    return {str(key): json.dumps(value, default=_json_default) for key, value in tags.items()}


def deserialize(tags: Mapping[str, str]) -> dict[str, Any]:
    """Decode JSON tag values; a value that is not JSON text is kept as the string it is."""
    return {key: _json_loads(value) for key, value in tags.items()}


def sanitize(tags: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise tag values as they read back from a file (tuples become lists, ...)."""
    return deserialize(serialize(tags))


def match_all(targets: Mapping[str, Any], tags: Mapping[str, Any]) -> bool:
    """Tell whether every key of ``targets`` is in ``tags`` with an equal value (True if none)."""
    return all(key in tags and tags[key] == value for key, value in targets.items())


def match_any(targets: Mapping[str, Any], tags: Mapping[str, Any]) -> bool:
    """Tell whether a key of ``targets`` is in ``tags`` with an equal value (False if none)."""
    return any(key in tags and tags[key] == value for key, value in targets.items())


def write_tags(dst: Any, tags: Mapping[str, Any], bidx: int | None = 0, ns: str = NS) -> None:
    """Merge ``tags`` into the metadata, domain ``ns``, of band ``bidx`` (0 or None: the dataset).

    ``dst`` is open for writing; the values are JSON-serialisable (numpy
    scalars and arrays included).
    """
    if tags:
        dst.update_tags(int(bidx or 0), ns=ns, **serialize(tags))


def read_tags(src: Any, bidx: int | None = None, ns: str = NS) -> dict[str, Any]:
    """Read the tags, domain ``ns``, of band ``bidx`` (0 or None: the dataset).

    Values are decoded; text that is not JSON stays a string.
    """
    bidx = int(bidx or 0)
    tags = deserialize(src.tags(bidx, ns=ns))
    if ns == NS:
        tags = {**deserialize(src.tags(bidx, ns=LEGACY_NS)), **tags}
    return tags


def find_bidxs(src: Any, ns: str = NS, **tags: Any) -> list[int]:
    """List the bands whose tags hold all of ``tags`` (every band when none are given).

    The values are normalised with :func:`sanitize`, so a tuple matches the
    list it is stored as.
    """
    wanted = sanitize(tags)
    return [bidx for bidx in src.indexes if match_all(wanted, read_tags(src, bidx, ns))]


def _check_indexes(src: Any, indexes: Any) -> int | list[int]:
    wanted = indexes if isinstance(indexes, (list, tuple)) else [indexes]
    for bidx in wanted:
        if isinstance(bidx, bool) or not isinstance(bidx, (int, np.integer)) or (
            bidx not in src.indexes
        ):
            raise BandSelectionNoMatchError(
                f"band {bidx!r} does not exist in {src.name}: it has bands {list(src.indexes)}"
            )
    return [int(bidx) for bidx in wanted] if isinstance(indexes, (list, tuple)) else int(indexes)


def bidx_by_tags(src: Any, ns: str = NS, **tags: Any) -> int | list[int]:
    """Find the one band whose tags hold ``tags``.

    Parameters
    ----------
    **tags
        Values to match; ``indexes=`` (an int or a list) names the band(s)
        directly, and without tags band 1 is meant.

    Raises
    ------
    BandSelectionNoMatchError
        If no band matches, or a given index does not exist.
    BandSelectionAmbiguousError
        If several bands match.
    """
    if "indexes" in tags or not tags:
        return _check_indexes(src, tags.get("indexes", 1))
    matches = find_bidxs(src, ns, **tags)
    if not matches:
        raise BandSelectionNoMatchError(f"no band of {src.name} has the tags {tags}")
    if len(matches) > 1:
        raise BandSelectionAmbiguousError(
            f"bands {matches} of {src.name} all have the tags {tags}; add tags to choose one"
        )
    return matches[0]


