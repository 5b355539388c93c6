"""riogrande for QGIS: nodata masks and valid-pixel selectors in the Processing Toolbox.

This file must stay free of ``qgis`` imports: QGIS imports the plugin package
to call :func:`classFactory`, and nothing else should run at import time.
"""


def classFactory(iface):  # noqa: N802 (QGIS plugin entry point)
    """Return the plugin object QGIS loads (``iface`` is None under qgis_process)."""
    from .plugin import RiograndePlugin

    return RiograndePlugin(iface)
