"""``riogrande:prepareselector``: where every selected band is valid."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterRasterLayer,
)

from . import choices
from .base import RiograndeAlgorithm


class PrepareSelector(RiograndeAlgorithm):
    """Processing front end of :func:`riogrande.masking.write_selector`."""

    MASK_SOURCE = "MASK_SOURCE"
    EXTRA_MASK = "EXTRA_MASK"
    EXTRA_MASK_BAND = "EXTRA_MASK_BAND"
    #: Option shown to the user -> riogrande's mask reader.
    MASK_READERS = {"band": "band", "dataset": "source"}

    raster_parameters = (RiograndeAlgorithm.INPUT, EXTRA_MASK)

    def name(self) -> str:
        """Algorithm id within the provider."""
        return "prepareselector"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        """Name shown in the Toolbox."""
        return self.tr("Prepare valid-pixel selector")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        """Help shown beside the parameters."""
        return self.with_choices(self.tr(
            "Writes the valid-pixel selector of the selected bands: a GeoTIFF of type Byte, "
            "1 where every selected band is valid, 0 elsewhere (tiled, compressed). It is "
            "computed block by block by several worker processes and streamed into the file, "
            "so memory stays bounded whatever the raster size.\n\n"
            "Validity comes from GDAL's masks, as chosen in 'Validity of a band': band uses "
            "each band's own mask (its nodata value, or an internal mask), dataset uses the "
            "mask shared by all bands. An optional extra mask layer adds a condition: pixels "
            "where its band is 0 are not selected (its own nodata is ignored).\n"
            "Example, bands 1 and 2: band 1 valid and band 2 nodata gives 0; both valid gives "
            "1, or 0 where the extra mask band is 0.\n\n"
            "All inputs must be on the same grid (size, transform, CRS); otherwise the "
            "algorithm stops with an error: resample first (e.g. with Warp).\n"
            "Bands: empty = all bands. Block size: empty = a multiple of the file's tiles; at "
            "least 64. Worker processes: empty = all CPUs of the machine running the "
            "algorithm.\n\n"
            "Encoding: values = 1/0; nodata = the same with 0 as nodata, or with 'keep "
            "values' a copy of the selected bands with masked pixels at nodata; mask = a "
            "copy of the selected bands whose GDAL mask is the result; sidecar = the result "
            "as the input's .msk file (no other file is written); alpha = a copy with an alpha "
            "band. COG: a Cloud-Optimized GeoTIFF.\n"
            "Outputs the numbers of valid and masked pixels."
        ))

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:  # noqa: N802
        """Declare the parameters."""
        self.add_input_parameters()
        choices.add(self, choices.Choice(
            self.MASK_SOURCE, self.tr("Validity of a band"), tuple(self.MASK_READERS), "band",
            {"band": self.tr("its own mask"),
             "dataset": self.tr("the mask shared by all bands")}))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.EXTRA_MASK, self.tr("Extra mask layer (0 = not selected)"), optional=True,
        ))
        self.addParameter(QgsProcessingParameterBand(
            self.EXTRA_MASK_BAND, self.tr("Band of the extra mask layer"), 1, self.EXTRA_MASK,
            optional=True,
        ))
        self.add_run_parameters(self.tr("Selector"))

    def processAlgorithm(  # noqa: N802 (QGIS API)
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        """Compute the selector with :func:`riogrande.masking.write_selector`."""
        layer, path = self.raster_file(parameters, self.INPUT, context)
        indexes = (self.parameterAsInts(parameters, self.BANDS, context)
                   or list(range(1, layer.bandCount() + 1)))
        reader = self.MASK_READERS[choices.value(self, parameters, self.MASK_SOURCE, context)]
        _, extra_path = self.raster_file(parameters, self.EXTRA_MASK, context)
        extra_band = self.parameterAsInt(parameters, self.EXTRA_MASK_BAND, context) or 1
        output, form = self.output_and_form(parameters, context, layer)
        target = None if form["encoding"] == "sidecar" else output

        def call(engine: Any, **options: Any) -> Any:
            bands = []
            for index in indexes:
                band = engine.Band(path, index)
                band.set_mask_reader(reader)
                bands.append(band)
            extra = engine.Band(extra_path, extra_band) if extra_path else None
            return engine.masking.write_selector(
                *bands, output=target, extra_masking_band=extra, **form, **options)

        report = self.run_engine(call, parameters, context, feedback)
        return self.results(output, report, context, form)
