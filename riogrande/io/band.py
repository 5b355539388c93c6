"""One band of a raster file as a light, picklable object: :class:`Band`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.errors import InvalidMaskSelectorError
from riogrande.io import operations, pixels
from riogrande.io.checks import check_band_index
from riogrande.io.create import new_raster, open_existing
from riogrande.io.handles import dataset, read_errors
from riogrande.io.source import Source
from riogrande.io.tags import bidx_by_tags, read_tags, write_tags

MASK_READERS = ("band", "self", "source", "mask_none", "mask_all")

Reader = Callable[..., NDArray]


def _window_shape(window: Window | None, shape: tuple[int, int]) -> tuple[int, int]:
    if window is None:
        return shape
    return int(window.height), int(window.width)


def _plain(value: Any) -> Any:
    """A JSON stand-in for a tag value JSON cannot hold (to compare and hash bands)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def _candidate_tags(tags: dict[str, Any], match: str | int | Sequence[str] | None) -> dict:
    if match is None:
        return dict(tags)
    keys = [match] if isinstance(match, (str, int)) else list(match)
    return {key: value for key, value in tags.items() if key in keys}


class Band:
    """One band of a :class:`Source`.

    Parameters
    ----------
    source : Source or str or path-like
        The file holding the band.
    bidx : int or None
        1-based band index. None: the band is found by its ``tags`` in the
        file when used (band 1 without tags).
    tags : dict or None
        Metadata: stored with :meth:`export_tags`, and used to find the band
        when ``bidx`` is None. For code written as ``Band(source, tags, bidx)``
        (the GeoRacoon order), a dict second argument is taken as the tags.
    read_params : dict or None
        Keywords of every data read (e.g. ``{"masked": True}``).
    _use_mask : str or None
        The mask reader, as :meth:`set_mask_reader`.
    """

    def __init__(
        self,
        source: Source | str | os.PathLike[str],
        bidx: int | None = None,
        tags: dict[str, Any] | None = None,
        read_params: dict[str, Any] | None = None,
        _use_mask: str | None = None,
    ) -> None:
        if isinstance(bidx, Mapping) and not isinstance(tags, Mapping):
            bidx, tags = tags, bidx
        self.source = source if isinstance(source, Source) else Source(source)
        self._bidx = bidx
        self.tags: dict[str, Any] = dict(tags or {})
        self.read_params: dict[str, Any] = dict(read_params or {})
        self.mask_use = "band"
        if _use_mask is not None:
            self.set_mask_reader(_use_mask)

    def __repr__(self) -> str:
        return f"Band({self.source!r}, bidx={self._bidx}, tags={self.tags})"

    def _key(self) -> tuple:
        return (self.source, self._bidx, json.dumps(self.tags, sort_keys=True, default=_plain),
                self.mask_use)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Band) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def bidx(self) -> int:
        """The 1-based band index: as given, else found by the tags in the file, else 1."""
        return self._bidx if self._bidx is not None else self.get_bidx()

    @bidx.setter
    def bidx(self, value: int | None) -> None:
        self._bidx = value

    @property
    def source_exists(self) -> bool:
        """Whether the band's file exists."""
        return self.source.exists

    @property
    def index_exists(self) -> bool:
        """Whether the band can be found in its file (False without index)."""
        return self._bidx is not None and self.source.exists and self.source.has_bidx(self._bidx)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the file."""
        return self.source.shape

    def _index(self, src: Any, match: str | int | Sequence[str] | None = None) -> int:
        """This band's index in the open dataset ``src``."""
        if self._bidx is not None:
            check_band_index(self._bidx, src.count, self.source.name)
            return int(self._bidx)
        tags = _candidate_tags(self.tags, match)
        if not tags:
            check_band_index(1, src.count, self.source.name)
            return 1
        found = bidx_by_tags(src, self.source.ns, **tags)
        check_band_index(found, src.count, self.source.name)
        return int(found)

    def get_bidx(self, match: str | int | Sequence[str] | None = None) -> int:
        """Resolve the band index.

        Parameters
        ----------
        match : str or list of str, optional
            Which of :attr:`tags` identify the band (all by default); a
            string is one tag name.

        Returns
        -------
        int
            The index given, else the one band whose file tags hold the
            chosen tags, else 1.

        Raises
        ------
        BandSelectionNoMatchError
            If the index does not exist or no band has the tags.
        BandSelectionAmbiguousError
            If several bands have them.
        """
        if self._bidx is None and not _candidate_tags(self.tags, match):
            return 1
        with dataset(self.source.name) as src:
            return self._index(src, match)

    def check(self) -> None:
        """Check that the file exists, is a raster, and has this band.

        Raises
        ------
        SourceError
            If the file is missing or unreadable.
        InvalidBandError
            If the band does not exist.
        """
        with dataset(self.source.name) as src:
            self._index(src)

    def init_source(self, profile: dict[str, Any], overwrite: bool = False, **kwargs: Any) -> None:
        """Create the band's file, empty, from ``profile`` (kept if it exists with that profile).

        ``profile`` updates the Source's :attr:`Source.profile`; ``count`` is
        raised to at least this band's index. See :meth:`Source.init_source`.
        """
        self.source.profile.update(profile)
        count = max(int(self.source.profile.get("count", 1)), self._bidx or 1)
        self.source.init_source(overwrite=overwrite, **{**kwargs, "count": count})

    @contextmanager
    def data_reader(
        self, match: str | Sequence[str] | None = None, **open_kwargs: Any
    ) -> Iterator[Reader]:
        """Open the file for reading this band.

        Parameters
        ----------
        match : str or list of str, optional
            Tags that identify the band, see :meth:`get_bidx`.
        **open_kwargs
            Passed to :func:`rasterio.open` (``mode`` is ``"r"``; profile
            entries are ignored).

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning ``(rows, cols)``.
        """
        with open_existing(self.source.name, open_kwargs) as src:
            bidx = self._index(src, match)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.source.name, window):
                    return src.read(bidx, window=window, **{**self.read_params, **read_kwargs})

            yield read

    def _new_file_profile(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        profile = {**self.source.profile, **kwargs}
        profile["count"] = max(int(profile.get("count", 1)), self._bidx or 1)
        return profile

    @contextmanager
    def data_writer(
        self, match: str | Sequence[str] | None = None, **open_kwargs: Any
    ) -> Iterator[Callable[..., None]]:
        """Open the file for writing this band.

        Parameters
        ----------
        match : str or list of str, optional
            Tags that identify the band, see :meth:`get_bidx`.
        mode : {"r+", "w"}, optional
            ``"r+"`` (the default for an existing file) updates the band in
            place. ``"w"`` (the default for a new file) creates the file
            from :attr:`Source.profile` updated with ``open_kwargs``; it
            appears once the ``with`` block completes.
        **open_kwargs
            Open keywords; profile entries (``data_writer(mode="r+",
            **profile)``) are ignored in ``"r+"`` mode.

        Yields
        ------
        callable
            ``write(array, window=None)`` with a ``(rows, cols)`` array.
        """
        mode = open_kwargs.pop("mode", "r+" if self.source.exists else "w")
        if mode in ("w", "w+"):
            profile = self._new_file_profile(open_kwargs)
            opened = new_raster(self.source.name, **profile)
        else:
            opened = open_existing(self.source.name, {**open_kwargs, "mode": "r+"})
        with opened as dst:
            bidx = self._index(dst, match) if mode not in ("w", "w+") else self._bidx or 1

            def write(array: NDArray, window: Window | None = None) -> None:
                dst.write(np.asarray(array), bidx, window=window)

            yield write
        if mode in ("w", "w+"):
            self.source.profile = profile

    @contextmanager
    def mask_reader(
        self, match: str | Sequence[str] | None = None, **open_kwargs: Any
    ) -> Iterator[Reader]:
        """Open the file for reading this band's own mask (``read_masks``).

        Yields
        ------
        callable
            ``read(window=None)`` returning a ``uint8`` ``(rows, cols)`` mask,
            0 where masked, 255 where valid.
        """
        with open_existing(self.source.name, open_kwargs) as src:
            bidx = self._index(src, match)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.source.name, window):
                    return src.read_masks(bidx, window=window, **read_kwargs)

            yield read

    @contextmanager
    def _constant_mask_reader(self, value: int, **open_kwargs: Any) -> Iterator[Reader]:
        shape = self.source.shape

        def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
            return np.full(_window_shape(window, shape), value, dtype=np.uint8)

        yield read

    def set_mask_reader(self, use: str = "band") -> None:
        """Choose which mask :meth:`get_mask_reader` provides.

        Parameters
        ----------
        use : {"band", "self", "source", "mask_none", "mask_all"}
            ``"band"``/``"self"``: the band's own mask; ``"source"``: the
            dataset mask; ``"mask_none"``: everything valid; ``"mask_all"``:
            everything masked.

        Raises
        ------
        InvalidMaskSelectorError
            For any other value (a ``ValueError``).
        """
        if use not in MASK_READERS:
            raise InvalidMaskSelectorError(
                f"unknown mask reader {use!r}: use one of {MASK_READERS}")
        self.mask_use = "band" if use == "self" else use

    def get_mask_reader(self) -> Callable[..., Any]:
        """Return the mask reader chosen with :meth:`set_mask_reader`.

        Returns
        -------
        callable
            A function returning a context manager that yields
            ``read(window=None)``; e.g.
            ``with band.get_mask_reader()() as read: mask = read(window=w)``.
        """
        if self.mask_use == "source":
            return self.source.mask_reader
        if self.mask_use == "mask_none":
            return lambda **kwargs: self._constant_mask_reader(255, **kwargs)
        if self.mask_use == "mask_all":
            return lambda **kwargs: self._constant_mask_reader(0, **kwargs)
        return self.mask_reader

    def get_data(
        self, window: Window | None = None, *, okwargs: dict[str, Any] | None = None,
        **read_kwargs: Any,
    ) -> NDArray:
        """Read this band's data.

        Parameters
        ----------
        window : rasterio.windows.Window, optional
            Part to read; the whole band by default.
        okwargs : dict, optional
            Keywords of the open call.
        **read_kwargs
            Keywords of the read call (``masked``, ``out_shape``, ...).

        Returns
        -------
        numpy.ndarray
            ``(rows, cols)``.

        Raises
        ------
        BandSelectionNoMatchError
            If the band does not exist in the file.
        """
        with self.data_reader(**(okwargs or {})) as read:
            return read(window=window, **read_kwargs)

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

    def export_tags(self, match: str | Sequence[str] | None = None) -> None:
        """Merge :attr:`tags` into this band's tags in the file."""
        with dataset(self.source.name, "r+") as dst:
            write_tags(dst, self.tags, self._index(dst, match), self.source.ns)

    def import_tags(self, match: str | Sequence[str] | None = None, keep: bool = True) -> None:
        """Read this band's tags from the file: merged over :attr:`tags` (``keep``) or instead."""
        with dataset(self.source.name) as src:
            found = read_tags(src, self._index(src, match), self.source.ns)
        self.tags = {**self.tags, **found} if keep else found

    def get_tags(self) -> dict[str, Any]:
        """Read this band's tags from the file."""
        with dataset(self.source.name) as src:
            return read_tags(src, self._index(src), self.source.ns)

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
