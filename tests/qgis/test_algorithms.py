"""processing.run of both algorithms: equal to the library's result and to numpy."""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.spawn
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import QgsProcessingException  # noqa: E402

from riogrande.io.models import Band  # noqa: E402
from riogrande.masking import write_mask, write_selector  # noqa: E402
from tests.reference import leftovers, mask_reference, selector_reference  # noqa: E402


def read_output(path: str | Path) -> np.ndarray:
    with rasterio.open(path) as src:
        assert (src.count, src.dtypes[0]) == (1, "uint8")
        assert src.profile.get("tiled") and src.compression is not None
        return src.read(1)


MASK_CASES = {
    "all bands, file nodata": dict(raster=dict(nodata=-9999.0), params={}, nodata=-9999.0,
                                   logic="all", bands=None),
    "band subset, any, odd size and blocks": dict(
        raster=dict(width=131, height=77, count=4, nodata=-9999.0),
        params={"BANDS": [1, 3], "LOGIC": "any", "BLOCK_SIZE": 67},
        nodata=-9999.0, logic="any", bands=[1, 3]),
    "NaN nodata of the file": dict(raster=dict(nodata=math.nan), params={"LOGIC": "any"},
                                   nodata=math.nan, logic="any", bands=None),
    "NaN nodata given": dict(raster=dict(nodata=None, fill=math.nan),
                             params={"NODATA": math.nan, "BANDS": [2, 3]},
                             nodata=math.nan, logic="all", bands=[2, 3]),
    "no file nodata: 0": dict(raster=dict(dtype="int16", nodata=None), params={"WORKERS": 1},
                              nodata=0, logic="all", bands=None),
    "NODATA overrides the file's": dict(raster=dict(dtype="uint8", nodata=7, fill=0),
                                        params={"NODATA": 0, "LOGIC": "any"},
                                        nodata=0, logic="any", bands=None),
}


@pytest.mark.parametrize("case", MASK_CASES.values(), ids=MASK_CASES.keys())
def test_computemask_equals_library_and_numpy(case, make_raster, run_alg, tmp_path):
    source = make_raster(**case["raster"])
    output = tmp_path / "qgis_mask.tif"
    results = run_alg("riogrande:computemask",
                      {"INPUT": str(source), "OUTPUT": str(output), **case["params"]})

    mask = read_output(results["OUTPUT"])
    expected = mask_reference(source, case["nodata"], case["logic"], case["bands"])
    library = write_mask(source, tmp_path / "library.tif", nodata=case["nodata"],
                         logic=case["logic"], bands=case["bands"], nbrcpu=1)
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(mask, read_output(library.output))
    assert 0 < results["VALID_PIXELS"] < mask.size
    assert (results["VALID_PIXELS"], results["MASKED_PIXELS"]) == (
        int(expected.sum()), int(mask.size - expected.sum()))
    assert Path(results["OUTPUT"]) == output
    assert leftovers(tmp_path) == []


SELECTOR_CASES = {
    "all bands, band masks": dict(raster=dict(nodata=-9999.0), params={}, bands=[1, 2, 3],
                                  use="band", extra=None),
    "band subset, dataset mask, odd blocks": dict(
        raster=dict(width=131, height=77, count=4, nodata=-9999.0, mask=True),
        params={"BANDS": [2, 4], "MASK_SOURCE": "dataset", "BLOCK_SIZE": 71},
        bands=[2, 4], use="source", extra=None),
    "NaN nodata, extra mask band 2": dict(
        raster=dict(width=89, height=101, nodata=math.nan),
        params={"EXTRA_MASK_BAND": 2}, bands=[1, 2, 3], use="band", extra=2),
}


