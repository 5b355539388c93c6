"""An output planned with every check before any work, then written through one context.

:func:`plan_output` (a mask or selector: a 0/1 result and its encodings) and
:func:`plan_derived_output` (a function's result, :func:`riogrande.apply`)
raise every problem of an output before any work starts and return an
:class:`OutputTarget`; a job then runs inside ``with target.writing(views,
tags, cancel) as sink``. :meth:`OutputTarget.writing` owns every file of the
output: the blocks go straight into a temporary file when the output is a
GeoTIFF of the result itself, else into a scratch GeoTIFF that is encoded
(pixels copied) and copied into the final driver (COG, PNG) block by block.
Each file is checked; the output appears under its name only once complete,
and a failure, a cancel or a stop signal leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from riogrande.errors import EncodingError, OutputFormatError
from riogrande.io.checks import check_in_place, check_nodata, check_output_path, fits
from riogrande.io.locking import exclusive_write
from riogrande.io.output import atomic_output
from riogrande.io.remote import check_remote_output, is_remote, upload
from riogrande.outputs.encodings import (
    Cancel,
    CopiedBand,
    CopyEncoding,
    SidecarEncoding,
    check_alpha_dtype,
    check_cancel,
    copied_dtype,
    copy_layout,
    has_internal_mask,
    sidecar_path,
    write_into_mask,
)
from riogrande.outputs.formats import COG, ENCODINGS, GTIFF, OutputFormat, output_format
from riogrande.outputs.options import (
    check_creation_options,
    check_mask_resampling,
    driver_accepts,
    merge_options,
    normalize_creation_options,
)
from riogrande.outputs.profiles import (
    SCRATCH_TILES,
    cog_defaults,
    default_nodata,
    geotiff_defaults,
    grid_profile,
    mask_profile,
    tile_length,
)
from riogrande.outputs.sinks import ProfileFor, RasterSink
from riogrande.outputs.written import check_written, scratch_folder, translate

Encoding = CopyEncoding | SidecarEncoding

#: Profile keys that are not creation options.
_GRID_KEYS = ("driver", "dtype", "count", "width", "height", "crs", "transform", "nodata")


@dataclass(frozen=True)
class OutputSpec:
    """The form of a mask or selector output file.

    Attributes
    ----------
    encoding : {"values", "nodata", "mask", "sidecar", "alpha"}
        ``values``: a Byte band, 1 valid, 0 masked. ``nodata``: the same with
        0 declared nodata, or with ``keep_values`` a copy of the selected
        bands with masked pixels set to ``nodata``. ``mask``: a lossless
        copy of the source whose GDAL internal mask is the result.
        ``sidecar``: the result as the source's ``.msk`` file. ``alpha``: a
        copy of the source with the result as an alpha band (0/255; 0/65535
        for UInt16).
    keep_values : bool
        With ``nodata``: copy the selected bands' values.
    nodata : int, float or None
        Nodata of kept values; None: the source's nodata if it fits, else
        NaN for floats, the type's maximum (unsigned) or minimum (signed).
    cog : bool
        Write a Cloud-Optimized GeoTIFF.
    driver : str or None
        GDAL driver (``GTiff``, ``COG``, ``PNG``); None: from the extension.
    creation_options : mapping or None
        GDAL creation options, over riogrande's defaults.
    """

    encoding: str = "values"
    keep_values: bool = False
    nodata: Any = None
    cog: bool = False
    driver: str | None = None
    creation_options: Mapping[str, Any] | None = None

    @property
    def is_default(self) -> bool:
        """Whether nothing but the plain 0/1 values output was asked for."""
        return (self.encoding == "values" and not self.keep_values and not self.cog
                and self.driver is None and not self.creation_options)


def _fixed(profile: dict[str, Any]) -> ProfileFor:
    """A :data:`~riogrande.outputs.sinks.ProfileFor` that is ``profile`` whatever the result."""
    return lambda dtype, count: profile


@dataclass(frozen=True)
class OutputTarget:
    """A checked output, written through :meth:`writing`.

    Attributes
    ----------
    final : pathlib.Path, str or None
        The output file (a ``str`` for object storage: ``s3://...``); None:
        the result goes into the internal mask of ``in_place``.
    blocks_profile : callable
        ``blocks_profile(dtype, count)``: the profile of the file the
        engine's blocks are written into, for the result's data type and
        band count (checked with GDAL when the first block arrives).
    direct : bool
        The blocks go straight into the output; otherwise into a scratch
        GeoTIFF, then ``encoding`` and ``copy_driver`` make the output.
    encoding : CopyEncoding, SidecarEncoding or None
        A step copying pixels from the blocks' file.
    copy_driver : str or None
        A driver (COG, PNG) copying the blocks' (or the encoded) file.
    copy_options : dict
        Its creation options.
    in_place : str or None
        The source whose internal mask is written.
    """

    final: Path | str | None
    blocks_profile: ProfileFor
    direct: bool = True
    encoding: Encoding | None = None
    copy_driver: str | None = None
    copy_options: dict[str, Any] | None = None
    in_place: str | None = None

    @contextmanager
    def writing(self, views: Sequence[Sequence[int]], tags: dict[str, Any] | None = None,
                cancel: Cancel = None) -> Iterator[RasterSink]:
        """Yield the sink the run's blocks go into; on success the output appears, checked.

        Parameters
        ----------
        views : list of (x, y, width, height)
            The run's blocks, which the encoding steps copy one by one.
        tags : dict, optional
            Metadata stored with the result.
        cancel : callable, optional
            Polled between the steps after the run: True removes everything.

        Yields
        ------
        RasterSink
            The run's aggregator.

        Raises
        ------
        OutputError
            If a file cannot be written or comes out incomplete (a full disk).
        RunCancelledError
            If ``cancel()`` returned True before the output was complete.
        """
        tags = dict(tags or {})
        if self.in_place is not None:
            with exclusive_write(self.in_place, cancel), scratch_folder() as folder:
                sink = RasterSink(folder / "mask.tif", self.blocks_profile, self.in_place)
                yield sink
                check_written(sink.path, self.in_place)
                check_cancel(cancel)
                write_into_mask(sink.path, self.in_place, views)
            return
        if self.final is None:
            raise ValueError("an output target needs a file or a source to write in place")
        with _output_file(self.final, cancel) as temporary:
            if self.direct:
                yield RasterSink(temporary, self.blocks_profile, self.final, tags)
            else:
                with scratch_folder(temporary.parent) as folder:
                    sink = RasterSink(folder / "blocks.tif", self.blocks_profile, self.final,
                                      tags)
                    yield sink
                    check_written(sink.path, self.final)
                    self._finish(sink.path, temporary, folder, views, tags, cancel)
            check_cancel(cancel)
            check_written(temporary, self.final)

    def _finish(self, blocks: Path, temporary: Path, folder: Path,
                views: Sequence[Sequence[int]], tags: dict[str, Any], cancel: Cancel) -> None:
        """Encode the blocks' file and copy it into the final driver, into ``temporary``."""
        written = blocks
        if self.encoding is not None:
            check_cancel(cancel)
            written = temporary if self.copy_driver is None else folder / "encoded.tif"
            self.encoding.write(blocks, written, views, tags, cancel)
            if self.copy_driver is not None:
                check_written(written, self.final or written)
        if self.copy_driver is not None:
            check_cancel(cancel)
            translate(written, temporary, self.copy_driver, self.copy_options or {})


@contextmanager
def _output_file(final: Path | str, cancel: Cancel) -> Iterator[Path]:
    """The local file an output is written into: a temporary file next to it, renamed at
    the end, or for object storage a scratch file uploaded whole at the end."""
    if not is_remote(final):
        with atomic_output(final) as temporary:
            yield temporary
        return
    with scratch_folder() as folder:
        temporary = folder / PurePosixPath(os.fspath(final)).name
        yield temporary
        check_cancel(cancel)
        upload(temporary, os.fspath(final))


# ------------------------------------------------------------------ masks, selectors


def _resolve_final(output: str | os.PathLike[str] | None, spec: OutputSpec,
                   source: str) -> str | os.PathLike[str] | None:
    if spec.encoding != "sidecar":
        if output is None and not spec.is_default:
            raise EncodingError(f"the encoding {spec.encoding!r} (or a COG, driver or creation "
                                "options) needs an output file; without one the result goes "
                                "into the source's internal mask")
        return output
    if spec.cog or (spec.driver is not None and spec.driver.lower() != "gtiff"):
        raise EncodingError("a sidecar is GDAL's .msk file, a plain GeoTIFF: it cannot be "
                            "a COG or another format")
    sidecar = sidecar_path(source)
    if output is not None and Path(output).resolve() != Path(sidecar).resolve():
        raise EncodingError(f"a sidecar mask of {source} must be {sidecar}, where GDAL looks "
                            f"for it (got {output}); leave the output out")
    if has_internal_mask(source):
        raise EncodingError(f"{source} has an internal mask, which GDAL reads before a .msk "
                            "file: a sidecar would be ignored; use another encoding")
    return sidecar


def _zero_one_copy_options(chosen: OutputFormat, user: dict[str, str]) -> dict[str, Any]:
    """Creation options of a 0/1 result copied into a COG (one bit per pixel) or a PNG."""
    defaults: dict[str, Any] = {}
    if chosen.driver == COG.driver:
        defaults = cog_defaults()
        if driver_accepts("COG", False, "uint8", "NBITS", "1"):
            defaults["NBITS"] = 1
    options = merge_options(defaults, user)
    if user:  # riogrande's own defaults for a 0/1 result need no probe
        check_mask_resampling(options)
        check_creation_options(chosen.driver, False, "uint8", 1, options)
    return options


def plan_output(
    output: str | os.PathLike[str] | None,
    spec: OutputSpec,
    *,
    grid: Mapping[str, Any],
    copied: Sequence[CopiedBand],
    inputs: Sequence[str | os.PathLike[str]],
    nodata_hint: Any = None,
) -> OutputTarget:
    """Check a mask or selector output and plan its writing, before any work.

    Parameters
    ----------
    output : str, path-like or None
        The output file; None writes the result into the source's internal
        mask (encoding ``values``) or its ``.msk`` file (``sidecar``).
    spec : OutputSpec
        The form asked for.
    grid : mapping
        rasterio profile of the source (size, georeferencing).
    copied : list of (path, band)
        Bands copied by the ``mask``, ``alpha`` and kept-values encodings;
        the first one's file is the source (in-place, sidecar, layout).
    inputs : list of path-like
        Every raster read, none of which may be overwritten.
    nodata_hint : int, float or None
        The kept values' nodata when ``spec.nodata`` is None and it fits.

    Raises
    ------
    OutputError
        Subclasses name the problem: format, encoding, creation option,
        output path.
    """
    if spec.encoding not in ENCODINGS:
        raise EncodingError(f"unknown encoding {spec.encoding!r}; choose one of "
                            f"{', '.join(ENCODINGS)}")
    if spec.keep_values and spec.encoding != "nodata":
        raise EncodingError("keep_values goes with the encoding 'nodata' (the kept values "
                            f"with masked pixels set to nodata), not {spec.encoding!r}")
    source = copied[0][0]
    result_profile = mask_profile(grid)
    if spec.encoding == "nodata" and not spec.keep_values:
        result_profile["nodata"] = 0
    final = _resolve_final(output, spec, source)
    if final is None:
        check_in_place(source, grid["driver"])
        return OutputTarget(None, _fixed(result_profile), in_place=source)
    final = _checked_path(final, inputs)
    chosen = GTIFF if spec.encoding == "sidecar" else output_format(final, spec.driver, spec.cog)
    if spec.encoding not in chosen.encodings:
        raise EncodingError(f"{chosen.title} cannot hold the encoding {spec.encoding!r}; "
                            f"it holds {', '.join(chosen.encodings)}")
    user = normalize_creation_options(spec.creation_options)
    # a scratch result, read back once, is not compressed (one bit per pixel: small anyway)
    scratch = _fixed({key: value for key, value in result_profile.items()
                      if key not in ("compress", "zlevel")})
    if spec.encoding == "sidecar":
        options = merge_options({"TILED": "YES", "BLOCKXSIZE": tile_length(grid["width"], 256),
                                 "BLOCKYSIZE": tile_length(grid["height"], 256),
                                 "COMPRESS": "DEFLATE", "INTERLEAVE": "BAND"}, user)
        if user:
            check_creation_options("GTiff", True, "uint8", 1, options)
        sidecar = SidecarEncoding({**grid_profile(grid, "uint8", 1, None), **options},
                                  int(grid["count"]))
        return OutputTarget(final, scratch, direct=False, encoding=sidecar)
    if spec.encoding == "values" or (spec.encoding == "nodata" and not spec.keep_values):
        if not chosen.direct:
            return OutputTarget(final, scratch, direct=False, copy_driver=chosen.driver,
                                copy_options=_zero_one_copy_options(chosen, user))
        options = merge_options({key: value for key, value in result_profile.items()
                                 if key not in _GRID_KEYS}, user)
        if user:
            check_creation_options(chosen.driver, True, "uint8", 1, options)
        return OutputTarget(final, _fixed({**grid_profile(grid, "uint8", 1,
                                                          result_profile["nodata"]),
                                           **options}))
    return _plan_copy(final, spec, chosen, user, scratch, grid, copied, nodata_hint)


def _checked_path(output: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]]
                  ) -> Path | str:
    """The output's path, checked: a local file, or a name in object storage."""
    if is_remote(output):
        return check_remote_output(output, list(inputs))
    return check_output_path(output, inputs)


