"""Benchmark riogrande:calc against QGIS's own raster calculator on the same NDVI.

``riogrande:calc`` with ``(a[2] - a[1]) / (a[2] + a[1])`` over the 4-band
benchmark raster (``data_gen.py``), 2 workers, against QGIS's raster
calculator (``native:rastercalc`` where it exists, 3.34+, else
``qgis:rastercalculator``) with ``("NAME@2" - "NAME@1") / ("NAME@2" + "NAME@1")``.
Both write Float32 with nodata where an input band is nodata; the outputs
are compared (same nodata pixels, same values to float32 rounding).

Two settings, the variants alternating within each repetition:

* end to end: one ``qgis_process`` run per algorithm, start-up included, the
  plugin installed from its zip in a throwaway profile (target: >= 3x);
* in-process: ``processing.run`` in one QGIS session (this process).

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
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from bench import warm_page_cache
from bench_qgis import install_plugin, run_in_process, run_qgis_process, start_qgis
from data_gen import ensure_raster

logger = logging.getLogger("bench_qgis_calc")

HERE = Path(__file__).resolve().parent
OURS = "riogrande:calc"
TARGET = 3.0
WORKERS = 2


def native_calculator() -> str:
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    return ("native:rastercalc" if registry.algorithmById("native:rastercalc") is not None
            else "qgis:rastercalculator")


def parameters(raster: Path, native: str, folder: Path) -> dict[str, dict[str, Any]]:
    band = f'"{raster.stem}@{{}}"'
    red, nir = band.format(1), band.format(2)
    return {
        OURS: {"INPUTS": [str(raster)], "EXPRESSION": "(a[2] - a[1]) / (a[2] + a[1])",
               "WORKERS": WORKERS, "OUTPUT": str(folder / "riogrande.tif")},
        native: {"EXPRESSION": f"({nir} - {red}) / ({nir} + {red})", "LAYERS": [str(raster)],
                 "OUTPUT": str(folder / "native.tif")},
    }


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


def measure(label: str, run: Any, params: dict[str, dict[str, Any]], repeat: int
            ) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in params}
    names = list(params)
    for repetition in range(repeat):
        for name in names if repetition % 2 == 0 else reversed(names):
            times[name].append(run(name, params[name]))
            logger.info("%s %d/%d %s: %.2f s", label, repetition + 1, repeat, name,
                        times[name][-1])
    medians = {name: statistics.median(values) for name, values in times.items()}
    native = next(name for name in names if name != OURS)
    outputs = [params[name]["OUTPUT"] for name in names]
    speedup = medians[native] / medians[OURS]
    return {"seconds": times, "median_seconds": medians, "speedup": speedup,
            "target": TARGET, "target_met": speedup >= TARGET,
            "same_result": same_result(*outputs)}


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
    results = {}
    (args.data_dir / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.data_dir / "out") as folder:
        work = Path(folder)
        env = install_plugin(work)
        (work / "qgis_process").mkdir()
        results["qgis_process"] = measure(
            "qgis_process", lambda name, p: run_qgis_process(env, name, p),
            parameters(raster, native, work / "qgis_process"), args.repeat)
        if not args.no_in_process:
            (work / "in_process").mkdir()
            results["in_process"] = measure("in-process", run_in_process,
                                            parameters(raster, native, work / "in_process"),
                                            args.repeat)
    from qgis.core import Qgis, QgsApplication

    QgsApplication.processingRegistry().removeProvider(provider)
    print(f"\n{OURS} vs {native}, NDVI of bands 1 and 2, {args.size}x{args.size}, "
          f"{WORKERS} workers, medians of {args.repeat}:")
    for setting, result in results.items():
        medians = result["median_seconds"]
        print(f"  {setting:13s} riogrande {medians[OURS]:6.2f} s   {native} "
              f"{medians[native]:6.2f} s   {result['speedup']:4.1f}x (target >= {TARGET:.0f}x "
              f"end to end: {'met' if result['target_met'] else 'MISSED'})   "
              f"same result: {result['same_result']}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"size": args.size, "repeat": args.repeat,
                                        "qgis": Qgis.QGIS_VERSION, "when": time.time(),
                                        "results": results}, indent=1) + "\n")
    application.exitQgis()
    return 0 if all(result["same_result"] for result in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
