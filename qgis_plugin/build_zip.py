"""Build the QGIS plugin zip: one folder ``riogrande_qgis/`` ready for the Plugin Manager.

The folder holds ``metadata.txt`` and ``LICENSE`` (from the repository root),
the plugin code, and a copy of the pure-Python ``riogrande`` package
(``riogrande_qgis/riogrande/``), used when no riogrande is installed for
QGIS's Python. No caches, compiled files or tests go in. Entries are sorted
and dated 1980-01-01, so the same sources give the same zip.

Usage: ``python qgis_plugin/build_zip.py [OUTPUT]`` (default ``dist/riogrande_qgis.zip``).
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "riogrande_qgis"
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej"}


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in EXCLUDED_SUFFIXES:
            yield path


def contents(root: Path = ROOT) -> dict[str, Path]:
    """Map each name in the zip to the file it comes from."""
    entries = {f"{PLUGIN}/metadata.txt": root / "metadata.txt",
               f"{PLUGIN}/LICENSE": root / "LICENSE"}
    plugin = root / "qgis_plugin" / PLUGIN
    for path in _files(plugin):
        entries[f"{PLUGIN}/{path.relative_to(plugin).as_posix()}"] = path
    package = root / "riogrande"
    for path in _files(package):
        entries[f"{PLUGIN}/riogrande/{path.relative_to(package).as_posix()}"] = path
    return entries


def build(output: Path, root: Path = ROOT) -> Path:
    """Write the plugin zip at ``output`` and return it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(contents(root).items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(output)
    return output


def main(argv: list[str]) -> int:
    """Build the zip named by ``argv[0]`` (default ``dist/riogrande_qgis.zip``)."""
    output = Path(argv[0]) if argv else ROOT / "dist" / f"{PLUGIN}.zip"
    build(output)
    print(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
