"""Benchmark the output forms of compute_mask against the plain GeoTIFF and the two-step COG.

On the 6144² 4-band float32 benchmark raster, side by side in one
invocation, each variant in a fresh process (this script re-run with
``--child``), 2 workers:

* ``plain``: today's 1/0 Byte GeoTIFF (the baseline of the encodings);
* ``nodata``, ``keep`` (nodata with the bands' values kept), ``mask``
  (a copy with the result as internal mask), ``sidecar`` (the raster's
  ``.msk``; a symbolic link to the raster is used so that the cached raster
  gets no ``.msk``);
* ``cog``: the 1/0 result written as a COG in one call;
* ``two-step-gdal``: the plain GeoTIFF, then GDAL's COG driver copying it
  (what ``gdal_translate -of COG`` does; same creation options as ``cog``),
  in the same process, so it pays no second interpreter start;
* ``two-step-rio-cogeo``: the plain GeoTIFF, then ``rio_cogeo.cog_translate``
  (deflate profile, nearest overviews), where rio-cogeo is installed;
* ``cog-mask``: the mask encoding as a COG in one call.

(``alpha`` needs Byte or UInt16 data of 1 or 3 bands; the float32 benchmark
raster has neither, so it is not measured.) Wall is the whole process (start
included), peak RSS the summed RSS of the process tree; medians of ``--repeat``
runs in rotating order, the copies (``keep``, ``mask``, ``cog-mask``) once. Every output is read
back and its mask compared with the plain result. Target: ``cog`` no slower
than ``two-step-gdal``.

Usage::

    python benchmarks/bench_outputs.py [--size 6144] [--repeat 5] [--variants cog,two-step-gdal]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MB = 2**20
NODATA = -9999.0
WORKERS = 2
#: The creation options riogrande's COG uses by default (the two-step copy gets the same).
COG_OPTIONS = {"COMPRESS": "DEFLATE", "LEVEL": 1, "BLOCKSIZE": 512, "BIGTIFF": "IF_SAFER",
               "RESAMPLING": "NEAREST", "NUM_THREADS": "ALL_CPUS"}

#: Variants that copy the 220 MB of pixels (measured once; the others --repeat times).
COPIES = ("keep", "mask", "cog-mask")

logger = logging.getLogger("bench_outputs")


def _one_step(raster: str, output: str, **form: object) -> None:
    from riogrande.masking import write_mask

    write_mask(raster, output, nodata=NODATA, nbrcpu=WORKERS, **form)


def child(variant: str, raster: str, output: str) -> None:
    """Run one variant (in a fresh process) and print its JSON report."""
    started = time.perf_counter()
    if variant == "plain":
        _one_step(raster, output)
    elif variant == "nodata":
        _one_step(raster, output, encoding="nodata")
    elif variant == "keep":
        _one_step(raster, output, encoding="nodata", keep_values=True)
    elif variant == "mask":
        _one_step(raster, output, encoding="mask")
    elif variant == "sidecar":
        _one_step(raster, None, encoding="sidecar")
    elif variant == "cog":
        _one_step(raster, output, cog=True)
    elif variant == "cog-mask":
        _one_step(raster, output, encoding="mask", cog=True)
    elif variant == "two-step-gdal":
        import rasterio
        import rasterio.shutil

        from riogrande.outputs.options import driver_accepts

        step = f"{output}.step1.tif"
        _one_step(raster, step)
        options = dict(COG_OPTIONS)
        if driver_accepts("COG", False, "uint8", "NBITS", "1"):
            options["NBITS"] = 1
        with rasterio.Env(GDAL_CACHEMAX=64 * MB):
            rasterio.shutil.copy(step, output, driver="COG", **options)
        os.unlink(step)
    elif variant == "two-step-rio-cogeo":
        from rio_cogeo.cogeo import cog_translate
        from rio_cogeo.profiles import cog_profiles

        step = f"{output}.step1.tif"
        _one_step(raster, step)
        cog_translate(step, output, cog_profiles.get("deflate"), overview_resampling="nearest",
                      quiet=True, in_memory=False)
        os.unlink(step)
    else:
        raise SystemExit(f"unknown variant {variant}")
    print(json.dumps({"wall": time.perf_counter() - started}))


def variants() -> list[str]:
    names = ["plain", "nodata", "keep", "mask", "sidecar", "cog", "two-step-gdal"]
    try:
        import rio_cogeo  # noqa: F401

        names.append("two-step-rio-cogeo")
    except ImportError:
        logger.info("rio-cogeo is not installed: its two-step variant is left out")
    return [*names, "cog-mask"]


def mask_of(path: Path, variant: str):
    import rasterio

    with rasterio.open(path) as out:
        if variant in ("plain", "cog", "two-step-gdal", "two-step-rio-cogeo"):
            return out.read(1) != 0
        return out.dataset_mask() != 0


def run(variant: str, raster: Path, work: Path) -> dict:
    from measure import run_measured

    output = work / f"{variant}.tif"
    source = raster
    if variant == "sidecar":
        source = work / "linked.tif"
        if not source.exists():
            source.symlink_to(raster)
        output = work / "linked.tif.msk"
    output.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", variant, str(source),
               str(output)]
    measurement = run_measured(command)
    if measurement.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{measurement.stderr}")
    shown = source if variant == "sidecar" else output
    return {"variant": variant, "wall": measurement.wall_total, "cpu": measurement.cpu_total,
            "peak_rss": measurement.peak_rss_total, "bytes": output.stat().st_size,
            "other_load": measurement.other_load, "path": shown}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each variant but the copies (run once)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--variants", default=None,
                        help="comma-separated subset of the variants (plain always runs)")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "RASTER", "OUTPUT"))
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sys.path.insert(0, str(HERE))
    from data_gen import ensure_raster

    raster = ensure_raster(args.data_dir, args.size)
    with open(raster, "rb") as handle:  # the page cache holds the raster for every variant
        while handle.read(64 * MB):
            pass
    work = Path(tempfile.mkdtemp(prefix="outputs-", dir=args.data_dir))
    started = time.perf_counter()
    results: dict[str, list[dict]] = {}
    mismatches = []
    try:
        names = variants()
        if args.variants:
            chosen = {"plain", *args.variants.split(",")}
            names = [name for name in names if name in chosen]
        for repetition in range(args.repeat):
            shift = repetition % len(names)
            for variant in names[shift:] + names[:shift]:
                if repetition > 0 and variant in COPIES:
                    continue  # the copies take long; measured once
                result = run(variant, raster, work)
                results.setdefault(variant, []).append(result)
                logger.info("%-18s wall %6.2f s  peak %5.0f MB  %6.1f MB on disk  others %.1f",
                            variant, result["wall"], result["peak_rss"] / MB,
                            result["bytes"] / MB, result["other_load"])
        import numpy as np

        reference = mask_of(results["plain"][-1]["path"], "plain")
        for variant in names:
            if not np.array_equal(mask_of(results[variant][-1]["path"], variant), reference):
                mismatches.append(variant)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = {name: statistics.median(r["wall"] for r in runs) for name, runs in results.items()}
    rss = {name: statistics.median(r["peak_rss"] for r in runs) for name, runs in results.items()}
    print(f"\noutputs of compute_mask, {args.size}² 4-band float32, {WORKERS} workers, "
          f"medians of {args.repeat} run(s) (copies: 1); wall of the whole process, peak RSS "
          f"of its tree; others: cores kept busy by other processes")
    print("| variant | wall s | / plain | peak RSS MB | / plain | MB on disk | others |")
    print("|---|---|---|---|---|---|---|")
    for name in results:
        others = statistics.median(r["other_load"] for r in results[name])
        print(f"| {name} | {wall[name]:.2f} | {wall[name] / wall['plain']:.2f} | "
              f"{rss[name] / MB:.0f} | {rss[name] / rss['plain']:.2f} | "
              f"{results[name][-1]['bytes'] / MB:.2f} | {others:.1f} |")
    if "cog" in wall and "two-step-gdal" in wall:
        ratio = wall["cog"] / wall["two-step-gdal"]
        print(f"\ntarget: one-step COG / two-step (GeoTIFF then GDAL's COG copy) = {ratio:.2f} "
              f"(<= 1.00: {'met' if ratio <= 1.0 else 'missed'})")
    if "cog" in wall and "two-step-rio-cogeo" in wall:
        riocogeo = wall["cog"] / wall["two-step-rio-cogeo"]
        print(f"one-step COG / two-step with rio-cogeo = {riocogeo:.2f}")
    if mismatches:
        print(f"MASK MISMATCH against the plain output: {mismatches}")
    print(f"benchmark took {time.perf_counter() - started:.0f} s")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
