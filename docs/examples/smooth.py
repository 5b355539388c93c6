"""Smooth every band of a raster with a 3 x 3 mean, block by block, in parallel.

Usage: python smooth.py SOURCE OUTPUT [WORKERS]
"""

import sys
from functools import partial

import numpy as np

from riogrande.aggregators import combine_views
from riogrande.io.models import Source
from riogrande.prepare import create_views
from riogrande.runner import run_views
from riogrande.workers import block_jobs, process_block


def mean3x3(data):
    """The task: ``data`` is ``(bands, rows, cols)``; returns the same shape, float32.

    Blocks are read with a 1-pixel border, so every kept pixel sees its true
    neighbours; at the raster's edges the nearest pixel is repeated.
    """
    padded = np.pad(data.astype("float32"), ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows, cols = data.shape[1:]
    total = sum(padded[:, dy:dy + rows, dx:dx + cols] for dy in range(3) for dx in range(3))
    return total / 9


def smooth(source_path, output_path, workers=None):
    """Write the smoothed raster; ``workers`` processes (all CPUs by default)."""
    source = Source(source_path)
    profile = source.profile
    size = (profile["width"], profile["height"])
    # Views of 256 x 256 pixels grown by a 1-pixel border; inner views tile the raster.
    views, inner_views = create_views((256, 256), (1, 1), size)
    jobs = block_jobs(mean3x3, source, views, inner_views=inner_views)
    output = {
        "output_file": output_path,
        "profile": {**profile, "dtype": "float32", "nodata": None, "tiled": True,
                    "blockxsize": 256, "blockysize": 256, "compress": "deflate"},
    }
    run_views(process_block, jobs, partial(combine_views, output), nbrcpu=workers,
              progress=lambda done, total: print(f"\r{done}/{total} blocks", end=""))
    print()


if __name__ == "__main__":
    smooth(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
