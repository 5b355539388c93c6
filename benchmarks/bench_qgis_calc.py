"""Benchmark riogrande:calc against QGIS's own raster calculator, in the dialog's terms.

The same NDVI of bands 1 and 2 of the 4-band benchmark raster (``data_gen.py``):
``riogrande:calc`` with ``(a[2] - a[1]) / (a[2] + a[1])`` against QGIS's raster
calculator (``native:rastercalc`` where it exists, 3.34+, else
``qgis:rastercalculator``) with ``("NAME@2" - "NAME@1") / ("NAME@2" + "NAME@1")``.
Both write Float32 with nodata where an input band is nodata; the outputs are
compared (same nodata pixels, same values to float32 rounding).

Three settings, the variants alternating within each repetition:

* the dialog (the target, riogrande >= 3x faster): in this QGIS process, as the
  Processing Toolbox runs an algorithm and as a desktop user waits for it: the
  raster a layer of the project given to both, each algorithm's own defaults
  (riogrande: all CPUs, no creation options), the output a temporary layer
  (the dialog's default), the run a background task (QgsProcessingAlgRunnerTask;
  on the main thread for an algorithm that asks for it), timed from Run until
  the result is loaded in the project. Both then write an uncompressed GeoTIFF
  (riogrande does for a temporary output).
* in-process to a named file: ``processing.run`` writing a .tif: riogrande
  uncompressed (``CREATION_OPTIONS=COMPRESS=NONE``, as QGIS's calculator writes)
  and with its default for a named file, the first layer's compression (DEFLATE).
* end to end: one ``qgis_process`` run each of the same, start-up included, the
  plugin installed from its zip in a throwaway profile.

And what bounds the ratios on this machine: the read floor (reading bands 1
and 2 of every block, nothing else) with 1 and with 2 threads, which tells
whether a second CPU is free at all (riogrande's lead over the single-threaded
calculator comes from it); and the start-up of ``qgis_process`` alone (each
algorithm on a 64 x 64 crop of the raster).

Medians are printed and written to ``benchmarks/results/qgis_calc-<QGIS version>.json``.
The exit code is 1 when a run fails or the outputs differ (not when a target is
missed). Run it with the Python of QGIS (``.venv-qgis/bin/python``; ``make
bench-qgis-344`` runs it on QGIS 3.44 in the trixie chroot).

Usage::

    python benchmarks/bench_qgis_calc.py [--size 6144] [--repeat 3] [--no-qgis-process]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
EXPRESSION = "(a[2] - a[1]) / (a[2] + a[1])"

#: The variants.
RIOGRANDE = "riogrande:calc"
UNCOMPRESSED = "riogrande:calc COMPRESS=NONE"
NATIVE = "native"


def native_calculator() -> str:
    """QGIS's raster calculator: the C++ one (3.34+), else the Python one."""
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    return ("native:rastercalc" if registry.algorithmById("native:rastercalc") is not None
            else "qgis:rastercalculator")


def native_expression(name: str) -> str:
    """The NDVI in QGIS's calculator's terms, over the layer called ``name``."""
    red, nir = f'"{name}@1"', f'"{name}@2"'
    return f"({nir} - {red}) / ({nir} + {red})"


def algorithm(variant: str, native: str) -> str:
    return native if variant == NATIVE else RIOGRANDE


def dialog_parameters(layer_id: str, name: str) -> dict[str, dict[str, Any]]:
    """What the dialog gives each algorithm: the project's layer, the expression, defaults."""
    return {RIOGRANDE: {"INPUTS": [layer_id], "EXPRESSION": EXPRESSION},
            NATIVE: {"EXPRESSION": native_expression(name), "LAYERS": [layer_id]}}


