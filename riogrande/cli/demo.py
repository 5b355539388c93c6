"""``riogrande demo``: an example raster and both jobs run on it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from riogrande.cli.errors import library_errors
from riogrande.cli.options import json_opt, quiet_opt, workers_opt
from riogrande.cli.progress import ProgressBar
from riogrande.cli.report import report_dict, summary_line


def _positive_size(
    ctx: click.Context, param: click.Parameter, value: tuple[int, int]
) -> tuple[int, int]:
    if min(value) < 1:
        raise click.BadParameter("width and height must be positive", ctx=ctx, param=param)
    return value


@click.command(short_help="Generate an example raster and run both jobs on it.")
@click.argument("folder", metavar="[DIR]", default="demo-output",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", type=(int, int), default=(2500, 1900), show_default=True,
              metavar="W H", callback=_positive_size, help="Size of the example raster.")
@workers_opt
@json_opt
@quiet_opt
def demo(folder: Path, size: tuple[int, int], workers: int | None, as_json: bool,
         quiet: bool) -> None:
    """Write example.tif into DIR (default ./demo-output), a 3-band float32
    raster with nodata holes, then compute its nodata mask with both logics
    and the selector of its three bands, each with a PNG quicklook.
    """
    from riogrande.cli.quicklook import write_quicklook
    from riogrande.demo import EXAMPLE_NODATA, generate_example
    from riogrande.io.rasters import Source
    from riogrande.masking import write_mask, write_selector

    folder.mkdir(parents=True, exist_ok=True)
    example = generate_example(folder / "example.tif", size=size)
    if not (quiet or as_json):
        click.echo(f"example raster: {example} ({size[0]}x{size[1]}, 3 float32 bands, "
                   f"nodata {EXAMPLE_NODATA:g})")
    reports = {}
    with library_errors():
        for logic in ("all", "any"):
            with ProgressBar(f"mask --logic {logic}", enabled=not quiet) as progress:
                report = write_mask(example, folder / f"mask_{logic}.tif", nodata=EXAMPLE_NODATA,
                                    logic=logic, nbrcpu=workers, progress=progress)
            reports[f"mask_{logic}"] = report
        with ProgressBar("selector", enabled=not quiet) as progress:
            reports["selector"] = write_selector(*Source(example).get_bands(),
                                                 output=folder / "selector.tif",
                                                 nbrcpu=workers, progress=progress)
        looks = {name: write_quicklook(report.output, folder / f"{name}.png")
                 for name, report in reports.items()}
    if as_json:
        click.echo(json.dumps({"example": str(example), **{
            name: report_dict(report, quicklook=looks[name]) for name, report in reports.items()
        }}))
    elif not quiet:
        for name, report in reports.items():
            click.echo(f"{name}: {summary_line(report)}")
            click.echo(f"{' ' * len(name)}  quicklook {looks[name]}")
