"""File operations on rasters: read a block, write a band, compress, coregister."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import MaskFlags, Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

from riogrande.compatibility import check_crs
from riogrande.errors import (
    BandSelectionNoMatchError,
    InvalidBandError,
    UnknownExtensionError,
)
from riogrande.io.checks import check_band_index, check_output_path, same_file
from riogrande.io.create import new_raster
from riogrande.io.handles import dataset
from riogrande.io.remote import checked_read
from riogrande.io.tags import bidx_by_tags, write_tags
from riogrande.prepare import view_to_window

logger = logging.getLogger(__name__)

#: Metadata domains that describe how GDAL stored a file, not what it holds.
STORAGE_DOMAINS = ("IMAGE_STRUCTURE", "DERIVED_SUBDATASETS")


def load_block(
    source: str | os.PathLike[str],
    view: Sequence[int] | None = None,
    scaling_params: dict[str, Any] | None = None,
    **tags: Any,
) -> dict[str, Any]:
    """Read a view of one band (or several) chosen by tags, optionally resampled.

    Parameters
    ----------
    source : str or path-like
        The raster.
    view : tuple of int, optional
        ``(x, y, width, height)``; the whole raster by default.
    scaling_params : dict, optional
        ``{"scaling": (sy, sx), "method": Resampling}``: read the view
        resampled to ``floor(height * sy)`` rows and ``floor(width * sx)``
        columns (bilinear by default).
    **tags
        Tags of the band to read (see :func:`~riogrande.io.tags.bidx_by_tags`);
        ``indexes=`` names bands directly; band 1 without tags.

    Returns
    -------
    dict
        ``data``: 2-D for one index, 3-D for a list; ``transform``: the
        affine transform of ``data``; ``orig_profile``: the file's profile.

    Raises
    ------
    BandSelectionNoMatchError, BandSelectionAmbiguousError
        If the tags name no band or several.
    ValueError
        If the scaling leaves no pixel.
    """
    name = os.fspath(source)
    with dataset(name) as img:
        indexes = bidx_by_tags(img, **tags)
        window = view_to_window(view)
        width, height = (img.width, img.height) if view is None else (int(view[2]), int(view[3]))
        transform = img.window_transform(window) if window is not None else img.transform
        read_kwargs: dict[str, Any] = {}
        if scaling_params:
            scale_y, scale_x = scaling_params["scaling"]
            rows, cols = math.floor(height * scale_y), math.floor(width * scale_x)
            if rows < 1 or cols < 1:
                raise ValueError(f"scaling {scale_y, scale_x} leaves no pixel of a "
                                 f"{width}x{height} view")
            shape = (rows, cols) if isinstance(indexes, int) else (len(indexes), rows, cols)
            read_kwargs = {"out_shape": shape,
                           "resampling": scaling_params.get("method", Resampling.bilinear)}
            # resampled pixels are wider and taller by these factors, from the same origin
            wider, taller = width / cols, height / rows
            transform = Affine(transform.a * wider, transform.b * taller, transform.c,
                               transform.d * wider, transform.e * taller, transform.f)
        data = checked_read(name, window,
                            lambda: img.read(indexes, window=window, **read_kwargs))
        return {"data": data, "transform": transform, "orig_profile": img.profile.copy()}


def write_band(
    src: Any, data: NDArray, bidx: int = 1, window: Window | None = None, **tags: Any
) -> None:
    """Write ``data`` into band ``bidx`` of an open dataset, then merge ``tags`` into its tags.

    Raises
    ------
    BandSelectionNoMatchError
        If the dataset has no band ``bidx``.
    """
    check_band_index(bidx, src.count, src.name)
    src.write(data, bidx, window=window)
    write_tags(src, tags, bidx)


def update_band(src: Any, data: NDArray, window: Window | None = None, **tags: Any) -> None:
    """Write ``data`` into the band of an open dataset that has ``tags`` (band 1 without).

    Raises
    ------
    BandSelectionNoMatchError
        If no band has the tags.
    BandSelectionAmbiguousError
        If several have them.
    """
    try:
        bidx = bidx_by_tags(src, **tags)
    except BandSelectionNoMatchError as error:
        raise BandSelectionNoMatchError(
            f"{error}; to add a band, write it with write_band(src, data, bidx, **tags)"
        ) from None
    if not isinstance(bidx, int):
        raise InvalidBandError(f"update_band writes one band, not {bidx}")
    src.write(data, bidx, window=window)


def _copy_metadata(src: Any, dst: Any) -> None:
    """Tags of every domain, descriptions, units, scales, offsets, colours."""
    for bidx in (0, *src.indexes):
        dst.update_tags(bidx, **src.tags(bidx))
        for ns in src.tag_namespaces(bidx):
            if ns not in STORAGE_DOMAINS and not ns.startswith("xml:"):
                dst.update_tags(bidx, ns=ns, **src.tags(bidx, ns=ns))
    for bidx, description in zip(src.indexes, src.descriptions, strict=True):
        if description:
            dst.set_band_description(bidx, description)
    dst.units, dst.scales, dst.offsets = src.units, src.scales, src.offsets
    dst.colorinterp = src.colorinterp
    for bidx in src.indexes:
        with suppress(ValueError):  # no colour table
            dst.write_colormap(bidx, src.colormap(bidx))


def compress_tif(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    compression: str | None = "lzw",
) -> str:
    """Write a compressed (or decompressed) GeoTIFF copy of a raster.

    The data is copied block by block with the file's profile (tiling,
    nodata, ...), its internal mask, the tags of every domain, band
    descriptions, units, scales, offsets, colour interpretation and colour
    tables. The output appears once complete; the source is never modified
    unless it is the output, in which case it is replaced.

    Parameters
    ----------
    source : str or path-like
    output : str or path-like, optional
        ``<stem>_compress.tif`` (``<stem>_decompressed.tif`` without
        compression) next to the source by default; may be the source.
    compression : str or None, default "lzw"
        GDAL compression (``"lzw"``, ``"deflate"``, ``"zstd"``, ...); None
        or ``"none"`` writes the data uncompressed.

    Returns
    -------
    str
        The output path.

    Raises
    ------
    UnknownExtensionError
        If ``output`` does not end in ``.tif`` or ``.tiff``.
    OutputError
        If the output cannot be written there.
    """
    source_path = Path(source)
    uncompressed = compression in (None, "none")
    if output is None:
        suffix = "_decompressed" if uncompressed else "_compress"
        output = source_path.with_name(f"{source_path.stem}{suffix}.tif")
    target = Path(output)
    if target.suffix.lower() not in (".tif", ".tiff"):
        raise UnknownExtensionError(f"compress_tif writes GeoTIFFs: {target} must end in .tif")
    in_place = target.exists() and source_path.exists() and os.path.samefile(target, source_path)
    if not in_place:
        check_output_path(target, [source_path])
    with dataset(source_path) as src:
        profile = {**src.profile, "driver": "GTiff"}
        if uncompressed:
            profile.pop("compress", None)
            profile.pop("predictor", None)
        else:
            profile["compress"] = compression
        flags = src.mask_flag_enums[0]
        copy_mask = MaskFlags.per_dataset in flags and MaskFlags.alpha not in flags
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), new_raster(target, **profile) as dst:
            for _, window in src.block_windows(1):
                dst.write(checked_read(src.name, window, partial(src.read, window=window)),
                          window=window)
                if copy_mask:
                    dst.write_mask(checked_read(src.name, window,
                                                partial(src.dataset_mask, window=window)),
                                   window=window)
            _copy_metadata(src, dst)
    logger.info("compressed %s into %s (%s)", source_path, target, compression)
    return os.fspath(target)


def coregister_raster(
    source: str | os.PathLike[str],
    reference: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
) -> str:
    """Resample a raster onto the grid of a reference raster with the same CRS.

    Every band is resampled (nearest neighbour) onto the reference's
    transform and size; nodata, profile (tiling, compression) and tags of
    every domain come from the source. The result is written under a
    temporary name and moved to ``output`` once complete, so ``output`` may
    be the source itself (or the reference): it is replaced only then, and
    left as it was if anything fails.

    Parameters
    ----------
    source, reference : str or path-like
    output : str or path-like, optional
        ``<stem>_coreg.tif`` next to the source by default; the source to
        coregister it in place.

    Returns
    -------
    str
        The output path.

    Raises
    ------
    RasterMismatchError
        If the two CRSs differ (reproject first).
    OutputError
        If the output cannot be written (a directory, a missing folder, the
        file behind an input that is not a plain file).
    """
    source_path = Path(source)
    check_crs(source_path, reference)
    target = Path(output) if output is not None else source_path.with_name(
        f"{source_path.stem}_coreg.tif")
    # An output naming the source or the reference replaces it once complete;
    # an output that is the file behind an input of another name (the archive
    # holding it) is still refused.
    check_output_path(target, [path for path in (source_path, Path(reference))
                               if not same_file(target, path)])
    with dataset(source_path) as src, dataset(reference) as ref:
        profile = {**src.profile, "driver": "GTiff", "crs": ref.crs, "transform": ref.transform,
                   "width": ref.width, "height": ref.height, "nodata": src.nodata}
    if profile.get("tiled"):
        for key, length in (("blockxsize", profile["width"]), ("blockysize", profile["height"])):
            profile[key] = min(int(profile[key]), max(16, -(-length // 16) * 16))
    with new_raster(target, **profile) as dst:
        # the inputs are closed before the result is moved over one of them
        with dataset(source_path) as src:
            for bidx in src.indexes:
                reproject(rasterio.band(src, bidx), rasterio.band(dst, bidx),
                          src_nodata=src.nodata, dst_nodata=src.nodata,
                          resampling=Resampling.nearest)
            _copy_metadata(src, dst)
    logger.info("coregistered %s onto %s: %s", source_path, reference, target)
    return os.fspath(target)
