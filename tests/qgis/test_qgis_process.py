"""End to end: the plugin zip installed in a throwaway profile, run by qgis_process.

The zip is built by the code behind ``make plugin``, unpacked into a
temporary ``QGIS_PLUGINPATH``, enabled with ``qgis_process plugins enable``
under a temporary HOME, and run headless. QGIS's Python has no riogrande
installed, so the copy inside the plugin is used, by the workers too. The
``python3`` first on PATH is not QGIS's Python (on the reference machine it
is pyenv's); a second run puts a fake ``python3`` first on PATH which fails
and records every call: it must never be called.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402

from tests.qgis.conftest import qgis_process_command  # noqa: E402
from tests.reference import mask_reference, selector_reference  # noqa: E402

QGIS_PROCESS = qgis_process_command()
pytestmark = pytest.mark.skipif(QGIS_PROCESS is None, reason="qgis_process is not installed")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Environment of a throwaway QGIS profile with the zipped plugin enabled."""
    import build_zip

    root = tmp_path_factory.mktemp("qgis_process")
    plugin_zip = build_zip.build(root / "dist" / "riogrande_qgis.zip")
    plugins = root / "plugins"
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    runtime = root / "xdg"
    runtime.mkdir(mode=0o700)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RIOGRANDE_PYTHON",
                          "QGIS_OPTIONS_PATH")}
    env.update(HOME=str(root / "home"), QGIS_CUSTOM_CONFIG_PATH=str(root / "profiles"),
               QGIS_PLUGINPATH=str(plugins), XDG_RUNTIME_DIR=str(runtime),
               QT_QPA_PLATFORM="offscreen")
    enabled = qgis_process(env, "plugins", "enable", "riogrande_qgis")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return {"env": env, "plugin": plugins / "riogrande_qgis", "root": root}


def qgis_process(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def run_json(env: dict, algorithm: str, *params: str) -> dict:
    done = qgis_process(env, "--json", "run", algorithm, "--", *params)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


def read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def test_computemask_through_qgis_process(installed, make_raster, tmp_path):
    source = make_raster(width=301, height=203, count=3, nodata=-9999.0)
    output = tmp_path / "mask.tif"
    answer = run_json(installed["env"], "riogrande:computemask", f"INPUT={source}",
                      "BANDS=1", "BANDS=3", "LOGIC=any", "BLOCK_SIZE=64", f"OUTPUT={output}")
    expected = mask_reference(source, -9999.0, "any", [1, 3])
    np.testing.assert_array_equal(read(output), expected)
    assert answer["results"]["VALID_PIXELS"] == int(expected.sum())
    assert answer["results"]["MASKED_PIXELS"] == int(expected.size - expected.sum())
    # the copy of riogrande inside the plugin ran (QGIS's Python has none installed)
    assert f"({installed['plugin'] / 'riogrande'})" in json.dumps(answer)


def test_a_python3_first_on_path_is_never_run(installed, make_raster, tmp_path):
    fake_bin = tmp_path / "bin"
    calls = tmp_path / "calls.log"
    fake = fake_bin / "python3"
    fake_bin.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$0 $@\" >> {calls}\nexit 3\n")
    fake.chmod(0o755)
    env = {**installed["env"], "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    source = make_raster(width=150, height=120, count=3, nodata=-9999.0, mask=True)
    output = tmp_path / "selector.tif"
    run_json(env, "riogrande:prepareselector", f"INPUT={source}", "BANDS=1", "BANDS=2",
             "MASK_SOURCE=dataset", "BLOCK_SIZE=64", f"OUTPUT={output}")
    expected = selector_reference([(source, 1, "source"), (source, 2, "source")])
    np.testing.assert_array_equal(read(output), expected.astype(np.uint8))
    assert not calls.exists(), calls.read_text()


def test_without_rasterio_the_provider_loads_and_explains(installed, make_raster, tmp_path):
    hidden = tmp_path / "hide"
    (hidden / "rasterio").mkdir(parents=True)
    (hidden / "rasterio" / "__init__.py").write_text(
        "raise ImportError('No module named rasterio (hidden by the test)')\n")
    env = {**installed["env"], "PYTHONPATH": str(hidden)}
    listed = qgis_process(env, "list")
    assert "riogrande:computemask" in listed.stdout
    assert "riogrande:prepareselector" in listed.stdout
    output = tmp_path / "mask.tif"
    failed = qgis_process(env, "run", "riogrande:computemask", "--",
                          f"INPUT={make_raster()}", f"OUTPUT={output}")
    message = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "apt install python3-rasterio" in message
    assert "OSGeo4W" in message and "pip install rasterio" in message
    assert "Traceback" not in message
    assert not output.exists()


def processes_marked(marker: str) -> list:
    """Processes of this machine whose environment holds ``RIOGRANDE_TEST_RUN=marker``."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("RIOGRANDE_TEST_RUN") == marker:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_no_worker_outlives_qgis_process(installed, make_raster, tmp_path):
    """The warm pool's workers end with the QGIS process that started them."""
    import uuid

    source = make_raster(width=301, height=203, count=2, nodata=-9999.0)
    marker = uuid.uuid4().hex
    env = {**installed["env"], "RIOGRANDE_TEST_RUN": marker}
    run_json(env, "riogrande:computemask", f"INPUT={source}", "BLOCK_SIZE=64", "WORKERS=2",
             f"OUTPUT={tmp_path / 'mask.tif'}")
    import psutil

    _, alive = psutil.wait_procs(processes_marked(marker), timeout=10)
    assert alive == []
    np.testing.assert_array_equal(read(tmp_path / "mask.tif"),
                                  mask_reference(source, -9999.0, "all"))


def test_calc_through_qgis_process(installed, make_raster, tmp_path):
    red = make_raster("red.tif", width=140, height=97, count=1, nodata=None, seed=1)
    nir = make_raster("nir.tif", width=140, height=97, count=1, nodata=None, seed=2)
    output = tmp_path / "ndvi.tif"
    run_json(installed["env"], "riogrande:calc", f"INPUTS={red}", f"INPUTS={nir}",
             "EXPRESSION=(b - a) / (b + a + 1)", "BLOCK_SIZE=64", f"OUTPUT={output}")
    a, b = read(red).astype("float64"), read(nir).astype("float64")
    np.testing.assert_allclose(read(output), (b - a) / (b + a + 1), rtol=1e-6)
