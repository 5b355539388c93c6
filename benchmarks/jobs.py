"""The measured programs: one job, one way, in a fresh process.

Usage::

    python benchmarks/jobs.py VARIANT JOB RASTER OUTPUT VIEWS_JSON

JOB is ``mask`` (a uint8 GeoTIFF, 1 where any band differs from the nodata
value), ``selector`` (a uint8 GeoTIFF, 1 where every band's GDAL mask is
valid) or ``pyloop`` (``mask`` with a mask logic written as a per-pixel
Python loop, which holds the GIL). VIEWS_JSON lists the blocks
``[x, y, width, height]`` every variant reads (riogrande's choice for 2
workers), so that all do the same reads. VARIANT is one of:

* ``thread_floor``: 2 threads of one process, one dataset per thread, every
  block read once (``mask``: all bands in one read; ``selector``:
  ``read_masks`` band by band), nothing else: the machine's limit.
* ``thread_script``: what a user writes by hand: the same threads doing the
  whole job and writing each block into a tiled DEFLATE uint8 GeoTIFF under
  a lock.
* ``spawn_floor``: the blocks read by 2 spawned processes, nothing else.
* ``loop``: one thread, the whole job (the simplest program).
* ``riogrande``: :func:`riogrande.write_mask` / :func:`riogrande.write_selector`
  with their defaults and ``nbrcpu=2``.
* ``riogrande_processes``, ``riogrande_threads``: the same with ``backend=``
  ``"processes"`` or ``"threads"``.
* ``riogrande_executor``: the same with ``executor=ThreadPoolExecutor(2)``.

Every variant opens with ``GDAL_CACHEMAX`` = 64 MB except riogrande, which
sizes its own. Imports are inside the variants: a baseline imports no part
of riogrande, and its whole process is measured from outside.
The last line printed is a JSON report of the timed part.
"""

from __future__ import annotations

import json
import os
import sys
import time

WORKERS = 2
# rasterio hands GDAL_CACHEMAX to GDALSetCacheMax64: bytes
GDAL_CACHEMAX_BYTES = 64 * 2**20
NODATA = -9999.0


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its waited-for children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def python_loop_logic(array, nodata):
    """Valid where any band differs from ``nodata``, one pixel at a time in Python."""
    import numpy as np

    bands, rows, columns = array.shape
    valid = np.zeros((rows, columns), dtype=bool)
    values = array.tolist()
    for row in range(rows):
        for column in range(columns):
            present = 0
            for band in range(bands):
                if values[band][row][column] != nodata:
                    present += 1
            valid[row, column] = present > 0
    return valid


def _mask_profile(profile: dict) -> dict:
    """The output a user asks for: one uint8 band, tiled, DEFLATE."""
    return {**profile, "count": 1, "dtype": "uint8", "nodata": None, "compress": "deflate",
            "tiled": True, "blockxsize": 512, "blockysize": 512, "photometric": "minisblack",
            "interleave": "band"}


def _block_result(src, job: str, window):
    """The uint8 result of one block (``mask`` or ``selector``)."""
    import numpy as np

    if job == "selector":
        valid = src.read_masks(1, window=window) != 0
        for band in src.indexes[1:]:
            valid &= src.read_masks(band, window=window) != 0
        return valid.view(np.uint8)
    data = src.read(window=window)
    if job == "pyloop":
        return python_loop_logic(data, NODATA).view(np.uint8)
    return (data != NODATA).any(axis=0).view(np.uint8)


def threads(job: str, path: str, output: str | None, views: list) -> dict:
    """``thread_floor`` (``output`` None) or ``thread_script``."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import rasterio
    from rasterio.windows import Window

    local = threading.local()
    opened: list = []
    write_lock = threading.Lock()
    valid = []

    def dataset():
        if getattr(local, "src", None) is None:
            local.src = rasterio.open(path)
            opened.append(local.src)
        return local.src

    def read_only(view):
        src, window = dataset(), Window(*view)
        if job == "selector":
            for band in src.indexes:
                src.read_masks(band, window=window)
        else:
            src.read(window=window)

    def whole_job(dst, view):
        window = Window(*view)
        block = _block_result(dataset(), job, window)
        valid.append(int(np.count_nonzero(block)))
        with write_lock:
            dst.write(block, 1, window=window)

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES):
        with ThreadPoolExecutor(WORKERS) as executor:
            if output is None:
                list(executor.map(read_only, views))
            else:
                with rasterio.open(path) as src:
                    profile = _mask_profile(src.profile)
                with rasterio.open(output, "w", **profile) as dst:
                    list(executor.map(lambda view: whole_job(dst, view), views))
        for src in opened:
            src.close()
    return {"valid": sum(valid) if output else None}


def _spawned_reader(path: str, views: list, job: str) -> None:
    import rasterio
    from rasterio.windows import Window

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), rasterio.open(path) as src:
        for view in views:
            if job == "selector":
                for band in src.indexes:
                    src.read_masks(band, window=Window(*view))
            else:
                src.read(window=Window(*view))


def spawn_floor(job: str, path: str, views: list) -> dict:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_spawned_reader, args=(path, views[i::WORKERS], job))
                 for i in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    if failed:
        raise RuntimeError(f"floor reader processes failed with exit codes {failed}")
    return {}


def loop(job: str, path: str, output: str, views: list) -> dict:
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    valid = 0
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), rasterio.open(path) as src:
        with rasterio.open(output, "w", **_mask_profile(src.profile)) as dst:
            for view in views:
                block = _block_result(src, job, Window(*view))
                valid += int(np.count_nonzero(block))
                dst.write(block, 1, window=Window(*view))
    return {"valid": valid}


def riogrande_job(job: str, path: str, output: str, **options) -> dict:
    from riogrande import Source, write_mask, write_selector

    if job == "selector":
        report = write_selector(*Source(path).get_bands(), output=output, nbrcpu=WORKERS,
                                **options)
    else:
        logic = python_loop_logic if job == "pyloop" else "all"
        report = write_mask(path, output, nodata=NODATA, logic=logic, nbrcpu=WORKERS, **options)
    return {"valid": report.valid, "block_size": list(report.block_size),
            "blocks": report.views}


def riogrande_executor(job: str, path: str, output: str) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(WORKERS) as executor:
        return riogrande_job(job, path, output, executor=executor)


VARIANTS = {
    "thread_floor": lambda job, path, output, views: threads(job, path, None, views),
    "thread_script": lambda job, path, output, views: threads(job, path, output, views),
    "spawn_floor": lambda job, path, output, views: spawn_floor(job, path, views),
    "loop": loop,
    "riogrande": lambda job, path, output, views: riogrande_job(job, path, output),
    "riogrande_processes": lambda job, path, output, views: riogrande_job(
        job, path, output, backend="processes"),
    "riogrande_threads": lambda job, path, output, views: riogrande_job(
        job, path, output, backend="threads"),
    "riogrande_executor": lambda job, path, output, views: riogrande_executor(job, path, output),
}
JOBS = ("mask", "selector", "pyloop")


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[0] not in VARIANTS or argv[1] not in JOBS:
        sys.stderr.write(__doc__ or "")
        return 2
    variant, job, path, output, views_file = argv
    with open(views_file) as handle:
        views = [tuple(view) for view in json.load(handle)]
    started, cpu = time.perf_counter(), cpu_seconds()
    report = VARIANTS[variant](job, os.path.abspath(path), output, views)
    report.update(wall=time.perf_counter() - started, cpu=cpu_seconds() - cpu)
    report.setdefault("blocks", len(views))
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
