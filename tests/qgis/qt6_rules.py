"""What keeps the plugin's sources loadable by QGIS 4 (Qt6, PyQt6) as well as QGIS 3 (Qt5).

Checked on the sources alone (:mod:`ast`), so the rules hold in every test
environment, with or without QGIS. The rules, after the QGIS migration
guide for plugins that run on Qt5 and Qt6:

* Qt comes through ``qgis.PyQt`` only, never ``PyQt5``/``PyQt6``/``PySide``;
* no Qt5 names that PyQt6 dropped: ``exec_``/``print_``, ``QRegExp`` and
  the other removed classes, ``QVariant`` type constants (``QVariant.Int``),
  ``QAction`` and the other classes that moved from ``QtWidgets`` to ``QtGui``;
* enums are scoped: ``Qt.AlignmentFlag.AlignLeft``, not ``Qt.AlignLeft``; the
  QGIS enums that became scoped ``Qgis`` enums in 3.36 (``Qgis.ProcessingSourceType``,
  ...) are reached through the compatibility module only, which uses the old
  unscoped name solely as the fallback of a conditional on the scoped one;
* enum arguments are enum members, never bare numbers (``type=1``);
* no compiled Qt resources (``resources.py``, ``.qrc``, ``:/`` paths).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

#: The module allowed to name old unscoped enums, as fallbacks.
COMPAT_MODULE = "compat.py"
#: Qt5 classes PyQt6 does not have.
REMOVED_CLASSES = {"QRegExp", "QRegExpValidator", "QDesktopWidget", "QTextCodec", "QGLWidget",
                   "QMatrix", "QSound", "QStringRef", "QLinkedList"}
#: Classes that moved from QtWidgets to QtGui in Qt6.
MOVED_TO_QTGUI = {"QAction", "QActionGroup", "QShortcut", "QUndoCommand", "QUndoStack",
                  "QFileSystemModel"}
#: Qt5 method names PyQt6 dropped (``exec``/``print`` are Python keywords no more).
REMOVED_METHODS = {"exec_", "print_"}
#: Qt and QGIS classes: ``Qt``, ``QDialog``, ``QgsProcessing``, ``Qgis``...
QT_OR_QGIS_CLASS = re.compile(r"^(Qt|Qgis|Qgs[A-Z]\w*|Q[A-Z]\w*)$")
#: An enum member or a nested enum: CamelCase (``AlignLeft``, ``TypeRaster``), not a
#: CONSTANT (``TEMPORARY_OUTPUT``, ``QGIS_VERSION_INT``).
CAMEL_CASE = re.compile(r"^[A-Z](?=[A-Za-z0-9]*[a-z])[A-Za-z0-9]*$")
#: Keywords of QGIS constructors that take an enum.
ENUM_KEYWORDS = {"type", "layerType", "types", "dataType", "flags", "sourceType"}


@dataclass(frozen=True)
class Violation:
    """One rule broken at one place."""

    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _is_guarded_fallback(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` lies in the ``else`` branch of ``scoped.X if scoped else Old.X``."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.IfExp) and child is parent.orelse:
            return True
        child, parent = parent, parents.get(parent)
    return False


def _qt_import_violations(node: ast.AST) -> list[str]:
    rules = []
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        modules = [node.module or ""]
    else:
        return rules
    for module in modules:
        top = module.split(".")[0]
        if top in ("PyQt5", "PyQt6", "PySide2", "PySide6", "sip"):
            rules.append(f"imports {module}: import Qt through qgis.PyQt")
        if module.split(".")[-1] in ("resources", "resources_rc"):
            rules.append(f"imports compiled Qt resources ({module})")
    if isinstance(node, ast.ImportFrom):
        names = {alias.name for alias in node.names}
        for name in sorted(names & {"resources", "resources_rc"}):
            rules.append(f"imports compiled Qt resources ({name})")
        for name in sorted(names & REMOVED_CLASSES):
            rules.append(f"imports {name}, which Qt6 removed")
        if (node.module or "").endswith("QtWidgets"):
            for name in sorted(names & MOVED_TO_QTGUI):
                rules.append(f"imports {name} from QtWidgets (QtGui in Qt6)")
    return rules


def check_source(source: str, path: str = "<source>") -> list[Violation]:
    """Every rule of the module docstring that ``source`` breaks."""
    tree = ast.parse(source, filename=path)
    parents = _parents(tree)
    in_compat = Path(path).name == COMPAT_MODULE
    found: list[Violation] = []

    def report(node: ast.AST, rule: str) -> None:
        found.append(Violation(path, getattr(node, "lineno", 0), rule))

    for node in ast.walk(tree):
        for rule in _qt_import_violations(node):
            report(node, rule)
        if isinstance(node, ast.Name) and node.id in REMOVED_CLASSES:
            report(node, f"uses {node.id}, which Qt6 removed")
        if isinstance(node, ast.Attribute) and node.attr in REMOVED_CLASSES:
            report(node, f"uses {node.attr}, which Qt6 removed")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith(":/"):
            report(node, f"uses the compiled Qt resource {node.value!r}")
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ENUM_KEYWORDS and isinstance(keyword.value, ast.Constant) \
                        and type(keyword.value.value) is int:
                    report(node, f"passes {keyword.arg}={keyword.value.value}: pass the enum "
                                 "member, not its number")
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in REMOVED_METHODS:
            report(node, f"calls {node.attr}(), which PyQt6 removed ({node.attr[:-1]}())")
            continue
        owner = node.value
        if not isinstance(owner, ast.Name):
            continue
        if owner.id == "QVariant" and node.attr[:1].isupper():
            report(node, f"uses QVariant.{node.attr}: QVariant type constants are gone in "
                         "PyQt6 (use QMetaType.Type)")
            continue
        if owner.id == "Qgis" and CAMEL_CASE.match(node.attr) and not in_compat:
            report(node, f"uses Qgis.{node.attr}: the scoped Qgis enums (most are absent "
                         "before QGIS 3.36) go through the compatibility module")
            continue
        if not QT_OR_QGIS_CLASS.match(owner.id) or not CAMEL_CASE.match(node.attr):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            continue  # scoped: Qt.AlignmentFlag.AlignLeft, Qgis.ProcessingSourceType.Raster
        if isinstance(parent, ast.Call) and parent.func is node:
            continue  # a nested class built: QgsProcessingContext.LayerDetails(...)
        if owner.id == "Qgis":
            continue  # a scoped enum itself, in the compatibility module
        if in_compat and _is_guarded_fallback(node, parents):
            continue
        report(node, f"uses the unscoped enum {owner.id}.{node.attr} (gone in Qt6 / QGIS 4)"
                     + ("" if in_compat else ": use the compatibility module or the "
                        "scoped form"))
    return found


def check_tree(folder: Path) -> list[Violation]:
    """Every rule broken by the plugin's files under ``folder``."""
    found = []
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        relative = path.relative_to(folder).as_posix()
        if path.suffix == ".qrc" or path.name in ("resources.py", "resources_rc.py"):
            found.append(Violation(relative, 0, "ships compiled Qt resources"))
        elif path.suffix == ".py":
            found += check_source(path.read_text(encoding="utf-8"), relative)
    return found
