"""How a result becomes a file: the output asked for, checked up front, then written.

:func:`plan_output` turns an :class:`OutputSpec` (encoding, COG, driver,
creation options) and the output path into an :class:`OutputPlan`, raising
every problem before any work starts. :meth:`OutputPlan.write` then runs the
job with an aggregator writing the 0/1 result and finishes the file: the
result is written straight into the output when it is a plain GeoTIFF of
0/1 values, otherwise into a scratch GeoTIFF next to the output, then encoded
(pixels copied) and copied into the final driver (COG, PNG) block by block.
The final file appears under its name only once complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from riogrande.aggregators import combine_views
from riogrande.errors import EncodingError
from riogrande.helper import view_to_window
from riogrande.io.checks import check_in_place, check_nodata, check_output_path
from riogrande.io.handles import dataset
from riogrande.io.locking import exclusive_write
from riogrande.io.models import Source
from riogrande.io.output import atomic_output
from riogrande.outputs.encodings import (
    CopiedBand,
    check_alpha_dtype,
    copied_dtype,
    copy_layout,
    default_output_nodata,
    has_internal_mask,
    sidecar_path,
    write_copy,
    write_sidecar,
)
from riogrande.outputs.formats import ENCODINGS, GTIFF, OutputFormat, output_format
from riogrande.outputs.options import (
    check_creation_options,
    check_mask_resampling,
    driver_accepts,
    merge_options,
    normalize_creation_options,
)
from riogrande.outputs.profiles import mask_profile, tile_length
from riogrande.outputs.written import check_written, scratch_folder, translate

logger = logging.getLogger(__name__)

#: Profile keys that are not creation options.
_GRID_KEYS = ("driver", "dtype", "count", "width", "height", "crs", "transform", "nodata")

#: Creation options of a scratch copy that another driver copies from.
SCRATCH_COPY = {"TILED": "YES", "BLOCKXSIZE": 512, "BLOCKYSIZE": 512, "BIGTIFF": "IF_SAFER"}

#: ``run(aggregator)`` runs a job whose aggregator writes the result.
Run = Callable[[Callable[[Any], Any]], Any]


@dataclass(frozen=True)
class OutputSpec:
    """The form of an output file.

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


@dataclass
class OutputPlan:
    """A checked output, ready to be written by :meth:`write`."""

    final: Path | None
    output_format: OutputFormat
    encoding: str
    result_profile: dict[str, Any]
    encoded_profile: dict[str, Any] | None = None
    final_options: dict[str, Any] = field(default_factory=dict)
    copied: list[CopiedBand] = field(default_factory=list)
    source: str = ""
    source_count: int = 0

    @property
    def direct(self) -> bool:
        """Whether the engine writes the output file itself (no scratch)."""
        return self.output_format.direct and self.encoded_profile is None

    def write(self, run: Run, views: Sequence[Sequence[int]], tags: dict[str, Any],
              cancel: Callable[[], bool] | None = None) -> Any:
        """Run the job and write the output; return what ``run`` returned."""
        if self.final is None:
            return _write_in_place(run, self.source, self.result_profile, views, cancel)
        with atomic_output(self.final) as temporary:
            if self.direct:
                result = _run_into(run, temporary, self.result_profile, tags, self.final)
                check_written(temporary, self.final)
                return result
            with scratch_folder(self.final.parent) as folder:
                scratch = folder / "result.tif"
                result = _run_into(run, scratch, self.result_profile, tags, self.final)
                encoded = scratch
                if self.encoded_profile is not None:
                    encoded = temporary if self.output_format.direct else folder / "encoded.tif"
                    self._encode(scratch, encoded, views, tags, cancel)
                if not self.output_format.direct:
                    translate(encoded, temporary, self.output_format.driver, self.final_options)
                check_written(temporary, self.final)
        return result

    def _encode(self, scratch: Path, target: Path, views: Sequence[Sequence[int]],
                tags: dict[str, Any], cancel: Callable[[], bool] | None) -> None:
        assert self.encoded_profile is not None
        if self.encoding == "sidecar":
            write_sidecar(scratch, target, self.encoded_profile, self.source_count, views, cancel)
        else:
            write_copy(self.encoding, scratch, target, self.encoded_profile, self.copied, views,
                       tags, cancel)


def _run_into(run: Run, path: Path, profile: dict[str, Any], tags: dict[str, Any],
              name: str | os.PathLike[str]) -> Any:
    """Call ``run`` with :func:`combine_views` writing the 0/1 result at ``path``."""
    result = run(partial(combine_views, {
        "output_file": path, "profile": profile, "band": 1, "tags": tags,
    }))
    check_written(path, name)
    return result


def _write_in_place(run: Run, source: str, profile: dict[str, Any],
                    views: Sequence[Sequence[int]], cancel: Callable[[], bool] | None) -> Any:
    """Write the result into ``source``'s internal mask once every block succeeded."""
    with exclusive_write(source, cancel), scratch_folder() as folder:
        scratch = folder / "mask.tif"
        result = _run_into(run, scratch, profile, {}, source)
        with dataset(scratch) as mask, Source(source).mask_writer() as write:
            for view in views:
                window = view_to_window(view)
                write(mask.read(1, window=window), window=window)
    return result


