"""Benchmark riogrande against the I/O floor and a single-process rasterio loop.

For each raster size and job (``mask``: compute_mask to a new GeoTIFF;
``selector``: prepare_selector into an array) three variants run side by side
in every repetition, each in a fresh process (see ``jobs.py``):

(a) ``floor``: every block read once over 2 spawned processes, nothing else;
(b) ``loop``: a single-process rasterio block loop doing the whole job;
(c) ``riogrande``: the library with 2 workers.

Wall and CPU time are those of the timed part, measured in the process
(children included); peak memory is the summed RSS of the whole process tree,
sampled from this process. Medians over the repetitions are printed with the
ratios and the targets, and written to ``benchmarks/results/latest.json``.
The exit code is 0 even when a target is missed; it is 1 when a run fails or
riogrande's result differs from the loop's.

Usage::

    python benchmarks/bench.py [--sizes 6144,12288] [--repeat 3] [--quick]
                               [--jobs mask,selector]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from data_gen import ensure_raster
from measure import Measurement, run_measured

import riogrande

logger = logging.getLogger("bench")

HERE = Path(__file__).resolve().parent
JOBS_SCRIPT = HERE / "jobs.py"
VARIANTS = ("floor", "loop", "riogrande")
LABELS = {"floor": "(a) I/O floor", "loop": "(b) rasterio loop", "riogrande": "(c) riogrande"}
MB = 2**20
PEAK_RSS_LIMIT = 300 * MB
FLATNESS = 0.10
#: (job, size or None for every size, ratio, other variant, limit)
RATIO_TARGETS = [
    ("mask", 6144, "floor", 1.25),
    ("mask", 12288, "floor", 1.40),
    ("mask", None, "loop", 0.70),
    ("selector", 6144, "floor", 1.25),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="6144,12288",
                        help="raster sizes (pixels per side), comma-separated")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="only 6144, 1 repetition")
    parser.add_argument("--jobs", default="mask,selector", help="mask, selector or both")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data",
                        help="where the generated rasters are cached")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "latest.json",
                        help="JSON file for the results")
    parser.add_argument("--interval", type=float, default=0.01,
                        help="RSS sampling interval in seconds")
    args = parser.parse_args(argv)
    args.sizes = [6144] if args.quick else [int(size) for size in args.sizes.split(",")]
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.jobs = [job.strip() for job in args.jobs.split(",") if job.strip()]
    unknown = set(args.jobs) - {"mask", "selector"}
    if unknown or not args.jobs:
        parser.error(f"unknown jobs {sorted(unknown)}: use mask, selector")
    if args.repeat < 1 or any(size < 1 for size in args.sizes):
        parser.error("sizes and --repeat must be positive")
    return args


def warm_page_cache(path: Path) -> None:
    """Read the file once so that every variant starts with it in the page cache."""
    with open(path, "rb") as handle:
        while handle.read(64 * MB):
            pass


def output_path(folder: Path, variant: str, job: str, size: int) -> Path:
    return folder / f"{variant}_{job}_{size}.{'tif' if job == 'mask' else 'npy'}"


def run_one(variant: str, job: str, raster: Path, output: Path, interval: float) -> Measurement:
    output.unlink(missing_ok=True)
    command = [sys.executable, str(JOBS_SCRIPT), variant, job, str(raster), str(output)]
    measurement = run_measured(command, interval=interval)
    if measurement.returncode != 0 or not measurement.report:
        raise RuntimeError(f"{variant} {job} on {raster.name} failed "
                           f"(exit {measurement.returncode}):\n{measurement.stderr}")
    return measurement


def same_masks(first: Path, second: Path) -> bool:
    """Compare two single-band rasters block by block."""
    with rasterio.open(first) as a, rasterio.open(second) as b:
        if (a.width, a.height, a.count) != (b.width, b.height, b.count):
            return False
        if a.transform != b.transform or a.crs != b.crs:
            return False
        for _, window in a.block_windows(1):
            if not np.array_equal(a.read(1, window=window), b.read(1, window=window)):
                return False
    return True


def same_arrays(first: Path, second: Path, rows: int = 1024) -> bool:
    """Compare two saved arrays a slab of rows at a time."""
    a, b = np.load(first, mmap_mode="r"), np.load(second, mmap_mode="r")
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return all(np.array_equal(a[start:start + rows], b[start:start + rows])
               for start in range(0, a.shape[0], rows))


def verify(job: str, loop_output: Path, riogrande_output: Path) -> bool:
    if job == "mask":
        return same_masks(loop_output, riogrande_output)
    return same_arrays(loop_output, riogrande_output)


def record(measurement: Measurement) -> dict[str, Any]:
    report = measurement.report
    return {
        "wall": report["wall"],
        "cpu": report["cpu"],
        "peak_rss_total": measurement.peak_rss_total,
        "peak_rss_root": measurement.peak_rss_root,
        "process_wall": measurement.wall_total,
        "process_cpu": measurement.cpu_total,
        "max_processes": measurement.max_processes,
        "rss_samples": measurement.samples,
        "other_load": measurement.other_load,
        "block_size": report.get("block_size"),
        "blocks": report.get("blocks"),
        "valid": report.get("valid"),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall", "cpu", "peak_rss_total", "peak_rss_root", "process_wall", "process_cpu",
            "other_load")
    summary: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys}
    summary["wall_min"] = min(run["wall"] for run in runs)
    summary["wall_max"] = max(run["wall"] for run in runs)
    summary["runs"] = runs
    return summary


def measure_all(args: argparse.Namespace, rasters: dict[int, Path]) -> tuple[dict, list[str]]:
    """Run every variant of every job and size, ``args.repeat`` times, side by side."""
    work = Path(tempfile.mkdtemp(prefix="outputs-", dir=args.data_dir))
    try:
        return _measure_all(args, rasters, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure_all(args: argparse.Namespace, rasters: dict[int, Path],
                 work: Path) -> tuple[dict, list[str]]:
    runs: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    mismatches: list[str] = []
    total = args.repeat * len(args.sizes) * len(args.jobs) * len(VARIANTS)
    count = 0
    for repetition in range(args.repeat):
        # rotate the order so that no variant always runs first
        shift = repetition % len(VARIANTS)
        order = VARIANTS[shift:] + VARIANTS[:shift]
        for size in args.sizes:
            for job in args.jobs:
                for variant in order:
                    count += 1
                    output = output_path(work, variant, job, size)
                    measurement = run_one(variant, job, rasters[size], output, args.interval)
                    runs.setdefault((job, size, variant), []).append(record(measurement))
                    logger.info("[%d/%d] rep %d %s %d %-9s wall %.2f s cpu %.2f s "
                                "peak %.0f MB, other load %.1f cores", count, total,
                                repetition + 1, job, size, variant, measurement.report["wall"],
                                measurement.report["cpu"], measurement.peak_rss_total / MB,
                                measurement.other_load)
                loop_output = output_path(work, "loop", job, size)
                riogrande_output = output_path(work, "riogrande", job, size)
                if not verify(job, loop_output, riogrande_output):
                    mismatches.append(f"{job} {size} repetition {repetition + 1}")
                    logger.error("MISMATCH: riogrande's %s differs from the loop's at %d",
                                 job, size)
    return {key: summarize(value) for key, value in runs.items()}, mismatches


def selector_array_bytes(size: int) -> int:
    return size * size  # one byte per pixel (numpy bool)


def evaluate_targets(results: dict, sizes: list[int], jobs: list[str]) -> list[dict[str, Any]]:
    """Check the targets on the medians; ratios of the fastest runs are given alongside."""
    targets: list[dict[str, Any]] = []
    for job, target_size, other, limit in RATIO_TARGETS:
        if job not in jobs:
            continue
        for size in sizes if target_size is None else [target_size]:
            if size not in sizes:
                continue
            ours, theirs = results[(job, size, "riogrande")], results[(job, size, other)]
            ratio = ours["wall"] / theirs["wall"]
            targets.append({
                "target": f"{job} {size}: riogrande <= {limit:.2f} x {LABELS[other][4:]}",
                "value": round(ratio, 3), "limit": limit, "met": ratio <= limit,
                "fastest_runs": round(ours["wall_min"] / theirs["wall_min"], 3),
            })
    for job in jobs:
        peaks = {}
        for size in sizes:
            extra = selector_array_bytes(size) if job == "selector" else 0
            peak = results[(job, size, "riogrande")]["peak_rss_total"]
            peaks[size] = peak - extra
            allowance = "" if not extra else f" + array {extra / MB:.0f} MB"
            targets.append({
                "target": f"{job} {size}: summed peak RSS <= 300 MB{allowance}",
                "value": round(peak / MB, 1), "limit": round((PEAK_RSS_LIMIT + extra) / MB, 1),
                "met": peak <= PEAK_RSS_LIMIT + extra,
            })
        if len(peaks) >= 2:
            low, high = min(peaks.values()), max(peaks.values())
            growth = high / low - 1
            without = " (without the array)" if job == "selector" else ""
            targets.append({
                "target": f"{job}: summed peak RSS flat within 10 % over sizes{without}",
                "value": round(growth, 3), "limit": FLATNESS, "met": growth <= FLATNESS,
            })
    return targets


def format_table(results: dict, sizes: list[int], jobs: list[str]) -> str:
    header = (f"{'job':<9} {'size':>6} {'variant':<18} {'wall s':>7} {'min-max':>11} "
              f"{'CPU s':>6} {'peak RSS MB':>11} {'parent MB':>9} {'/ (a)':>6} {'/ (b)':>6} "
              f"{'others':>6}")
    lines = [header, "-" * len(header)]
    for job in jobs:
        for size in sizes:
            floor = results[(job, size, "floor")]["wall"]
            loop = results[(job, size, "loop")]["wall"]
            for variant in VARIANTS:
                row = results[(job, size, variant)]
                spread = f"{row['wall_min']:.2f}-{row['wall_max']:.2f}"
                lines.append(
                    f"{job:<9} {size:>6} {LABELS[variant]:<18} {row['wall']:>7.2f} "
                    f"{spread:>11} {row['cpu']:>6.2f} {row['peak_rss_total'] / MB:>11.0f} "
                    f"{row['peak_rss_root'] / MB:>9.0f} {row['wall'] / floor:>6.2f} "
                    f"{row['wall'] / loop:>6.2f} {row['other_load']:>6.1f}"
                )
    return "\n".join(lines)


def format_blocks(results: dict, sizes: list[int], jobs: list[str]) -> str:
    """The blocks each job read; riogrande's own figure when it reports one."""
    lines = []
    for job in jobs:
        for size in sizes:
            floor = results[(job, size, "floor")]["runs"][0]
            ours = results[(job, size, "riogrande")]["runs"][0]
            width, height = floor["block_size"]
            line = f"{job} {size}: blocks of {width}x{height} ({floor['blocks']} blocks)"
            if ours.get("block_size") and list(ours["block_size"]) != list(floor["block_size"]):
                line += f"; WARNING: riogrande used {ours['block_size']}"
            lines.append(line)
    return "\n".join(lines)


