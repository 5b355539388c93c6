"""Benchmark the QGIS plugin against QGIS's own nearest algorithm.

``riogrande:prepareselector`` over the 4 bands of the benchmark raster
(``data_gen.py``, cached in ``benchmarks/data``) against
``native:rasterbooleanand`` over the same 4 bands, given as one single-band
VRT per band (it reads band 1 of each input only) with "treat nodata as
false" and a Byte output. The data hold no valid zero, so both compute the
same pixels; the outputs are compared.

Two settings, the variants alternating within each repetition:

* in-process: ``processing.run`` in one QGIS session (this process), the
  algorithm time only (target: riogrande >= 5x faster);
* end to end: one ``qgis_process`` run per algorithm, start-up included, the
  plugin installed from its zip in a throwaway profile (target: >= 3x).

Then, in-process, a first run of ``riogrande:prepareselector`` with no worker
started yet and a second run on the provider's warm pool.

Medians are printed and written to ``benchmarks/results/qgis-<QGIS version>.json``. The exit
code is 1 when a run fails or the outputs differ, 0 otherwise (also when a
target is missed). Run it with the Python of QGIS (``.venv-qgis/bin/python``).

Usage::

    python benchmarks/bench_qgis.py [--sizes 6144,12288] [--repeat 3] [--no-qgis-process]
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
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from data_gen import BANDS, ensure_raster

logger = logging.getLogger("bench_qgis")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OURS = "riogrande:prepareselector"
NATIVE = "native:rasterbooleanand"
TARGETS = {"in_process": 5.0, "qgis_process": 3.0}
MB = 2**20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="6144,12288",
                        help="raster sizes (pixels per side), comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions")
    parser.add_argument("--no-qgis-process", action="store_true",
                        help="skip the end-to-end runs through qgis_process")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data",
                        help="where the generated rasters are cached")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON file for the results (default: results/qgis-<QGIS "
                             "version>.json)")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if args.repeat < 1 or not args.sizes or any(size < 1 for size in args.sizes):
        parser.error("sizes and --repeat must be positive")
    return args


def single_band_vrts(raster: Path, folder: Path) -> list[Path]:
    """One VRT per band of ``raster``, each exposing that band as its band 1."""
    from osgeo import gdal

    vrts = []
    for bidx in range(1, BANDS + 1):
        vrt = folder / f"{raster.stem}_band{bidx}.vrt"
        gdal.BuildVRT(str(vrt), [str(raster)], bandList=[bidx]).FlushCache()
        vrts.append(vrt)
    return vrts


def parameters(raster: Path, vrts: list[Path], output: Path) -> dict[str, dict[str, Any]]:
    """Parameters of both algorithms (ours with its defaults: all bands, all CPUs)."""
    return {
        OURS: {"INPUT": str(raster), "OUTPUT": str(output.with_name("riogrande.tif"))},
        NATIVE: {"INPUT": [str(vrt) for vrt in vrts], "REF_LAYER": str(vrts[0]),
                 "NODATA_AS_FALSE": True, "NO_DATA": 255, "DATA_TYPE": 0,  # Byte
                 "OUTPUT": str(output.with_name("native.tif"))},
    }


def start_qgis() -> Any:
    """A headless QGIS session with Processing and the riogrande provider."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    application = QgsApplication([], False)
    application.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    sys.path.insert(0, str(REPO / "qgis_plugin"))
    from processing.core.Processing import Processing
    from riogrande_qgis.provider import RiograndeProvider

    Processing.initialize()
    provider = RiograndeProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    return application, provider


def run_in_process(algorithm: str, params: dict[str, Any]) -> float:
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    started = time.perf_counter()
    processing.run(algorithm, params, context=QgsProcessingContext(),
                   feedback=QgsProcessingFeedback())
    return time.perf_counter() - started


def qgis_process_command() -> str:
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.isfile(f"/usr/bin/{name}")
                                        else None)
        if found:
            return found
    raise SystemExit("qgis_process is not installed")


def install_plugin(folder: Path) -> dict[str, str]:
    """Install the plugin zip in a throwaway profile; return the environment to use it."""
    sys.path.insert(0, str(REPO / "qgis_plugin"))
    import build_zip

    plugins = folder / "plugins"
    with zipfile.ZipFile(build_zip.build(folder / "riogrande_qgis.zip")) as archive:
        archive.extractall(plugins)
    runtime = folder / "xdg"
    runtime.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "QGIS_OPTIONS_PATH")}
    env.update(HOME=str(folder / "home"), QGIS_CUSTOM_CONFIG_PATH=str(folder / "profiles"),
               QGIS_PLUGINPATH=str(plugins), XDG_RUNTIME_DIR=str(runtime),
               QT_QPA_PLATFORM="offscreen")
    subprocess.run([qgis_process_command(), "plugins", "enable", "riogrande_qgis"], env=env,
                   check=True, capture_output=True)
    return env


def qgis_process_arguments(params: dict[str, Any]) -> list[str]:
    arguments = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            arguments.append(f"{key}={str(item).lower() if isinstance(item, bool) else item}")
    return arguments


