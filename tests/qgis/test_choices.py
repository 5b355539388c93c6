"""Choice parameters (LOGIC, ENCODING, MASK_SOURCE, DATA_TYPE) say what they accept, and
accept the option's number as QGIS's own enums do, in processing.run, models and qgis_process.

QGIS 3.22 and 3.44 alike refuse a number for an enum of static strings
("Incorrect parameter value for LOGIC") although ``qgis_process help`` lists
the options by number and asks for the "Number of selected option".
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("qgis.core")

import rasterio  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsProcessingException,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterEnum,
    QgsProcessingParameterRasterLayer,
)

from tests.qgis.test_qgis_process import installed, qgis_process, run_json  # noqa: E402, F401
from tests.reference import leftovers, mask_reference, read_all  # noqa: E402

#: Every choice of every algorithm: its options in order and its default, as scripts and
#: saved models know them.
CHOICES = {
    ("riogrande:computemask", "LOGIC"): (["all", "any"], "all"),
    ("riogrande:computemask", "ENCODING"): (["values", "nodata", "mask", "sidecar", "alpha"],
                                            "values"),
    ("riogrande:prepareselector", "MASK_SOURCE"): (["band", "dataset"], "band"),
    ("riogrande:prepareselector", "ENCODING"): (
        ["values", "nodata", "mask", "sidecar", "alpha"], "values"),
    ("riogrande:calc", "DATA_TYPE"): (
        ["float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32"],
        "float32"),
}


def definition(algorithm_id: str, name: str):
    return QgsApplication.processingRegistry().algorithmById(algorithm_id).parameterDefinition(
        name)


def numbered(options: list[str]) -> str:
    return ", ".join(f"{number} = {option}" for number, option in enumerate(options))


@pytest.mark.parametrize("key", CHOICES, ids=[f"{a}-{n}" for a, n in CHOICES])
def test_each_choice_names_its_options_where_a_user_looks(key, riogrande_provider):
    algorithm_id, name = key
    options, default = CHOICES[key]
    parameter = definition(algorithm_id, name)
    assert isinstance(parameter, QgsProcessingParameterEnum)
    # what saved models and scripts rely on is unchanged: the options' text, the default
    assert parameter.usesStaticStrings() and not parameter.allowMultiple()
    assert parameter.options() == options and parameter.defaultValue() == default
    for option in options:  # the dialog's label and qgis_process help's first line
        assert re.search(rf"\b{option}\b", parameter.description()), (option,
                                                                      parameter.description())
    assert parameter.help() == (f"One of: {', '.join(options)}; or the option's number: "
                                f"{numbered(options)}. Default: {default}.")
    assert parameter.help() in parameter.toolTip()  # the dialog's tooltip of the widget
    algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
    listed = ", ".join(f"{option} ({number})" for number, option in enumerate(options))
    assert listed in algorithm.shortHelpString()  # the dialog's help panel


@pytest.fixture
def source(make_raster):
    return make_raster("src.tif", width=150, height=110, count=3, nodata=-9999.0, mask=True)


@pytest.mark.parametrize("logic", [1, "1", " 1 ", 1.0])
def test_logic_by_number_is_the_option(logic, source, run_alg, tmp_path):
    results = run_alg("riogrande:computemask", {"INPUT": str(source), "LOGIC": logic,
                                                "OUTPUT": str(tmp_path / "m.tif")})
    expected = mask_reference(source, -9999.0, "any")
    assert not np.array_equal(expected, mask_reference(source, -9999.0, "all"))
    np.testing.assert_array_equal(read_all(results["OUTPUT"])[0], expected)


def test_every_choice_by_number(source, make_raster, run_alg, tmp_path):
    mask = run_alg("riogrande:computemask", {"INPUT": str(source), "LOGIC": 0, "ENCODING": 1,
                                             "OUTPUT": str(tmp_path / "nodata.tif")})
    with rasterio.open(mask["OUTPUT"]) as written:  # nodata: 0 is the output's nodata
        assert written.nodata == 0
        np.testing.assert_array_equal(written.read(1), mask_reference(source, -9999.0, "all"))
    plain = make_raster("plain.tif", width=150, height=110, count=3, nodata=-9999.0)
    selector = run_alg("riogrande:prepareselector", {"INPUT": str(plain), "BANDS": [1],
                                                     "MASK_SOURCE": "1",
                                                     "OUTPUT": str(tmp_path / "s.tif")})
    with rasterio.open(plain) as src:  # dataset: valid where any band is
        dataset = src.dataset_mask() != 0
        assert not np.array_equal(dataset, src.read_masks(1) != 0)
    np.testing.assert_array_equal(read_all(selector["OUTPUT"])[0], dataset.astype(np.uint8))
    calc = run_alg("riogrande:calc", {"INPUTS": [str(source)], "EXPRESSION": "a[1] > 50",
                                      "DATA_TYPE": 2, "NODATA": 255,
                                      "OUTPUT": str(tmp_path / "c.tif")})
    with rasterio.open(calc["OUTPUT"]) as written:
        assert written.dtypes == ("uint8",)


@pytest.mark.parametrize("logic", [2, "2", -1, 1.5, "some", "ALL", True])
def test_what_names_no_option_is_refused_with_the_accepted_values(logic, source, run_alg,
                                                                  tmp_path):
    output = tmp_path / "m.tif"
    with pytest.raises(QgsProcessingException) as raised:
        run_alg("riogrande:computemask", {"INPUT": str(source), "LOGIC": logic,
                                          "OUTPUT": str(output)})
    message = str(raised.value)
    assert "LOGIC" in message and "all, any" in message and "0 = all, 1 = any" in message
    assert not output.exists() and leftovers(tmp_path) == []


def test_the_option_itself_and_the_default_still_work(source, run_alg, tmp_path):
    given = run_alg("riogrande:computemask", {"INPUT": str(source), "LOGIC": "any",
                                              "OUTPUT": str(tmp_path / "any.tif")})
    default = run_alg("riogrande:computemask", {"INPUT": str(source),
                                                "OUTPUT": str(tmp_path / "all.tif")})
    np.testing.assert_array_equal(read_all(given["OUTPUT"])[0],
                                  mask_reference(source, -9999.0, "any"))
    np.testing.assert_array_equal(read_all(default["OUTPUT"])[0],
                                  mask_reference(source, -9999.0, "all"))


def test_a_models_enum_input_gives_the_number(source, run_alg, tmp_path):
    """A model's own choice input (QGIS's enum: a number) drives LOGIC; an expression too."""
    model = QgsProcessingModelAlgorithm("logic from the model", "riogrande tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("raster", "Raster"),
                            QgsProcessingModelParameter("raster"))
    model.addModelParameter(QgsProcessingParameterEnum("logic", "Logic", ["all", "any"]),
                            QgsProcessingModelParameter("logic"))
    source_of = QgsProcessingModelChildParameterSource
    steps = {"by_input": source_of.fromModelParameter("logic"),
             "by_expression": source_of.fromExpression("2 - 1")}
    for child_id, logic in steps.items():
        step = QgsProcessingModelChildAlgorithm("riogrande:computemask")
        step.setChildId(child_id)
        step.addParameterSources("INPUT", [source_of.fromModelParameter("raster")])
        step.addParameterSources("LOGIC", [logic])
        output = QgsProcessingModelOutput(f"{child_id}_mask")
        output.setChildId(child_id)
        output.setChildOutputName("OUTPUT")
        step.setModelOutputs({f"{child_id}_mask": output})
        model.addChildAlgorithm(step)
    results = run_alg(model, {"raster": str(source), "logic": 1,
                              **{f"{child}:{child}_mask": str(tmp_path / f"{child}.tif")
                                 for child in steps}})
    expected = mask_reference(source, -9999.0, "any")
    for child in steps:
        np.testing.assert_array_equal(read_all(results[f"{child}:{child}_mask"])[0], expected)


# ----------------------------------------------------------------------- qgis_process


def help_json(env: dict, algorithm_id: str) -> dict:
    done = qgis_process(env, "--json", "help", algorithm_id)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


@pytest.mark.parametrize("algorithm_id", sorted({key[0] for key in CHOICES}))
def test_qgis_process_help_says_what_each_choice_accepts(installed, algorithm_id):  # noqa: F811
    parameters = help_json(installed["env"], algorithm_id)["parameters"]
    text = qgis_process(installed["env"], "help", algorithm_id).stdout
    for (owner, name), (options, default) in CHOICES.items():
        if owner != algorithm_id:
            continue
        described = parameters[name]
        assert all(option in described["description"] for option in options)
        expected = (f"One of: {', '.join(options)}; or the option's number: "
                    f"{numbered(options)}. Default: {default}.")
        assert described["help"] == expected
        section = text[text.index(f"\n{name}: "):].split("\n")
        assert f"\t{expected}" in section[1:4], section[:4]  # printed under the parameter


def test_qgis_process_takes_the_number(installed, make_raster, tmp_path):  # noqa: F811
    source = make_raster(width=140, height=90, count=3, nodata=-9999.0)
    output = tmp_path / "mask.tif"
    answer = run_json(installed["env"], "riogrande:computemask", f"INPUT={source}", "LOGIC=1",
                      "ENCODING=0", f"OUTPUT={output}")
    expected = mask_reference(source, -9999.0, "any")
    np.testing.assert_array_equal(read_all(output)[0], expected)
    assert answer["results"]["VALID_PIXELS"] == int(expected.sum())


def test_qgis_process_refuses_a_number_out_of_range(installed, make_raster,  # noqa: F811
                                                    tmp_path):
    output = tmp_path / "mask.tif"
    done = qgis_process(installed["env"], "run", "riogrande:computemask", "--",
                        f"INPUT={make_raster()}", "LOGIC=5", f"OUTPUT={output}")
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "LOGIC" in message and "0 = all, 1 = any" in message
    assert not output.exists()
