"""Keep a QGIS test environment on the distribution's compiled packages.

The QGIS test environments are virtual environments that see the system's
packages (``--system-site-packages``): QGIS's Python bindings and the
distribution's numpy, rasterio, pyproj and GDAL bindings, all built against
the GDAL and PROJ that QGIS itself loads. Installing test dependencies from
PyPI must not replace any of these with wheels that carry a second GDAL,
PROJ or numpy ABI.

Usage, with the environment's Python::

    python .ci/system_packages.py constraints > pins.txt   # pip -c: keep them
    python .ci/system_packages.py check                    # fail if one moved
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path

#: Distributions with compiled code tied to numpy's ABI, to QGIS's GDAL and PROJ or to
#: the system's OpenSSL (its pyOpenSSL needs its cryptography), and the module each provides.
COMPILED = {"numpy": "numpy", "rasterio": "rasterio", "pyproj": "pyproj", "GDAL": "osgeo",
            "shapely": "shapely", "cryptography": "cryptography"}


def in_environment(path: str | Path) -> bool:
    """Whether ``path`` lies inside the virtual environment (not the system's packages)."""
    return Path(path).resolve().is_relative_to(Path(sys.prefix).resolve())


def constraints() -> list[str]:
    """pip constraints pinning each compiled distribution the system provides."""
    pins = []
    for name in COMPILED:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if not in_environment(distribution.locate_file("")):
            pins.append(f"{name}=={distribution.version}")
    return pins


def problems() -> list[str]:
    """What makes the environment load anything but the system's compiled packages."""
    found = []
    for name, module_name in COMPILED.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if in_environment(module.__file__):
            found.append(f"{name} is imported from the environment ({module.__file__}), "
                         "not from the system's packages")
    import rasterio
    from osgeo import gdal

    if rasterio.__gdal_version__ != gdal.__version__:
        found.append(f"rasterio uses GDAL {rasterio.__gdal_version__}, QGIS's bindings GDAL "
                     f"{gdal.__version__}")
    return found


def main(argv: list[str]) -> int:
    """Print the constraints, or check the environment (exit 1 on a problem)."""
    if argv == ["constraints"]:
        sys.stdout.write("".join(f"{pin}\n" for pin in constraints()))
        return 0
    if argv == ["check"]:
        found = problems()
        for problem in found:
            sys.stderr.write(f"{problem}\n")
        return 1 if found else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
