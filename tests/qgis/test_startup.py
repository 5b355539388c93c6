"""Loading the provider, which QGIS does at every start, stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("qgis.core")

from tests.qgis.conftest import REPO  # noqa: E402


def test_the_plugins_output_choices_are_the_librarys():
    from riogrande_qgis.algorithms import output_form

    import riogrande.outputs

    assert output_form.encodings() == list(riogrande.outputs.ENCODINGS)
    assert output_form.extensions() == riogrande.outputs.supported_extensions()


#: Start QGIS as the desktop and qgis_process do, then (when asked) load the provider;
#: print the modules then imported.
STARTUP = """
import json, sys
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
if sys.argv[1] == "provider":
    sys.path.insert(0, sys.argv[2])
    from riogrande_qgis.provider import RiograndeProvider
    provider = RiograndeProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    assert len(provider.algorithms()) == 3, provider.algorithms()
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_startup(what: str, tmp_path) -> set[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", STARTUP, what, str(REPO / "qgis_plugin")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_loading_the_provider_imports_neither_riogrande_nor_rasterio(tmp_path):
    """QGIS loads the provider at every start: the engine is imported on the first run only.

    What loading the provider adds to the modules QGIS itself imported (QGIS
    3.44's qgis.core imports numpy, 3.22's does not) holds none of riogrande,
    rasterio or numpy.
    """
    baseline = modules_after_startup("qgis", tmp_path)
    added = modules_after_startup("provider", tmp_path) - baseline
    assert "riogrande_qgis.provider" in added  # the provider was loaded
    heavy = {"riogrande", "rasterio", "numpy"}
    assert sorted(name for name in added if name.split(".")[0] in heavy) == []
