"""Raster files and bands as light, picklable objects.

:class:`Source` is a raster file, :class:`Band` one band of it. Neither keeps
a dataset open: each reader or writer is a context manager that opens the
file, yields a callable, and closes it again (worker processes keep
read-only datasets open through :mod:`riogrande.io.handles`). Both pickle
cheaply, so they can be sent to worker processes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window

from riogrande.io.exceptions import InvalidBandError, OutputError, SourceError
from riogrande.io.handles import dataset, read_errors

logger = logging.getLogger(__name__)

TAG_NAMESPACE = "riogrande"
MASK_READERS = ("band", "self", "source", "mask_none", "mask_all")

Reader = Callable[..., NDArray]


def _window_shape(window: Window | None, shape: tuple[int, int]) -> tuple[int, int]:
    if window is None:
        return shape
    return int(window.height), int(window.width)


class Source:
    """A raster file.

    Parameters
    ----------
    path : str or path-like
        Location of the file (a GDAL virtual path such as ``/vsicurl/...``
        is accepted for reading).
    tags : dict or None
        Metadata to store with :meth:`export_tags`, JSON-serialisable values.
    profile : dict or None
        rasterio profile. Read from the file on first use when not given.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        tags: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        self._name = os.fspath(path)
        self.tags: dict[str, Any] = dict(tags or {})
        self._profile: dict[str, Any] | None = dict(profile) if profile is not None else None
        self._profile_from_file = False

    def __repr__(self) -> str:
        return f"Source({self._name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Source) and self._name == other._name

    def __hash__(self) -> int:
        return hash(self._name)

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
    def exists(self) -> bool:
        """Whether the file exists."""
        return self.path.is_file()

    @property
    def profile(self) -> dict[str, Any]:
        """The rasterio profile (read from the file on first access)."""
        if self._profile is None:
            self._profile = self.import_profile()
        return self._profile

    @profile.setter
    def profile(self, value: dict[str, Any]) -> None:
        self._profile = dict(value)
        self._profile_from_file = False

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.profile["height"]), int(self.profile["width"])

    @property
    def count(self) -> int:
        """Number of bands."""
        return int(self.profile["count"])

    def import_profile(self) -> dict[str, Any]:
        """Read the profile from the file and keep it.

        Returns
        -------
        dict
            A copy of the dataset's rasterio profile.
        """
        with dataset(self.name) as src:
            self._profile = dict(src.profile)
        self._profile_from_file = True
        return dict(self._profile)

    def get_bands(self) -> list[Band]:
        """Return every band of the file, in order."""
        return [Band(self, bidx) for bidx in range(1, self.count + 1)]

    def get_band(self, bidx: int) -> Band:
        """Return band ``bidx`` (1-based).

        Raises
        ------
        InvalidBandError
            If the file has no such band.
        """
        check_band_index(bidx, self.count, self.name)
        return Band(self, bidx)

    def init_source(self, overwrite: bool = False, **profile: Any) -> None:
        """Create the file, empty, from a profile.

        Parameters
        ----------
        overwrite : bool, default False
            Replace an existing file.
        **profile
            Updates to :attr:`profile` (driver, dtype, count, width, height,
            crs, transform, ...).

        Raises
        ------
        OutputError
            If the file exists and ``overwrite`` is False, or cannot be created.
        """
        merged = dict(self._profile or {})
        merged.update(profile)
        if self.exists and not overwrite:
            raise OutputError(f"{self.name} already exists; pass overwrite=True to replace it")
        try:
            with rasterio.open(self.name, "w", **merged):
                pass
        except (rasterio.errors.RasterioIOError, OSError) as error:
            raise OutputError(f"cannot create {self.name}: {error}") from error
        self._profile = merged

    def _band_indexes(self, bands: Sequence[Band | int] | None, count: int) -> list[int]:
        if bands is None:
            return list(range(1, count + 1))
        indexes = [band.bidx if isinstance(band, Band) else int(band) for band in bands]
        for bidx in indexes:
            check_band_index(bidx, count, self.name)
        return indexes

    @contextmanager
    def data_reader(
        self, bands: Sequence[Band | int] | None = None, **open_kwargs: Any
    ) -> Iterator[Reader]:
        """Open the file for reading the data of ``bands``.

        Parameters
        ----------
        bands : list of Band or int, optional
            Bands to read; all by default.
        **open_kwargs
            Passed to :func:`rasterio.open`.

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning ``(len(bands), rows, cols)``.
        """
        with dataset(self.name, "r", **open_kwargs) as src:
            indexes = self._band_indexes(bands, src.count)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.name, window):
                    return src.read(indexes, window=window, **read_kwargs)

            yield read

    @contextmanager
    def data_writer(self, **open_kwargs: Any) -> Iterator[Callable[..., None]]:
        """Open the file for writing all bands.

        Yields
        ------
        callable
            ``write(array, window=None)`` with a ``(bands, rows, cols)`` array.
        """
        with dataset(self.name, "r+", **open_kwargs) as dst:

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
            0 where masked.
        """
        with dataset(self.name, "r", **open_kwargs) as src:

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.name, window):
                    return src.dataset_mask(window=window, **read_kwargs)

            yield read

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
            with dataset(self.name, "r+", **open_kwargs) as dst:

                def write(mask: NDArray, window: Window | None = None) -> None:
                    mask = np.asarray(mask)
                    dst.write_mask(np.where(mask != 0, 255, 0).astype(np.uint8), window=window)

                yield write

    def export_tags(self, bidx: int = 0) -> None:
        """Store :attr:`tags` in the file as GDAL metadata (JSON values).

        Parameters
        ----------
        bidx : int, default 0
            Band to tag; 0 tags the dataset.
        """
        with dataset(self.name, "r+") as dst:
            write_tags(dst, self.tags, bidx)

    def get_tags(self, bidx: int = 0) -> dict[str, Any]:
        """Read the tags stored by :meth:`export_tags`.

        Parameters
        ----------
        bidx : int, default 0
            Band to read from; 0 reads the dataset's tags.

        Returns
        -------
        dict
        """
        with dataset(self.name) as src:
            raw = src.tags(bidx, ns=TAG_NAMESPACE) if bidx else src.tags(ns=TAG_NAMESPACE)
        return {key: json.loads(value) for key, value in raw.items()}


def write_tags(dst: Any, tags: dict[str, Any], bidx: int = 0) -> None:
    """Write ``tags`` as JSON values into the riogrande metadata namespace of ``dst``.

    Parameters
    ----------
    dst : rasterio dataset opened for writing
    tags : dict
        JSON-serialisable values.
    bidx : int, default 0
        Band to tag; 0 tags the dataset.
    """
    if not tags:
        return
    encoded = {str(key): json.dumps(value) for key, value in tags.items()}
    if bidx:
        dst.update_tags(bidx, ns=TAG_NAMESPACE, **encoded)
    else:
        dst.update_tags(ns=TAG_NAMESPACE, **encoded)


def check_band_index(bidx: Any, count: int, name: str) -> None:
    """Raise a clear error unless ``bidx`` is a band of a ``count``-band raster.

    Raises
    ------
    InvalidBandError
        Naming the raster, the index and the valid range.
    """
    if isinstance(bidx, bool) or not isinstance(bidx, (int, np.integer)):
        raise InvalidBandError(f"band index must be an integer, got {bidx!r} for {name}")
    if not 1 <= bidx <= count:
        raise InvalidBandError(
            f"band {bidx} does not exist in {name}: it has {count} band(s), numbered 1 to {count}"
        )


class Band:
    """One band of a :class:`Source`.

    Parameters
    ----------
    source : Source or str or path-like
        The file holding the band.
    bidx : int or None
        1-based band index; ``None`` means band 1.
    tags : dict or None
        Metadata stored with :meth:`export_tags`.
    """

    def __init__(
        self,
        source: Source | str | os.PathLike[str],
        bidx: int | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self.source = source if isinstance(source, Source) else Source(source)
        self.bidx = 1 if bidx is None else bidx
        self.tags: dict[str, Any] = dict(tags or {})
        self.mask_use = "band"

    def __repr__(self) -> str:
        return f"Band({self.source!r}, bidx={self.bidx})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Band)
            and self.source == other.source
            and self.bidx == other.bidx
            and self.mask_use == other.mask_use
        )

    def __hash__(self) -> int:
        return hash((self.source, self.bidx, self.mask_use))

    def check(self) -> None:
        """Check that the file exists, is a raster, and has this band.

        Raises
        ------
        SourceError
            If the file is missing or unreadable.
        InvalidBandError
            If the band does not exist.
        """
        check_band_index(self.bidx, self.source.count, self.source.name)

    def init_source(self, profile: dict[str, Any], overwrite: bool = False) -> None:
        """Create the band's file, empty, from ``profile``.

        Parameters
        ----------
        profile : dict
            rasterio profile; ``count`` is raised to at least :attr:`bidx`.
        overwrite : bool, default False
            Replace an existing file.
        """
        profile = dict(profile)
        profile["count"] = max(int(profile.get("count", 1)), self.bidx)
        self.source.init_source(overwrite=overwrite, **profile)

    @contextmanager
    def data_reader(self, **open_kwargs: Any) -> Iterator[Reader]:
        """Open the file for reading this band.

        Yields
        ------
        callable
            ``read(window=None, **read_kwargs)`` returning ``(rows, cols)``.
        """
        with dataset(self.source.name, "r", **open_kwargs) as src:
            check_band_index(self.bidx, src.count, self.source.name)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.source.name, window):
                    return src.read(self.bidx, window=window, **read_kwargs)

            yield read

    @contextmanager
    def data_writer(self, **open_kwargs: Any) -> Iterator[Callable[..., None]]:
        """Open the file for writing this band.

        Yields
        ------
        callable
            ``write(array, window=None)`` with a ``(rows, cols)`` array.
        """
        with dataset(self.source.name, "r+", **open_kwargs) as dst:
            check_band_index(self.bidx, dst.count, self.source.name)

            def write(array: NDArray, window: Window | None = None) -> None:
                dst.write(np.asarray(array), self.bidx, window=window)

            yield write

    @contextmanager
    def mask_reader(self, **open_kwargs: Any) -> Iterator[Reader]:
        """Open the file for reading this band's own mask (``read_masks``).

        Yields
        ------
        callable
            ``read(window=None)`` returning a ``uint8`` ``(rows, cols)`` mask,
            0 where masked.
        """
        with dataset(self.source.name, "r", **open_kwargs) as src:
            check_band_index(self.bidx, src.count, self.source.name)

            def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
                with read_errors(self.source.name, window):
                    return src.read_masks(self.bidx, window=window, **read_kwargs)

            yield read

    @contextmanager
    def _constant_mask_reader(self, value: int, **open_kwargs: Any) -> Iterator[Reader]:
        shape = self.source.shape

        def read(window: Window | None = None, **read_kwargs: Any) -> NDArray:
            return np.full(_window_shape(window, shape), value, dtype=np.uint8)

        yield read

    def set_mask_reader(self, use: str) -> None:
        """Choose which mask :meth:`get_mask_reader` provides.

        Parameters
        ----------
        use : {"band", "self", "source", "mask_none", "mask_all"}
            ``"band"``/``"self"``: the band's own mask; ``"source"``: the
            dataset mask; ``"mask_none"``: everything valid; ``"mask_all"``:
            everything masked.

        Raises
        ------
        ValueError
            For any other value.
        """
        if use not in MASK_READERS:
            raise ValueError(f"unknown mask reader {use!r}: use one of {MASK_READERS}")
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

    def get_data(self, window: Window | None = None) -> NDArray:
        """Read this band's data.

        Parameters
        ----------
        window : rasterio.windows.Window, optional
            Part to read; the whole band by default.

        Returns
        -------
        numpy.ndarray
            ``(rows, cols)``.
        """
        with self.data_reader() as read:
            return read(window=window)

    def export_tags(self) -> None:
        """Store :attr:`tags` in the file as this band's metadata (JSON values)."""
        with dataset(self.source.name, "r+") as dst:
            write_tags(dst, self.tags, self.bidx)

    def get_tags(self) -> dict[str, Any]:
        """Read the tags stored for this band by :meth:`export_tags`."""
        return self.source.get_tags(self.bidx)


__all__ = ["Band", "Source", "SourceError", "check_band_index", "write_tags"]
