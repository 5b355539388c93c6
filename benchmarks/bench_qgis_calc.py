"""Benchmark riogrande:calc against QGIS's own raster calculator on the same NDVI.

``riogrande:calc`` with ``(a[2] - a[1]) / (a[2] + a[1])`` over the 4-band
benchmark raster (``data_gen.py``), 2 workers, against QGIS's raster
calculator (``native:rastercalc`` where it exists, 3.34+, else
``qgis:rastercalculator``) with ``("NAME@2" - "NAME@1") / ("NAME@2" + "NAME@1")``.
Both write Float32 with nodata where an input band is nodata; the outputs
are compared (same nodata pixels, same values to float32 rounding).

riogrande:calc runs twice: uncompressed (``CREATION_OPTIONS=COMPRESS=NONE``),
the file QGIS's calculator writes, which is the like-for-like comparison; and
with its default, the first layer's compression (DEFLATE).

Two settings, the variants alternating within each repetition:

* end to end: one ``qgis_process`` run per algorithm, start-up included, the
  plugin installed from its zip in a throwaway profile (target: >= 3x);
* in-process: ``processing.run`` in one QGIS session (this process).

And the limits of the end-to-end ratio on this machine: the start-up of
``qgis_process`` alone (each algorithm on a 64 x 64 crop of the raster), and
the read floor (2 threads of this process reading bands 1 and 2 of every
block, nothing else). The ratio can be no better than the calculator's time
over riogrande's start-up plus that floor.

Medians are printed and written to ``benchmarks/results/qgis_calc.json``. The
exit code is 1 when a run fails or the outputs differ. Run it with the Python
of QGIS (``.venv-qgis/bin/python``).

Usage::

    python benchmarks/bench_qgis_calc.py [--size 6144] [--repeat 3] [--no-in-process]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from bench import warm_page_cache
from bench_qgis import install_plugin, run_in_process, run_qgis_process, start_qgis
from data_gen import ensure_raster

logger = logging.getLogger("bench_qgis_calc")

HERE = Path(__file__).resolve().parent
TARGET = 3.0
WORKERS = 2


def native_calculator() -> str:
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    return ("native:rastercalc" if registry.algorithmById("native:rastercalc") is not None
            else "qgis:rastercalculator")


#: The variants: name -> algorithm id (the native calculator's is filled in).
RIOGRANDE = "riogrande:calc"
UNCOMPRESSED = "riogrande:calc COMPRESS=NONE"
NATIVE = "native"


def parameters(raster: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """Parameters of every variant over ``raster``, writing into ``folder``."""
    band = f'"{raster.stem}@{{}}"'
    red, nir = band.format(1), band.format(2)
    ours = {"INPUTS": [str(raster)], "EXPRESSION": "(a[2] - a[1]) / (a[2] + a[1])",
            "WORKERS": WORKERS}
    return {
        UNCOMPRESSED: {**ours, "CREATION_OPTIONS": "COMPRESS=NONE",
                       "OUTPUT": str(folder / "uncompressed.tif")},
        RIOGRANDE: {**ours, "OUTPUT": str(folder / "riogrande.tif")},
        NATIVE: {"EXPRESSION": f"({nir} - {red}) / ({nir} + {red})", "LAYERS": [str(raster)],
                 "OUTPUT": str(folder / "native.tif")},
    }


def algorithm(variant: str, native: str) -> str:
    return native if variant == NATIVE else RIOGRANDE


def same_result(first: str, second: str) -> bool:
    with rasterio.open(first) as one, rasterio.open(second) as two:
        if one.shape != two.shape:
            return False
        for _, window in one.block_windows(1):
            a = one.read(1, window=window, masked=True)
            b = two.read(1, window=window, masked=True)
            if not np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b)):
                return False
            if not np.allclose(a.compressed(), b.compressed(), rtol=1e-6, equal_nan=True):
                return False
    return True


def timed(label: str, run: Callable[[str, dict[str, Any]], float], native: str,
          params: dict[str, dict[str, Any]], repeat: int) -> dict[str, list[float]]:
    """Seconds of every variant, ``repeat`` times, the order alternating."""
    times: dict[str, list[float]] = {name: [] for name in params}
    names = list(params)
    for repetition in range(repeat):
        for name in names if repetition % 2 == 0 else reversed(names):
            times[name].append(run(algorithm(name, native), params[name]))
            logger.info("%s %d/%d %s: %.2f s", label, repetition + 1, repeat, name,
                        times[name][-1])
    return times


def measure(label: str, run: Callable[[str, dict[str, Any]], float], native: str,
            params: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    times = timed(label, run, native, params, repeat)
    medians = {name: statistics.median(values) for name, values in times.items()}
    outputs = {name: value["OUTPUT"] for name, value in params.items()}
    speedups = {name: medians[NATIVE] / medians[name] for name in (UNCOMPRESSED, RIOGRANDE)}
    return {"seconds": times, "median_seconds": medians, "speedup": speedups,
            "target": TARGET, "target_met": speedups[UNCOMPRESSED] >= TARGET,
            "same_result": all(same_result(outputs[name], outputs[NATIVE])
                               for name in (UNCOMPRESSED, RIOGRANDE))}


def crop(raster: Path, folder: Path, side: int = 64) -> Path:
    """The top-left ``side`` x ``side`` pixels of ``raster``, in the same layout."""
    small = folder / f"{raster.stem}_crop.tif"
    with rasterio.open(raster) as src:
        profile = {**src.profile, "width": side, "height": side}
        profile.update(blockxsize=min(side, 512), blockysize=min(side, 512))
        with rasterio.open(small, "w", **profile) as dst:
            dst.write(src.read(window=((0, side), (0, side))))
    return small


def read_floor(raster: Path, repeat: int) -> float:
    """Median seconds of 2 threads reading bands 1 and 2 of every block (apply_jobs.floor)."""
    import apply_jobs

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        apply_jobs.floor(str(raster), None)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def limits(env: dict[str, str], raster: Path, folder: Path, native: str, repeat: int,
           end_to_end: dict[str, Any]) -> dict[str, Any]:
    """Start-up of qgis_process per algorithm, the read floor, and the best possible ratio."""
    small = crop(raster, folder)
    params = {name: value for name, value in parameters(small, folder).items()
              if name != RIOGRANDE}
    startup = timed("start-up", lambda name, p: run_qgis_process(env, name, p), native, params,
                    repeat)
    medians = {name: statistics.median(values) for name, values in startup.items()}
    floor = read_floor(raster, repeat)
    native_seconds = end_to_end["median_seconds"][NATIVE]
    return {"startup_seconds": medians, "read_floor_seconds": floor,
            "best_possible_speedup": native_seconds / (medians[UNCOMPRESSED] + floor),
            "speedup_with_zero_work": native_seconds / medians[UNCOMPRESSED]}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("riogrande").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "qgis_calc.json")
    args = parser.parse_args(argv)
    application, provider = start_qgis()
    native = native_calculator()
    raster = ensure_raster(args.data_dir, args.size)
    warm_page_cache(raster)  # every variant starts with the file in the page cache
    results: dict[str, Any] = {}
    (args.data_dir / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.data_dir / "out") as folder:
        work = Path(folder)
        env = install_plugin(work)
        (work / "qgis_process").mkdir()
        results["qgis_process"] = measure(
            "qgis_process", lambda name, p: run_qgis_process(env, name, p), native,
            parameters(raster, work / "qgis_process"), args.repeat)
        if not args.no_in_process:
            (work / "in_process").mkdir()
            results["in_process"] = measure("in-process", run_in_process, native,
                                            parameters(raster, work / "in_process"),
                                            args.repeat)
        (work / "limits").mkdir()
        bounds = limits(env, raster, work / "limits", native, args.repeat,
                        results["qgis_process"])
    from qgis.core import Qgis, QgsApplication

    QgsApplication.processingRegistry().removeProvider(provider)
    print(f"\n{RIOGRANDE} vs {native}, NDVI of bands 1 and 2, {args.size}x{args.size}, "
          f"{WORKERS} workers, medians of {args.repeat}:")
    for setting, result in results.items():
        medians, speedups = result["median_seconds"], result["speedup"]
        print(f"  {setting}: {native} {medians[NATIVE]:.2f} s; riogrande uncompressed "
              f"{medians[UNCOMPRESSED]:.2f} s ({speedups[UNCOMPRESSED]:.1f}x), DEFLATE "
              f"{medians[RIOGRANDE]:.2f} s ({speedups[RIOGRANDE]:.1f}x); same result: "
              f"{result['same_result']}")
    startup = bounds["startup_seconds"]
    met = results["qgis_process"]["target_met"]
    print(f"  qgis_process start-up (64x64 crop): {native} {startup[NATIVE]:.2f} s, riogrande "
          f"{startup[UNCOMPRESSED]:.2f} s; read floor (2 threads) "
          f"{bounds['read_floor_seconds']:.2f} s")
    print(f"  end to end, best possible on this machine: "
          f"{bounds['best_possible_speedup']:.1f}x (with no work at all: "
          f"{bounds['speedup_with_zero_work']:.1f}x); target >= {TARGET:.0f}x: "
          f"{'met' if met else 'MISSED'}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"size": args.size, "repeat": args.repeat,
                                        "qgis": Qgis.QGIS_VERSION, "when": time.time(),
                                        "results": results, "limits": bounds}, indent=1) + "\n")
    application.exitQgis()
    return 0 if all(result["same_result"] for result in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
