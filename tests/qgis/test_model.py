"""The algorithms in graphical models: computemask -> prepareselector, computemask -> calc."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterRasterLayer,
)

from riogrande.io.models import Band  # noqa: E402
from riogrande.masking import write_mask, write_selector  # noqa: E402
from tests.reference import mask_reference, read_all, selector_reference  # noqa: E402


def child(algorithm_id: str, child_id: str, sources: dict) -> QgsProcessingModelChildAlgorithm:
    step = QgsProcessingModelChildAlgorithm(algorithm_id)
    step.setChildId(child_id)
    step.setDescription(child_id)
    for name, source in sources.items():
        step.addParameterSources(name, [source])
    return step


def build_model() -> QgsProcessingModelAlgorithm:
    """raster -> computemask(bands 1, 2; any) -> prepareselector(bands 2, 3; extra = mask)."""
    model = QgsProcessingModelAlgorithm("mask then selector", "riogrande tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("raster", "Raster"),
                            QgsProcessingModelParameter("raster"))
    static = QgsProcessingModelChildParameterSource.fromStaticValue
    raster = QgsProcessingModelChildParameterSource.fromModelParameter("raster")
    mask = child("riogrande:computemask", "mask",
                 {"INPUT": raster, "BANDS": static([1, 2]), "LOGIC": static("any")})
    selector = child("riogrande:prepareselector", "selector", {
        "INPUT": raster, "BANDS": static([2, 3]),
        "EXTRA_MASK": QgsProcessingModelChildParameterSource.fromChildOutput("mask", "OUTPUT"),
    })
    output = QgsProcessingModelOutput("selector_raster")
    output.setChildId("selector")
    output.setChildOutputName("OUTPUT")
    selector.setModelOutputs({"selector_raster": output})
    model.addChildAlgorithm(mask)
    model.addChildAlgorithm(selector)
    return model


def test_model_chaining_both_algorithms(make_raster, run_alg, tmp_path):
    source = make_raster(width=123, height=91, nodata=-9999.0)
    model = build_model()
    results = run_alg(model, {"raster": str(source),
                              "selector:selector_raster": str(tmp_path / "model.tif")})
    with rasterio.open(results["selector:selector_raster"]) as src:
        produced = src.read(1)

    mask = write_mask(source, tmp_path / "mask.tif", nodata=-9999.0, logic="any", bands=[1, 2],
                      nbrcpu=1)
    library = write_selector(Band(source, 2), Band(source, 3), output=tmp_path / "sel.tif",
                             extra_masking_band=Band(mask.output, 1), nbrcpu=1)
    with rasterio.open(library.output) as src:
        np.testing.assert_array_equal(produced, src.read(1))
    expected = (selector_reference([(source, 2, "band"), (source, 3, "band")])
                & (mask_reference(source, -9999.0, "any", [1, 2]) == 1))
    np.testing.assert_array_equal(produced, expected.astype(np.uint8))
    assert 0 < expected.sum() < expected.size


def test_model_computemask_then_calc(make_raster, run_alg, tmp_path):
    """raster -> computemask(any) -> calc over [raster, mask]: where(b == 1, a[2], -1)."""
    model = QgsProcessingModelAlgorithm("mask then calc", "riogrande tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("raster", "Raster"),
                            QgsProcessingModelParameter("raster"))
    static = QgsProcessingModelChildParameterSource.fromStaticValue
    raster = QgsProcessingModelChildParameterSource.fromModelParameter("raster")
    mask = child("riogrande:computemask", "mask", {"INPUT": raster, "LOGIC": static("any")})
    calc = child("riogrande:calc", "calc", {"EXPRESSION": static("where(b == 1, a[2], -1)"),
                                            "NODATA": static(-9999)})
    calc.addParameterSources("INPUTS", [
        raster, QgsProcessingModelChildParameterSource.fromChildOutput("mask", "OUTPUT")])
    output = QgsProcessingModelOutput("calc_raster")
    output.setChildId("calc")
    output.setChildOutputName("OUTPUT")
    calc.setModelOutputs({"calc_raster": output})
    model.addChildAlgorithm(mask)
    model.addChildAlgorithm(calc)
    source = make_raster(width=120, height=80, count=3, nodata=-9999.0, seed=5)
    results = run_alg(model, {"raster": str(source), "calc:calc_raster": str(tmp_path / "m.tif")})
    data = read_all(source)
    expected = np.where((data != -9999.0).all(axis=0), data[1], -1).astype("float32")
    expected[data[1] == -9999.0] = -9999.0  # a[2] is nodata: the output's nodata
    with rasterio.open(results["calc:calc_raster"]) as src:
        np.testing.assert_array_equal(src.read(1), expected)
    assert (expected == -1).any()