def _plan_copy(final: Path | str, spec: OutputSpec, chosen: OutputFormat, user: dict[str, str],
               scratch: ProfileFor, grid: Mapping[str, Any], copied: Sequence[CopiedBand],
               nodata_hint: Any) -> OutputTarget:
    """The plan of an encoding that copies bands: kept values, ``mask``, ``alpha``."""
    source = copied[0][0]
    dtype = copied_dtype(copied)
    count = len(copied) + (spec.encoding == "alpha")
    _check_copy_fits(chosen, spec.encoding, dtype, len(copied), source)
    nodata = _copy_nodata(spec, grid, dtype, nodata_hint, source)
    layout = copy_layout(source)
    # a scratch for another driver: tiled, uncompressed (written once, read once)
    options = (merge_options({**layout, "NUM_THREADS": "ALL_CPUS"}, user) if chosen.direct
               else dict(SCRATCH_TILES))
    if spec.encoding == "alpha":
        options["ALPHA"] = "YES"
    check_creation_options("GTiff", True, dtype, count, options)
    encoding = CopyEncoding(spec.encoding,
                            {**grid_profile(grid, dtype, count, nodata), **options}, copied)
    if chosen.direct:
        return OutputTarget(final, scratch, direct=False, encoding=encoding)
    defaults = {} if chosen.driver != COG.driver else cog_defaults(layout.get("COMPRESS"),
                                                                   layout.get("PREDICTOR"))
    copy_options = merge_options(defaults, user)
    check_creation_options(chosen.driver, False, dtype, count, copy_options)
    return OutputTarget(final, scratch, direct=False, encoding=encoding,
                        copy_driver=chosen.driver, copy_options=copy_options)


