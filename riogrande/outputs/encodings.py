"""Encodings of a 0/1 result other than its values: copies of the bands, sidecar, in place.

Each writer reads the finished 0/1 result raster (the file the engine's
blocks went into) and the copied bands window by window, so memory stays
bounded by one block of all bands.

- ``nodata`` with kept values: the selected bands, masked pixels set to the
  output nodata value;
- ``mask``: the source's pixels, and the result as the GDAL internal
  per-dataset mask (``GDAL_TIFF_INTERNAL_MASK``);
- ``alpha``: the source's pixels and the result as an alpha band;
- ``sidecar``: the result as the source's external ``.msk`` file, the file
  GDAL itself writes for a mask of a read-only or non-TIFF raster;
- in place: the result as the source's own internal mask.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import ColorInterp

from riogrande.errors import EncodingError, RunCancelledError
from riogrande.io.handles import dataset, open_raster
from riogrande.io.rasters import Source
from riogrande.io.tags import write_tags
from riogrande.outputs.written import COPY_CACHE_BYTES
from riogrande.prepare import view_to_window

#: One copied band: (path of its file, 1-based band index).
CopiedBand = tuple[str, int]

#: GDAL mask flag of a per-dataset mask, stored in a .msk file for each band.
GMF_PER_DATASET = 2

#: Compression that would change copied pixels; copies use DEFLATE instead.
LOSSY = ("jpeg", "webp", "jxl")

#: Alpha value of a valid pixel, by data type (GDAL reads UInt16 alpha scaled to 0-255).
ALPHA_OPAQUE = {"uint8": 255, "uint16": 65535}

Cancel = Callable[[], bool] | None


def copied_dtype(bands: Sequence[CopiedBand]) -> str:
    """The one data type that holds every copied band."""
    dtypes = []
    for path, bidx in bands:
        with dataset(path) as src:
            dtypes.append(src.dtypes[bidx - 1])
    return np.result_type(*dtypes).name


def copy_layout(path: str) -> dict[str, Any]:
    """Creation layout of the file at ``path``: tiling, compression, interleave, predictor.

    Lossy compression is replaced by DEFLATE, so copies are lossless; DEFLATE
    is written at level 1 (the fastest; a file does not record its level).
    """
    with dataset(path) as src:
        profile = src.profile
        structure = src.tags(ns="IMAGE_STRUCTURE")
    layout: dict[str, Any] = {"BIGTIFF": "IF_SAFER"}
    if profile.get("tiled"):
        layout.update(TILED="YES", BLOCKXSIZE=profile["blockxsize"],
                      BLOCKYSIZE=profile["blockysize"])
    else:
        layout.update(BLOCKYSIZE=profile.get("blockysize", 1))
    compress = str(profile.get("compress") or "").lower()
    if compress in LOSSY:
        compress = "deflate"
    if compress:
        layout["COMPRESS"] = compress.upper()
    if compress == "deflate":
        layout["ZLEVEL"] = 1  # the file does not record its level; 1 is the fastest
    if structure.get("PREDICTOR") and compress:
        layout["PREDICTOR"] = structure["PREDICTOR"]
    if profile.get("interleave"):
        layout["INTERLEAVE"] = str(profile["interleave"]).upper()
    return layout


def check_alpha_dtype(dtype: str, name: str) -> None:
    """Refuse an alpha band in a type GDAL does not read as a mask.

    Raises
    ------
    EncodingError
        Unless ``dtype`` is uint8 or uint16.
    """
    if dtype not in ALPHA_OPAQUE:
        raise EncodingError(
            f"an alpha band makes a GDAL mask only in Byte or UInt16 rasters, and {name} is "
            f"{dtype}; use encoding 'mask' (internal mask) or 'nodata' instead")


def check_kept_nodata(data: NDArray, valid: NDArray, nodata: Any) -> None:
    """Refuse kept values that would read back as masked (all bands hold the nodata).

    Raises
    ------
    EncodingError
        If a valid pixel holds ``nodata`` in every band.
    """
    same = np.isnan(data) if np.isnan(nodata) else data == nodata
    clash = np.all(same, axis=0) & valid
    if clash.any():
        row, col = (int(index[0]) for index in np.nonzero(clash))
        raise EncodingError(
            f"valid pixels hold the output nodata value {nodata!r} in every band (the first "
            f"at row {row}, column {col} of the block), so they would read back as masked; "
            "choose another output nodata value")


class _BandReader:
    """Read the copied bands of a window, one read per file."""

    def __init__(self, stack: ExitStack, bands: Sequence[CopiedBand], dtype: str) -> None:
        self.dtype = dtype
        self.count = len(bands)
        files: dict[str, list[tuple[int, int]]] = {}
        for position, (path, bidx) in enumerate(bands):
            files.setdefault(path, []).append((position, bidx))
        # GTiff decodes the tiles of one read in several threads
        self.reads = [(stack.enter_context(dataset(path, NUM_THREADS="ALL_CPUS")),
                       [p for p, _ in pairs], [b for _, b in pairs])
                      for path, pairs in files.items()]

    def colorinterp(self) -> list[ColorInterp]:
        """The colour interpretation of each copied band, as its file has it."""
        found: dict[int, ColorInterp] = {}
        for src, positions, indexes in self.reads:
            for position, bidx in zip(positions, indexes, strict=True):
                found[position] = src.colorinterp[bidx - 1]
        return [found[position] for position in range(self.count)]

    def __call__(self, window: Any) -> NDArray:
        out = np.empty((self.count, int(window.height), int(window.width)), dtype=self.dtype)
        for src, positions, indexes in self.reads:
            out[positions] = src.read(indexes, window=window)
        return out


def check_cancel(cancel: Cancel) -> None:
    """Raise :class:`~riogrande.errors.RunCancelledError` once ``cancel()`` is True."""
    if cancel is not None and cancel():
        raise RunCancelledError("the run was cancelled while writing the output")


@contextmanager
def _windows_of(
    result: os.PathLike[str], views: Sequence[Sequence[int]], cancel: Cancel
) -> Iterator[Iterator[tuple[Any, NDArray]]]:
    """Yield an iterator of ``(window, valid)`` over the views of the result raster."""
    with dataset(result) as mask:

        def windows() -> Iterator[tuple[Any, NDArray]]:
            for view in views:
                check_cancel(cancel)
                window = view_to_window(view)
                yield window, mask.read(1, window=window) != 0

        yield windows()


@dataclass(frozen=True)
class CopyEncoding:
    """A copy of bands encoding the 0/1 result: ``nodata``, ``mask`` or ``alpha``.

    Attributes
    ----------
    encoding : {"nodata", "mask", "alpha"}
        ``nodata``: masked pixels set to ``profile["nodata"]``; ``mask``: the
        result as the internal dataset mask; ``alpha``: the result as an
        extra alpha band (the last band of ``profile``).
    profile : dict
        rasterio profile of the copy (creation options included).
    bands : list of (path, band)
        The bands copied, in order.
    """

    encoding: str
    profile: dict[str, Any]
    bands: Sequence[CopiedBand]

    def write(self, result: os.PathLike[str], target: os.PathLike[str],
              views: Sequence[Sequence[int]], tags: dict[str, Any], cancel: Cancel = None
              ) -> None:
        """Write the copy of ``result`` (the 0/1 raster) at ``target``, view by view.

        ``tags`` are stored on the dataset; ``cancel()`` returning True stops
        the copy.
        """
        dtype = self.profile["dtype"]
        with ExitStack() as stack:
            stack.enter_context(rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True,
                                             GDAL_CACHEMAX=COPY_CACHE_BYTES))
            read = _BandReader(stack, self.bands, dtype)
            windows = stack.enter_context(_windows_of(result, views, cancel))
            dst = stack.enter_context(open_raster(target, "w", **self.profile))
            if self.encoding == "alpha":
                dst.colorinterp = [*read.colorinterp(), ColorInterp.alpha]
            for window, valid in windows:
                data = read(window)
                if self.encoding == "nodata":
                    nodata = self.profile["nodata"]
                    check_kept_nodata(data, valid, nodata)
                    data[:, ~valid] = nodata
                    dst.write(data, window=window)
                elif self.encoding == "mask":
                    dst.write(data, window=window)
                    dst.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)
                else:
                    dst.write(data, indexes=list(range(1, read.count + 1)), window=window)
                    alpha = np.where(valid, ALPHA_OPAQUE[dtype], 0).astype(dtype)
                    dst.write(alpha, read.count + 1, window=window)
            write_tags(dst, tags, 0)


def sidecar_path(source: str | os.PathLike[str]) -> str:
    """The external mask file GDAL reads for ``source``: ``<source>.msk``."""
    return f"{os.fspath(source)}.msk"


def has_internal_mask(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` has a per-dataset mask that is not its ``.msk`` file.

    GDAL reads a GeoTIFF's internal mask before a ``.msk`` file, so a
    sidecar beside such a file would be ignored.
    """
    if os.path.exists(sidecar_path(source)):
        return False
    with dataset(source) as src:
        return any(flag.name == "per_dataset" for flag in src.mask_flag_enums[0])


