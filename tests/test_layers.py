"""The package's imports run one way: faces, jobs, outputs and engine, helpers, core I/O.

Read from the source (nothing is imported): every ``import`` of a riogrande
module, at any depth of a module, is an edge. There is no circle, and a
module imports only modules of its own layer or of a layer below. The
GeoRacoon-compatible surface stands beside core I/O: the jobs and the faces
may use it, nothing below them does.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "riogrande"

#: Layers from the top; a module pattern belongs to the first layer that names it.
LAYERS = [
    ("faces", ["riogrande", "riogrande.cli", "riogrande.cli.*"]),
    ("jobs", ["riogrande.masking", "riogrande.blockwise", "riogrande.blockwise_worker",
              "riogrande.expression", "riogrande.parallel", "riogrande.aggregators",
              "riogrande.workers", "riogrande.inputs", "riogrande.demo"]),
    ("outputs and engine", ["riogrande.outputs", "riogrande.outputs.*", "riogrande.runner",
                            "riogrande.pool", "riogrande.processes", "riogrande.stopping",
                            "riogrande.messages"]),
    ("helpers", ["riogrande.blocks", "riogrande.prepare", "riogrande.logic", "riogrande.timing",
                 "riogrande.contexts", "riogrande._interpreter", "riogrande.helper",
                 "riogrande.dtypes", "riogrande.compatibility"]),
    ("core I/O", ["riogrande.errors", "riogrande.io", "riogrande.io.names",
                  "riogrande.io.handles", "riogrande.io.create", "riogrande.io.output",
                  "riogrande.io.checks", "riogrande.io.tags", "riogrande.io.gdal_cache",
                  "riogrande.io.locking", "riogrande.io.rasters", "riogrande.io.exceptions",
                  "riogrande.io.remote", "riogrande.io.prefetch"]),
]
#: The GeoRacoon-compatible surface, beside core I/O.
COMPATIBLE = ["riogrande.io.models", "riogrande.io.lookup", "riogrande.io.pixels",
              "riogrande.io.operations", "riogrande.io.core"]
#: Layers that may use the compatible surface.
USERS_OF_COMPATIBLE = ("faces", "jobs")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The riogrande modules ``path`` imports (``from riogrande.io import tags`` is io.tags)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("riogrande")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("riogrande"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found


def layer_of(name: str) -> str:
    if name in COMPATIBLE:
        return "compatible"
    for layer, patterns in LAYERS:
        if any(fnmatch(name, pattern) for pattern in patterns):
            return layer
    raise AssertionError(f"{name} belongs to no layer: add it to tests/test_layers.py")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, set(known)) - {name} for name, path in known.items()}


def test_every_module_has_a_layer_and_a_docstring():
    for name, path in modules().items():
        layer_of(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{name} has no docstring naming its job"


def test_no_import_circle():
    edges = graph()
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for other in sorted(edges.get(name, ())):
            if state.get(other) == "open":
                circle = trail[trail.index(other):] + [other]
                pytest.fail("import circle: " + " -> ".join(circle))
            if other in edges and other not in state:
                visit(other, [*trail, other])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def test_imports_run_down_the_layers():
    order = [layer for layer, _ in LAYERS]
    wrong = []
    for name, targets in graph().items():
        layer = layer_of(name)
        for target in targets:
            target_layer = layer_of(target)
            if name == "riogrande":  # the package's face exports from every layer
                continue
            if target_layer == "compatible":
                if layer not in (*USERS_OF_COMPATIBLE, "compatible"):
                    wrong.append(f"{name} ({layer}) uses the compatible surface: {target}")
                continue
            if layer == "compatible":
                if order.index(target_layer) < order.index("helpers"):
                    wrong.append(f"{name} (compatible) imports {target} ({target_layer})")
                continue
            if order.index(target_layer) < order.index(layer):
                wrong.append(f"{name} ({layer}) imports upward: {target} ({target_layer})")
    assert wrong == []


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from riogrande.masking import write_mask\n")
    assert imports(module, set(modules())) == {"riogrande.masking"}
    assert layer_of("riogrande.masking") == "jobs" and layer_of("riogrande.io.rasters") == (
        "core I/O")