@pytest.mark.parametrize("case", SELECTOR_CASES.values(), ids=SELECTOR_CASES.keys())
def test_prepareselector_equals_library_and_numpy(case, make_raster, run_alg, tmp_path):
    source = make_raster(**case["raster"])
    params = {"INPUT": str(source), "OUTPUT": str(tmp_path / "qgis_selector.tif"),
              **case["params"]}
    extra = None
    if case["extra"] is not None:
        with rasterio.open(source) as src:
            width, height = src.width, src.height
        extra_path = make_raster(name="extra.tif", width=width, height=height, count=2,
                                 dtype="uint8", nodata=None, fill=0, seed=5)
        params["EXTRA_MASK"] = str(extra_path)
        extra = (extra_path, case["extra"])
    results = run_alg("riogrande:prepareselector", params)

    selector = read_output(results["OUTPUT"])
    expected = selector_reference([(source, b, case["use"]) for b in case["bands"]], extra)
    bands = []
    for bidx in case["bands"]:
        band = Band(source, bidx)
        band.set_mask_reader(case["use"])
        bands.append(band)
    library = write_selector(*bands, output=tmp_path / "library.tif", nbrcpu=1,
                             extra_masking_band=Band(*extra) if extra else None)
    np.testing.assert_array_equal(selector, expected.astype(np.uint8))
    np.testing.assert_array_equal(selector, read_output(library.output))
    assert 0 < results["VALID_PIXELS"] < selector.size
    assert results["VALID_PIXELS"] == int(expected.sum())
    assert results["MASKED_PIXELS"] == int(selector.size - expected.sum())


def test_inputs_on_different_grids_are_refused(make_raster, run_alg, tmp_path):
    source = make_raster(width=60, height=40, nodata=-9999.0)
    other = make_raster(name="other.tif", width=61, height=40, count=1, nodata=None)
    output = tmp_path / "selector.tif"
    with pytest.raises(QgsProcessingException, match="not on the same grid"):
        run_alg("riogrande:prepareselector",
                {"INPUT": str(source), "EXTRA_MASK": str(other), "OUTPUT": str(output)})
    assert not output.exists()
    assert leftovers(tmp_path) == []


@pytest.fixture
def layer_tree_view(qgis_iface, qgis_new_project, monkeypatch):
    """The layer tree view of pytest-qgis's stand-in interface: a real one, on the project.

    Loading results (``processing.runAndLoadResults``, the dialog) hands
    ``iface.layerTreeView()`` to QGIS's C++ code in QGIS 3.44, which refuses
    the stand-in's mock; QGIS 3.22 does not use it.
    """
    from qgis.core import QgsLayerTreeModel, QgsProject
    from qgis.gui import QgsLayerTreeView

    view = QgsLayerTreeView()
    view.setModel(QgsLayerTreeModel(QgsProject.instance().layerTreeRoot(), view))
    monkeypatch.setattr(qgis_iface, "layerTreeView", lambda: view, raising=False)
    yield view
    view.deleteLater()


@pytest.mark.parametrize("output", ["m.tif", "TEMPORARY_OUTPUT"])
def test_output_is_loaded_as_a_layer_named_after_algorithm_and_input(
        output, make_raster, riogrande_provider, layer_tree_view, tmp_path):
    import processing
    from qgis.core import QgsProject, QgsRasterLayer

    source = make_raster(name="dem.tif", nodata=-9999.0)
    layer = QgsRasterLayer(str(source), "my dem")
    QgsProject.instance().addMapLayer(layer)
    target = output if output == "TEMPORARY_OUTPUT" else str(tmp_path / output)
    results = processing.runAndLoadResults(
        "riogrande:computemask", {"INPUT": layer.id(), "OUTPUT": target})
    loaded = [lyr for lyr in QgsProject.instance().mapLayers().values()
              if Path(lyr.source()) == Path(results["OUTPUT"])]
    assert [lyr.name() for lyr in loaded] == ["Compute nodata mask (my dem)"]
    assert QgsProject.instance().layerTreeRoot().findLayer(loaded[0].id()) is not None
    np.testing.assert_array_equal(read_output(results["OUTPUT"]),
                                  mask_reference(source, -9999.0, "all"))


