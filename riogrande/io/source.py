"""A raster file as a light, picklable object: :class:`Source`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.errors import InvalidModeError, OutputError, SourceNotSavedError
from riogrande.helper import check_compatibility
from riogrande.io import operations
from riogrande.io.checks import check_band_index
from riogrande.io.create import new_raster, open_existing
from riogrande.io.handles import dataset, read_errors
from riogrande.io.lookup import SourceLookupMixin
from riogrande.io.names import is_plain_path
from riogrande.io.tags import NS

if TYPE_CHECKING:
    from riogrande.io.band import Band

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


class Source(SourceLookupMixin):
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
        self._ns = ns

    def __repr__(self) -> str:
        return f"Source({self._name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and (self._name, self._ns) == (other._name, other._ns)

    def __hash__(self) -> int:
        return hash((self._name, self._ns))

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
    def ns(self) -> str:
        """The GDAL metadata domain of the tags."""
        return self._ns

    @ns.setter
    def ns(self, value: str) -> None:
        self._ns = value

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

    def _require_file(self) -> None:
        if not self.exists and is_plain_path(self._name):
            raise SourceNotSavedError(f"{self.name} does not exist (not written yet?)")

    def get_bands(self) -> list[Band]:
        """Return every band of the file, in order, each with its tags from the file."""
        from riogrande.io.band import Band

        self._require_file()
        with dataset(self.name) as src:
            return [Band(self, bidx, tags=self._file_tags(src, bidx)) for bidx in src.indexes]

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
        from riogrande.io.band import Band

        if bidx is None and not tags:
            return Band(self, None, tags={})
        self._require_file()
        with dataset(self.name) as src:
            bidx = self._resolve(src, bidx, tags)
            return Band(self, bidx, tags={**tags, **self._file_tags(src, bidx)})

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
            self._check_reusable(merged)
            return
        with new_raster(self.name, **merged):
            pass
        self._profile = merged
        self._profile_from_file = False
        logger.info("created %s", self.name)

    def _check_reusable(self, wanted: dict[str, Any]) -> None:
        with dataset(self.name) as src:
            differences = profile_differences(src.profile, wanted)
        if differences:
            raise OutputError(
                f"{self.name} already exists with another profile ({'; '.join(differences)}); "
                "pass overwrite=True to replace it"
            )
        logger.debug("%s exists with the profile asked for; kept", self.name)

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
        from riogrande.io.band import Band

        if bands is None:
            return list(src.indexes)
        indexes = [band._index(src) if isinstance(band, Band) else band for band in bands]
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
            ``read(window=None, **read_kwargs)`` returning ``(len(bands), rows, cols)``.
        """
        with open_existing(self.name, open_kwargs) as src:
            indexes = self._band_indexes(src, bands)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.name, window):
                    return src.read(indexes, window=window, **read_kwargs)

            yield read

    @contextmanager
    def data_writer(self, **open_kwargs: Any) -> Iterator[Callable[..., None]]:
        """Open the file (``r+``) for writing all bands.

        Yields
        ------
        callable
            ``write(array, window=None)`` with a ``(bands, rows, cols)`` array.
        """
        with open_existing(self.name, {**open_kwargs, "mode": "r+"}) as dst:

            def write(array: NDArray, window: Window | None = None) -> None:
                dst.write(np.asarray(array), window=window)

            yield write

    @contextmanager
    def mask_reader(self, **open_kwargs: Any) -> Iterator[Reader]:
        """Open the file for reading its dataset mask.

        Yields
        ------
        callable
            ``read(window=None)`` returning a ``uint8`` ``(rows, cols)`` mask,
            0 where masked, 255 where valid.
        """
        with open_existing(self.name, open_kwargs) as src:

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.name, window):
                    return src.dataset_mask(window=window, **read_kwargs)

            yield read

    def get_mask(self, okwargs: dict[str, Any] | None = None, **kwargs: Any) -> NDArray:
        """Read the dataset mask (``okwargs`` go to the open call, the rest to the read)."""
        with self.mask_reader(**(okwargs or {})) as read:
            return read(**kwargs)

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
        """Rewrite the file compressed, keeping its masks, tags and colours.

        Parameters
        ----------
        output : str or path-like, optional
            Where to write; the file itself (replaced once the compressed
            copy is complete) by default.
        compression : str or None, default "lzw"
            GDAL compression; None or ``"none"`` writes it uncompressed.
        keep_original : bool, default False
            With ``output``: keep the original file. Otherwise it is deleted
            once the output is complete. The Source then names ``output``.
        """
        target = Path(operations.compress_tif(self.name, output if output is not None
                                              else self.name, compression))
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

