"""QGIS 4 (Qt6) readiness, checked on the sources: runs with or without QGIS.

QGIS 4 is not packaged for the test machines, so what it needs is checked
statically (``tests/qgis/qt6_rules.py``): the metadata that lets its Plugin
Manager offer the plugin, and sources free of what PyQt6 and QGIS 4 dropped.
The rules themselves are tested on small sources that break each one.
"""

from __future__ import annotations

import configparser

import pytest

from tests.qgis.conftest import REPO
from tests.qgis.qt6_rules import check_source, check_tree

PLUGIN = REPO / "qgis_plugin" / "riogrande_qgis"


def metadata() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    return parser["general"]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().split("."))


def test_metadata_declares_qt6_and_a_range_from_322_through_4x():
    general = metadata()
    assert general.getboolean("supportsQt6") is True
    assert version(general["qgisMinimumVersion"]) == (3, 22)
    maximum = version(general["qgisMaximumVersion"])
    assert (4, 0) <= maximum and maximum[0] == 4  # every 4.x, no 5


def test_the_plugins_sources_break_no_qt6_rule():
    sources = sorted(PLUGIN.rglob("*.py"))
    assert len(sources) >= 10  # the whole plugin is read
    assert check_tree(PLUGIN) == []


def test_the_compatibility_module_names_old_enums_only_as_fallbacks():
    text = (PLUGIN / "compat.py").read_text(encoding="utf-8")
    assert "QgsProcessingParameterNumber.Integer" in text  # it does name them...
    assert check_source(text, "compat.py") == []  # ...but each behind its scoped name


BROKEN = {
    "exec_": ("def run(dialog):\n    return dialog.exec_()\n", "exec_"),
    "print_": ("def run(view, printer):\n    view.print_(printer)\n", "print_"),
    "unscoped Qt enum": ("from qgis.PyQt.QtCore import Qt\nALIGN = Qt.AlignLeft\n",
                         "Qt.AlignLeft"),
    "unscoped widget enum": ("from qgis.PyQt.QtWidgets import QMessageBox\n"
                             "def ok(box):\n    return box.result() == QMessageBox.Ok\n",
                             "QMessageBox.Ok"),
    "unscoped QGIS enum": ("from qgis.core import QgsProcessingParameterNumber\n"
                           "KIND = QgsProcessingParameterNumber.Integer\n",
                           "QgsProcessingParameterNumber.Integer"),
    "unscoped QGIS flag": ("from qgis.core import QgsProcessingParameterDefinition\n"
                           "def advanced(p):\n"
                           "    p.setFlags(p.flags() | QgsProcessingParameterDefinition"
                           ".FlagAdvanced)\n", "FlagAdvanced"),
    "scoped Qgis enum outside the compatibility module": (
        "from qgis.core import Qgis\nRASTER = Qgis.ProcessingSourceType.Raster\n",
        "Qgis.ProcessingSourceType"),
    "QVariant type constant": ("from qgis.PyQt.QtCore import QVariant\nKIND = QVariant.Int\n",
                               "QVariant.Int"),
    "QRegExp import": ("from qgis.PyQt.QtCore import QRegExp\n", "QRegExp"),
    "QRegExp use": ("import qgis.PyQt.QtCore as C\nPATTERN = C.QRegExp('a+')\n", "QRegExp"),
    "QAction from QtWidgets": ("from qgis.PyQt.QtWidgets import QAction\n", "QAction"),
    "PyQt5 directly": ("from PyQt5.QtCore import QCoreApplication\n", "PyQt5"),
    "PyQt6 directly": ("import PyQt6.QtCore\n", "PyQt6"),
    "compiled resources import": ("from . import resources\n", "resources"),
    "compiled resource path": ("from qgis.PyQt.QtGui import QIcon\n"
                               "ICON = QIcon(':/plugins/riogrande/icon.svg')\n", ":/plugins"),
    "bare number for an enum": (
        "from qgis.core import QgsProcessingParameterNumber\n"
        "P = QgsProcessingParameterNumber('N', 'n', type=1)\n", "type=1"),
    "unguarded old name in the compatibility module": (
        "from qgis.core import QgsProcessing\nRASTER = QgsProcessing.TypeRaster\n",
        "QgsProcessing.TypeRaster"),
}


