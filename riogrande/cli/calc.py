"""``riogrande calc``: a raster calculator expression over named rasters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from riogrande.cli.errors import library_errors
from riogrande.cli.options import (
    OUTPUT_HINT,
    CreationOption,
    NodataValue,
    OutputPath,
    RasterPath,
    backend_opt,
    block_size_opt,
    check_outputs,
    json_opt,
    overwrite_opt,
    quiet_opt,
    workers_opt,
)
from riogrande.cli.progress import ProgressBar
from riogrande.cli.report import blocks_text, json_number, run_fields
from riogrande.errors import (
    BlockSizeError,
    CreationOptionError,
    ExpressionError,
    IncompatibleRastersError,
    InvalidNodataError,
    OutputError,
    OutputFormatError,
)

#: Data types of the output (those of GeoTIFF).
DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]


class NamedRaster(click.ParamType):
    """``NAME=RASTER``: an input raster and the name the expression calls it by."""

    name = "name=raster"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        """Return ``(name, path)``."""
        if isinstance(value, tuple):
            return value
        name, sep, path = str(value).partition("=")
        name = name.strip()
        if not sep or not name or not path:
            self.fail(f"{value!r}: give NAME=RASTER, e.g. a=red.tif", param, ctx)
        if not name.isidentifier():
            self.fail(f"{name!r} is not a usable name: use letters, digits and _ "
                      "(not starting with a digit), e.g. a or red", param, ctx)
        return name, RasterPath().convert(path, param, ctx)


def _inputs(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for name, path in pairs:
        if name in inputs:
            raise click.BadParameter(f"the name {name!r} is given twice",
                                     param_hint="'-i' / '--input'")
        inputs[name] = path
    return inputs


def report_fields(report: Any) -> dict[str, Any]:
    """The report of a calc run as JSON-ready values (a NaN nodata value as ``"nan"``)."""
    return run_fields(report, dtype=report.dtype, count=report.count,
                      nodata=json_number(report.nodata),
                      nodata_collisions=report.nodata_collisions)


@click.command(short_help="Raster calculator: an expression over rasters, block-parallel.")
@click.argument("expression", metavar="EXPR")
@click.option("-i", "--input", "inputs", type=NamedRaster(), multiple=True, required=True,
              metavar="NAME=RASTER",
              help="An input raster and its name in EXPR (repeat for several).")
@click.option("-o", "--output", type=OutputPath(), required=True,
              help="New GeoTIFF on the grid of the first input.")
@overwrite_opt
@click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True,
              help="Data type of the output.")
@click.option("--nodata", type=NodataValue(), default=None, metavar="V|nan",
              help="Nodata value of the output, written where a band EXPR reads is nodata "
                   "(default: nan for float types, the type's largest value for unsigned "
                   "integers, its smallest for signed ones). Valid results equal to it are "
                   "counted and warned about.")
@click.option("--cog", is_flag=True,
              help="Write a Cloud-Optimized GeoTIFF (tiled, with overviews).")
@click.option("--co", "creation_options", type=CreationOption(), multiple=True,
              metavar="KEY=VALUE",
              help="GDAL creation option, repeatable, over the defaults (the first input's "
                   "tiling and compression), e.g. --co COMPRESS=NONE (fastest) or "
                   "--co COMPRESS=ZSTD --co ZSTD_LEVEL=1.")
@block_size_opt
@workers_opt
@backend_opt
@json_opt
@quiet_opt
def calc(
    expression: str,
    inputs: tuple[tuple[str, str], ...],
    output: Path | str,
    overwrite: bool,
    dtype: str,
    nodata: int | float | None,
    cog: bool,
    creation_options: tuple[tuple[str, str], ...],
    block_size: tuple[int, int] | None,
    workers: int | None,
    backend: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Evaluate EXPR over the input rasters, block by block, in parallel.

    In EXPR an input NAME is band 1 of a single-band raster, or all bands of
    a multi-band one; NAME[2] is its band 2. Allowed: numbers, nan, inf, pi,
    e; arithmetic, comparisons, and/or/not (element-wise), the bitwise
    operators; the numpy functions where, sqrt, log, log10,
    log2, log1p, exp, abs, sin, cos, tan, arcsin, arccos, arctan, arctan2,
    floor, ceil, round, minimum, maximum, clip, isnan, isfinite, isinf,
    logical_and/or/not/xor. Nothing else. Integer bands are computed as
    float64.

    Where a band EXPR reads is nodata (or masked), the output is nodata:
    --nodata, by default nan for float types, the type's largest value for
    unsigned integers (255 for uint8), its smallest for signed ones. A
    warning counts the valid results that equal it. All inputs must share
    size, transform and CRS.

    \b
    Examples:
    riogrande calc "(b - a) / (b + a)" -i a=red.tif -i b=nir.tif -o ndvi.tif
    riogrande calc "where(a < 500, 1, 2)" -i a=dem.tif -o cl.tif --dtype uint8
    riogrande calc "a * 0.0001" -i a=b4.tif -o reflectance.tif --cog
    """
    from riogrande.expression import plan_calculation

    named = _inputs(inputs)
    check_outputs({OUTPUT_HINT: output}, list(named.values()), overwrite)
    hints = {ExpressionError: "EXPR", InvalidNodataError: "'--nodata'",
             BlockSizeError: "'--block-size'", CreationOptionError: "'--co'",
             OutputFormatError: "'-o' / '--output'", OutputError: "'-o' / '--output'",
             IncompatibleRastersError: "'-i' / '--input'"}
    progress = ProgressBar("calc", enabled=not quiet)
    with library_errors(hints):
        job = plan_calculation(expression, named, output, dtype=dtype, nodata=nodata, cog=cog,
                               creation_options=dict(creation_options), block_size=block_size,
                               nbrcpu=workers, backend=backend, progress=progress)
    with library_errors(), progress:
        report = job.run()
    if report.nodata_collisions:
        click.echo(f"Warning: {report.nodata_collisions:,} valid pixel(s) of the result hold the "
                   f"nodata value {report.nodata} and read back as nodata; choose another "
                   "--nodata", err=True)
    if as_json:
        click.echo(json.dumps(report_fields(report)))
    elif not quiet:
        click.echo(f"{report.output}: {report.count} band(s) of {report.dtype}, nodata "
                   f"{report.nodata} - {report.seconds:.2f} s, {blocks_text(report)}")
