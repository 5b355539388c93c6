"""Sphinx configuration of the riogrande documentation.

The quicklook pictures and the command help texts shown in the guide are
generated when the build starts (into ``_generated/``), by running the
``riogrande`` command itself, so they always match the code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from riogrande import __version__  # noqa: E402

project = "riogrande"
author = "riogrande developers"
copyright = "riogrande developers, MIT License"
version = release = __version__

extensions = [
    "autoapi.extension",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# API reference: every public module of the package, from the source (no import needed).
autoapi_type = "python"
autoapi_dirs = [str(HERE.parent / "riogrande")]
autoapi_root = "api"
autoapi_member_order = "bysource"
autoapi_options = [
    "members", "undoc-members", "show-inheritance", "show-module-summary", "imported-members",
]
autoapi_ignore = ["*/__main__.py"]
autoapi_add_toctree_entry = False
autoapi_keep_files = False

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate attribute entries

# Parameter types such as "list of (name, profile)" are turned into cross-references;
# a word naming several objects must not fail the build.
suppress_warnings = ["ref.python"]

html_theme = "furo"
html_title = f"riogrande {release}"
html_static_path = ["_static"]
templates_path: list[str] = []
exclude_patterns = ["_build", "_generated", "README-sections.md", "examples"]

GENERATED = HERE / "_generated"
DEMO_SIZE = ("1000", "760")


def _riogrande(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "88"}
    return subprocess.run([sys.executable, "-m", "riogrande.cli", *args], check=True,
                          capture_output=True, text=True, env=env, cwd=GENERATED)


def _extra_mask(path: Path) -> None:
    """A one-band uint8 raster on the demo grid: 0 (invalid) in a diagonal band."""
    import numpy as np
    import rasterio

    with rasterio.open(GENERATED / "demo" / "example.tif") as src:
        profile = {**src.profile, "count": 1, "dtype": "uint8", "nodata": None}
        rows, cols = np.mgrid[0:src.height, 0:src.width]
    clouds = np.abs(rows - 0.6 * cols - src.height * 0.1) > src.height * 0.08
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(clouds.astype("uint8"), 1)


def generate(app: object) -> None:
    """Write the help texts and the quicklook pictures the guide shows."""
    GENERATED.mkdir(exist_ok=True)
    for command in ("", "mask", "selector", "calc", "info", "demo"):
        text = _riogrande(*([command] if command else []), "--help").stdout
        (GENERATED / f"help-{command or 'riogrande'}.txt").write_text(text)
    demo = GENERATED / "demo"
    if not (demo / "selector.png").exists():
        _riogrande("demo", "demo", "--size", *DEMO_SIZE, "--quiet")
    (GENERATED / "info-example.txt").write_text(
        _riogrande("info", "demo/example.tif", "--workers", "4").stdout)
    if not (demo / "selector_extra.png").exists():
        _extra_mask(demo / "clouds.tif")
        _riogrande("selector", "demo/example.tif", "-o", "demo/selector_extra.tif",
                   "--extra-mask", "demo/clouds.tif:1", "--quicklook", "demo/selector_extra.png",
                   "--overwrite", "--quiet")
        _riogrande("mask", "demo/clouds.tif", "-o", "demo/clouds_mask.tif", "--nodata", "0",
                   "--quicklook", "demo/clouds.png", "--overwrite", "--quiet")


def setup(app: object) -> None:
    """Generate the pictures before Sphinx reads the sources."""
    app.connect("builder-inited", generate)
