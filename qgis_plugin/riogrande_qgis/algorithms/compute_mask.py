"""``riogrande:computemask``: the nodata mask of a raster, over chosen bands."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterNumber,
)

from .. import compat
from . import choices
from .base import RiograndeAlgorithm


class ComputeMask(RiograndeAlgorithm):
    """Processing front end of :func:`riogrande.masking.write_mask`."""

    NODATA = "NODATA"
    LOGIC = "LOGIC"
    LOGICS = ["all", "any"]

    def name(self) -> str:
        """Algorithm id within the provider."""
        return "computemask"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        """Name shown in the Toolbox."""
        return self.tr("Compute nodata mask")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        """Help shown beside the parameters."""
        return self.with_choices(self.tr(
            "Writes the nodata mask of a raster: a GeoTIFF of type Byte, 1 = valid, "
            "0 = masked, tiled and compressed, on the grid of the input. The raster is read "
            "block by block by several worker processes, so big files are processed quickly "
            "and in bounded memory.\n\n"
            "A pixel is masked when all or any of the selected bands hold the nodata value, as "
            "chosen in 'Mask a pixel when … of the selected bands are nodata' (a NaN nodata "
            "matches NaN pixels).\n"
            "Example, bands 1 and 2, nodata 0: a pixel whose band values are 0 and 7 is valid "
            "with 'all' and masked with 'any'; band values 0 and 0 are masked with both; band "
            "values 3 and 7 are valid with both.\n\n"
            "Bands: empty = all bands. Nodata value: empty = the layer's nodata value, or 0 if "
            "it has none. Block size: empty = a multiple of the file's tiles; at least 64. "
            "Worker processes: empty = all CPUs of the machine running the algorithm.\n\n"
            "Encoding: values = 1/0; nodata = the same with 0 as nodata, or with 'keep "
            "values' a copy of the selected bands with masked pixels at nodata; mask = a "
            "copy of the input whose GDAL mask is the result (shown transparent); sidecar = "
            "the result as the input's .msk file (the input's bytes untouched; no other "
            "file is written); alpha = a copy with an alpha band (Byte/UInt16, 1 or 3 "
            "bands). "
            "COG: a Cloud-Optimized GeoTIFF. Creation options: GDAL's, e.g. COMPRESS=ZSTD.\n"
            "Outputs the numbers of valid and masked pixels."
        ))

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Declare the parameters."""
        self.add_input_parameters()
        self.addParameter(QgsProcessingParameterNumber(
            self.NODATA, self.tr("Nodata value (empty: the layer's nodata value, else 0)"),
            type=compat.DOUBLE, optional=True,
        ))
        choices.add(self, choices.Choice(
            self.LOGIC, self.tr("Mask a pixel when … of the selected bands are nodata"),
            tuple(self.LOGICS), "all"))
        self.add_run_parameters(self.tr("Mask"))

    def nodata(self, parameters: dict[str, Any], context: QgsProcessingContext) -> Any:
        """NODATA, else riogrande's ``"file"``: the file's nodata value, or 0."""
        if parameters.get(self.NODATA) is not None:
            return self.parameterAsDouble(parameters, self.NODATA, context)
        return "file"

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Compute the mask with :func:`riogrande.masking.write_mask`."""
        layer, path = self.raster_file(parameters, self.INPUT, context)
        bands = self.parameterAsInts(parameters, self.BANDS, context) or None
        nodata = self.nodata(parameters, context)
        logic = choices.value(self, parameters, self.LOGIC, context)
        output, form = self.output_and_form(parameters, context, layer)
        target = None if form["encoding"] == "sidecar" else output
        report = self.run_engine(
            lambda engine, **options: engine.masking.write_mask(
                path, target, bands=bands, nodata=nodata, logic=logic, **form, **options),
            parameters, context, feedback,
        )
        return self.results(output, report, context, form)
