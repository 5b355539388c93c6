"""What a command prints when a run ends: a summary line or a JSON object."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from riogrande.cli.errors import library_errors
from riogrande.cli.progress import ProgressBar
from riogrande.masking import MaskJob, MaskReport


def json_number(value: float | None) -> float | str | None:
    """``value`` for JSON: NaN as the string ``"nan"``."""
    if value is not None and math.isnan(value):
        return "nan"
    return value


def run_fields(report: Any, **fields: Any) -> dict[str, Any]:
    """A run's report as JSON-ready values: its output, ``fields``, then its blocks,
    workers and time."""
    return {"output": None if report.output is None else str(report.output), **fields,
            "block_size": list(report.block_size), "views": report.views,
            "workers": report.workers, "seconds": round(report.seconds, 3)}


def blocks_text(report: Any) -> str:
    """The end of a summary line: ``30 blocks of 512x512, 2 workers``."""
    width, height = report.block_size
    return f"{report.views} blocks of {width}x{height}, {report.workers} workers"


def report_dict(report: MaskReport, **extra: Any) -> dict[str, Any]:
    """The fields of a mask or selector ``report`` as JSON-ready values, then ``extra``
    (e.g. ``quicklook``) with paths as strings."""
    fields = run_fields(report, valid=report.valid, masked=report.masked, pixels=report.pixels)
    for key, value in extra.items():
        fields[key] = str(value) if isinstance(value, Path) else value
    return fields


def summary_line(report: MaskReport) -> str:
    """One line: where, how many pixels valid/masked, time and throughput.

    E.g. ``mask.tif: 4,512,300 valid, 237,700 masked (5.0%) - 4.75 Mpx in 2.31 s
    (2.06 Mpx/s), 30 blocks of 512x512, 2 workers``.
    """
    pixels = report.pixels
    share = report.masked / pixels if pixels else 0.0
    rate = pixels / report.seconds / 1e6 if report.seconds > 0 else float("inf")
    return (f"{report.output}: {report.valid:,} valid, {report.masked:,} masked ({share:.1%}) - "
            f"{pixels / 1e6:.2f} Mpx in {report.seconds:.2f} s ({rate:.2f} Mpx/s), "
            f"{blocks_text(report)}")


def run_and_report(
    job: MaskJob, progress: ProgressBar, *, quicklook: Path | None, shown: str | None,
    dataset_mask: bool, as_json: bool, quiet: bool,
) -> None:
    """Run a planned mask or selector, write its quicklook, print its report.

    The quicklook shows ``shown`` (None: the output), its dataset mask with
    ``dataset_mask``; the report is JSON with ``as_json``, else the summary
    line unless ``quiet``.
    """
    from riogrande.cli.quicklook import write_quicklook

    with library_errors(), progress:
        report = job.run()
        if quicklook is not None:
            write_quicklook(report.output if shown is None else shown, quicklook,
                            dataset_mask=dataset_mask)
    if as_json:
        click.echo(json.dumps(report_dict(report, quicklook=quicklook)))
    elif not quiet:
        click.echo(summary_line(report))
