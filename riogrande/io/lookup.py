"""Band indexes and tags of a :class:`~riogrande.io.models.Source`: checking, finding, tagging."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from riogrande.errors import BandSelectionAmbiguousError, BandSelectionNoMatchError
from riogrande.helper import match_all, match_any, sanitize
from riogrande.io.checks import check_band_index
from riogrande.io.handles import dataset
from riogrande.io.tags import bidx_by_tags, find_bidxs, read_tags, write_tags

if TYPE_CHECKING:
    from riogrande.io.band import Band

logger = logging.getLogger(__name__)


class SourceLookupMixin:
    """Methods of :class:`~riogrande.io.models.Source` about band indexes and tags."""

    name: str
    ns: str
    tags: dict[str, Any]

    def _file_tags(self, src: Any, bidx: int | None) -> dict[str, Any]:
        return read_tags(src, bidx, self.ns)

    def _resolve(self, src: Any, bidx: int | None, tags: dict[str, Any]) -> int:
        """The band of the open ``src`` with index ``bidx`` and ``tags`` (either may be empty)."""
        if bidx is not None:
            check_band_index(bidx, src.count, self.name)
            if tags and not match_all(sanitize(tags), self._file_tags(src, bidx)):
                raise BandSelectionAmbiguousError(
                    f"band {bidx} of {self.name} does not have the tags {tags}")
            return int(bidx)
        if not tags:
            return 1
        found = bidx_by_tags(src, self.ns, **tags)
        if isinstance(found, list):
            if len(found) != 1:
                raise BandSelectionAmbiguousError(
                    f"{found} name several bands of {self.name}; one band is needed")
            found = found[0]
        return found

    @property
    def band_indexes(self) -> tuple[int, ...]:
        """The 1-based indexes of the file's bands."""
        with dataset(self.name) as src:
            return tuple(src.indexes)

    def has_bidx(self, bidx: int) -> bool:
        """Tell whether the file has band ``bidx``."""
        return bidx in self.band_indexes

    def get_tags(self, bidx: int | None = None) -> dict[str, Any]:
        """Read the tags of a band, or of the dataset.

        Parameters
        ----------
        bidx : int or None
            Band to read from; None or 0 reads the dataset's tags.

        Returns
        -------
        dict
        """
        with dataset(self.name) as src:
            if bidx:
                check_band_index(bidx, src.count, self.name)
            return self._file_tags(src, bidx)

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
            indexes = src.indexes if bidx is None else [bidx] if isinstance(bidx, int) else bidx
            for index in indexes:
                check_band_index(index, src.count, self.name)
            return {index: self._file_tags(src, index).get(tag) for index in indexes}

    def set_tags(self, bidx: int | None, tags: dict[str, Any]) -> None:
        """Merge ``tags`` into a band's (or, for None or 0, the dataset's) tags in the file."""
        with dataset(self.name, "r+") as dst:
            if bidx:
                check_band_index(bidx, dst.count, self.name)
            write_tags(dst, tags, bidx, self.ns)

    def export_tags(self, bidx: int = 0) -> None:
        """Store :attr:`tags` in the file (for band ``bidx``; 0: the dataset)."""
        self.set_tags(bidx, self.tags)

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
                        if match_any(wanted, self._file_tags(src, bidx))]
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
