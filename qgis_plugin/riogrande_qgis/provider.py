"""The Processing provider ``riogrande``: id, name, icon and its three algorithms."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import output_form
from .algorithms.calc import RasterCalculator
from .algorithms.compute_mask import ComputeMask
from .algorithms.prepare_selector import PrepareSelector
from .warm_pool import WARM_POOL

ICON = Path(__file__).resolve().parent / "icon.svg"


class RiograndeProvider(QgsProcessingProvider):
    """Groups the riogrande algorithms under ``riogrande:`` in Processing."""

    def id(self) -> str:
        """Stable provider id: algorithm ids are ``riogrande:<name>``."""
        return "riogrande"

    def name(self) -> str:
        """Name shown in the Processing Toolbox."""
        return "riogrande"

    def longName(self) -> str:  # noqa: N802 (QGIS API)
        """Longer name shown in the provider's tooltip."""
        return "riogrande: block-parallel nodata masks, valid-pixel selectors and raster calculator"

    def icon(self) -> QIcon:
        """Icon of the provider and its algorithms."""
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: N802 (QGIS API)
        """Path of the provider's SVG icon."""
        return str(ICON)

    def loadAlgorithms(self) -> None:  # noqa: N802 (QGIS API)
        """Add one instance of each algorithm."""
        self.addAlgorithm(ComputeMask())
        self.addAlgorithm(PrepareSelector())
        self.addAlgorithm(RasterCalculator())

    def unload(self) -> None:
        """Stop the workers kept between runs (the plugin is unloaded or QGIS exits)."""
        WARM_POOL.close()

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 (QGIS API)
        """The formats riogrande writes (GeoTIFF first, the default)."""
        return output_form.extensions()
