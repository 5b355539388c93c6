"""``riogrande info``: what riogrande sees in a raster and how it would cut it."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from riogrande.cli.errors import library_errors
from riogrande.cli.options import json_opt, src_arg, workers_opt
from riogrande.cli.report import json_number


def describe(path: str, workers: int | None = None) -> dict[str, Any]:
    """Describe the raster ``path``: size, bands, masks, tiling, and riogrande's block size
    for ``workers`` (the usable CPUs by default).

    The result is JSON-ready (a NaN nodata value is the string ``"nan"``).

    Raises
    ------
    SourceError
        If the file is missing or not a raster.
    """
    from riogrande.blocks import choose_block_size, internal_block_shape
    from riogrande.contexts import get_nbr_workers
    from riogrande.io.handles import open_raster

    workers = get_nbr_workers(workers)
    with open_raster(path) as src:
        profile = dict(src.profile)
        bands = [
            {
                "band": bidx,
                "dtype": src.dtypes[bidx - 1],
                "nodata": json_number(src.nodatavals[bidx - 1]),
                "mask_flags": [flag.name for flag in src.mask_flag_enums[bidx - 1]],
                "block_shape": [src.block_shapes[bidx - 1][1], src.block_shapes[bidx - 1][0]],
            }
            for bidx in src.indexes
        ]
        description = {
            "path": path,
            "driver": src.driver,
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "crs": src.crs.to_string() if src.crs else None,
            "resolution": list(src.res),
            "tiled": bool(profile.get("tiled")),
            "internal_block": list(internal_block_shape(profile)),
            "interleave": src.interleaving.name.lower() if src.interleaving else None,
            "compression": src.compression.name.lower() if src.compression else None,
            "bands": bands,
        }
    block = choose_block_size(profile, workers)
    description["riogrande"] = {
        "block_size": list(block),
        "blocks": math.ceil(src.width / block[0]) * math.ceil(src.height / block[1]),
        "workers": workers,
    }
    return description


def format_description(description: dict[str, Any]) -> str:
    """The text ``riogrande info`` prints for a :func:`describe` result."""
    d = description
    tile_w, tile_h = d["internal_block"]
    layout = f"tiles of {tile_w}x{tile_h}" if d["tiled"] else f"strips of {tile_h} row(s)"
    extras = ", ".join(item for item in (d["interleave"] and f"{d['interleave']}-interleaved",
                                         d["compression"]) if item)
    lines = [
        d["path"],
        f"  size       {d['width']} x {d['height']} pixels, {d['count']} band(s), "
        f"{d['driver']}, CRS {d['crs'] or 'none'}, "
        f"resolution {d['resolution'][0]:g} x {d['resolution'][1]:g}",
        f"  layout     {layout}" + (f", {extras}" if extras else ""),
    ]
    for band in d["bands"]:
        nodata = "none" if band["nodata"] is None else band["nodata"]
        lines.append(f"  band {band['band']:<5} {band['dtype']}, nodata {nodata}, "
                     f"mask {'+'.join(band['mask_flags'])}")
    run = d["riogrande"]
    lines.append(f"  riogrande  blocks of {run['block_size'][0]}x{run['block_size'][1]} "
                 f"({run['blocks']} blocks) for {run['workers']} worker(s)")
    return "\n".join(lines)


@click.command(short_help="Size, bands, masks, tiling and block size of a raster.")
@src_arg
@workers_opt
@json_opt
def info(src: str, workers: int | None, as_json: bool) -> None:
    """Show SRC's size, bands, data types, nodata values and mask flags, its
    internal tiling, and the block size riogrande would choose for it.
    """
    with library_errors():
        description = describe(src, workers)
    click.echo(json.dumps(description) if as_json else format_description(description))
