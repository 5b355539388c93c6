"""The form of an algorithm's output: ENCODING, KEEP_VALUES, COG, CREATION_OPTIONS.

The choices are those of riogrande (:mod:`riogrande.outputs`), so the plugin
offers exactly what the library writes, and every check of an output is the
library's own, run when the algorithm runs.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterString,
)

from .. import compat
from ..dependencies import MissingDependencyError, load_engine
from . import choices

ENCODING = "ENCODING"
KEEP_VALUES = "KEEP_VALUES"
COG = "COG"
CREATION_OPTIONS = "CREATION_OPTIONS"


#: The encodings and the output file extensions riogrande writes
#: (``riogrande.outputs.ENCODINGS``, ``riogrande.outputs.supported_extensions()``; a test
#: keeps them equal). Written out here so that loading the provider, at every QGIS start,
#: does not import riogrande, rasterio and numpy (0.2 s); they are imported on the first run.
ENCODINGS = ("values", "nodata", "mask", "sidecar", "alpha")
EXTENSIONS = ("tif", "tiff", "png")


def _outputs() -> Any:
    """``riogrande.outputs``, or None when riogrande cannot be imported."""
    try:
        load_engine()
    except MissingDependencyError:
        return None
    import riogrande.outputs

    return riogrande.outputs


def encodings() -> list[str]:
    """The encodings riogrande writes."""
    return list(ENCODINGS)


def extensions() -> list[str]:
    """Extensions (without the dot) of the formats riogrande writes, GeoTIFF first."""
    return list(EXTENSIONS)


def output_format_problem(path: str, cog: bool) -> str | None:
    """Why riogrande cannot write ``path`` (None when it can): the one format check."""
    outputs = _outputs()
    if outputs is None or not path or path.startswith("memory:"):
        return None
    try:
        outputs.output_format(path, cog=cog)
    except outputs.formats.OutputFormatError as error:  # the library's own check
        return str(error)
    return None


def add_output_form_parameters(algorithm: QgsProcessingAlgorithm) -> None:
    """Declare ENCODING, KEEP_VALUES, COG and CREATION_OPTIONS (advanced)."""
    tr = algorithm.tr
    choices.add(algorithm, choices.Choice(
        ENCODING, tr("Output encoding"), tuple(encodings()), "values",
        {"values": tr("1/0"), "nodata": tr("0 as nodata"),
         "mask": tr("copy with the result as GDAL mask"), "sidecar": tr("the input's .msk file"),
         "alpha": tr("copy with an alpha band")}))
    algorithm.addParameter(QgsProcessingParameterBoolean(
        KEEP_VALUES, tr("With encoding nodata: keep the bands' values, masked pixels set to "
                        "nodata"), defaultValue=False,
    ))
    add_file_form_parameters(algorithm)


def add_file_form_parameters(algorithm: QgsProcessingAlgorithm, example: str = "COMPRESS=ZSTD|"
                             "PREDICTOR=2") -> None:
    """Declare COG and CREATION_OPTIONS (advanced)."""
    tr = algorithm.tr
    algorithm.addParameter(QgsProcessingParameterBoolean(
        COG, tr("Write a Cloud-Optimized GeoTIFF (tiled, with overviews)"), defaultValue=False,
    ))
    algorithm.addParameter(compat.set_advanced(QgsProcessingParameterString(
        CREATION_OPTIONS, tr("GDAL creation options (KEY=VALUE separated by |, e.g. {})"
                             ).format(example), optional=True,
    )))


def output_form(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext
) -> dict[str, Any]:
    """riogrande's output keywords: encoding, keep_values, cog, creation_options."""
    return {
        "encoding": choices.value(algorithm, parameters, ENCODING, context),
        "keep_values": algorithm.parameterAsBool(parameters, KEEP_VALUES, context),
        **file_form(algorithm, parameters, context),
    }


def file_form(
    algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext
) -> dict[str, Any]:
    """riogrande's keywords ``cog`` and ``creation_options`` (parsed from KEY=VALUE|...)."""
    text = algorithm.parameterAsString(parameters, CREATION_OPTIONS, context) or ""
    engine = load_engine()
    try:
        options = engine.outputs.parse_creation_options(
            item for item in text.split("|") if item.strip())
    except engine.errors.CreationOptionError as error:
        raise QgsProcessingException(str(error)) from None
    return {"cog": algorithm.parameterAsBool(parameters, COG, context),
            "creation_options": options}


def skip_loading(context: QgsProcessingContext, output: str) -> None:
    """Do not load ``output`` as a layer on completion (a sidecar writes no OUTPUT)."""
    layers = context.layersToLoadOnCompletion()
    if output in layers:
        del layers[output]
        context.setLayersToLoadOnCompletion(layers)
