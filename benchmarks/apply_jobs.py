"""The measured NDVI programs of ``bench_apply.py``: one way each, in a fresh process.

Usage::

    python benchmarks/apply_jobs.py {floor,threads,apply,apply-threads,dask} RASTER OUTPUT

All compute ``(b2 - b1) / (b2 + b1)`` of the 4-band float32 benchmark
raster, -9999 where either band is nodata, into a float32 GeoTIFF (tiled
512, DEFLATE level 1 compressed on all CPUs, as riogrande writes it):

* ``floor``: 2 threads reading bands 1 and 2 of every block (the blocks
  riogrande chooses for 2 workers), each thread with its own dataset,
  nothing else;
* ``threads``: a hand-written script: the same reads on 2 threads, NDVI,
  the main thread writes the blocks as they come;
* ``apply``: :func:`riogrande.apply` with 2 worker processes;
* ``apply-threads``: the same with ``backend="threads"``;
* ``dask``: rioxarray's chunked read, xarray arithmetic, ``rio.to_raster``
  on Dask's threaded scheduler with 2 threads.

The last line printed is a JSON report (wall and CPU time of the timed part).
Top-level imports are kept to the standard library: spawned processes
re-import this module.
"""

from __future__ import annotations

import json
import os
import sys
import time

WORKERS = 2
NODATA = -9999.0
GDAL_CACHEMAX_BYTES = 64 * 2**20
#: The output's creation options, the same for every variant.
CREATION = {"tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
            "zlevel": 1, "num_threads": "all_cpus"}


def ndvi(data):
    """NDVI of bands 1 (red) and 2 (near infrared) of a block, NODATA where either is."""
    import numpy as np

    red, nir = data[0], data[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (nir - red) / (nir + red)
    return np.where((red == NODATA) | (nir == NODATA), np.float32(NODATA), values)


def _windows(path):
    import rasterio
    from rasterio.windows import Window

    from riogrande.blocks import choose_block_size
    from riogrande.prepare import create_views

    with rasterio.open(path) as src:
        profile = src.profile
    block = choose_block_size(profile, WORKERS)
    views, _ = create_views(block, (0, 0), (profile["width"], profile["height"]))
    return profile, [Window(*view) for view in views]


def _threaded_reads(path, windows, compute):
    """Yield ``(window, compute(bands 1-2 of window))`` from 2 threads, each with its dataset."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import rasterio

    local = threading.local()
    opened = []

    def read(window):
        if not hasattr(local, "src"):
            local.src = rasterio.open(path)
            opened.append(local.src)
        return window, compute(local.src.read([1, 2], window=window))

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), ThreadPoolExecutor(WORKERS) as pool:
        yield from pool.map(read, windows)
    for src in opened:
        src.close()


def output_profile(profile):
    return {**profile, "count": 1, "dtype": "float32", "nodata": NODATA, **CREATION}


def floor(path, output):
    _, windows = _windows(path)
    for _ in _threaded_reads(path, windows, lambda data: None):
        pass


def threads(path, output):
    import rasterio

    profile, windows = _windows(path)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_BYTES), \
            rasterio.open(output, "w", **output_profile(profile)) as dst:
        for window, block in _threaded_reads(path, windows, ndvi):
            dst.write(block, 1, window=window)


def apply(path, output):
    import riogrande

    riogrande.apply(ndvi, path, output, bands=[1, 2], nodata=NODATA, nbrcpu=WORKERS)


def apply_threads(path, output):
    import riogrande

    riogrande.apply(ndvi, path, output, bands=[1, 2], nodata=NODATA, nbrcpu=WORKERS,
                    backend="threads")


def dask(path, output):
    import threading

    import dask as dask_module
    import numpy as np
    import rioxarray
    import xarray

    with rioxarray.open_rasterio(path, chunks={"band": 1, "y": 1024, "x": 1024},
                                 lock=False) as data:
        red, nir = data.sel(band=1), data.sel(band=2)
        values = xarray.where((red == NODATA) | (nir == NODATA), np.float32(NODATA),
                              (nir - red) / (nir + red)).astype("float32")
        values = values.rio.write_nodata(NODATA).rio.write_crs(data.rio.crs)
        with dask_module.config.set(scheduler="threads", num_workers=WORKERS):
            values.rio.to_raster(output, **CREATION, lock=threading.Lock())


VARIANTS = {"floor": floor, "threads": threads, "apply": apply, "apply-threads": apply_threads,
            "dask": dask}


def main(argv):
    if len(argv) != 3 or argv[0] not in VARIANTS:
        sys.stderr.write(__doc__ or "")
        return 2
    variant, path, output = argv
    times = os.times()
    started, cpu = time.perf_counter(), times.user + times.system
    VARIANTS[variant](os.path.abspath(path), output)
    times = os.times()
    cpu = times.user + times.system + times.children_user + times.children_system - cpu
    sys.stdout.write(json.dumps({"wall": time.perf_counter() - started, "cpu": cpu}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
