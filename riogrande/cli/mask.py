"""``riogrande mask``: the nodata mask of a raster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from riogrande.cli.errors import confirm, library_errors
from riogrande.cli.options import (
    FORM_HINTS,
    OUTPUT_HINT,
    backend_opt,
    bands_opt,
    block_size_opt,
    check_mask_outputs,
    json_opt,
    logic_opt,
    nodata_opt,
    output_form,
    output_form_opts,
    output_opt,
    overwrite_opt,
    quicklook_opt,
    quiet_opt,
    src_arg,
    workers_opt,
    yes_opt,
)
from riogrande.cli.progress import ProgressBar
from riogrande.cli.report import run_and_report
from riogrande.errors import InvalidNodataError, OutputError


@click.command(short_help="Nodata mask of a raster.")
@src_arg
@output_opt
@click.option("--in-place", is_flag=True,
              help="Write the mask into SRC's internal dataset mask (modifies SRC).")
@overwrite_opt
@bands_opt
@nodata_opt
@logic_opt
@output_form_opts
@block_size_opt
@workers_opt
@backend_opt
@yes_opt
@quicklook_opt
@json_opt
@quiet_opt
def mask(
    src: str,
    output: Path | str | None,
    in_place: bool,
    overwrite: bool,
    bands: list[int] | None,
    nodata: int | float | None,
    logic: str,
    block_size: tuple[int, int] | None,
    workers: int | None,
    backend: str | None,
    yes: bool,
    quicklook: Path | None,
    as_json: bool,
    quiet: bool,
    **output_options: Any,
) -> None:
    """Compute the nodata mask of SRC block by block, in parallel.

    A pixel is masked (0) where all selected bands (--logic all) or any of
    them (--logic any) equal the nodata value, NaN included; other pixels
    are valid (1). The mask goes to a new raster (-o) in the form chosen
    with --as, or into SRC's internal mask with --in-place, or into SRC's
    .msk file with --as sidecar (SRC's bytes untouched).

    \b
    Examples:
    riogrande mask dem.tif -o dem_mask.tif --nodata -9999 --quicklook dem_mask.png
    riogrande mask dem.tif -o dem_masked.tif --as nodata --keep-values --cog
    riogrande mask dem.tif --as sidecar
    """
    from riogrande.masking import FILE_NODATA, plan_mask

    form = output_form(**output_options)
    encoding = form["encoding"]
    if in_place and (output is not None or encoding != "values"):
        raise click.UsageError("--in-place writes SRC's internal mask: it excludes "
                               "-o/--output and --as other than values")
    if output is None and not in_place and encoding != "sidecar":
        raise click.UsageError("give the output raster with -o/--output, --in-place to "
                               "write the mask into SRC itself, or --as sidecar for SRC.msk")
    check_mask_outputs(output, encoding, quicklook, [src], overwrite)
    progress = ProgressBar("mask", enabled=not quiet)
    hints = {**FORM_HINTS, InvalidNodataError: "'--nodata'",
             OutputError: "'--in-place'" if in_place else OUTPUT_HINT}
    with library_errors(hints):
        job = plan_mask(src, output, block_size=block_size,
                        nodata=FILE_NODATA if nodata is None else nodata, logic=logic,
                        bands=bands, nbrcpu=workers, backend=backend, progress=progress,
                        **form)
    if in_place and not yes:
        confirm(f"Write the mask into the internal mask of {src}? This modifies the file")
    run_and_report(job, progress, quicklook=quicklook,
                   shown=src if in_place or encoding == "sidecar" else None,
                   dataset_mask=in_place or encoding != "values", as_json=as_json, quiet=quiet)
