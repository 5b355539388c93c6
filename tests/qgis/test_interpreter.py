"""Where QGIS's Python is looked for, per platform layout (no QGIS needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from riogrande_qgis.interpreter import (
    ENV_VARIABLE,
    InterpreterNotFoundError,
    candidates,
    find_python,
)

VERSION = (3, 12)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o755)
    return path


def find(platform: str, *prefixes: Path) -> str:
    return find_python(platform, list(prefixes), VERSION, environ={})


def test_linux_distribution_python(tmp_path):
    usr = tmp_path / "usr"
    touch(usr / "bin" / "python3")
    expected = touch(usr / "bin" / "python3.12")
    touch(usr / "bin" / "python3.11")  # another Python of the system: not ours
    assert find("linux", usr) == str(expected)


def test_linux_virtual_environment_first(tmp_path):
    venv, usr = tmp_path / "venv", tmp_path / "usr"
    touch(usr / "bin" / "python3.12")
    expected = touch(venv / "bin" / "python3.12")
    assert find("linux", venv, usr) == str(expected)


def test_linux_only_unversioned_name(tmp_path):
    conda = tmp_path / "conda"
    expected = touch(conda / "bin" / "python3")
    assert find("linux", conda) == str(expected)


def test_linux_file_that_cannot_run_is_skipped(tmp_path):
    usr = tmp_path / "usr"
    touch(usr / "bin" / "python3.12").chmod(0o644)
    expected = touch(usr / "bin" / "python3")
    assert find("linux", usr) == str(expected)


def test_windows_osgeo4w(tmp_path):
    root = tmp_path / "OSGeo4W"
    prefix = root / "apps" / "Python312"
    touch(prefix / "python.exe")
    expected = touch(prefix / "pythonw.exe")  # no console window per worker
    touch(root / "bin" / "qgis-bin.exe")
    assert find("win32", prefix) == str(expected)


def test_windows_standalone_installer(tmp_path):
    root = tmp_path / "Program Files" / "QGIS 3.40.1"
    prefix = root / "apps" / "Python312"
    expected = touch(prefix / "python.exe")
    touch(root / "bin" / "qgis-ltr-bin.exe")
    assert find("win32", prefix) == str(expected)


def test_windows_interpreter_in_the_root_bin_folder(tmp_path):
    root = tmp_path / "OSGeo4W"
    prefix = root / "apps" / "Python312"
    prefix.mkdir(parents=True)
    expected = touch(root / "bin" / "python3.exe")
    assert find("win32", prefix) == str(expected)


def test_macos_bundle_qgis3(tmp_path):
    prefix = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    expected = touch(prefix / "bin" / "python3.12")
    touch(prefix / "QGIS")
    assert find("darwin", prefix) == str(expected)


def test_macos_bundle_with_python_framework(tmp_path):
    contents = tmp_path / "QGIS-LTR.app" / "Contents"
    prefix = contents / "Frameworks"
    touch(contents / "MacOS" / "QGIS")
    expected = touch(prefix / "Python.framework" / "Versions" / "3.12" / "bin" / "python3.12")
    assert find("darwin", prefix) == str(expected)


def test_macos_bundle_interpreter_in_macos_bin(tmp_path):
    contents = tmp_path / "QGIS.app" / "Contents"
    prefix = contents / "Resources" / "python"
    prefix.mkdir(parents=True)
    expected = touch(contents / "MacOS" / "bin" / "python3")
    assert find("darwin", prefix) == str(expected)


def test_macos_vcpkg_build(tmp_path):
    prefix = tmp_path / "QGIS.app" / "Contents" / "Resources"
    expected = touch(prefix / "tools" / "python3" / "python3.12")
    assert find("darwin", prefix) == str(expected)


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_clear_error_when_none_is_found(platform, tmp_path):
    prefix = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    prefix.mkdir(parents=True)
    touch(prefix / "QGIS")  # the application binary is never taken for a Python
    with pytest.raises(InterpreterNotFoundError) as raised:
        find(platform, prefix)
    message = str(raised.value)
    assert ENV_VARIABLE in message
    for path in candidates(platform, [prefix], VERSION):
        assert str(path) in message


def test_environment_variable_overrides(tmp_path):
    chosen = touch(tmp_path / "elsewhere" / "python")
    assert find_python("linux", [tmp_path], VERSION, {ENV_VARIABLE: str(chosen)}) == str(chosen)
    with pytest.raises(InterpreterNotFoundError, match=ENV_VARIABLE):
        find_python("linux", [tmp_path], VERSION, {ENV_VARIABLE: str(tmp_path / "missing")})


def test_this_python_is_found_and_runs_the_same_version():
    found = find_python(environ={})
    assert Path(found).name.startswith("python")
    reported = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert reported == str(tuple(sys.version_info[:2]))
