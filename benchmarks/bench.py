"""Benchmark riogrande against the machine's limit and what a user writes by hand.

For each raster size and job (``mask``: a nodata mask GeoTIFF; ``selector``: a
valid-pixel selector GeoTIFF) the variants of ``jobs.py`` run side by side in
every repetition, each as a fresh process measured from outside (interpreter
start-up and imports included, as a user experiences it):

* ``thread_floor``: every block read once by 2 threads, nothing else (the limit);
* ``thread_script``: the hand-written threaded script doing the whole job;
* ``spawn_floor``: every block read once by 2 spawned processes;
* ``loop``: one thread doing the whole job;
* ``riogrande``: the library with its defaults and 2 workers, and the same
  with ``backend="processes"`` and with ``executor=ThreadPoolExecutor(2)``.

A third job, ``pyloop`` (a mask logic written as a per-pixel Python loop,
which holds the GIL), runs on a small raster with riogrande's default for a
callable (processes) and with ``backend="threads"``.

Wall and CPU time are those of the whole process; peak memory is the summed
RSS of the process tree, sampled from this process. Medians over the
repetitions are printed with the ratios and the targets, and written to
``benchmarks/results/latest.json``. The exit code is 0 even when a target is
missed; it is 1 when a run fails or any output differs from the loop's.
Run it at a high priority (``nice -n -10``, as ``make bench`` does as root)
when other work shares the machine.

Usage::

    python benchmarks/bench.py [--sizes 6144,12288] [--repeat 5] [--quick]
                               [--jobs mask,selector,pyloop]
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
from riogrande.blocks import choose_block_size
from riogrande.prepare import create_views

logger = logging.getLogger("bench")

HERE = Path(__file__).resolve().parent
JOBS_SCRIPT = HERE / "jobs.py"
MAIN_VARIANTS = ("thread_floor", "thread_script", "spawn_floor", "loop", "riogrande",
                 "riogrande_processes", "riogrande_executor")
VARIANTS = {"mask": MAIN_VARIANTS, "selector": MAIN_VARIANTS,
            "pyloop": ("loop", "riogrande", "riogrande_threads")}
#: Variants that only read (no output to compare).
READ_ONLY = ("thread_floor", "spawn_floor")
LABELS = {
    "thread_floor": "threaded I/O floor",
    "thread_script": "threaded script",
    "spawn_floor": "spawn I/O floor",
    "loop": "one-thread loop",
    "riogrande": "riogrande",
    "riogrande_processes": "riogrande processes",
    "riogrande_executor": "riogrande ThreadPool",
    "riogrande_threads": "riogrande threads",
}
PYLOOP_SIZE = 2048
MB = 2**20
PEAK_RSS_LIMIT = 300 * MB
FLATNESS = 0.10
#: (job, variant, other variant, limit): variant's whole-process wall <= limit x other's
RATIO_TARGETS = [
    ("mask", "riogrande", "thread_floor", 1.15),
    ("mask", "riogrande", "thread_script", 1.00),
    ("selector", "riogrande", "thread_floor", 1.15),
    ("selector", "riogrande", "thread_script", 1.00),
    ("mask", "riogrande_executor", "riogrande", 1.00),
    ("selector", "riogrande_executor", "riogrande", 1.00),
    ("pyloop", "riogrande", "riogrande_threads", 0.75),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="6144,12288",
                        help="raster sizes (pixels per side), comma-separated")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--quick", action="store_true", help="only 6144, 1 repetition")
    parser.add_argument("--jobs", default="mask,selector,pyloop",
                        help="mask, selector, pyloop (comma-separated)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data",
                        help="where the generated rasters are cached")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "latest.json",
                        help="JSON file for the results")
    parser.add_argument("--interval", type=float, default=0.01,
                        help="RSS sampling interval in seconds")
    args = parser.parse_args(argv)
    args.sizes = [6144] if args.quick else [int(size) for size in args.sizes.split(",")]
    args.repeat = args.repeat or (1 if args.quick else 5)
    args.jobs = [job.strip() for job in args.jobs.split(",") if job.strip()]
    unknown = set(args.jobs) - set(VARIANTS)
    if unknown or not args.jobs:
        parser.error(f"unknown jobs {sorted(unknown)}: use {', '.join(VARIANTS)}")
    if args.repeat < 1 or any(size < 1 for size in args.sizes):
        parser.error("sizes and --repeat must be positive")
    return args


def warm_page_cache(path: Path) -> None:
    """Read the file once so that every variant starts with it in the page cache."""
    with open(path, "rb") as handle:
        while handle.read(64 * MB):
            pass


def output_path(folder: Path, variant: str, job: str, size: int) -> Path:
    return folder / f"{variant}_{job}_{size}.tif"


def job_sizes(job: str, sizes: list[int]) -> list[int]:
    return [PYLOOP_SIZE] if job == "pyloop" else sizes


def views_file(folder: Path, job: str, size: int, raster: Path) -> Path:
    """The blocks riogrande chooses for ``job`` with 2 workers, for every variant to read."""
    with rasterio.open(raster) as src:
        profile = src.profile
    block = choose_block_size(profile, 2, band_reads=job == "selector")
    views, _ = create_views(block, (0, 0), (profile["width"], profile["height"]))
    path = folder / f"views_{job}_{size}.json"
    path.write_text(json.dumps([[int(value) for value in view] for view in views]))
    return path


def run_one(variant: str, job: str, raster: Path, output: Path, views: Path,
            interval: float) -> Measurement:
    output.unlink(missing_ok=True)
    command = [sys.executable, str(JOBS_SCRIPT), variant, job, str(raster), str(output),
               str(views)]
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


def record(measurement: Measurement) -> dict[str, Any]:
    report = measurement.report
    return {
        "wall": measurement.wall_total,
        "cpu": measurement.cpu_total,
        "timed_wall": report["wall"],
        "peak_rss_total": measurement.peak_rss_total,
        "peak_rss_root": measurement.peak_rss_root,
        "max_processes": measurement.max_processes,
        "rss_samples": measurement.samples,
        "other_load": measurement.other_load,
        "block_size": report.get("block_size"),
        "blocks": report.get("blocks"),
        "valid": report.get("valid"),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall", "cpu", "timed_wall", "peak_rss_total", "peak_rss_root", "other_load")
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
    plan = [(job, size) for job in args.jobs for size in job_sizes(job, args.sizes)]
    views = {(job, size): views_file(work, job, size, rasters[size]) for job, size in plan}
    total = args.repeat * sum(len(VARIANTS[job]) for job, _ in plan)
    count = 0
    for repetition in range(args.repeat):
        for job, size in plan:
            variants = VARIANTS[job]
            shift = repetition % len(variants)  # no variant always runs first
            for variant in variants[shift:] + variants[:shift]:
                count += 1
                output = output_path(work, variant, job, size)
                measurement = run_one(variant, job, rasters[size], output, views[(job, size)],
                                      args.interval)
                runs.setdefault((job, size, variant), []).append(record(measurement))
                logger.info("[%d/%d] rep %d %s %d %-19s wall %.2f s cpu %.2f s "
                            "peak %.0f MB, other load %.1f cores", count, total,
                            repetition + 1, job, size, variant, measurement.wall_total,
                            measurement.cpu_total, measurement.peak_rss_total / MB,
                            measurement.other_load)
            reference = output_path(work, "loop", job, size)
            for variant in variants:
                if variant in READ_ONLY or variant == "loop":
                    continue
                if not same_masks(reference, output_path(work, variant, job, size)):
                    mismatches.append(f"{variant} {job} {size} repetition {repetition + 1}")
                    logger.error("MISMATCH: %s's %s differs from the loop's at %d", variant,
                                 job, size)
    return {key: summarize(value) for key, value in runs.items()}, mismatches


def evaluate_targets(results: dict, sizes: list[int], jobs: list[str]) -> list[dict[str, Any]]:
    """Check the targets on the medians; ratios of the fastest runs are given alongside."""
    targets: list[dict[str, Any]] = []
    for job, variant, other, limit in RATIO_TARGETS:
        if job not in jobs:
            continue
        for size in job_sizes(job, sizes):
            ours, theirs = results[(job, size, variant)], results[(job, size, other)]
            ratio = ours["wall"] / theirs["wall"]
            targets.append({
                "target": f"{job} {size}: {LABELS[variant]} <= {limit:.2f} x {LABELS[other]}",
                "value": round(ratio, 3), "limit": limit, "met": ratio <= limit,
                "fastest_runs": round(ours["wall_min"] / theirs["wall_min"], 3),
            })
    for job in jobs:
        if job == "pyloop":
            continue
        peaks = {size: results[(job, size, "riogrande")]["peak_rss_total"] for size in sizes}
        for size, peak in peaks.items():
            targets.append({
                "target": f"{job} {size}: riogrande summed peak RSS <= 300 MB",
                "value": round(peak / MB, 1), "limit": PEAK_RSS_LIMIT / MB,
                "met": peak <= PEAK_RSS_LIMIT,
            })
        if len(peaks) >= 2:
            growth = max(peaks.values()) / min(peaks.values()) - 1
            targets.append({
                "target": f"{job}: riogrande summed peak RSS flat within 10 % over sizes",
                "value": round(growth, 3), "limit": FLATNESS, "met": growth <= FLATNESS,
            })
    return targets


def format_table(results: dict, sizes: list[int], jobs: list[str]) -> str:
    header = (f"{'job':<9} {'size':>6} {'variant':<21} {'wall s':>7} {'min-max':>11} "
              f"{'CPU s':>6} {'peak RSS MB':>11} {'/ floor':>7} {'/ script':>8} {'others':>6}")
    lines = [header, "-" * len(header)]
    for job in jobs:
        for size in job_sizes(job, sizes):
            floor = results.get((job, size, "thread_floor"), {}).get("wall")
            script = results.get((job, size, "thread_script"), {}).get("wall")
            for variant in VARIANTS[job]:
                row = results[(job, size, variant)]
                spread = f"{row['wall_min']:.2f}-{row['wall_max']:.2f}"
                to_floor = f"{row['wall'] / floor:>7.2f}" if floor else f"{'':>7}"
                to_script = f"{row['wall'] / script:>8.2f}" if script else f"{'':>8}"
                lines.append(
                    f"{job:<9} {size:>6} {LABELS[variant]:<21} {row['wall']:>7.2f} "
                    f"{spread:>11} {row['cpu']:>6.2f} {row['peak_rss_total'] / MB:>11.0f} "
                    f"{to_floor} {to_script} {row['other_load']:>6.1f}"
                )
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


def git_output(*args: str) -> str:
    """What ``git ARGS`` prints in this folder (empty without git)."""
    try:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def environment() -> dict[str, Any]:
    """Versions, commit and machine of a run."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "riogrande": riogrande.__version__,
        "commit": git_output("rev-parse", "--short", "HEAD"),
        "riogrande_modified": bool(git_output("status", "--porcelain", "--", "../riogrande")),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` as JSON (replaced whole)."""
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
    for size in sorted({*args.sizes, *([PYLOOP_SIZE] if "pyloop" in args.jobs else [])}):
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
    print(f"riogrande benchmark, {args.repeat} repetition(s), medians. Wall and CPU: the whole "
          "process (start-up included), children included. Peak RSS: summed over the process "
          "tree, 1 MB = 2**20 bytes. others: cores kept busy by other processes of the machine "
          "during the runs (high = inflated wall times).")
    print(format_table(results, args.sizes, args.jobs))
    print()
    print("targets:")
    print(format_targets(targets))
    if mismatches:
        print(f"\nRESULT MISMATCH (differs from the one-thread loop): {mismatches}")
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