@pytest.mark.parametrize("case", BROKEN, ids=BROKEN.keys())
def test_each_rule_catches_what_it_forbids(case):
    source, named = BROKEN[case]
    found = check_source(source, "compat.py" if "in the compatibility module" in case
                         else "module.py")
    assert len(found) == 1, found
    assert named in found[0].rule and found[0].line >= 1


ALLOWED = {
    "scoped Qt enum": "from qgis.PyQt.QtCore import Qt\nALIGN = Qt.AlignmentFlag.AlignLeft\n",
    "exec": "def run(dialog):\n    return dialog.exec()\n",
    "constants": ("from qgis.core import Qgis, QgsProcessing\n"
                  "OUT = QgsProcessing.TEMPORARY_OUTPUT\nV = Qgis.QGIS_VERSION_INT\n"),
    "nested class built": ("from qgis.core import QgsProcessingContext\n"
                           "def details(p):\n"
                           "    return QgsProcessingContext.LayerDetails('n', p, 'OUT')\n"),
    "methods": ("from qgis.core import QgsApplication\n"
                "REGISTRY = QgsApplication.processingRegistry\n"),
    "enum member through the compatibility module": (
        "from qgis.core import QgsProcessingParameterNumber\nfrom . import compat\n"
        "P = QgsProcessingParameterNumber('N', 'n', type=compat.INTEGER)\n"),
    "QAction from QtGui": "from qgis.PyQt.QtGui import QAction\n",
    "sip through qgis.PyQt": "from qgis.PyQt import sip\n",
}


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_what_runs_on_qt5_and_qt6_is_allowed(source):
    assert check_source(source, "module.py") == []


def test_guarded_fallbacks_are_allowed_in_the_compatibility_module_only():
    source = ("from qgis.core import Qgis, QgsProcessing\n"
              "_TYPE = getattr(Qgis, 'ProcessingSourceType', None)\n"
              "RASTER = _TYPE.Raster if _TYPE else QgsProcessing.TypeRaster\n")
    assert check_source(source, "compat.py") == []
    assert [v.rule for v in check_source(source, "module.py")] == [
        "uses the unscoped enum QgsProcessing.TypeRaster (gone in Qt6 / QGIS 4): use the "
        "compatibility module or the scoped form"]


def test_compiled_resource_files_are_found(tmp_path):
    (tmp_path / "resources.py").write_text("x = 1\n")
    (tmp_path / "icons.qrc").write_text("<RCC/>\n")
    (tmp_path / "ok.py").write_text("from qgis.PyQt.QtCore import Qt\n")
    assert sorted(str(v) for v in check_tree(tmp_path)) == [
        "icons.qrc:0: ships compiled Qt resources", "resources.py:0: ships compiled Qt resources"]


def test_the_compatibility_module_gives_this_qgiss_own_names():
    """In QGIS: the scoped names where they exist (3.36+), the old ones before."""
    qgis_core = pytest.importorskip("qgis.core")
    from riogrande_qgis import compat

    scoped = getattr(qgis_core.Qgis, "ProcessingNumberParameterType", None)
    if scoped is not None:
        assert compat.INTEGER == qgis_core.Qgis.ProcessingNumberParameterType.Integer
        assert compat.RASTER == qgis_core.Qgis.ProcessingSourceType.Raster
        assert compat.ADVANCED == qgis_core.Qgis.ProcessingParameterFlag.Advanced
    else:
        assert compat.INTEGER == qgis_core.QgsProcessingParameterNumber.Integer
        assert compat.RASTER == qgis_core.QgsProcessing.TypeRaster
        assert compat.ADVANCED == qgis_core.QgsProcessingParameterDefinition.FlagAdvanced
    assert compat.DOUBLE != compat.INTEGER and compat.OPTIONAL != compat.ADVANCED