@dataclass(frozen=True)
class SidecarEncoding:
    """The 0/1 result as a GDAL ``.msk`` file (0/255, per-dataset flags).

    Attributes
    ----------
    profile : dict
        rasterio profile of the ``.msk`` file: one uint8 band on the source's grid.
    band_count : int
        Number of bands of the source, each flagged as using the mask.
    """

    profile: dict[str, Any]
    band_count: int

    def write(self, result: os.PathLike[str], target: os.PathLike[str],
              views: Sequence[Sequence[int]], tags: dict[str, Any], cancel: Cancel = None
              ) -> None:
        """Write the ``.msk`` file of ``result`` at ``target``, view by view.

        GDAL's ``.msk`` file holds the flags, not ``tags``; ``cancel()``
        returning True stops the copy.
        """
        with _windows_of(result, views, cancel) as windows, \
                open_raster(target, "w", **self.profile) as dst:
            for window, valid in windows:
                dst.write(np.where(valid, 255, 0).astype(np.uint8), 1, window=window)
            dst.update_tags(**{f"INTERNAL_MASK_FLAGS_{bidx}": str(GMF_PER_DATASET)
                               for bidx in range(1, self.band_count + 1)})


def write_into_mask(result: os.PathLike[str], source: str,
                    views: Sequence[Sequence[int]]) -> None:
    """Write the 0/1 ``result`` into ``source``'s internal dataset mask, view by view.

    Once begun, the copy goes to its end: a mask half written would be a
    wrong mask.
    """
    with dataset(result) as mask, Source(source).mask_writer() as write:
        for view in views:
            window = view_to_window(view)
            write(mask.read(1, window=window), window=window)