def file_parameters(raster: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """Every variant over ``raster``, writing a named GeoTIFF into ``folder``."""
    ours = {"INPUTS": [str(raster)], "EXPRESSION": EXPRESSION}
    return {
        UNCOMPRESSED: {**ours, "CREATION_OPTIONS": "COMPRESS=NONE",
                       "OUTPUT": str(folder / "uncompressed.tif")},
        RIOGRANDE: {**ours, "OUTPUT": str(folder / "riogrande.tif")},
        NATIVE: {"EXPRESSION": native_expression(raster.stem), "LAYERS": [str(raster)],
                 "OUTPUT": str(folder / "native.tif")},
    }


def no_threading_flag() -> Any:
    """The algorithm flag asking to run on the main thread (scoped from QGIS 3.36)."""
    from qgis.core import Qgis, QgsProcessingAlgorithm

    scoped = getattr(Qgis, "ProcessingAlgorithmFlag", None)
    return scoped.NoThreading if scoped else QgsProcessingAlgorithm.FlagNoThreading


def run_like_the_dialog(algorithm_id: str, params: dict[str, Any]) -> tuple[float, str]:
    """Run as the Toolbox dialog does, into a temporary layer loaded in the project.

    Returns
    -------
    float, str
        Seconds from Run until the result is loaded; the output file.
    """
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import (
        QgsApplication,
        QgsProcessingAlgRunnerTask,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProcessingOutputLayerDefinition,
        QgsProject,
    )
    from qgis.PyQt.QtCore import QCoreApplication

    project = QgsProject.instance()
    before = set(project.mapLayers())
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    parameters = {**params,
                  "OUTPUT": QgsProcessingOutputLayerDefinition("TEMPORARY_OUTPUT", project)}
    started = time.perf_counter()
    ok, message = algorithm.checkParameterValues(parameters, context)
    if not ok:
        raise RuntimeError(f"{algorithm_id}: {message}")
    if algorithm.flags() & no_threading_flag():
        results, ok = algorithm.run(parameters, context, feedback)
    else:
        outcome: dict[str, Any] = {}
        task = QgsProcessingAlgRunnerTask(algorithm, parameters, context, feedback)
        task.executed.connect(lambda success, found: outcome.update(ok=success, results=found))
        QgsApplication.taskManager().addTask(task)
        while "ok" not in outcome:  # the task reports back through the event loop
            QCoreApplication.processEvents()
            time.sleep(0.002)
        ok, results = outcome["ok"], outcome["results"]
    if not ok:
        raise RuntimeError(f"{algorithm_id} failed in its task")
    handleAlgorithmResults(algorithm, context, feedback)
    elapsed = time.perf_counter() - started
    loaded = set(project.mapLayers()) - before
    if len(loaded) != 1:
        raise RuntimeError(f"{algorithm_id}: {len(loaded)} layers loaded, not 1")
    project.removeMapLayers(list(loaded))
    return elapsed, results["OUTPUT"]


def same_result(first: str, second: str) -> bool:
    """Same shape, same nodata pixels and the same values (float32 rounding) block by block."""
    with rasterio.open(first) as one, rasterio.open(second) as two:
        if one.shape != two.shape or one.dtypes != two.dtypes:
            return False
        for _, window in one.block_windows(1):
            a = one.read(1, window=window, masked=True)
            b = two.read(1, window=window, masked=True)
            if not np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b)):
                return False
            if not np.allclose(a.compressed(), b.compressed(), rtol=1e-6, equal_nan=True):
                return False
    return True


def compression(path: str) -> str:
    with rasterio.open(path) as src:
        return (src.compression.value if src.compression else "none").lower()


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


def summary(times: dict[str, list[float]], outputs: dict[str, str]) -> dict[str, Any]:
    """Medians, speed-ups over QGIS's calculator, equality and compression of the outputs."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = [name for name in medians if name != NATIVE]
    return {"seconds": times, "median_seconds": medians,
            "speedup": {name: medians[NATIVE] / medians[name] for name in ours},
            "compression": {name: compression(path) for name, path in outputs.items()},
            "same_result": all(same_result(outputs[name], outputs[NATIVE]) for name in ours)}


def measure_dialog(raster: Path, native: str, repeat: int) -> dict[str, Any]:
    """The dialog's setting: the raster a project layer, temporary outputs, tasks."""
    from qgis.core import QgsProject, QgsRasterLayer

    layer = QgsRasterLayer(str(raster), raster.stem)
    if not layer.isValid():
        raise RuntimeError(f"QGIS cannot open {raster}")
    QgsProject.instance().addMapLayer(layer)
    outputs: dict[str, str] = {}

    def run(algorithm_id: str, params: dict[str, Any]) -> float:
        name = NATIVE if algorithm_id == native else RIOGRANDE
        seconds, output = run_like_the_dialog(algorithm_id, params)
        if name in outputs and outputs[name] != output:
            os.remove(outputs[name])  # temporary outputs of earlier repetitions
        outputs[name] = output
        return seconds

    try:
        times = timed("dialog", run, native, dialog_parameters(layer.id(), raster.stem), repeat)
        result = summary(times, outputs)
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
        for output in outputs.values():
            if os.path.exists(output):
                os.remove(output)
    result["target"] = TARGET
    result["target_met"] = result["speedup"][RIOGRANDE] >= TARGET
    return result


