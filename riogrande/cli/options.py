"""Options and argument types shared by the subcommands.

Parsing lives in :class:`click.ParamType` subclasses, so a bad value is a
usage error (exit code 2) whose message names the option.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import click

from riogrande.errors import (
    BlockSizeError,
    CreationOptionError,
    EncodingError,
    InvalidBandError,
    OutputError,
    OutputFormatError,
)
from riogrande.io.checks import check_output_path, same_file
from riogrande.io.names import is_plain_path
from riogrande.io.remote import exists, is_remote, redact

F = TypeVar("F", bound=Callable[..., Any])


class RasterPath(click.ParamType):
    """A raster to read: an existing file, or any other name GDAL opens.

    ``/vsi...`` paths, URLs and subdataset names (``NETCDF:"x.nc":Band1``,
    ``GTIFF_DIR:2:pages.tif``) are passed to GDAL as they are.
    """

    name = "raster"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Return the name, checking that a plain path is an existing file."""
        text = os.fspath(value)
        if not is_plain_path(text):
            return text
        path = Path(text)
        if not path.exists():
            self.fail(f"file {text!r} does not exist", param, ctx)
        if path.is_dir():
            self.fail(f"{text!r} is a directory, not a raster file", param, ctx)
        return text


class OutputPath(click.ParamType):
    """A new raster: a path of this machine, or a name in object storage (``s3://...``)."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path | str:
        """Return a :class:`~pathlib.Path`, or the remote name as it is."""
        text = os.fspath(value)
        if is_remote(text):
            return text
        path = Path(text)
        if path.is_dir():
            self.fail(f"{text!r} is a directory, not a file name", param, ctx)
        return path


class BandList(click.ParamType):
    """Comma-separated 1-based band indexes, with ranges: ``1,3`` or ``1-3,5``."""

    name = "bands"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[int]:
        """Return the band indexes in the order given."""
        if isinstance(value, list):
            return value
        bands: list[int] = []
        for item in str(value).split(","):
            first, _, last = item.strip().partition("-")
            try:
                start = int(first)
                stop = int(last) if last else start
            except ValueError:
                self.fail(f"{value!r} is not a list of band numbers such as 1,3 or 1-3", param,
                          ctx)
            if start < 1 or stop < start:
                self.fail(f"{item.strip()!r} in {value!r}: bands are numbered from 1, "
                          "ranges go upwards", param, ctx)
            bands.extend(range(start, stop + 1))
        return bands


class NodataValue(click.ParamType):
    """A number, or ``nan``."""

    name = "nodata"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | float:
        """Return an int when the text is an integer, else a float (NaN allowed)."""
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip()
        with suppress(ValueError):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number or 'nan'", param, ctx)
        if math.isinf(number):
            self.fail(f"{value!r}: infinity cannot be a nodata value", param, ctx)
        return number


class ExtraMask(click.ParamType):
    """``RASTER`` or ``RASTER:BAND`` (band 1 by default)."""

    name = "raster[:band]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        """Return ``(path, band)``."""
        if isinstance(value, tuple):
            return value
        text = str(value)
        path, band = text, 1
        head, sep, tail = text.rpartition(":")
        if sep and tail.isdigit() and head:
            path, band = head, int(tail)
            if band < 1:
                self.fail(f"{value!r}: bands are numbered from 1", param, ctx)
        return RasterPath().convert(path, param, ctx), band


class CreationOption(click.ParamType):
    """A GDAL creation option ``KEY=VALUE``."""

    name = "key=value"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        """Return ``(KEY, value)`` with the key in upper case."""
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE (for example COMPRESS=ZSTD)", param, ctx)
        return key.strip().upper(), text.strip()


def _positive_pair(
    ctx: click.Context, param: click.Parameter, value: tuple[int, int] | None
) -> tuple[int, int] | None:
    if value is not None and min(value) < 1:
        raise click.BadParameter(f"{value[0]} {value[1]}: width and height must be positive",
                                 ctx=ctx, param=param)
    return value


src_arg = click.argument("src", type=RasterPath())


output_opt = click.option(
    "-o", "--output", type=OutputPath(), default=None,
    help="New raster (by default a single-band uint8 GeoTIFF: 1 valid, 0 masked).",
)
overwrite_opt = click.option(
    "--overwrite", is_flag=True, help="Replace the output files (-o, --quicklook) if they exist.",
)
bands_opt = click.option(
    "-b", "--bands", type=BandList(), default=None,
    help="Bands to use, e.g. 1,3 or 1-3 (default: all).",
)
block_size_opt = click.option(
    "--block-size", type=(int, int), default=None, metavar="W H", callback=_positive_pair,
    help="Block width and height in pixels (default: chosen from the file's tiling).",
)
workers_opt = click.option(
    "-j", "--workers", type=click.IntRange(min=1), default=None, metavar="N",
    help="Workers (default: the usable CPUs).",
)
backend_opt = click.option(
    "--backend", type=click.Choice(["threads", "processes"]), default=None,
    help="Run the blocks in threads of this process (the default: the work releases "
         "Python's GIL) or in worker processes.",
)
quicklook_opt = click.option(
    "--quicklook", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="PNG", help="Also write a small PNG preview of the result (valid/masked).",
)
json_opt = click.option(
    "--json", "as_json", is_flag=True, help="Print the report as one JSON object.",
)
quiet_opt = click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar and no summary line.",
)
nodata_opt = click.option(
    "--nodata", type=NodataValue(), default=None, metavar="V|nan",
    help="Value marking missing data (default: the file's nodata value, else 0).",
)
logic_opt = click.option(
    "--logic", type=click.Choice(["all", "any"]), default="all", show_default=True,
    help="Mask a pixel where all bands, or any band, equal nodata.",
)
yes_opt = click.option(
    "-y", "--yes", is_flag=True, help="Do not ask before modifying the source file.",
)


def output_form_opts(func: F) -> F:
    """The options choosing the form of the output: ``--as``, ``--cog``, ``--co``..."""
    from riogrande.outputs.formats import ENCODINGS, FORMATS

    options = [
        click.option("--as", "encoding", type=click.Choice(ENCODINGS), default="values",
                     show_default=True,
                     help="values: 1/0 Byte band. nodata: the same with 0 as nodata (with "
                          "--keep-values: the bands, masked pixels set to nodata). mask: a "
                          "copy of SRC whose GDAL mask is the result. sidecar: the result "
                          "as SRC's .msk file. alpha: a copy of SRC with an alpha band."),
        click.option("--keep-values", is_flag=True,
                     help="With --as nodata: copy the bands' values, masked pixels set to "
                          "--output-nodata."),
        click.option("--output-nodata", type=NodataValue(), default=None, metavar="V|nan",
                     help="Nodata of kept values (default: the nodata value if the type "
                          "holds it, else NaN, or the type's max/min)."),
        click.option("--cog", is_flag=True,
                     help="Write a Cloud-Optimized GeoTIFF (tiled, with overviews)."),
        click.option("--driver", type=click.Choice(list(FORMATS), case_sensitive=False),
                     default=None, help="Output format (default: from the extension)."),
        click.option("--co", "creation_options", type=CreationOption(), multiple=True,
                     metavar="KEY=VALUE",
                     help="GDAL creation option, repeatable (e.g. --co COMPRESS=ZSTD)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_form(
    *, encoding: str, keep_values: bool, output_nodata: Any, cog: bool, driver: str | None,
    creation_options: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    """The library keywords of the options of :func:`output_form_opts`."""
    return {"encoding": encoding, "keep_values": keep_values, "output_nodata": output_nodata,
            "cog": cog, "driver": driver, "creation_options": dict(creation_options)}


OUTPUT_HINT = "'-o' / '--output'"
QUICKLOOK_HINT = "'--quicklook'"
SIDECAR_HINT = "'--as sidecar'"
#: Library errors that are usage errors of the options of a mask or selector.
FORM_HINTS = {
    InvalidBandError: "'-b' / '--bands'",
    BlockSizeError: "'--block-size'",
    CreationOptionError: "'--co'",
    EncodingError: "'--as'",
    OutputFormatError: "'-o' / '--output' / '--driver'",
}


def check_outputs(
    outputs: Mapping[str, Path | str | None], inputs: Sequence[str], overwrite: bool
) -> None:
    """Check the files a command will write against each other, before any work starts.

    Each output must differ from every other output and not exist unless
    ``--overwrite`` was given; the quicklook, which only the command line
    writes, must also be a path a new file can take (the library checks its
    own outputs when it plans the run).

    Parameters
    ----------
    outputs : mapping of str to path, str or None
        The option naming each output (``"'-o' / '--output'"``) and its path
        (a ``str`` in object storage); None for an output not asked for.
    inputs : list of str
        The rasters the command reads.
    overwrite : bool
        Whether ``--overwrite`` was given.

    Raises
    ------
    click.BadParameter
        Naming the option, the output and the path it collides with.
    """
    given = [(hint, path) for hint, path in outputs.items() if path is not None]
    for number, (hint, path) in enumerate(given):
        if isinstance(path, str):  # in object storage
            if not overwrite and exists(path):
                raise click.BadParameter(f"{redact(path)} already exists; add --overwrite to "
                                         "replace it", param_hint=hint)
            continue
        for other_hint, other in given[number + 1:]:
            if same_file(path, other):
                raise click.BadParameter(
                    f"{path} is given to both {hint} and {other_hint} ({other}); "
                    "give each output its own path", param_hint=hint)
        if hint == QUICKLOOK_HINT:
            try:
                check_output_path(path, inputs)
            except OutputError as error:
                raise click.BadParameter(str(error), param_hint=hint) from None
        if path.exists() and not overwrite:
            raise click.BadParameter(f"{path} already exists; add --overwrite to replace it",
                                     param_hint=hint)


def check_mask_outputs(
    output: Path | str | None, encoding: str, quicklook: Path | None, inputs: Sequence[str],
    overwrite: bool,
) -> None:
    """:func:`check_outputs` of a mask or selector: ``-o``, with ``--as sidecar`` the first
    input's ``.msk`` file, and ``--quicklook``."""
    from riogrande.outputs.encodings import sidecar_path

    sidecar = Path(sidecar_path(inputs[0])) if encoding == "sidecar" else None
    check_outputs({OUTPUT_HINT: output, SIDECAR_HINT: sidecar, QUICKLOOK_HINT: quicklook},
                  inputs, overwrite)