def _check_copy_fits(chosen: OutputFormat, encoding: str, dtype: str, bands: int,
                     source: str) -> None:
    if encoding == "alpha":
        check_alpha_dtype(dtype, source)
        if bands not in (1, 3):
            raise EncodingError(f"GDAL reads an alpha band as the mask of a gray (1 band) or "
                                f"RGB (3 bands) image only, and {bands} bands are copied; "
                                "use encoding 'mask' instead")
    if chosen.dtypes is not None and dtype not in chosen.dtypes:
        raise EncodingError(f"{chosen.title} holds {', '.join(chosen.dtypes)} pixels, and the "
                            f"copied bands are {dtype}; write a GeoTIFF instead")
    if chosen.band_counts is not None and bands not in chosen.band_counts:
        raise EncodingError(f"{chosen.title} holds {' or '.join(map(str, chosen.band_counts))} "
                            f"bands (plus alpha), and {bands} are copied; write a GeoTIFF "
                            "instead")


def _copy_nodata(spec: OutputSpec, grid: Mapping[str, Any], dtype: str, hint: Any,
                 source: str) -> Any:
    """The nodata value of a copy: the kept values' nodata, or the source's own."""
    if spec.encoding == "alpha":
        return None  # the alpha band is the mask; a nodata value would shadow it
    if spec.encoding != "nodata":
        return grid.get("nodata")
    if spec.nodata is not None:
        check_nodata(spec.nodata, dtype, f"the copy of {source}")
        return spec.nodata
    for candidate in (hint, grid.get("nodata")):
        if candidate is not None and fits(candidate, dtype):
            return candidate
    return default_nodata(dtype)


