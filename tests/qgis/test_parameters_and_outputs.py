"""QGIS: output formats, optional WORKERS, the BLOCK_SIZE minimum, help texts, metadata,
output permissions and GDAL dataset names as INPUT."""

from __future__ import annotations

import configparser
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelParameter,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
)
from riogrande_qgis import compat  # noqa: E402

from tests.conftest import file_sha256  # noqa: E402
from tests.reference import leftovers, mask_reference, read_all  # noqa: E402
from tests.test_reliability_names import names  # noqa: E402

from .conftest import REPO  # noqa: E402

ALGORITHMS = ["riogrande:computemask", "riogrande:prepareselector"]


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps the informative messages of a run."""

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[str] = []

    def pushInfo(self, info: str) -> None:  # noqa: N802 (QGIS API)
        self.infos.append(info)
        super().pushInfo(info)


def registered(algorithm_id: str):
    """The algorithm as Processing holds it (it owns its parameter definitions for the session)."""
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById(algorithm_id)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------------- output formats


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name", ["out.jpg", "out.webp", "out.nc", "out.xyz", "out.tif.jpg"])
def test_output_in_another_format_is_refused(algorithm, name, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    before = {p.name: file_sha256(p) for p in tmp_path.iterdir()}
    output = tmp_path / name
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(algorithm, {"INPUT": str(source), "OUTPUT": str(output)})
    message = str(raised.value)
    assert name in message and "GeoTIFF (.tif" in message  # the formats that work are listed
    assert {p.name: file_sha256(p) for p in tmp_path.iterdir()} == before
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- WORKERS


@pytest.mark.parametrize("algorithm_id", ALGORITHMS)
def test_workers_is_optional_without_a_default(algorithm_id, riogrande_provider):
    definition = registered(algorithm_id).parameterDefinition("WORKERS")
    assert definition.flags() & compat.OPTIONAL
    assert definition.defaultValue() is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_workers_uses_every_cpu(algorithm, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    feedback = RecordingFeedback()
    results = run_alg(algorithm, {"INPUT": str(source), "OUTPUT": str(tmp_path / "o.tif")},
                      feedback=feedback)
    assert any(f", {usable_cpus()} worker " in info
               for info in feedback.infos), feedback.infos
    assert Path(results["OUTPUT"]).is_file()


def test_model_without_workers_validates(make_raster, run_alg, tmp_path):
    model = QgsProcessingModelAlgorithm("no workers", "riogrande tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("raster", "Raster"),
                            QgsProcessingModelParameter("raster"))
    raster = QgsProcessingModelChildParameterSource.fromModelParameter("raster")
    static = QgsProcessingModelChildParameterSource.fromStaticValue
    for algorithm_id, child_id in zip(ALGORITHMS, ("mask", "sel"), strict=True):
        step = QgsProcessingModelChildAlgorithm(algorithm_id)
        step.setChildId(child_id)
        step.addParameterSources("INPUT", [raster])
        # every mandatory parameter but WORKERS set, as the modeler's dialog fills them
        for definition in registered(algorithm_id).parameterDefinitions():
            mandatory = not definition.flags() & compat.OPTIONAL
            if mandatory and definition.name() not in ("INPUT", "OUTPUT", "WORKERS"):
                step.addParameterSources(definition.name(), [static(definition.defaultValue())])
        model.addChildAlgorithm(step)
        valid, issues = model.validateChildAlgorithm(child_id)
        assert valid, issues
    valid, issues = model.validate()
    assert valid, issues
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    assert run_alg(model, {"raster": str(source)}) is not None


# ------------------------------------------------------------------------ BLOCK_SIZE


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("side", [7, 16, 63])
def test_block_size_below_the_minimum_is_refused(algorithm, side, make_raster, run_alg,
                                                 tmp_path):
    # 64 itself and odd sizes above it run in tests/qgis/test_algorithms.py
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    output = tmp_path / "o.tif"
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(algorithm, {"INPUT": str(source), "BLOCK_SIZE": side, "OUTPUT": str(output)})
    assert "BLOCK_SIZE" in str(raised.value).upper()
    assert not output.exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------------- help texts


@pytest.mark.parametrize("algorithm_id", ALGORITHMS)
def test_help_speaks_of_the_dialogs_labels(algorithm_id, riogrande_provider):
    algorithm = registered(algorithm_id)
    text = algorithm.shortHelpString()
    labels = [definition.description() for definition in algorithm.parameterDefinitions()]
    for definition in algorithm.parameterDefinitions():
        if definition.name() == "COG":  # also the format's own name
            continue
        assert not re.search(rf"\b{definition.name()}\b", text), definition.name()
    quoted = re.findall(r"chosen in '([^']+)'", text)
    assert quoted
    for phrase in quoted:
        assert any(label.startswith(phrase) for label in labels), (phrase, labels)
    assert not re.search(r"\(\d+, \d+\)", text)  # reads as coordinates


def test_mask_help_example_is_in_band_values(riogrande_provider):
    text = registered("riogrande:computemask").shortHelpString()
    assert "band values are 0 and 7" in text
    assert "'Mask a pixel when … of the selected bands are nodata'" in text


def test_metadata_about_has_no_hard_line_breaks():
    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read(REPO / "metadata.txt", encoding="utf-8")
    about = metadata["general"]["about"]
    assert len(about) > 200 and "\n" not in about
    assert "rasterio" in about and "qgis_process" in about


# -------------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_gets_the_mode_of_open(umask, make_raster, run_alg, tmp_path):
    source = make_raster("input.tif", count=2, nodata=-9999.0)
    previous = os.umask(umask)
    try:
        with open(tmp_path / "reference", "w"):
            pass
        for algorithm in ALGORITHMS:
            output = tmp_path / f"{algorithm.split(':')[1]}.tif"
            run_alg(algorithm, {"INPUT": str(source), "OUTPUT": str(output)})
            assert stat.S_IMODE(output.stat().st_mode) == stat.S_IMODE(
                (tmp_path / "reference").stat().st_mode) == 0o666 & ~umask
    finally:
        os.umask(previous)


# ------------------------------------------------------------------- dataset names


def test_dataset_names_as_input(run_alg, tmp_path):
    """Layers of GDAL dataset names, as the desktop loads them (Add Raster Layer)."""
    found = names(tmp_path)
    assert "GTIFF_DIR" in found and "vsizip" in found
    for kind, (name, behind) in found.items():
        digest = file_sha256(behind)
        layer = QgsRasterLayer(name, kind, "gdal")
        assert layer.isValid(), name
        with rasterio.open(name) as src:
            nodata = src.nodata
        output = tmp_path / f"mask-{kind}.tif"
        results = run_alg("riogrande:computemask", {"INPUT": layer, "NODATA": nodata,
                                                    "LOGIC": "any", "OUTPUT": str(output)})
        np.testing.assert_array_equal(read_all(results["OUTPUT"])[0],
                                      mask_reference(name, nodata, "any"), err_msg=kind)
        selector = run_alg("riogrande:prepareselector",
                           {"INPUT": layer, "BANDS": [1],
                            "OUTPUT": str(tmp_path / f"s-{kind}.tif")})
        with rasterio.open(name) as src:
            expected = src.read_masks(1) != 0
        np.testing.assert_array_equal(read_all(selector["OUTPUT"])[0], expected.astype(np.uint8))
        assert file_sha256(behind) == digest
