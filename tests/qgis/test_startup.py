"""Loading the provider, which QGIS does at every start, stays light."""

from __future__ import annotations

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


def test_loading_the_provider_imports_neither_riogrande_nor_rasterio(tmp_path):
    """QGIS loads the provider at every start: the engine is imported on the first run only."""
    script = (
        "import sys\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        f"sys.path.insert(0, {str(REPO / 'qgis_plugin')!r})\n"
        "from riogrande_qgis.provider import RiograndeProvider\n"
        "provider = RiograndeProvider()\n"
        "QgsApplication.processingRegistry().addProvider(provider)\n"
        "assert len(provider.algorithms()) == 3, provider.algorithms()\n"
        "loaded = ('riogrande', 'rasterio', 'numpy')\n"
        "print(sorted(name for name in loaded if name in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
