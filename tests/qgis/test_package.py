"""The plugin zip built by ``make plugin`` and the metadata the plugin repository needs."""

from __future__ import annotations

import configparser
import zipfile
from pathlib import Path

import build_zip  # qgis_plugin/ is on sys.path (conftest)
import pytest

import riogrande
from tests.qgis.conftest import REPO

REQUIRED = ["name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
            "repository", "tracker", "license"]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    return build_zip.build(tmp_path_factory.mktemp("dist") / "riogrande_qgis.zip")


def test_zip_holds_one_plugin_folder_without_caches(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {"riogrande_qgis"}
    for required in ("__init__.py", "metadata.txt", "LICENSE", "icon.svg", "provider.py",
                     "algorithms/compute_mask.py", "riogrande/__init__.py",
                     "riogrande/masking.py", "riogrande/io/models.py"):
        assert f"riogrande_qgis/{required}" in names
    for name in names:
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo"))
        assert "/tests/" not in name and "/." not in name and ".." not in name
    assert plugin_zip.stat().st_size < 20 * 2**20


def test_zip_is_reproducible(plugin_zip, tmp_path):
    assert build_zip.build(tmp_path / "again.zip").read_bytes() == plugin_zip.read_bytes()


def test_metadata_has_what_the_plugin_repository_requires():
    parser = configparser.ConfigParser()
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    for key in REQUIRED:
        assert general.get(key, "").strip(), key
    assert general["qgisMinimumVersion"] == "3.22"
    assert general.getboolean("hasProcessingProvider")
    assert general["version"] == riogrande.__version__
    assert general["repository"] == "https://github.com/riogrande-gis/riogrande"
    assert general["tracker"] == "https://github.com/riogrande-gis/riogrande/issues"
    assert "<" not in general["description"] + general["about"]  # no HTML
    assert (REPO / "qgis_plugin" / "riogrande_qgis" / general["icon"]).is_file()