# ------------------------------------------------------------------ a function's result


def check_derived_format(output: str | os.PathLike[str], cog: bool = False) -> OutputFormat:
    """The format of a calculated result at ``output``: a GeoTIFF or a COG.

    Raises
    ------
    OutputFormatError
        For any other format, or an extension riogrande does not write.
    """
    chosen = output_format(output, cog=cog)
    if chosen.driver not in (GTIFF.driver, COG.driver):
        raise OutputFormatError(f"cannot write {Path(output).name}: a calculated result is "
                                f"written as a GeoTIFF (.tif, .tiff) or a COG, not as "
                                f"{chosen.title}")
    return chosen


def plan_derived_output(
    output: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    profile: Mapping[str, Any],
    *,
    nodata: Any = None,
    cog: bool = False,
    creation_options: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    count: int | None = None,
) -> OutputTarget:
    """Check the output of :func:`riogrande.apply` and plan its writing, before any work.

    The output is a GeoTIFF (or a COG) on the grid of the first input, with
    its tiling and compression unless creation options say otherwise (see
    :mod:`riogrande.outputs.profiles`); its data type and band count are
    those of the result, known when the first block arrives.

    Parameters
    ----------
    output : str or path-like
        The new file: a GeoTIFF (``.tif``, ``.tiff``).
    inputs : list of path-like
        Every raster read, none of which may be overwritten.
    profile : mapping
        rasterio profile of the first input.
    nodata : int, float, None or callable
        The output's nodata value, or ``nodata(dtype)`` giving it for the
        result's data type (known when the first block arrives).
    cog : bool, default False
        Write a Cloud-Optimized GeoTIFF.
    creation_options : mapping, optional
        GDAL creation options over riogrande's defaults.
    dtype : str, optional
        The output's data type, when known before the first block.
    count : int, optional
        Its number of bands, when known.

    Raises
    ------
    OutputFormatError
        For an output that is not a GeoTIFF.
    CreationOptionError
        For a reserved option, or one GDAL rejects (checked now when
        ``dtype`` and ``count`` are known, else when the first block arrives).
    OutputError
        For an output that is an input, or a folder that cannot take it.
    """
    chosen = check_derived_format(output, cog)
    path = _checked_path(output, inputs)
    user = normalize_creation_options(creation_options)
    grid = dict(profile)
    cog_options = merge_options(cog_defaults(grid.get("compress")), user) if cog else None

    def final_options(dtype: str, count: int) -> dict[str, Any]:
        options = cog_options or merge_options(geotiff_defaults(grid, count), user)
        check_creation_options(chosen.driver, not cog, dtype, count, options)
        return options

    if dtype is not None and count is not None:
        final_options(dtype, count)

    def blocks_profile(dtype: str, count: int) -> dict[str, Any]:
        options = final_options(dtype, count)
        value = nodata(dtype) if callable(nodata) else nodata
        return {**grid_profile(grid, dtype, count, value),
                **(SCRATCH_TILES if cog else options)}

    if not cog:
        return OutputTarget(path, blocks_profile)
    return OutputTarget(path, blocks_profile, direct=False, copy_driver=COG.driver,
                        copy_options=cog_options)