def run_qgis_process(env: dict[str, str], algorithm: str, params: dict[str, Any]) -> float:
    command = [qgis_process_command(), "run", algorithm, "--", *qgis_process_arguments(params)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{algorithm} failed through qgis_process:\n{done.stderr}")
    return elapsed


def same_pixels(first: str, second: str) -> bool:
    """Whether two single-band rasters hold the same values, compared block by block."""
    with rasterio.open(first) as one, rasterio.open(second) as two:
        if one.shape != two.shape:
            return False
        for _, window in one.block_windows(1):
            if not np.array_equal(one.read(1, window=window), two.read(1, window=window)):
                return False
    return True


def measure(label: str, run: Callable[[str, dict[str, Any]], float],
            params: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    """Run both algorithms ``repeat`` times, alternating; medians, ratio, equality."""
    times: dict[str, list[float]] = {OURS: [], NATIVE: []}
    for repetition in range(repeat):
        order = (OURS, NATIVE) if repetition % 2 == 0 else (NATIVE, OURS)
        for algorithm in order:
            times[algorithm].append(run(algorithm, params[algorithm]))
            logger.info("%s %d/%d %s: %.2f s", label, repetition + 1, repeat, algorithm,
                        times[algorithm][-1])
    medians = {algorithm: statistics.median(values) for algorithm, values in times.items()}
    return {
        "seconds": times,
        "median_seconds": medians,
        "speedup": medians[NATIVE] / medians[OURS],
        "same_pixels": same_pixels(params[OURS]["OUTPUT"], params[NATIVE]["OUTPUT"]),
    }


def measure_warm(params: dict[str, Any], repeat: int) -> dict[str, Any]:
    """A first run (no worker yet) and a second run (the provider's warm pool), in-process."""
    from riogrande_qgis.warm_pool import WARM_POOL

    times: dict[str, list[float]] = {"first": [], "second": []}
    for repetition in range(repeat):
        WARM_POOL.close()
        for run in ("first", "second"):
            times[run].append(run_in_process(OURS, params))
            logger.info("warm pool %d/%d %s run: %.2f s", repetition + 1, repeat, run,
                        times[run][-1])
    WARM_POOL.close()
    medians = {run: statistics.median(values) for run, values in times.items()}
    return {"seconds": times, "median_seconds": medians,
            "second_to_first": medians["second"] / medians["first"]}


def measure_size(size: int, args: argparse.Namespace, env: dict[str, str] | None
                 ) -> dict[str, Any]:
    """Both settings on the raster of ``size``."""
    raster = ensure_raster(args.data_dir, size)
    work = args.data_dir / "out" / "qgis" / str(size)
    for setting in ("in_process", "qgis_process"):
        (work / setting).mkdir(parents=True, exist_ok=True)
    vrts = single_band_vrts(raster, work)
    with open(raster, "rb") as handle:  # both start with the file in the page cache
        while handle.read(64 * MB):
            pass
    results = {"in_process": measure(f"{size} in-process", run_in_process,
                                     parameters(raster, vrts, work / "in_process" / "x.tif"),
                                     args.repeat)}
    if env is not None:
        results["qgis_process"] = measure(
            f"{size} qgis_process", lambda alg, p: run_qgis_process(env, alg, p),
            parameters(raster, vrts, work / "qgis_process" / "x.tif"), args.repeat)
    for setting, result in results.items():
        result["target"] = TARGETS[setting]
        result["target_met"] = result["speedup"] >= TARGETS[setting]
    warm = measure_warm(parameters(raster, vrts, work / "in_process" / "w.tif")[OURS],
                        args.repeat)
    return {"raster": str(raster), "results": results, "warm_pool": warm}


def format_table(measured: dict[int, dict[str, Any]], repeat: int) -> str:
    lines = [f"prepareselector (4 bands) vs native:rasterbooleanand (4 single-band VRTs), "
             f"{BANDS}-band float32, medians of {repeat}"]
    for size, entry in measured.items():
        for setting, result in entry["results"].items():
            medians = result["median_seconds"]
            lines.append(
                f"  {size:6d}  {setting:13s} riogrande {medians[OURS]:7.2f} s   native "
                f"{medians[NATIVE]:7.2f} s   {result['speedup']:5.1f}x (target >= "
                f"{result['target']:.0f}x: {'met' if result['target_met'] else 'MISSED'})   "
                f"same pixels: {result['same_pixels']}")
        warm = entry["warm_pool"]["median_seconds"]
        lines.append(f"  {size:6d}  warm pool     first run {warm['first']:7.2f} s   second run "
                     f"{warm['second']:7.2f} s   ({entry['warm_pool']['second_to_first']:.2f}"
                     " x the first)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("riogrande").setLevel(logging.WARNING)
    args = parse_args(argv)
    application, provider = start_qgis()
    measured: dict[int, dict[str, Any]] = {}
    (args.data_dir / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.data_dir / "out") as folder:
        env = None if args.no_qgis_process else install_plugin(Path(folder))
        for size in args.sizes:
            measured[size] = measure_size(size, args, env)
    from qgis.core import Qgis, QgsApplication

    QgsApplication.processingRegistry().removeProvider(provider)
    print()
    print(format_table(measured, args.repeat))
    payload = {
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "qgis": Qgis.QGIS_VERSION, "gdal": rasterio.__gdal_version__,
                    "load_average": list(os.getloadavg())},
        "sizes": {str(size): entry for size, entry in measured.items()},
    }
    output = args.results or HERE / "results" / f"qgis-{Qgis.QGIS_VERSION.split('-')[0]}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {output}")
    application.exitQgis()
    same = all(result["same_pixels"] for entry in measured.values()
               for result in entry["results"].values())
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
