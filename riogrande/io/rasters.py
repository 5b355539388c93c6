"""A raster file and its bands as light, picklable objects: :class:`Source`, :class:`Band`.

Neither keeps a dataset open: each reader or writer is a context manager
that opens the file, yields a callable, and closes it again (worker
processes keep read-only datasets open through :mod:`riogrande.io.handles`).
Both pickle cheaply, so they can be sent to worker processes. Bands are
found by index or by their tags (:mod:`riogrande.io.tags`). These are the
classes the engine reads with; :mod:`riogrande.io.models` adds the methods of
the GeoRacoon package on top of them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.errors import (
    BandSelectionAmbiguousError,
    BandSelectionNoMatchError,
    InvalidMaskSelectorError,
    InvalidModeError,
    OutputError,
    SourceNotSavedError,
)
from riogrande.io.checks import check_band_index
from riogrande.io.create import new_raster, open_existing
from riogrande.io.handles import dataset
from riogrande.io.names import is_plain_path
from riogrande.io.remote import checked_read
from riogrande.io.tags import NS, bidx_by_tags, match_all, read_tags, sanitize, write_tags

logger = logging.getLogger(__name__)

Reader = Callable[..., NDArray]

#: Profile entries that must agree for an existing file to be reused by ``init_source``.
GRID_KEYS = ("width", "height", "count", "dtype", "crs", "transform")


def profile_differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """How an existing file's profile differs from ``wanted`` in size, bands, type, CRS, transform.

    Parameters
    ----------
    existing : dict
        The file's rasterio profile.
    wanted : dict
        A profile; only the keys of :data:`GRID_KEYS` it holds are compared.

    Returns
    -------
    list of str
        One description per difference; empty when the file can be reused.
    """
    differences = []
    for key in GRID_KEYS:
        if key not in wanted:
            continue
        have, want = existing.get(key), wanted[key]
        if key == "crs":
            same = (have is None) == (want is None) and (
                want is None or rasterio.crs.CRS.from_user_input(want) == have)
        elif key == "dtype":
            same = np.dtype(want) == np.dtype(have)
        else:
            same = want == have
        if not same:
            differences.append(f"{key} {have!r} instead of {want!r}")
    return differences


MASK_READERS = ("band", "self", "source", "mask_none", "mask_all")


def _read_shape(shape: tuple[int, int], window: Any, out_shape: Any) -> tuple[int, int]:
    """``(rows, cols)`` of a read of a ``shape`` raster over ``window``, or ``out_shape``."""
    if out_shape is not None:
        return int(out_shape[-2]), int(out_shape[-1])
    if window is None:
        return shape
    if not isinstance(window, Window):
        window = Window.from_slices(*window)
    return int(window.height), int(window.width)


def dataset_reader(method: Callable[..., NDArray], name: str, indexes: Any = None) -> Reader:
    """``method`` of an open dataset (``read``, ``read_masks``, ``dataset_mask``) as a reader.

    The reader, ``read(window=None, **read_kwargs)``, passes every keyword on
    to ``method`` (``masked``, ``out_shape``, ``boundless``...), and
    ``indexes`` unless the call names other bands (none for
    ``dataset_mask``). A read that fails (a damaged file, or a network fault
    after every try of :func:`~riogrande.io.remote.checked_read`) raises
    :class:`~riogrande.errors.SourceError` naming the raster ``name``.
    """
    fixed = {} if indexes is None else {"indexes": indexes}

    def read(window: Any = None, **read_kwargs: Any) -> NDArray:
        return checked_read(name, window,
                            lambda: method(**{**fixed, "window": window, **read_kwargs}))

    return read


def dataset_writer(dst: Any, indexes: Any = None) -> Callable[..., None]:
    """``dst.write`` of a dataset open for writing as a writer.

    The writer, ``write(array, window=None, **write_kwargs)``, passes every
    keyword on to :meth:`rasterio.io.DatasetWriter.write` (``masked=True``
    writes a masked array's mask as the band's mask), and ``indexes`` unless
    the call names other bands (all by default).
    """
    fixed = {} if indexes is None else {"indexes": indexes}

    def write(array: Any, window: Any = None, **write_kwargs: Any) -> None:
        dst.write(np.asanyarray(array), **{**fixed, "window": window, **write_kwargs})

    return write


def _plain(value: Any) -> Any:
    """A JSON stand-in for a tag value JSON cannot hold (to compare and hash bands)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return repr(value)