def format_targets(targets: list[dict[str, Any]]) -> str:
    lines = []
    for target in targets:
        line = (f"{'PASS' if target['met'] else 'MISS'}  {target['target']}: {target['value']}"
                f" (limit {target['limit']})")
        if "fastest_runs" in target:
            line += f"; fastest runs: {target['fastest_runs']}"
        lines.append(line)
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "riogrande": riogrande.__version__,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "riogrande_modified": bool(_git("status", "--porcelain", "--", "../riogrande")),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("data_gen").setLevel(logging.INFO)
    args = parse_args(argv)
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc)
    rasters = {}
    for size in args.sizes:
        generation = time.perf_counter()
        rasters[size] = ensure_raster(args.data_dir, size)
        logger.info("raster %d ready in %.1f s: %s (%.0f MB)", size,
                    time.perf_counter() - generation, rasters[size],
                    rasters[size].stat().st_size / MB)
        warm_page_cache(rasters[size])
    before = environment()
    try:
        results, mismatches = measure_all(args, rasters)
    except RuntimeError as error:
        logger.error("%s", error)
        return 1
    targets = evaluate_targets(results, args.sizes, args.jobs)
    elapsed = time.perf_counter() - started
    print()
    modified = " + uncommitted changes" if before["riogrande_modified"] else ""
    print(f"riogrande {before['riogrande']} (commit {before['commit']}{modified}), rasterio "
          f"{before['rasterio']}, GDAL {before['gdal']}, numpy {before['numpy']}, "
          f"{before['cpus']} CPUs")
    print(f"riogrande benchmark, {args.repeat} repetition(s), medians. Wall and CPU: the timed "
          "part, children included. Peak RSS: summed over the process tree (parent: the "
          "measured process alone), 1 MB = 2**20 bytes. others: cores kept busy by other "
          "processes of the machine during the runs (high = inflated wall times).")
    print(format_table(results, args.sizes, args.jobs))
    print(format_blocks(results, args.sizes, args.jobs))
    print()
    print("targets:")
    print(format_targets(targets))
    if mismatches:
        print(f"\nRESULT MISMATCH (riogrande differs from the rasterio loop): {mismatches}")
    print(f"\nbenchmark took {elapsed:.0f} s")
    payload = {
        "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "repeat": args.repeat,
        "sizes": args.sizes,
        "jobs": args.jobs,
        "environment": {**environment(), "load_average_before": before["load_average"]},
        "rasters": {str(size): str(path) for size, path in rasters.items()},
        "results": [
            {"job": job, "size": size, "variant": variant, **summary}
            for (job, size, variant), summary in results.items()
        ],
        "targets": targets,
        "mismatches": mismatches,
    }
    write_json(args.results, payload)
    print(f"results written to {args.results}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
