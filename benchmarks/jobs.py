"""The measured programs: one job, one way, in a fresh process.

Usage::

    python benchmarks/jobs.py {floor,loop,riogrande} {mask,selector} RASTER OUTPUT

* ``floor``: every block (the blocks riogrande chooses for 2 workers) read
  once and nothing else, split over 2 spawned processes that each open the
  raster once, ``GDAL_CACHEMAX=64`` MB. For ``mask`` a block is one read of
  all bands; for ``selector`` it is ``read_masks`` of every band.
* ``loop``: a single-process rasterio loop over the same blocks doing the
  whole job (same cache size): ``mask`` reads all bands, reduces them to a
  validity mask (valid where any band differs from nodata) and writes a
  tiled DEFLATE uint8 GeoTIFF; ``selector`` ANDs ``read_masks`` of every
  band into a boolean array.
* ``riogrande``: :func:`riogrande.parallel.compute_mask` with ``output=`` and
  :func:`riogrande.parallel.prepare_selector`, 2 workers.

OUTPUT is the mask GeoTIFF to write (``mask``) or the ``.npy`` file where the
selector is saved after the timed part (``selector``); unused by ``floor``.
The last line printed is a JSON report: wall and CPU time of the timed part
(children included), the block size and the number of valid pixels.
Top-level imports are kept to the standard library: spawned processes
re-import this module.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

FLOOR_PROCESSES = 2
RIOGRANDE_WORKERS = 2
# rasterio hands GDAL_CACHEMAX to GDALSetCacheMax64, which takes bytes (a bare 64
# would be a 64-byte cache, not GDAL's "< 100000 means MB" rule of the config option).
GDAL_CACHEMAX_BYTES = 64 * 2**20
NODATA = -9999.0


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its waited-for children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _floor_reader(path: str, views: list[tuple[int, int, int, int]], job: str) -> None:
    import rasterio
    from rasterio.windows import Window

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), rasterio.open(path) as src:
        indexes = list(src.indexes)
        for view in views:
            window = Window(*view)
            if job == "mask":
                src.read(window=window)
            else:
                for band in indexes:
                    src.read_masks(band, window=window)


def _blocks(path: str, job: str) -> tuple[tuple[int, int], list[tuple[int, int, int, int]]]:
    """The blocks riogrande chooses for this job with 2 workers."""
    import rasterio

    from riogrande.blocks import choose_block_size
    from riogrande.prepare import create_views

    with rasterio.open(path) as src:
        profile = src.profile
    # the selector reads band by band
    block = choose_block_size(profile, RIOGRANDE_WORKERS, band_reads=job == "selector")
    views, _ = create_views(block, (0, 0), (profile["width"], profile["height"]))
    return block, [tuple(int(v) for v in view) for view in views]


def floor(job: str, path: str) -> dict:
    import multiprocessing

    block, views = _blocks(path, job)
    context = multiprocessing.get_context("spawn")
    started, cpu = time.perf_counter(), cpu_seconds()
    processes = [context.Process(target=_floor_reader, args=(path, views[i::FLOOR_PROCESSES], job))
                 for i in range(FLOOR_PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    if failed:
        raise RuntimeError(f"floor reader processes failed with exit codes {failed}")
    return {"wall": wall, "cpu": cpu, "block_size": block, "blocks": len(views)}


def loop(job: str, path: str, output: str) -> dict:
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    from riogrande.io.output import mask_profile

    block, views = _blocks(path, job)
    started, cpu = time.perf_counter(), cpu_seconds()
    valid = 0
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), rasterio.open(path) as src:
        if job == "mask":
            with rasterio.open(output, "w", **mask_profile(src.profile)) as dst:
                for view in views:
                    window = Window(*view)
                    mask = (src.read(window=window) != NODATA).any(axis=0)
                    valid += int(np.count_nonzero(mask))
                    dst.write(mask.view(np.uint8), 1, window=window)
            selector = None
        else:
            selector = np.zeros((src.height, src.width), dtype=bool)
            for x, y, width, height in views:
                window = Window(x, y, width, height)
                target = selector[y:y + height, x:x + width]
                target[...] = src.read_masks(1, window=window) != 0
                for band in src.indexes[1:]:
                    target &= src.read_masks(band, window=window) != 0
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if selector is not None:
        valid = int(np.count_nonzero(selector))
        np.save(output, selector)
    return {"wall": wall, "cpu": cpu, "block_size": block, "blocks": len(views), "valid": valid}


def riogrande_job(job: str, path: str, output: str) -> dict:
    import numpy as np

    from riogrande.io.models import Source
    from riogrande.masking import write_mask
    from riogrande.parallel import prepare_selector

    block, views = _blocks(path, job)
    if job == "mask":
        started, cpu = time.perf_counter(), cpu_seconds()
        report = write_mask(path, output=output, nodata=NODATA, logic="all",
                            nbrcpu=RIOGRANDE_WORKERS)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return {"wall": wall, "cpu": cpu, "block_size": list(report.block_size),
                "blocks": report.views, "valid": report.valid}
    started, cpu = time.perf_counter(), cpu_seconds()
    selector = prepare_selector(*Source(path).get_bands(), nbrcpu=RIOGRANDE_WORKERS)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    np.save(output, selector)
    return {"wall": wall, "cpu": cpu, "block_size": block, "blocks": len(views),
            "valid": int(np.count_nonzero(selector))}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in ("floor", "loop", "riogrande") \
            or argv[1] not in ("mask", "selector"):
        sys.stderr.write(__doc__ or "")
        return 2
    variant, job, path, output = argv
    path = str(Path(path).resolve())
    if variant == "floor":
        report = floor(job, path)
    elif variant == "loop":
        report = loop(job, path, output)
    else:
        report = riogrande_job(job, path, output)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
