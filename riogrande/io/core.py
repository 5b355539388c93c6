"""The file operations and tag helpers under the GeoRacoon package's module name.

Code written as ``from riogrande.io.core import load_block, NS`` finds here what
:mod:`riogrande.io.operations`, :mod:`riogrande.io.lookup` and
:mod:`riogrande.io.tags` define.
"""

from __future__ import annotations

from riogrande.io.lookup import (
    _find_bidxs,
    _get_bidx_by_tag,
    _get_tags,
    _set_tags,
    get_bands_by_tag,
)
from riogrande.io.operations import (
    compress_tif,
    coregister_raster,
    load_block,
    update_band,
    write_band,
)
from riogrande.io.tags import NS

__all__ = [
    "NS",
    "_find_bidxs",
    "_get_bidx_by_tag",
    "_get_tags",
    "_set_tags",
    "compress_tif",
    "coregister_raster",
    "get_bands_by_tag",
    "load_block",
    "update_band",
    "write_band",
]