def measure_files(label: str, run: Callable[[str, dict[str, Any]], float], native: str,
                  params: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    times = timed(label, run, native, params, repeat)
    return summary(times, {name: value["OUTPUT"] for name, value in params.items()})


def crop(raster: Path, folder: Path, side: int = 64) -> Path:
    """The top-left ``side`` x ``side`` pixels of ``raster``, in the same layout."""
    small = folder / f"{raster.stem}_crop.tif"
    with rasterio.open(raster) as src:
        profile = {**src.profile, "width": side, "height": side}
        profile.update(blockxsize=min(side, 512), blockysize=min(side, 512))
        with rasterio.open(small, "w", **profile) as dst:
            dst.write(src.read(window=((0, side), (0, side))))
    return small


def read_seconds(raster: Path, threads: int) -> float:
    """Seconds for ``threads`` threads to read bands 1 and 2 of every block, nothing else."""
    with rasterio.open(raster) as src:
        windows = [window for _, window in src.block_windows(1)]
    local = threading.local()

    def read(window: Any) -> None:
        if not hasattr(local, "dataset"):
            local.dataset = rasterio.open(raster)
        local.dataset.read([1, 2], window=window)

    started = time.perf_counter()
    with rasterio.Env(GDAL_CACHEMAX=256 * 2**20), ThreadPoolExecutor(threads) as pool:
        list(pool.map(read, windows))
    return time.perf_counter() - started


def parallelism(raster: Path, repeat: int) -> dict[str, float]:
    """The read floor with 1 and 2 threads (medians): what a second thread gains here.

    On a machine with two free CPUs 2 threads read about twice as fast as one;
    when other work holds a CPU, they read no faster, and no parallel algorithm
    can gain over a single-threaded one beyond its work per pixel.
    """
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for threads in times:
            times[threads].append(read_seconds(raster, threads))
    one, two = (statistics.median(times[threads]) for threads in (1, 2))
    return {"read_1_thread_seconds": one, "read_2_threads_seconds": two,
            "second_thread_speedup": one / two}


def limits(env: dict[str, str], raster: Path, folder: Path, native: str, repeat: int,
           end_to_end: dict[str, Any], floor: float) -> dict[str, Any]:
    """Start-up of qgis_process per algorithm, and the best possible ratio given ``floor``."""
    small = crop(raster, folder)
    params = {name: value for name, value in file_parameters(small, folder).items()
              if name != RIOGRANDE}
    startup = timed("start-up", lambda name, p: run_qgis_process(env, name, p), native, params,
                    repeat)
    medians = {name: statistics.median(values) for name, values in startup.items()}
    native_seconds = end_to_end["median_seconds"][NATIVE]
    return {"startup_seconds": medians, "read_floor_seconds": floor,
            "best_possible_speedup": native_seconds / (medians[UNCOMPRESSED] + floor),
            "speedup_with_zero_work": native_seconds / medians[UNCOMPRESSED]}


def format_table(results: dict[str, dict[str, Any]], native: str, qgis: str, size: int,
                 repeat: int) -> str:
    """The medians side by side, riogrande's speed-up over QGIS's calculator in brackets."""
    lines = [f"{RIOGRANDE} vs {native} (QGIS {qgis}), NDVI of bands 1 and 2, {size}x{size} "
             f"float32, {os.cpu_count()} CPUs, medians of {repeat}:",
             f"  {'setting':24s} {native:>22s} {'riogrande uncompressed':>24s} "
             f"{'riogrande DEFLATE':>20s}"]
    titles = {"dialog": "dialog, temporary output", "in_process": "processing.run, .tif",
              "qgis_process": "qgis_process, .tif"}
    for setting, result in results.items():
        medians, speedups = result["median_seconds"], result["speedup"]
        uncompressed = UNCOMPRESSED if UNCOMPRESSED in medians else RIOGRANDE
        cells = [f"{medians[NATIVE]:8.2f} s",
                 f"{medians[uncompressed]:6.2f} s ({speedups[uncompressed]:4.1f}x)"]
        cells.append(f"{medians[RIOGRANDE]:6.2f} s ({speedups[RIOGRANDE]:4.1f}x)"
                     if uncompressed != RIOGRANDE else "-")
        line = f"  {titles[setting]:24s} {cells[0]:>22s} {cells[1]:>24s} {cells[2]:>20s}"
        if "target" in result:
            line += (f"   target >= {result['target']:.0f}x: "
                     f"{'met' if result['target_met'] else 'MISSED'}")
        lines.append(line + ("" if result["same_result"] else "   OUTPUTS DIFFER"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("riogrande").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6144)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-qgis-process", action="store_true",
                        help="skip the end-to-end runs through qgis_process")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON file (default: results/qgis_calc-<QGIS version>.json)")
    args = parser.parse_args(argv)
    application, provider = start_qgis()
    from qgis.core import Qgis, QgsApplication

    qgis = Qgis.QGIS_VERSION.split("-")[0]
    native = native_calculator()
    raster = ensure_raster(args.data_dir, args.size)
    warm_page_cache(raster)  # every variant starts with the file in the page cache
    cpus = parallelism(raster, args.repeat)
    logger.info("read floor: 1 thread %.2f s, 2 threads %.2f s", cpus["read_1_thread_seconds"],
                cpus["read_2_threads_seconds"])
    results: dict[str, Any] = {"dialog": measure_dialog(raster, native, args.repeat)}
    bounds = None
    (args.data_dir / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.data_dir / "out") as folder:
        work = Path(folder)
        for setting in ("in_process", "qgis_process"):
            (work / setting).mkdir()
        results["in_process"] = measure_files("in-process", run_in_process, native,
                                              file_parameters(raster, work / "in_process"),
                                              args.repeat)
        if not args.no_qgis_process:
            env = install_plugin(work)
            results["qgis_process"] = measure_files(
                "qgis_process", lambda name, p: run_qgis_process(env, name, p), native,
                file_parameters(raster, work / "qgis_process"), args.repeat)
            (work / "limits").mkdir()
            bounds = limits(env, raster, work / "limits", native, args.repeat,
                            results["qgis_process"], cpus["read_2_threads_seconds"])
    QgsApplication.processingRegistry().removeProvider(provider)
    print()
    print(format_table(results, native, qgis, args.size, args.repeat))
    print(f"  read floor (bands 1 and 2 of every block): 1 thread "
          f"{cpus['read_1_thread_seconds']:.2f} s, 2 threads {cpus['read_2_threads_seconds']:.2f}"
          f" s ({cpus['second_thread_speedup']:.2f}x: about 2x with two free CPUs)")
    if bounds is not None:
        startup = bounds["startup_seconds"]
        print(f"  qgis_process start-up (64x64 crop): {native} {startup[NATIVE]:.2f} s, "
              f"riogrande {startup[UNCOMPRESSED]:.2f} s; end to end at best "
              f"{bounds['best_possible_speedup']:.1f}x (with no work at all: "
              f"{bounds['speedup_with_zero_work']:.1f}x)")
    output = args.results or HERE / "results" / f"qgis_calc-{qgis}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "size": args.size, "repeat": args.repeat, "qgis": Qgis.QGIS_VERSION, "native": native,
        "cpus": os.cpu_count(), "load_average": list(os.getloadavg()), "when": time.time(),
        "parallelism": cpus, "results": results, "limits": bounds}, indent=1) + "\n")
    print(f"results written to {output}")
    application.exitQgis()
    return 0 if all(result["same_result"] for result in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
