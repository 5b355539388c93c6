"""QGIS plugin tests: the provider registered on pytest-qgis' Processing, helpers.

Test modules that need QGIS start with ``pytest.importorskip("qgis.core")``,
so they are skipped where QGIS is absent; nothing here imports QGIS at
module level.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = REPO / "qgis_plugin"
if str(PLUGIN_SOURCES) not in sys.path:
    sys.path.insert(0, str(PLUGIN_SOURCES))


def qgis_process_command() -> str | None:
    """``qgis_process.bin`` (Debian 12: the ``qgis_process`` wrapper is broken), else
    ``qgis_process``; None when neither exists."""
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.isfile(f"/usr/bin/{name}")
                                        else None)
        if found:
            return found
    return None


@pytest.fixture(autouse=True)
def _collect_qgis_objects_on_the_main_thread():
    """Destroy, after each test and on the main thread, the QGIS objects cycles kept alive.

    A failed run's exception holds its frames, and through them the run's
    QgsProcessingContext and the layers it loaded. Left to Python's cycle
    collector, they are destroyed at some later allocation: in another test,
    in whatever thread allocates (a run in a thread of its own), after what
    they depend on is gone. QGIS crashed there, a segmentation fault in
    QgsRasterPipe's destructor while collecting, in about one run of the QGIS
    tests in two.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def riogrande_provider(qgis_processing):
    """The riogrande provider, registered in Processing for the whole session."""
    from qgis.core import QgsApplication
    from riogrande_qgis.provider import RiograndeProvider

    provider = RiograndeProvider()
    assert QgsApplication.processingRegistry().addProvider(provider)
    yield provider
    QgsApplication.processingRegistry().removeProvider(provider)


@pytest.fixture
def run_alg(riogrande_provider):
    """``processing.run`` on a fresh context and feedback; returns the results dict."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    def run(algorithm_id: str, parameters: dict, feedback=None) -> dict:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        return processing.run(algorithm_id, parameters, context=context,
                              feedback=feedback or QgsProcessingFeedback())

    return run
