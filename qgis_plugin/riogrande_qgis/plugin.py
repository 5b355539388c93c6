"""The plugin object: registers the Processing provider, nothing more."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .provider import RiograndeProvider


class RiograndePlugin:
    """Adds the riogrande provider to Processing (desktop and qgis_process).

    Parameters
    ----------
    iface : QgisInterface or None
        The desktop interface; None when loaded by ``qgis_process``.
    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: RiograndeProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 (QGIS API)
        """Register the provider (called by qgis_process, and by :meth:`initGui`)."""
        if self.provider is None:
            self.provider = RiograndeProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        """Desktop start-up: the algorithms live in the Processing Toolbox only."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider when the plugin is disabled or reloaded."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
