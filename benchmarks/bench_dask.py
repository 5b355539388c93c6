"""Benchmark riogrande on a Dask LocalCluster against its local process pool.

Same run, same raster (the 4-band float32 benchmark raster of ``data_gen``),
alternating the two executors for each repetition; medians of the wall time
of ``write_mask`` (to a new GeoTIFF) and ``selector_array`` (into an array).
The cluster (2 worker processes, 1 thread each) is started once beforehand,
as a Dask cluster is a long-lived resource; the local pool is started by
every call, as it is in normal use. Results must be identical.

Usage::

    python benchmarks/bench_dask.py [--size 6144] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data_gen import NODATA, ensure_raster  # noqa: E402

TARGET = 1.5
WORKERS = 2


def run_mask(raster: Path, output: Path, executor: object | None) -> float:
    from riogrande.masking import write_mask

    started = time.perf_counter()
    write_mask(raster, output, nodata=NODATA, nbrcpu=WORKERS, executor=executor)
    return time.perf_counter() - started


def run_selector(raster: Path, executor: object | None) -> tuple[float, np.ndarray]:
    from riogrande.io.models import Source
    from riogrande.masking import selector_array

    started = time.perf_counter()
    selector, _ = selector_array(*Source(raster).get_bands(), nbrcpu=WORKERS, executor=executor)
    return time.perf_counter() - started, selector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "dask.json")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    raster = ensure_raster(args.data_dir, args.size)
    times: dict[str, list[float]] = {"mask local": [], "mask dask": [],
                                     "selector local": [], "selector dask": []}
    with tempfile.TemporaryDirectory() as folder, \
            LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        out = Path(folder)
        for _ in range(args.repeat):
            times["mask local"].append(run_mask(raster, out / "local.tif", None))
            times["mask dask"].append(run_mask(raster, out / "dask.tif", client))
            with rasterio.open(out / "local.tif") as a, rasterio.open(out / "dask.tif") as b:
                if not np.array_equal(a.read(1), b.read(1)):
                    print("MISMATCH: the masks differ", file=sys.stderr)
                    return 1
            local_time, local = run_selector(raster, None)
            dask_time, on_dask = run_selector(raster, client)
            times["selector local"].append(local_time)
            times["selector dask"].append(dask_time)
            if not np.array_equal(local, on_dask):
                print("MISMATCH: the selectors differ", file=sys.stderr)
                return 1
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"Dask LocalCluster ({WORKERS} processes x 1 thread) vs local pool ({WORKERS} "
          f"workers), {args.size}x{args.size}, {args.repeat} repetitions, medians:")
    report = {}
    for job in ("mask", "selector"):
        ratio = medians[f"{job} dask"] / medians[f"{job} local"]
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"{verdict}  {job:8s} local {medians[f'{job} local']:.2f} s, "
              f"dask {medians[f'{job} dask']:.2f} s, ratio {ratio:.2f} (limit {TARGET})")
        report[job] = {"local": medians[f"{job} local"], "dask": medians[f"{job} dask"],
                       "ratio": ratio, "runs": times}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"size": args.size, "repeat": args.repeat,
                                        "results": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
