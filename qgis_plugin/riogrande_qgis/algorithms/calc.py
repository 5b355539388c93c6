"""``riogrande:calc``: a raster calculator expression over several layers, block-parallel."""

from __future__ import annotations

import os
import string
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from .. import compat
from ..dependencies import dependency_problem, load_engine
from . import choices, output_form
from .base import RiograndeAlgorithm

#: Names of the input layers in the expression, in the order they are given.
NAMES = string.ascii_lowercase


def is_temporary(output: str) -> bool:
    """Whether ``output`` is a temporary output of QGIS (deleted when the session ends)."""
    folder = os.path.realpath(QgsProcessingUtils.tempFolder())
    try:
        return os.path.commonpath([os.path.realpath(output), folder]) == folder
    except ValueError:  # another drive (Windows)
        return False


class RasterCalculator(RiograndeAlgorithm):
    """Processing front end of :func:`riogrande.expression.calculate`."""

    INPUTS = "INPUTS"
    EXPRESSION = "EXPRESSION"
    DATA_TYPE = "DATA_TYPE"
    NODATA = "NODATA"
    DATA_TYPES = ["float32", "float64", "uint8", "int8", "uint16", "int16", "uint32", "int32"]

    raster_parameters: tuple[str, ...] = ()
    in_threads = True  # numpy evaluates the expression, releasing the GIL

    def name(self) -> str:
        """Algorithm id within the provider."""
        return "calc"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        """Name shown in the Toolbox."""
        return self.tr("Raster calculator (block-parallel)")

    def group(self) -> str:
        """Toolbox group."""
        return self.tr("Raster analysis")

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        """Stable group id."""
        return "rasteranalysis"

    def tags(self) -> list[str]:
        """Search keywords."""
        return ["calculator", "expression", "algebra", "ndvi", "parallel", "block", "rasterio"]

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        """Help shown beside the parameters."""
        return self.with_choices(self.tr(
            "Evaluates an expression over raster layers, block by block, in several worker "
            "threads, into a tiled GeoTIFF on the grid of the first layer (its compression "
            "too).\n\n"
            "The input layers are named a, b, c... in the order given. In the expression, a "
            "is band 1 of a single-band layer (all bands of a multi-band one) and a[2] its "
            "band 2. Allowed: numbers, nan, inf, pi, e; + - * / // % **; comparisons; and, or, "
            "not (element-wise), & | ~; the functions where, sqrt, log, log10, log2, log1p, "
            "exp, abs, sin, cos, tan, arcsin, arccos, arctan, arctan2, floor, ceil, round, "
            "minimum, maximum, clip, isnan, isfinite, isinf, logical_and, logical_or, "
            "logical_not, logical_xor. Nothing else is evaluated; a mistake is reported with "
            "its column before any work.\n"
            "Examples: (b - a) / (b + a) for an NDVI of a red (a) and a near-infrared (b) "
            "layer; where(a > 1000, 2, where(a > 500, 1, 0)) for classes.\n\n"
            "Where a band the expression reads is nodata, the output is nodata: NODATA, "
            "empty = NaN for a floating point data type, else the type's extreme value (the "
            "lowest of a signed type, the highest of an unsigned one). A valid result equal "
            "to the nodata value is counted and reported as a warning. Integer bands are "
            "computed as 64-bit floats. All layers must share size, transform and CRS.\n"
            "COG: a Cloud-Optimized GeoTIFF, with overviews. Creation options (advanced): GDAL's, "
            "over the defaults, e.g. COMPRESS=NONE to write fastest (as QGIS's own raster "
            "calculator writes), COMPRESS=ZSTD|ZSTD_LEVEL=1 for a file nearly as small as "
            "DEFLATE's in less time. A temporary output (deleted when QGIS closes) is written "
            "uncompressed unless creation options are given.\n"
            "Block size: empty = a multiple of the file's tiles. Workers (threads of QGIS's "
            "process): default all CPUs."
        ))

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Declare the parameters."""
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUTS, self.tr("Input rasters (named a, b, c... in this order)"),
            layerType=compat.RASTER,
        ))
        self.addParameter(QgsProcessingParameterString(
            self.EXPRESSION, self.tr("Expression, e.g. (b - a) / (b + a)"),
        ))
        choices.add(self, choices.Choice(
            self.DATA_TYPE, self.tr("Output data type"), tuple(self.DATA_TYPES), "float32"))
        self.addParameter(QgsProcessingParameterNumber(
            self.NODATA, self.tr("Output nodata value (empty: NaN, or the integer type's "
                                 "extreme)"),
            type=compat.DOUBLE, optional=True,
        ))
        output_form.add_file_form_parameters(self, "COMPRESS=NONE (fastest), "
                                                   "COMPRESS=ZSTD|ZSTD_LEVEL=1")
        self.add_run_parameters(self.tr("Calculated raster"), mask_output=False)

    # -- checks before running -----------------------------------------------------------

    def checkParameterValues(  # noqa: N802 (QGIS API)
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[bool, str]:
        """Check the layers (GDAL files, at most 26) and the expression, before any work."""
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        layers = self.parameterAsLayerList(parameters, self.INPUTS, context)
        if not layers:
            return False, self.tr("Give at least one input raster")
        if len(layers) > len(NAMES):
            return False, self.tr("At most {} input rasters").format(len(NAMES))
        for layer in layers:
            if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
                return False, self.tr(
                    "{} is not a raster file; riogrande reads raster files through GDAL only"
                ).format(layer.name())
        if dependency_problem() is None:
            engine = load_engine()
            if parameters.get(self.OUTPUT) is not None:
                output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
                cog = self.parameterAsBool(parameters, output_form.COG, context)
                if output and not output.startswith("memory:"):
                    try:
                        engine.outputs.check_derived_format(output, cog)
                    except engine.RiograndeError as error:
                        return False, str(error)
            counts = dict(zip(NAMES, (layer.bandCount() for layer in layers), strict=False))
            try:
                engine.expression.Expression(
                    self.parameterAsString(parameters, self.EXPRESSION, context), counts)
            except engine.RiograndeError as error:
                return False, str(error)
        return True, ""

    # -- running -------------------------------------------------------------------------

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Evaluate the expression with :func:`riogrande.expression.calculate`."""
        layers = self.parameterAsLayerList(parameters, self.INPUTS, context)
        inputs = {name: self.layer_file(layer)
                  for name, layer in zip(NAMES, layers, strict=False)}
        expression = self.parameterAsString(parameters, self.EXPRESSION, context)
        dtype = choices.value(self, parameters, self.DATA_TYPE, context)
        nodata = None
        if parameters.get(self.NODATA) is not None:
            nodata = self.parameterAsDouble(parameters, self.NODATA, context)
        output = self.output_file(parameters, context, layers[0])
        form = output_form.file_form(self, parameters, context)
        if not form["creation_options"] and not form["cog"] and is_temporary(output):
            form["creation_options"] = {"COMPRESS": "NONE"}  # deleted with the session
        feedback.pushInfo(self.tr("Inputs: {}").format(
            ", ".join(f"{name} = {path}" for name, path in inputs.items())))
        report = self.run_engine(
            lambda engine, **options: engine.expression.calculate(
                expression, inputs, output, dtype=dtype, nodata=nodata, **form, **options),
            parameters, context, feedback,
        )
        if report.nodata_collisions:
            feedback.pushWarning(self.tr(
                "{:,} valid pixel(s) of the result hold the nodata value {} and read back as "
                "nodata; choose another nodata value").format(report.nodata_collisions,
                                                              report.nodata))
        return {self.OUTPUT: output}

    def summary(self, report: Any) -> str:
        """What the log says when the run ends."""
        return self.tr("{} band(s) of {}, nodata {}; {} blocks of {} x {} pixels in {:.2f} s"
                       ).format(report.count, report.dtype, report.nodata, report.views,
                                *report.block_size, report.seconds)
