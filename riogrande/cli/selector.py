"""``riogrande selector``: the valid-pixel selector over bands of one or more rasters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from riogrande.cli.errors import library_errors
from riogrande.cli.options import (
    FORM_HINTS,
    OUTPUT_HINT,
    ExtraMask,
    RasterPath,
    backend_opt,
    bands_opt,
    block_size_opt,
    check_mask_outputs,
    json_opt,
    output_form,
    output_form_opts,
    output_opt,
    overwrite_opt,
    quicklook_opt,
    quiet_opt,
    workers_opt,
)
from riogrande.cli.progress import ProgressBar
from riogrande.cli.report import run_and_report
from riogrande.errors import ExtraMaskBandError, OutputError

#: --mask-source choices and the Band mask reader each one selects.
MASK_READERS = {"band": "band", "dataset": "source"}


@click.command(short_help="Valid-pixel selector over bands of one or more rasters.")
@click.argument("sources", nargs=-1, required=True, type=RasterPath(), metavar="SRC...")
@output_opt
@overwrite_opt
@bands_opt
@click.option("--mask-source", type=click.Choice(list(MASK_READERS)), default="band",
              show_default=True,
              help="Read each band's own mask, or each file's dataset mask.")
@click.option("--extra-mask", type=ExtraMask(), default=None, metavar="RASTER[:BAND]",
              help="A raster band whose zeros mark more invalid pixels (band 1 by default).")
@output_form_opts
@block_size_opt
@workers_opt
@backend_opt
@quicklook_opt
@json_opt
@quiet_opt
def selector(
    sources: tuple[str, ...],
    output: Path | str | None,
    overwrite: bool,
    bands: list[int] | None,
    mask_source: str,
    extra_mask: tuple[str, int] | None,
    block_size: tuple[int, int] | None,
    workers: int | None,
    backend: str | None,
    quicklook: Path | None,
    as_json: bool,
    quiet: bool,
    **output_options: Any,
) -> None:
    """Combine the masks of bands of SRC... into one valid-pixel raster.

    A pixel is valid (1) where the mask of every selected band of every SRC
    is valid and, with --extra-mask, the extra band is not 0; otherwise it
    is masked (0). All rasters must share size, transform and CRS. --as
    chooses the form of the output (--as sidecar: the first SRC's .msk file,
    no -o).

    \b
    Examples:
    riogrande selector red.tif nir.tif -o valid.tif --extra-mask clouds.tif:1
    riogrande selector red.tif nir.tif -o valid_cog.tif --cog --co COMPRESS=ZSTD
    """
    from riogrande.io.rasters import Band, Source
    from riogrande.masking import plan_selector

    form = output_form(**output_options)
    encoding = form["encoding"]
    if encoding != "sidecar" and output is None:
        raise click.UsageError("give the output raster with -o/--output (or --as sidecar "
                               "for the first SRC's .msk file)")
    inputs = [*sources, *([extra_mask[0]] if extra_mask is not None else [])]
    check_mask_outputs(output, encoding, quicklook, inputs, overwrite)
    progress = ProgressBar("selector", enabled=not quiet)
    with library_errors({ExtraMaskBandError: "'--extra-mask'", **FORM_HINTS,
                         OutputError: OUTPUT_HINT}):
        selected = []
        for path in sources:
            source = Source(path)
            for bidx in bands or range(1, source.count + 1):
                band = Band(source, bidx)
                band.set_mask_reader(MASK_READERS[mask_source])
                selected.append(band)
        extra = None if extra_mask is None else Band(Source(extra_mask[0]), extra_mask[1])
        job = plan_selector(*selected, output=output, block_size=block_size,
                            extra_masking_band=extra, nbrcpu=workers, backend=backend,
                            progress=progress, **form)
    run_and_report(job, progress, quicklook=quicklook,
                   shown=sources[0] if encoding == "sidecar" else None,
                   dataset_mask=encoding != "values", as_json=as_json, quiet=quiet)