def _creation_keys(profile: Mapping[str, Any]) -> dict[str, Any]:
    return {key.upper(): value for key, value in profile.items() if key not in _GRID_KEYS}


def _grid(profile: Mapping[str, Any], dtype: str, count: int, nodata: Any) -> dict[str, Any]:
    return {"dtype": dtype, "count": count, "width": profile["width"],
            "height": profile["height"], "crs": profile.get("crs"),
            "transform": profile["transform"], "nodata": nodata}


def _final_defaults(output_format: OutputFormat, dtype: str, zero_one: bool) -> dict[str, Any]:
    """riogrande's creation options of a CreateCopy format."""
    if output_format.driver != "COG":
        return {}
    defaults: dict[str, Any] = {"COMPRESS": "DEFLATE", "LEVEL": 1, "BLOCKSIZE": 512,
                                "BIGTIFF": "IF_SAFER", "RESAMPLING": "NEAREST",
                                "NUM_THREADS": "ALL_CPUS"}
    if zero_one and driver_accepts("COG", False, dtype, "NBITS", "1"):
        defaults["NBITS"] = 1
    return defaults


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


def plan_output(
    output: str | os.PathLike[str] | None,
    spec: OutputSpec,
    *,
    grid: Mapping[str, Any],
    copied: Sequence[CopiedBand],
    inputs: Sequence[str | os.PathLike[str]],
    nodata_hint: Any = None,
) -> OutputPlan:
    """Check an output and plan its writing, before any work.

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

    Returns
    -------
    OutputPlan

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
    result_profile = mask_profile(dict(grid))
    if spec.encoding == "nodata" and not spec.keep_values:
        result_profile["nodata"] = 0
    final = _resolve_final(output, spec, source)
    if final is None:
        check_in_place(source, grid["driver"])
        return OutputPlan(None, GTIFF, "values", result_profile, source=source)
    final = check_output_path(final, inputs)
    chosen = GTIFF if spec.encoding == "sidecar" else output_format(final, spec.driver, spec.cog)
    if spec.encoding not in chosen.encodings:
        raise EncodingError(f"{chosen.title} cannot hold the encoding {spec.encoding!r}; "
                            f"it holds {', '.join(chosen.encodings)}")
    user = normalize_creation_options(spec.creation_options)
    # a scratch result, read back once, is not compressed (one bit per pixel: small anyway)
    scratch_profile = {key: value for key, value in result_profile.items()
                       if key not in ("compress", "zlevel")}
    plan = OutputPlan(final, chosen, spec.encoding, scratch_profile, copied=list(copied),
                      source=source, source_count=int(grid["count"]))
    zero_one = spec.encoding in ("values", "sidecar") or (
        spec.encoding == "nodata" and not spec.keep_values)
    if spec.encoding == "sidecar":
        options = merge_options({"TILED": "YES", "BLOCKXSIZE": tile_length(grid["width"], 256),
                                 "BLOCKYSIZE": tile_length(grid["height"], 256),
                                 "COMPRESS": "DEFLATE", "INTERLEAVE": "BAND"}, user)
        check_creation_options("GTiff", True, "uint8", 1, options)
        plan.encoded_profile = {"driver": "GTiff", **_grid(grid, "uint8", 1, None), **options}
        return plan
    if zero_one:
        dtype, count = "uint8", 1
        if chosen.direct:
            options = merge_options(_creation_keys(result_profile), user)
            check_creation_options(chosen.driver, True, dtype, count, options)
            plan.result_profile = {"driver": "GTiff", **_grid(grid, dtype, count,
                                                              result_profile["nodata"]),
                                   **options}
            return plan
    else:
        dtype = copied_dtype(copied)
        count = len(copied) + (spec.encoding == "alpha")
        _check_copy_fits(chosen, spec.encoding, dtype, len(copied), source)
        nodata = _copy_nodata(spec, grid, dtype, nodata_hint, source)
        layout = copy_layout(source)
        # a scratch for another driver: tiled, uncompressed (written once, read once)
        options = (merge_options({**layout, "NUM_THREADS": "ALL_CPUS"}, user) if chosen.direct
                   else dict(SCRATCH_COPY))
        if spec.encoding == "alpha":
            options["ALPHA"] = "YES"
        check_creation_options("GTiff", True, dtype, count, options)
        plan.encoded_profile = {"driver": "GTiff", **_grid(grid, dtype, count, nodata),
                                **options}
        if chosen.direct:
            return plan
    defaults = _final_defaults(chosen, dtype, zero_one)
    if not zero_one and chosen.driver == "COG":
        defaults.update({key: layout[key] for key in ("COMPRESS", "PREDICTOR") if key in layout})
        if defaults["COMPRESS"] != "DEFLATE":
            defaults.pop("LEVEL")
    plan.final_options = merge_options(defaults, user)
    if zero_one:
        check_mask_resampling(plan.final_options)
    check_creation_options(chosen.driver, False, dtype, count, plan.final_options)
    return plan


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
        if candidate is not None and _fits(candidate, dtype):
            return candidate
    return default_output_nodata(dtype)


def _fits(value: Any, dtype: str) -> bool:
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.floating):
        return True
    if isinstance(value, float) and (np.isnan(value) or value != int(value)):
        return False
    info = np.iinfo(kind)
    return bool(info.min <= value <= info.max)
