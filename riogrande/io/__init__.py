"""Raster input and output: models, tags, file operations, dataset handles, checks, exceptions.

The names below are importable from here (``from riogrande.io import Source,
load_block``); they are loaded on first use, so that importing a submodule
such as :mod:`riogrande.io.handles` stays cheap:

* :class:`~riogrande.io.models.Source`, :class:`~riogrande.io.models.Band`;
* :func:`~riogrande.io.operations.load_block`,
  :func:`~riogrande.io.operations.write_band`,
  :func:`~riogrande.io.operations.update_band`,
  :func:`~riogrande.io.operations.compress_tif`,
  :func:`~riogrande.io.operations.coregister_raster`;
* :func:`~riogrande.io.lookup.get_bands_by_tag` and the tag helpers of
  :mod:`riogrande.io.tags`.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "riogrande.io.models": ("Source", "Band"),
    "riogrande.io.operations": (
        "load_block", "write_band", "update_band", "compress_tif", "coregister_raster"),
    "riogrande.io.lookup": (
        "get_bands_by_tag", "_set_tags", "_get_tags", "_find_bidxs", "_get_bidx_by_tag"),
    "riogrande.io.tags": ("NS", "read_tags", "write_tags", "find_bidxs", "bidx_by_tags"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [name for name in _EXPORTS if not name.startswith("_")]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