def test_runs_in_a_background_task_like_the_toolbox(make_raster, riogrande_provider, tmp_path):
    from qgis.core import (
        QgsApplication,
        QgsProcessingAlgRunnerTask,
        QgsProcessingContext,
        QgsProcessingFeedback,
    )
    from qgis.PyQt.QtCore import QCoreApplication

    source = make_raster(width=300, height=200, nodata=-9999.0)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("riogrande:computemask")
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    progress: list[float] = []
    feedback.progressChanged.connect(progress.append)
    outcome: dict = {}
    params = {"INPUT": str(source), "BLOCK_SIZE": 64, "OUTPUT": str(tmp_path / "m.tif")}
    task = QgsProcessingAlgRunnerTask(algorithm, params, context, feedback)
    task.executed.connect(lambda ok, results: outcome.update(ok=ok, results=results))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + 60
    while "ok" not in outcome and time.monotonic() < deadline:
        QCoreApplication.processEvents()  # the task reports back through the event loop
        time.sleep(0.02)
    assert outcome.get("ok"), outcome
    expected = mask_reference(source, -9999.0, "all")
    np.testing.assert_array_equal(read_output(outcome["results"]["OUTPUT"]), expected)
    assert len(progress) > 2 and max(progress) == 100


@pytest.fixture
def not_a_python(tmp_path, monkeypatch):
    """``sys.executable`` and multiprocessing's default interpreter: a program that is
    not Python and records each call (as the QGIS binary would be inside QGIS)."""
    calls = tmp_path / "calls.log"
    program = tmp_path / "qgis-bin"
    program.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nexit 3\n")
    program.chmod(0o755)
    previous = multiprocessing.spawn.get_executable()
    monkeypatch.setattr(sys, "executable", str(program))
    multiprocessing.spawn.set_executable(str(program))
    yield calls
    multiprocessing.spawn.set_executable(previous)


def test_runs_when_sys_executable_is_not_python(not_a_python, make_raster, run_alg, tmp_path):
    source = make_raster(nodata=-9999.0)
    start_method = multiprocessing.get_start_method(allow_none=True)
    executable = multiprocessing.spawn.get_executable()
    results = run_alg("riogrande:computemask",
                      {"INPUT": str(source), "LOGIC": "any", "OUTPUT": str(tmp_path / "m.tif")})
    np.testing.assert_array_equal(read_output(results["OUTPUT"]),
                                  mask_reference(source, -9999.0, "any"))
    assert not not_a_python.exists(), not_a_python.read_text()
    # the caller's multiprocessing state is as it was
    assert multiprocessing.spawn.get_executable() == executable
    assert multiprocessing.get_start_method(allow_none=True) == start_method


def test_clear_error_when_no_interpreter_is_found(make_raster, run_alg, tmp_path, monkeypatch):
    empty = tmp_path / "no-python-here"
    empty.mkdir()
    monkeypatch.setattr(sys, "exec_prefix", str(empty))
    monkeypatch.setattr(sys, "base_exec_prefix", str(empty))
    monkeypatch.delenv("RIOGRANDE_PYTHON", raising=False)
    source = make_raster(nodata=-9999.0)
    output = tmp_path / "m.tif"
    with pytest.raises(QgsProcessingException) as raised:
        run_alg("riogrande:computemask", {"INPUT": str(source), "OUTPUT": str(output)})
    message = str(raised.value)
    assert "Python interpreter of this QGIS installation was not found" in message
    assert os.path.join(str(empty), "bin", "python") in message
    assert "RIOGRANDE_PYTHON" in message
    assert not output.exists()


@pytest.mark.parametrize("params, message", [
    ({"NODATA": 300}, "holds integers from 0 to 255"),
    ({"BANDS": [4]}, "band 4 does not exist"),
])
def test_bad_input_becomes_a_processing_error(params, message, make_raster, run_alg, tmp_path):
    source = make_raster(dtype="uint8", nodata=None, count=3)
    output = tmp_path / "m.tif"
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("riogrande:computemask", {"INPUT": str(source), "OUTPUT": str(output), **params})
    assert not output.exists()
