"""Raster files and bands as light, picklable objects.

:class:`Source` (:mod:`riogrande.io.source`) is a raster file, :class:`Band`
(:mod:`riogrande.io.band`) one band of it. Neither keeps a dataset open:
each reader or writer is a context manager that opens the file, yields a
callable, and closes it again (worker processes keep read-only datasets open
through :mod:`riogrande.io.handles`). Both pickle cheaply, so they can be
sent to worker processes. Their file operations live in
:mod:`riogrande.io.operations`, :mod:`riogrande.io.pixels` and
:mod:`riogrande.io.tags`.
"""

from __future__ import annotations

from riogrande.errors import SourceError
from riogrande.io.band import MASK_READERS, Band
from riogrande.io.checks import check_band_index
from riogrande.io.source import Source
from riogrande.io.tags import NS, write_tags

__all__ = ["MASK_READERS", "NS", "Band", "Source", "SourceError", "check_band_index", "write_tags"]
