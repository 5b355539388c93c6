"""Find the Python interpreter that belongs to QGIS, for riogrande's worker processes.

Inside QGIS, ``sys.executable`` is not a usable Python: on Windows and macOS
it is the QGIS application itself (spawning it opens new QGIS windows), and
on Linux it is whatever ``python3`` comes first on ``PATH`` (often another
Python that cannot import QGIS's numpy). The interpreter is derived instead
from the prefixes of the running Python, following each platform's layout:

* Linux and other POSIX systems (distribution packages, conda, venvs):
  ``<prefix>/bin/pythonX.Y``;
* Windows (OSGeo4W and the standalone installer, where the prefix is
  ``<root>\\apps\\PythonXY``): ``pythonw.exe`` (no console window per worker)
  or ``python.exe`` in the prefix, then in ``<root>\\bin``;
* macOS application bundles: ``<prefix>/bin``, then ``Contents/MacOS/bin``
  and ``Contents/Frameworks/Python.framework/Versions/X.Y/bin`` of the bundle,
  and vcpkg's ``tools/python3``.

The environment variable :data:`ENV_VARIABLE` overrides the search.
This module does not import QGIS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Environment variable naming the interpreter explicitly.
ENV_VARIABLE = "RIOGRANDE_PYTHON"


class InterpreterNotFoundError(RuntimeError):
    """No Python interpreter for worker processes was found."""


def _unique(paths: Sequence[Path]) -> list[Path]:
    seen: set[str] = set()
    result = []
    for path in paths:
        key = os.path.normcase(str(path))
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result


def _bundle_contents(prefix: Path) -> Path | None:
    """The ``Contents`` folder of the ``.app`` bundle holding ``prefix``, if any."""
    for folder in (prefix, *prefix.parents):
        if folder.name == "Contents" and folder.parent.suffix == ".app":
            return folder
    return None


def candidates(
    platform: str = sys.platform,
    prefixes: Sequence[str | os.PathLike[str]] | None = None,
    version: tuple[int, int] = (sys.version_info[0], sys.version_info[1]),
) -> list[Path]:
    """Return, in order of preference, where QGIS's interpreter may be.

    Parameters
    ----------
    platform : str, default ``sys.platform``
        ``"win32"``, ``"darwin"``, ``"linux"``, ...
    prefixes : list of path-like, optional
        Installation prefixes of the running Python; by default
        ``sys.exec_prefix`` (a virtual environment, if any) then
        ``sys.base_exec_prefix``.
    version : tuple of int, default the running Python's
        ``(major, minor)``.

    Returns
    -------
    list of pathlib.Path
        Paths to try (they may not exist).
    """
    if prefixes is None:
        prefixes = [sys.exec_prefix, sys.base_exec_prefix]
    major, minor = version
    versioned = f"python{major}.{minor}"
    paths: list[Path] = []
    for prefix in map(Path, prefixes):
        if platform == "win32":
            paths += [prefix / "pythonw.exe", prefix / "python.exe"]
            if prefix.parent.name.lower() == "apps":  # <root>\apps\PythonXY
                root_bin = prefix.parent.parent / "bin"
                paths += [root_bin / "pythonw.exe", root_bin / "python.exe",
                          root_bin / "python3.exe"]
            continue
        paths += [prefix / "bin" / versioned, prefix / "bin" / f"python{major}"]
        if platform == "darwin":
            paths.append(prefix / "tools" / "python3" / versioned)  # vcpkg builds
            contents = _bundle_contents(prefix)
            if contents is not None:
                framework = (contents / "Frameworks" / "Python.framework" / "Versions"
                             / f"{major}.{minor}" / "bin")
                paths += [contents / "MacOS" / "bin" / versioned,
                          contents / "MacOS" / "bin" / f"python{major}",
                          framework / versioned, framework / f"python{major}"]
    return _unique(paths)


def _is_program(path: Path, platform: str) -> bool:
    if not path.is_file():
        return False
    return platform == "win32" or os.access(path, os.X_OK)


def find_python(
    platform: str = sys.platform,
    prefixes: Sequence[str | os.PathLike[str]] | None = None,
    version: tuple[int, int] = (sys.version_info[0], sys.version_info[1]),
    environ: Mapping[str, str] = os.environ,
) -> str:
    """Return the Python interpreter worker processes must run.

    Parameters
    ----------
    platform, prefixes, version
        See :func:`candidates`.
    environ : mapping, default ``os.environ``
        Where :data:`ENV_VARIABLE` is looked up.

    Returns
    -------
    str
        Path of an existing interpreter; never ``sys.executable`` itself
        unless it is also the interpreter found in the prefix.

    Raises
    ------
    InterpreterNotFoundError
        If :data:`ENV_VARIABLE` names a missing file, or no candidate exists;
        the message lists what was tried and how to fix it.
    """
    explicit = environ.get(ENV_VARIABLE)
    if explicit:
        if _is_program(Path(explicit), platform):
            return explicit
        raise InterpreterNotFoundError(
            f"{ENV_VARIABLE} is set to {explicit}, which is not an executable file. "
            "Point it at the Python interpreter of this QGIS installation."
        )
    tried = candidates(platform, prefixes, version)
    for path in tried:
        if _is_program(path, platform):
            return str(path)
    listing = "\n".join(f"  {path}" for path in tried)
    raise InterpreterNotFoundError(
        "riogrande runs its work in separate Python processes, but the Python interpreter "
        f"of this QGIS installation was not found. Looked for:\n{listing}\n"
        f"Set the environment variable {ENV_VARIABLE} to the full path of QGIS's Python "
        "interpreter (the python executable that came with QGIS) and restart QGIS."
    )