class Source:
    """A raster file.

    Parameters
    ----------
    path : str or path-like
        Location of the file (a GDAL virtual path such as ``/vsicurl/...``
        is accepted for reading). The file may not exist yet: give its
        ``profile`` and create it with :meth:`init_source`.
    tags : dict or None
        Metadata to store with :meth:`export_tags`, JSON-serialisable values.
    profile : dict or None
        rasterio profile. Read from the file on first use when not given
        (empty for a file that does not exist yet).
    ns : str, default "GEORACOON"
        GDAL metadata domain of the tags.
    """

    _mode_reading = ("r", "r+")
    _mode_writing = ("w", "w+")
    _mode_default = "r"

    def __init__(
        self,
        path: str | os.PathLike[str],
        tags: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        ns: str = NS,
    ) -> None:
        self._name = os.fspath(path)
        self.tags: dict[str, Any] = dict(tags or {})
        self._profile: dict[str, Any] | None = dict(profile) if profile is not None else None
        self._profile_from_file = False
        self.ns = ns

    def __repr__(self) -> str:
        return f"Source({self._name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and (self._name, self.ns) == (other._name, other.ns)

    def __hash__(self) -> int:
        return hash((self._name, self.ns))

    def __getstate__(self) -> dict[str, Any]:
        # A profile read from the file is read again where needed: rebuilding
        # its CRS costs more than sending a block's job to a worker.
        state = self.__dict__.copy()
        if self._profile_from_file:
            state["_profile"] = None
            state["_profile_from_file"] = False
        return state

    @property
    def name(self) -> str:
        """The path exactly as given (GDAL virtual paths such as ``/vsicurl/`` included)."""
        return self._name

    @property
    def path(self) -> Path:
        """The path as a :class:`pathlib.Path`."""
        return Path(self._name)

    @property
    def profile_from_file(self) -> bool:
        """Whether :attr:`profile` holds what the file says (read since it was last set)."""
        return self._profile_from_file

    @property
    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.is_file()

    @property
    def profile(self) -> dict[str, Any]:
        """The rasterio profile: read from the file on first access, empty for a new file.

        The dict itself is returned: changes to it are the profile used by
        :meth:`init_source` and :meth:`open` in ``"w"`` mode.
        """
        if self._profile is None or (not self._profile and self.exists):
            if self.exists or not is_plain_path(self._name):
                self.import_profile()
            else:
                self._profile = {}
        return self._profile  # type: ignore[return-value]

    @profile.setter
    def profile(self, value: dict[str, Any]) -> None:
        self._profile = dict(value)
        self._profile_from_file = False

    def _profile_entry(self, key: str) -> int:
        profile = self.profile
        if key not in profile:
            raise SourceNotSavedError(
                f"{self.name} does not exist yet and its profile gives no {key}")
        return int(profile[key])

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self._profile_entry("height"), self._profile_entry("width")

    @property
    def count(self) -> int:
        """Number of bands."""
        return self._profile_entry("count")

    def import_profile(self, update_self: bool = True) -> dict[str, Any]:
        """Read the profile from the file.

        Parameters
        ----------
        update_self : bool, default True
            Merge it into :attr:`profile` (the file's entries win).

        Returns
        -------
        dict
            A copy of the file's rasterio profile.
        """
        with dataset(self.name) as src:
            profile = dict(src.profile)
        if update_self:
            self._profile = {**(self._profile or {}), **profile}
            self._profile_from_file = True
        return dict(profile)

    def _band(self, bidx: int | None, tags: dict[str, Any]) -> Band:
        """A band of this file (of the class that goes with this Source's class)."""
        return Band(self, bidx, tags=tags)

    def _require_file(self) -> None:
        if not self.exists and is_plain_path(self._name):
            raise SourceNotSavedError(f"{self.name} does not exist (not written yet?)")

    def get_bands(self) -> list[Band]:
        """Return every band of the file, in order, each with its tags from the file."""
        self._require_file()
        with dataset(self.name) as src:
            return [self._band(bidx, read_tags(src, bidx, self.ns)) for bidx in src.indexes]

    def get_band(self, bidx: int | None = None, **tags: Any) -> Band:
        """Return one band, chosen by index, by tags, or both.

        Parameters
        ----------
        bidx : int, optional
            1-based band index.
        **tags
            Tags the band must have (see :func:`~riogrande.io.tags.bidx_by_tags`).

        Returns
        -------
        Band
            With the requested tags updated by the band's tags in the file.
            Without arguments: a band without index or tags (band 1 of a
            single-band file).

        Raises
        ------
        SourceNotSavedError
            If the file does not exist.
        BandSelectionNoMatchError
            If the index does not exist or no band has the tags.
        BandSelectionAmbiguousError
            If several bands have the tags, or the index and the tags disagree.
        """
        if bidx is None and not tags:
            return self._band(None, {})
        self._require_file()
        with dataset(self.name) as src:
            bidx = self._resolve(src, bidx, tags)
            return self._band(bidx, {**tags, **read_tags(src, bidx, self.ns)})

    def init_source(self, overwrite: bool = False, **kwargs: Any) -> None:
        """Create the file, empty, from :attr:`profile` updated with ``kwargs``.

        An existing file is kept as it is when its size, band count, data
        type, CRS and transform are the ones asked for (as the GeoRacoon
        package does), and replaced with ``overwrite``. The new file appears
        only once complete.

        Parameters
        ----------
        overwrite : bool, default False
            Replace an existing file.
        **kwargs
            Updates to :attr:`profile` (driver, dtype, count, width, height,
            crs, transform, creation options, ...).

        Raises
        ------
        OutputError
            If the file exists with another grid or type and ``overwrite``
            is False, or cannot be created.
        UnknownExtensionError
            If no driver is given and the extension names none.
        """
        merged = {**(self._profile or {}), **kwargs}
        if self.exists and not overwrite:
            with dataset(self.name) as src:
                differences = profile_differences(src.profile, merged)
            if differences:
                raise OutputError(
                    f"{self.name} already exists with another profile "
                    f"({'; '.join(differences)}); pass overwrite=True to replace it"
                )
            logger.debug("%s exists with the profile asked for; kept", self.name)
            return
        with new_raster(self.name, **merged):
            pass
        self._profile = merged
        self._profile_from_file = False
        logger.info("created %s", self.name)

    @contextmanager
    def open(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Open the file with rasterio for the duration of a ``with`` block.

        Parameters
        ----------
        mode : {"r", "r+", "w", "w+"}, default "r"
            Positional or keyword. ``"w"``/``"w+"`` create the file from
            :attr:`profile` updated with ``kwargs``; it appears only once
            the block completes.
        **kwargs
            Open keywords (profile entries in ``"w"`` mode).

        Yields
        ------
        rasterio dataset

        Raises
        ------
        InvalidModeError
            For another mode.
        """
        mode = kwargs.pop("mode", args[0] if args else self._mode_default)
        if mode in self._mode_writing:
            with new_raster(self.name, **{**self.profile, **kwargs}) as dst:
                yield dst
            self._profile_from_file = False
            return
        if mode not in self._mode_reading:
            raise InvalidModeError(
                f"cannot open {self.name} in mode {mode!r}: use one of "
                f"{self._mode_reading + self._mode_writing}")
        with open_existing(self.name, {**kwargs, "mode": mode}) as src:
            yield src

    def _band_indexes(self, src: Any, bands: Sequence[Band | int] | None) -> list[int]:
        if bands is None:
            return list(src.indexes)
        indexes = [band.index_in(src) if isinstance(band, Band) else band for band in bands]
        for bidx in indexes:
            check_band_index(bidx, src.count, self.name)
        return indexes

    @contextmanager
    def data_reader(
        self, bands: Sequence[Band | int] | None = None, **open_kwargs: Any
    ) -> Iterator[Reader]:
        """Open the file for reading the data of ``bands``.

        Parameters
        ----------
        bands : list of Band or int, optional
            Bands to read; all by default. Bands without index are found by
            their tags.
        **open_kwargs
            Passed to :func:`rasterio.open` (``mode`` is ``"r"``; profile
            entries are ignored).

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning ``(len(bands), rows, cols)``:
            the dataset's ``read`` with these bands as ``indexes``, every
            keyword of rasterio's ``read`` passed on (:func:`dataset_reader`).
        """
        with open_existing(self.name, open_kwargs) as src:
            yield dataset_reader(src.read, self.name, self._band_indexes(src, bands))

    @contextmanager
    def data_writer(self, **open_kwargs: Any) -> Iterator[Callable[..., None]]:
        """Open the file (``r+``) for writing all bands.

        Yields
        ------
        callable
            ``write(array, window=None, **write_kwargs)`` with a ``(bands, rows,
            cols)`` array: the dataset's ``write``, every keyword passed on
            (:func:`dataset_writer`).
        """
        with open_existing(self.name, {**open_kwargs, "mode": "r+"}) as dst:
            yield dataset_writer(dst)

    @contextmanager
    def mask_reader(self, **open_kwargs: Any) -> Iterator[Reader]:
        """Open the file for reading its dataset mask.

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning a ``uint8`` ``(rows,
            cols)`` mask, 0 where masked, 255 where valid: the dataset's
            ``dataset_mask``.
        """
        with open_existing(self.name, open_kwargs) as src:
            yield dataset_reader(src.dataset_mask, self.name)

    @contextmanager
    def mask_writer(self, **open_kwargs: Any) -> Iterator[Callable[..., None]]:
        """Open the file (``r+``) for writing its internal per-dataset mask.

        The mask is stored inside the GeoTIFF (not as a ``.msk`` sidecar).

        Yields
        ------
        callable
            ``write(mask, window=None)`` with a ``(rows, cols)`` mask, 0 where
            masked, non-zero where valid.
        """
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            with open_existing(self.name, {**open_kwargs, "mode": "r+"}) as dst:

                def write(mask: NDArray, window: Window | None = None) -> None:
                    mask = np.asarray(mask)
                    dst.write_mask(np.where(mask != 0, 255, 0).astype(np.uint8), window=window)

                yield write

    def _resolve(self, src: Any, bidx: int | None, tags: dict[str, Any]) -> int:
        """The band of the open ``src`` with index ``bidx`` and ``tags`` (either may be empty)."""
        if bidx is not None:
            check_band_index(bidx, src.count, self.name)
            if tags and not match_all(sanitize(tags), read_tags(src, bidx, self.ns)):
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

    def get_tags(self, bidx: int | None = None) -> dict[str, Any]:
        """Read the tags of band ``bidx`` (None or 0: the dataset's tags)."""
        with dataset(self.name) as src:
            if bidx:
                check_band_index(bidx, src.count, self.name)
            return read_tags(src, bidx, self.ns)

    def set_tags(self, bidx: int | None, tags: dict[str, Any]) -> None:
        """Merge ``tags`` into a band's (or, for None or 0, the dataset's) tags in the file."""
        with dataset(self.name, "r+") as dst:
            if bidx:
                check_band_index(bidx, dst.count, self.name)
            write_tags(dst, tags, bidx, self.ns)

    def export_tags(self, bidx: int = 0) -> None:
        """Store :attr:`tags` in the file (for band ``bidx``; 0: the dataset)."""
        self.set_tags(bidx, self.tags)


class Band:
    """One band of a :class:`Source`.

    Parameters
    ----------
    source : Source or str or path-like
        The file holding the band.
    bidx : int or None
        1-based band index. None: the band is found by its ``tags`` in the
        file when used (without tags: the only band of a single-band file);
        :attr:`bidx` stays None, :meth:`get_bidx` tells the index found.
    tags : dict or None
        Metadata: stored with :meth:`export_tags`, and used to find the band
        when ``bidx`` is None. For code written as ``Band(source, tags, bidx)``
        (the GeoRacoon order), a dict second argument is taken as the tags
        (and an index third argument after a None second one as the index).
    read_params : dict or None
        Kept as :attr:`read_params`; reads do not use it (as in the GeoRacoon
        package): pass read keywords to the reader or to :meth:`get_data`.
    _use_mask : str or None
        The mask reader, as :meth:`set_mask_reader`.
    """

    #: The class of the Source made from a path.
    _source_type: type[Source] = Source

    def __init__(
        self,
        source: Source | str | os.PathLike[str],
        bidx: int | None = None,
        tags: dict[str, Any] | None = None,
        read_params: dict[str, Any] | None = None,
        _use_mask: str | None = None,
    ) -> None:
        if (isinstance(bidx, Mapping) and not isinstance(tags, Mapping)) or (
                bidx is None and isinstance(tags, (int, np.integer))
                and not isinstance(tags, bool)):
            bidx, tags = tags, bidx
        self.source = source if isinstance(source, Source) else self._source_type(source)
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
    def bidx(self) -> int | None:
        """The 1-based band index as given or set; None for a band found by its tags.

        Reading it never opens the file: :meth:`get_bidx` (or
        :meth:`index_in`, with the file open) finds the index of a band
        given by its tags.
        """
        return self._bidx

    @bidx.setter
    def bidx(self, value: int | None) -> None:
        self._bidx = value

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the file."""
        return self.source.shape

    def index_in(self, src: Any, match: str | int | Sequence[str] | None = None) -> int:
        """This band's index in ``src``, an open dataset of its file: :meth:`get_bidx`."""
        if self._bidx is not None:
            check_band_index(self._bidx, src.count, self.source.name)
            return int(self._bidx)
        keys = [match] if isinstance(match, (str, int)) else match
        tags = {key: value for key, value in self.tags.items() if match is None or key in keys}
        if not tags:
            if src.count != 1:
                raise BandSelectionNoMatchError(
                    f"{self!r} has neither index nor tags to tell which of the {src.count} "
                    f"bands of {self.source.name} it is: give its index (bidx=) or tags")
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
            The index given (checked against the file), else the one band
            whose file tags hold the chosen tags, else 1 for a single-band
            file. :attr:`bidx` is left as it is.

        Raises
        ------
        BandSelectionNoMatchError
            If the index does not exist or no band has the tags, or if the
            band has neither and the file several bands.
        BandSelectionAmbiguousError
            If several bands have the tags.
        SourceError
            If the file is missing or not a raster.
        """
        with dataset(self.source.name) as src:
            return self.index_in(src, match)

    def check(self) -> None:
        """Check that the file exists, is a raster, and has this band.

        Raises
        ------
        SourceError
            If the file is missing or unreadable.
        InvalidBandError
            If the band does not exist.
        """
        self.get_bidx()

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
            ``read(window=None, **read_kwargs)`` returning ``(rows, cols)``:
            the dataset's ``read`` with this band as ``indexes``, every keyword
            of rasterio's ``read`` passed on (``masked=True``, ``out_shape``,
            ...; :func:`dataset_reader`).
        """
        with open_existing(self.source.name, open_kwargs) as src:
            yield dataset_reader(src.read, self.source.name, self.index_in(src, match))

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
            ``write(array, window=None, **write_kwargs)`` with a ``(rows, cols)``
            array: the dataset's ``write`` with this band as ``indexes``,
            every keyword passed on (``masked=True`` writes a masked array's
            mask as the band's mask; :func:`dataset_writer`).
        """
        mode = open_kwargs.pop("mode", "r+" if self.source.exists else "w")
        if mode not in Source._mode_writing:
            with open_existing(self.source.name, {**open_kwargs, "mode": "r+"}) as dst:
                yield dataset_writer(dst, self.index_in(dst, match))
            return
        profile = self._new_file_profile(open_kwargs)
        with new_raster(self.source.name, **profile) as dst:
            yield dataset_writer(dst, self._bidx or 1)
        self.source.profile = profile

    @contextmanager
    def mask_reader(
        self, match: str | Sequence[str] | None = None, **open_kwargs: Any
    ) -> Iterator[Reader]:
        """Open the file for reading this band's own mask (``read_masks``).

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning a ``uint8`` ``(rows,
            cols)`` mask, 0 where masked, 255 where valid: the dataset's
            ``read_masks`` with this band as ``indexes``.
        """
        with open_existing(self.source.name, open_kwargs) as src:
            yield dataset_reader(src.read_masks, self.source.name, self.index_in(src, match))

    @contextmanager
    def _constant_mask_reader(self, value: int, **open_kwargs: Any) -> Iterator[Reader]:
        """A reader of a mask holding ``value`` everywhere (``int64``, as the GeoRacoon package)."""
        shape = self.source.shape

        def read(window: Any = None, **read_kwargs: Any) -> NDArray:
            return np.full(_read_shape(shape, window, read_kwargs.get("out_shape")), value,
                           dtype=np.int64)

        yield read

    def set_mask_reader(self, use: str = "band") -> None:
        """Choose which mask :meth:`get_mask_reader` provides.

        Parameters
        ----------
        use : {"band", "self", "source", "mask_none", "mask_all"}
            ``"band"``/``"self"``: the band's own mask; ``"source"``: the
            dataset mask (both ``uint8``, 0 masked, 255 valid);
            ``"mask_none"``: everything valid (``int64`` 1);
            ``"mask_all"``: everything masked (``int64`` 0).

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
            return lambda **kwargs: self._constant_mask_reader(1, **kwargs)
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

    def export_tags(self, match: str | Sequence[str] | None = None) -> None:
        """Merge :attr:`tags` into this band's tags in the file."""
        with dataset(self.source.name, "r+") as dst:
            write_tags(dst, self.tags, self.index_in(dst, match), self.source.ns)

    def get_tags(self) -> dict[str, Any]:
        """Read this band's tags from the file."""
        with dataset(self.source.name) as src:
            return read_tags(src, self.index_in(src), self.source.ns)
