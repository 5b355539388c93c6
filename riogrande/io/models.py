"""Raster files and bands with the methods of the GeoRacoon package: :class:`Source`, :class:`Band`.

The classes of :mod:`riogrande.io.rasters` (what the engine reads with),
plus what code written for the GeoRacoon package calls on them: tag
look-ups, masks, per-band statistics and arithmetic (:mod:`riogrande.io.pixels`),
compressing and reading blocks (:mod:`riogrande.io.operations`). Both still
pickle cheaply and keep no dataset open.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.compatibility import check_compatibility
from riogrande.errors import BandSelectionNoMatchError, SourceError
from riogrande.io import operations, pixels, rasters
from riogrande.io.checks import check_band_index
from riogrande.io.handles import dataset
from riogrande.io.rasters import MASK_READERS
from riogrande.io.tags import NS, find_bidxs, match_any, read_tags, sanitize, write_tags

__all__ = ["MASK_READERS", "NS", "Band", "Source", "SourceError", "check_band_index", "write_tags"]

logger = logging.getLogger(__name__)


class Source(rasters.Source):
    """A raster file (see :class:`riogrande.io.rasters.Source`), with the GeoRacoon methods."""

    def _band(self, bidx: int | None, tags: dict[str, Any]) -> Band:
        return Band(self, bidx, tags=tags)

    def import_profile(self, update_self: bool = True) -> dict[str, Any]:
        """Read the profile from the file.

        Parameters
        ----------
        update_self : bool, default True
            Merge it into :attr:`profile` (the file's entries win) and
            return :attr:`profile` itself, as the GeoRacoon package does:
            changing the result changes this Source's profile.

        Returns
        -------
        dict
            :attr:`profile`; with ``update_self=False``, a new dict holding
            the file's profile.
        """
        profile = super().import_profile(update_self)
        return self.profile if update_self else profile

    def get_mask(self, okwargs: dict[str, Any] | None = None, **kwargs: Any) -> NDArray:
        """Read the dataset mask (``okwargs`` go to the open call, the rest to the read)."""
        with self.mask_reader(**(okwargs or {})) as read:
            return read(**kwargs)

    def export_mask(self, mask: NDArray, window: Window | None = None) -> None:
        """Write ``mask`` (non-zero = valid) into the file's internal dataset mask."""
        with self.mask_writer() as write:
            write(mask, window=window)

    def compress(
        self,
        output: str | os.PathLike[str] | None = None,
        compression: str | None = "lzw",
        keep_original: bool = False,
    ) -> None:
        """Write the file compressed, keeping its masks, tags and colours; name the copy.

        Parameters
        ----------
        output : str or path-like, optional
            Where to write: ``<stem>_compress.tif`` (``<stem>_decompressed.tif``
            without compression) next to the file by default, as
            :func:`~riogrande.io.operations.compress_tif`; the file itself
            to compress it in place (replaced once the copy is complete).
        compression : str or None, default "lzw"
            GDAL compression; None or ``"none"`` writes it uncompressed.
        keep_original : bool, default False
            Keep the original file. Otherwise it is deleted once the copy is
            complete, as in the GeoRacoon package (so without ``output`` the
            file is moved to ``<stem>_compress.tif``). Either way the Source
            then names the copy.
        """
        target = Path(operations.compress_tif(self.name, output, compression))
        if target.resolve() != self.path.resolve():
            if not keep_original:
                self.path.unlink()
                logger.info("removed %s (compressed into %s)", self.name, target)
            self._name = os.fspath(target)
        self._profile, self._profile_from_file = None, False

    def check_compatibility(self, *sources: Source) -> tuple[list, list, list]:
        """Check that this raster and ``sources`` can be combined cell by cell.

        See :func:`riogrande.helper.check_compatibility` (CRS, linear units,
        resolution, and size and transform).

        Returns
        -------
        (crss, units, resolutions)
            Per raster, this one first, then ``sources`` in order.
        """
        names = list(dict.fromkeys([self.name, *(source.name for source in sources)]))
        return check_compatibility(*names)

    def load_block(
        self, view: Sequence[int] | None = None, scaling_params: dict[str, Any] | None = None,
        **tags: Any,
    ) -> dict[str, Any]:
        """Read a view of the band(s) with ``tags``: :func:`riogrande.io.operations.load_block`."""
        if tags and "indexes" not in tags:
            with dataset(self.name) as src:
                tags = {"indexes": self._resolve(src, None, tags)}
        return operations.load_block(self.name, view, scaling_params, **tags)

    @property
    def band_indexes(self) -> tuple[int, ...]:
        """The 1-based indexes of the file's bands."""
        with dataset(self.name) as src:
            return tuple(src.indexes)

    def has_bidx(self, bidx: int) -> bool:
        """Tell whether the file has band ``bidx``."""
        return bidx in self.band_indexes

    def get_tag_values(
        self, tag: str, bidx: int | list[int] | None = None
    ) -> dict[int, Any]:
        """Read one tag of several bands.

        Parameters
        ----------
        tag : str
        bidx : int, list of int or None
            Bands to read; all by default.

        Returns
        -------
        dict
            ``{bidx: value}``, None for a band without the tag.
        """
        with dataset(self.name) as src:
            indexes = self._band_indexes(src, [bidx] if isinstance(bidx, int) else bidx)
            return {index: read_tags(src, index, self.ns).get(tag) for index in indexes}

    def has_tags(self, tags: dict[str, Any]) -> bool:
        """Tell whether a band has all of ``tags`` (tuples match the lists they are stored as)."""
        return bool(self.find_indexes(tags))

    def find_indexes(self, tags: dict[str, Any], mode: str = "all") -> list[int]:
        """The bands having all (``mode="all"``) or any (``"any"``) of ``tags``.

        Raises
        ------
        ValueError
            For another mode.
        """
        with dataset(self.name) as src:
            if mode == "all":
                return find_bidxs(src, self.ns, **tags)
            if mode == "any":
                wanted = sanitize(tags)
                return [bidx for bidx in src.indexes
                        if match_any(wanted, read_tags(src, bidx, self.ns))]
        raise ValueError(f"unknown mode {mode!r}: use 'all' or 'any'")

    def find_index(self, tags: dict[str, Any]) -> int | None:
        """The band having all of ``tags`` if exactly one has them, else None (logged)."""
        found = self.find_indexes(tags)
        if len(found) == 1:
            return found[0]
        logger.warning("%s: %s bands have the tags %s", self.name,
                       "several" if found else "no", tags)
        return None

    def has_band(self, band: Band) -> bool:
        """Tell whether ``band`` belongs to this file and can be found in it."""
        if band.source != self:
            return False
        try:
            self.get_bidx(band)
        except BandSelectionNoMatchError:
            return False
        return True

    def get_bidx(self, band: Band) -> int:
        """Resolve ``band``'s index from its index and tags.

        Raises
        ------
        BandSelectionNoMatchError
            If the index does not exist or no band has the tags.
        BandSelectionAmbiguousError
            If several bands have the tags, or index and tags disagree.
        """
        with dataset(self.name) as src:
            return self._resolve(src, band._bidx, band.tags)


class Band(rasters.Band):
    """One band of a :class:`Source` (see :class:`riogrande.io.rasters.Band`), with the
    GeoRacoon methods."""

    _source_type = Source

    @property
    def source_exists(self) -> bool:
        """Whether the band's file exists."""
        return self.source.exists

    @property
    def index_exists(self) -> bool:
        """Whether the band can be found in its file (False without index)."""
        return self._bidx is not None and self.source.exists and self.source.has_bidx(self._bidx)

    @property
    def status(self) -> None:
        """Log (INFO) whether the file exists, the index, and whether the tags are in the file."""
        lines = [f"{self!r}", f"file exists: {self.source_exists}",
                 f"index: {self._bidx} (exists: {self.index_exists})"]
        if self.source_exists and self.tags:
            lines.append(f"bands with all the tags: {self.source.find_indexes(self.tags)}")
        logger.info("\n  ".join(lines))

    def set_data(self, data: NDArray, overwrite: bool = False, **kwargs: Any) -> None:
        """Write the whole band.

        An existing file is updated in place; a new file (or, with
        ``overwrite``, a replacement) is created from :attr:`Source.profile`
        updated with ``kwargs`` and, where the profile lacks them, the size
        and type of ``data``.
        """
        data = np.asarray(data)
        mode = "w" if overwrite or not self.source.exists else "r+"
        if mode == "w":
            defaults = {"height": data.shape[0], "width": data.shape[1], "dtype": data.dtype.name}
            kwargs = {**{key: value for key, value in defaults.items()
                         if key not in self.source.profile}, **kwargs}
        with self.data_writer(mode=mode, **kwargs) as write:
            write(data)

    def load_block(
        self, view: Sequence[int] | None = None, scaling_params: dict[str, Any] | None = None,
        match: str | Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Read a view of this band: :func:`riogrande.io.operations.load_block` (2-D data)."""
        return operations.load_block(self.source.name, view, scaling_params,
                                     indexes=self.get_bidx(match))

    def import_tags(self, match: str | Sequence[str] | None = None, keep: bool = True) -> None:
        """Read this band's tags from the file: merged over :attr:`tags` (``keep``) or instead."""
        with dataset(self.source.name) as src:
            found = read_tags(src, self.index_in(src, match), self.source.ns)
        self.tags = {**self.tags, **found} if keep else found

    def count_valid_pixels(
        self, selector: NDArray | None = None, no_data: Any = 0, limit_count: int = 0
    ) -> int | bool:
        """Count the cells holding data: :func:`riogrande.io.pixels.count_valid_pixels`."""
        return pixels.count_valid_pixels(self, selector, no_data, limit_count)

    def get_min_max(self, no_data: Any = 0, selector: NDArray | None = None) -> Any:
        """Smallest and largest value: :func:`riogrande.io.pixels.get_min_max`."""
        return pixels.get_min_max(self, no_data, selector)

    def add(self, band: Band, out_band: Band | None = None, **np_kwargs: Any) -> None:
        """Write ``self + band`` into ``out_band`` (self by default), block by block.

        See :func:`riogrande.io.pixels.pair_operation`.
        """
        pixels.pair_operation(self, band, out_band, np.add, **np_kwargs)

    def subtract(self, band: Band, out_band: Band | None = None, **np_kwargs: Any) -> None:
        """Write ``self - band`` into ``out_band`` (self by default), block by block.

        See :func:`riogrande.io.pixels.pair_operation`.
        """
        pixels.pair_operation(self, band, out_band, np.subtract, **np_kwargs)
