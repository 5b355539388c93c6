"""Import the riogrande engine lazily, with install instructions when it cannot be.

The provider must load even when rasterio is missing, so that the algorithms
can explain how to install it instead of failing with a traceback. The
plugin zip carries a copy of the pure-Python ``riogrande`` package inside the
plugin folder; it is used only when no ``riogrande`` is installed. The
folder is appended to ``sys.path``, which worker processes inherit, so they
import the same copy. This module does not import QGIS.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

PLUGIN_DIR = Path(__file__).resolve().parent


class MissingDependencyError(ImportError):
    """riogrande or one of its dependencies (rasterio, numpy) cannot be imported."""


def _import_engine() -> ModuleType:
    import riogrande
    import riogrande.expression  # noqa: F401 (the calculator)
    import riogrande.masking  # noqa: F401 (imports rasterio and numpy)

    return riogrande


def _install_help(error: ImportError, python: str) -> str:
    return (
        "The riogrande algorithms need the Python package rasterio, which the Python of this "
        f"QGIS cannot import ({error}).\n"
        "Install rasterio for the Python that QGIS uses, then restart QGIS:\n"
        "- Debian, Ubuntu: sudo apt install python3-rasterio\n"
        "- Windows (OSGeo4W network installer, or the installer of a standalone QGIS): run "
        "the OSGeo4W setup, choose Advanced Install and add the package python3-rasterio\n"
        f"- macOS and other installations: {python} -m pip install rasterio"
    )


def _qgis_python() -> str:
    from .interpreter import InterpreterNotFoundError, find_python

    try:
        return find_python()
    except InterpreterNotFoundError:
        return "<QGIS's python>"


def load_engine() -> ModuleType:
    """Import and return the ``riogrande`` package.

    Returns
    -------
    module
        ``riogrande``, with :mod:`riogrande.masking` imported.

    Raises
    ------
    MissingDependencyError
        With instructions to install rasterio for this QGIS.
    """
    try:
        return _import_engine()
    except ImportError as error:
        bundled = (PLUGIN_DIR / "riogrande").is_dir()
        if getattr(error, "name", None) != "riogrande" or not bundled:
            raise MissingDependencyError(_install_help(error, _qgis_python())) from error
    if str(PLUGIN_DIR) not in sys.path:
        sys.path.append(str(PLUGIN_DIR))  # last: an installed riogrande keeps precedence
        importlib.invalidate_caches()
    try:
        return _import_engine()
    except ImportError as error:
        raise MissingDependencyError(_install_help(error, _qgis_python())) from error


def dependency_problem() -> str | None:
    """Return why the algorithms cannot run, or None when the engine imports."""
    try:
        load_engine()
    except MissingDependencyError as error:
        return str(error)
    return None
