"""Benchmark riogrande.apply and riogrande calc on an NDVI against other ways to do it.

The 4-band float32 benchmark raster (``data_gen.py``), NDVI of bands 1 and
2, -9999 where either is nodata, into a float32 GeoTIFF, side by side in one
run, each variant in a fresh process (whole-process wall time, start-up
included, and peak RSS of the whole process tree, see ``measure.py``):

(a) ``floor``: 2 threads reading every block, nothing else (``apply_jobs.py``);
(b) ``threads``: a hand-written threaded rasterio script;
(c) ``apply``: :func:`riogrande.apply`, 2 worker processes, and ``apply threads``:
    the same with ``backend="threads"``;
(d) ``riogrande calc``: the command line, 2 worker threads (its default), and
    the same writing uncompressed (``--co COMPRESS=NONE``) and with ZSTD level 1;
(e) ``rio calc``: rasterio's calculator (one process);
(f) ``gdal_calc.py``: GDAL's calculator (one process), where it is installed;
(g) ``dask``: rioxarray + xarray on Dask's threaded scheduler (2 threads),
    where rioxarray is installed.

Every variant but the last two of (d) writes with the same creation options
(``apply_jobs.CREATION``: tiled 512, DEFLATE level 1 on all CPUs, as riogrande
does); the size of each output is printed. The variants
alternate in each repetition; medians are printed with ratios
to the floor and written to ``benchmarks/results/apply.json``. Every output
is compared with the hand-written script's on the pixels both hold as valid
(and on which pixels are nodata, for the variants that write it). The exit
code is 1 when a run fails or an output differs.

Usage::

    python benchmarks/bench_apply.py [--size 6144] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from apply_jobs import CREATION
from bench import warm_page_cache
from data_gen import NODATA, ensure_raster
from measure import run_measured

logger = logging.getLogger("bench_apply")

HERE = Path(__file__).resolve().parent
JOBS = HERE / "apply_jobs.py"
BIN = Path(sys.executable).parent
MB = 2**20
NDVI_CALC = "(a[2] - a[1]) / (a[2] + a[1])"
NDVI_RIO = "(/ (- (read 1 2) (read 1 1)) (+ (read 1 2) (read 1 1)))"


def commands(raster: Path, out: Path) -> dict[str, list[str]]:
    """The command of each variant that can run here."""
    python = sys.executable
    variants = {
        "floor": [python, str(JOBS), "floor", str(raster), str(out / "floor.tif")],
        "threads": [python, str(JOBS), "threads", str(raster), str(out / "threads.tif")],
        "apply": [python, str(JOBS), "apply", str(raster), str(out / "apply.tif")],
        "apply threads": [python, str(JOBS), "apply-threads", str(raster),
                          str(out / "apply_threads.tif")],
        "riogrande calc": [str(BIN / "riogrande"), "calc", NDVI_CALC, "-i", f"a={raster}",
                           "-o", str(out / "calc.tif"), "-j", "2", "-q", "--overwrite",
                           "--nodata", str(NODATA)],
        "calc uncompressed": [str(BIN / "riogrande"), "calc", NDVI_CALC, "-i", f"a={raster}",
                              "-o", str(out / "calc_none.tif"), "-j", "2", "-q",
                              "--overwrite", "--nodata", str(NODATA), "--co", "COMPRESS=NONE"],
        "calc zstd 1": [str(BIN / "riogrande"), "calc", NDVI_CALC, "-i", f"a={raster}",
                        "-o", str(out / "calc_zstd.tif"), "-j", "2", "-q", "--overwrite",
                        "--nodata", str(NODATA), "--co", "COMPRESS=ZSTD", "--co",
                        "ZSTD_LEVEL=1"],
        "rio calc": [str(BIN / "rio"), "calc", NDVI_RIO, str(raster), str(out / "rio.tif"),
                     "--dtype", "float32", "--overwrite",
                     *(item for key, value in CREATION.items()
                       for item in ("--co", f"{key}={str(value).lower()}"))],
    }
    gdal_calc = shutil.which("gdal_calc.py") or shutil.which("gdal_calc")
    if gdal_calc:
        variants["gdal_calc.py"] = [
            gdal_calc, "-A", str(raster), "--A_band=1", "-B", str(raster), "--B_band=2",
            "--calc=(B-A)/(B+A)", f"--outfile={out / 'gdal.tif'}", "--type=Float32",
            f"--NoDataValue={NODATA}", "--overwrite", "--quiet",
            *(f"--co={key.upper()}={str(value).upper()}" for key, value in CREATION.items())]
    if importlib.util.find_spec("rioxarray") is not None:
        variants["dask"] = [python, str(JOBS), "dask", str(raster), str(out / "dask.tif")]
    return variants


OUTPUTS = {"threads": "threads.tif", "apply": "apply.tif", "apply threads": "apply_threads.tif",
           "riogrande calc": "calc.tif", "calc uncompressed": "calc_none.tif",
           "calc zstd 1": "calc_zstd.tif",
           "rio calc": "rio.tif", "gdal_calc.py": "gdal.tif", "dask": "dask.tif"}
#: Variants that write -9999 where an input is nodata (rio calc has no such rule).
WRITES_NODATA = {"threads", "apply", "apply threads", "riogrande calc", "calc uncompressed",
                 "calc zstd 1", "gdal_calc.py", "dask"}


def agrees(variant: str, reference: Path, output: Path) -> bool:
    """Same values (float32 rounding) where both are valid; same nodata pixels if written."""
    with rasterio.open(reference) as ref, rasterio.open(output) as out:
        if ref.shape != out.shape or ref.transform != out.transform:
            return False
        for _, window in ref.block_windows(1):
            expected, got = ref.read(1, window=window), out.read(1, window=window)
            valid = expected != NODATA
            if variant in WRITES_NODATA and not np.array_equal(got == NODATA, ~valid):
                return False
            if not np.allclose(got[valid], expected[valid], rtol=1e-5, atol=1e-6,
                               equal_nan=True):
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "apply.json")
    args = parser.parse_args(argv)
    raster = ensure_raster(args.data_dir, args.size)
    warm_page_cache(raster)  # every variant starts with the file in the page cache
    measured: dict[str, list[dict[str, Any]]] = {}
    (args.data_dir / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.data_dir / "out") as folder:
        out = Path(folder)
        variants = commands(raster, out)
        for repetition in range(args.repeat):
            names = list(variants) if repetition % 2 == 0 else list(reversed(variants))
            for name in names:
                measurement = run_measured(variants[name])
                if measurement.returncode != 0:
                    print(f"{name} failed (exit {measurement.returncode}):\n"
                          f"{measurement.stderr}", file=sys.stderr)
                    return 1
                measured.setdefault(name, []).append({
                    "wall": measurement.wall_total, "cpu": measurement.cpu_total,
                    "peak_rss": measurement.peak_rss_total, "other_load": measurement.other_load,
                })
                logger.info("%d/%d %-18s %.2f s, %.0f MB", repetition + 1, args.repeat, name,
                            measurement.wall_total, measurement.peak_rss_total / MB)
        same = {name: agrees(name, out / OUTPUTS["threads"], out / file)
                for name, file in OUTPUTS.items() if name in variants}
        sizes = {name: (out / file).stat().st_size for name, file in OUTPUTS.items()
                 if name in variants}
    medians = {name: {key: statistics.median(run[key] for run in runs)
                      for key in ("wall", "cpu", "peak_rss", "other_load")}
               for name, runs in measured.items()}
    floor, script = medians["floor"]["wall"], medians["threads"]["wall"]
    print(f"\nNDVI of a {args.size}x{args.size} 4-band float32 raster (bands 1, 2), "
          f"medians of {args.repeat}, whole process:")
    print(f"{'variant':18s} {'wall s':>7s} {'x floor':>8s} {'x script':>9s} {'CPU s':>7s} "
          f"{'peak RSS MB':>12s} {'file MB':>8s}  same result")
    for name, median in medians.items():
        size = f"{sizes[name] / MB:8.0f}" if name in sizes else f"{'-':>8s}"
        print(f"{name:18s} {median['wall']:7.2f} {median['wall'] / floor:8.2f} "
              f"{median['wall'] / script:9.2f} {median['cpu']:7.2f} "
              f"{median['peak_rss'] / MB:12.0f} {size}  {same.get(name, '-')}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"size": args.size, "repeat": args.repeat,
                                        "load_average": list(os.getloadavg()),
                                        "runs": measured, "medians": medians,
                                        "same": same, "file_bytes": sizes}, indent=1) + "\n")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
