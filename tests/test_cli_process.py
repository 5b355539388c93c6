"""The command line as a separate process: installed scripts, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import psutil
import pytest
from numpy.testing import assert_array_equal

from riogrande.masking import write_mask
from tests.reference import leftovers, mask_reference, read_all

NODATA = -9999.0
RIOGRANDE = [sys.executable, "-m", "riogrande.cli"]


def run(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_mask_subprocess_matches_library(make_raster, tmp_path):
    raster = make_raster(nodata=NODATA)
    out = tmp_path / "mask.tif"
    done = run(*RIOGRANDE, "mask", raster, "-o", out, "--logic", "any", "-j", 2, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    library = write_mask(raster, tmp_path / "library.tif", nodata=NODATA, logic="any", nbrcpu=1)
    assert_array_equal(read_all(out), read_all(library.output))
    assert_array_equal(read_all(out)[0], mask_reference(raster, NODATA, "any"))
    assert (report["valid"], report["masked"]) == (library.valid, library.masked)


def test_installed_console_script(make_raster, tmp_path):
    script = Path(sys.executable).with_name("riogrande")
    if not script.exists():
        pytest.skip("riogrande is not installed as a script next to this interpreter")
    raster = make_raster(nodata=NODATA)
    done = run(script, "info", raster, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["width"] == 97


def test_usage_error_exit_code_and_message(make_raster, tmp_path):
    raster = make_raster()
    done = run(*RIOGRANDE, "mask", raster, "-o", tmp_path / "m.tif", "--bands", "1,x")
    assert done.returncode == 2
    assert "--bands" in done.stderr and done.stdout == ""


def test_processing_error_exit_code_and_message(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("text")
    done = run(*RIOGRANDE, "info", bad)
    assert done.returncode == 1
    assert done.stderr.startswith("Error:") and "bad.tif" in done.stderr


def test_rio_plugin(make_raster):
    plugins = {ep.name: ep.value for ep in entry_points(group="rasterio.rio_plugins")}
    assert plugins.get("grande") == "riogrande.cli.main:cli"
    raster = make_raster(nodata=NODATA)
    done = run(sys.executable, "-W", "ignore", "-c",
               "from rasterio.rio.main import main_group; main_group()",
               "grande", "info", raster, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 3


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_ctrl_c_stops_workers_and_removes_the_partial_output(make_raster, tmp_path, backend):
    raster = make_raster(width=1500, height=1200, count=1, nodata=NODATA, block=(256, 256))
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "mask.tif"
    process = subprocess.Popen(
        [*RIOGRANDE, "mask", str(raster), "-o", str(out), "--block-size", "16", "16", "-j", "2",
         "--backend", backend],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    children = 2 if backend == "processes" else 0
    try:
        deadline = time.monotonic() + 30
        parent = psutil.Process(process.pid)
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and process.poll() is None:
            workers = parent.children(recursive=True)
            if len(workers) >= children and leftovers(folder):
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert leftovers(folder), "no partial output appeared"
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr and stdout == ""
    assert list(folder.iterdir()) == []
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []
