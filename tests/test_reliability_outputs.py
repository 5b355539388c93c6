"""Every file a run writes: checked before any work, created with the caller's umask.

Library and command line: an output may not be an input (the file behind a
subdataset included) or another output of the same command (``-o`` and
``--quicklook``); its folder must exist and accept files (not ``/proc``); an
in-place run needs a GeoTIFF file; new files get the permissions ``open()``
gives under the caller's umask, an in-place run keeps the source's.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from click.testing import CliRunner

from riogrande.cli.main import cli
from riogrande.io.exceptions import OutputError
from riogrande.io.models import Band
from riogrande.masking import write_mask, write_selector

from .conftest import file_sha256
from .reference import leftovers, mask_reference, read_all

RIOGRANDE = [sys.executable, "-m", "riogrande.cli"]
UMASKS = [0o022, 0o002, 0o077, 0o027]


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def permissions(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def mode_of_open(folder: Path, umask: int) -> int:
    """The permissions ``open(..., "w")`` gives a new file under ``umask`` (the reference)."""
    previous = os.umask(umask)
    try:
        probe = folder / "reference-open"
        with open(probe, "w"):
            pass
    finally:
        os.umask(previous)
    mode = permissions(probe)
    probe.unlink()
    return mode


def invoke(*args: object, input: str | None = None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input)


def usage_error(result, *words: object) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert str(word) in result.output, f"{word!r} not in {result.output!r}"
    assert "Traceback" not in result.output
    return result.output


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize("umask", UMASKS, ids=[f"umask {m:03o}" for m in UMASKS])
def test_library_outputs_get_the_mode_of_open(make_raster, tmp_path, umask):
    path = make_raster("input.tif", nodata=0)
    expected = mode_of_open(tmp_path, umask)
    previous = os.umask(umask)
    try:
        mask = write_mask(path, tmp_path / "mask.tif", nbrcpu=1)
        selector = write_selector(Band(path, 1), Band(path, 2), output=tmp_path / "sel.tif",
                                  nbrcpu=1)
    finally:
        os.umask(previous)
    assert permissions(mask.output) == permissions(selector.output) == expected
    assert np.array_equal(read_all(mask.output)[0], mask_reference(path, 0, "all"))


@pytest.mark.parametrize("umask", UMASKS, ids=[f"umask {m:03o}" for m in UMASKS])
def test_cli_outputs_and_quicklook_get_the_mode_of_open(make_raster, tmp_path, umask):
    path = make_raster("input.tif", nodata=0)
    expected = mode_of_open(tmp_path, umask)
    for command in (["mask", path], ["selector", path]):
        out, png = tmp_path / f"{command[0]}.tif", tmp_path / f"{command[0]}.png"
        done = subprocess.run([*RIOGRANDE, *command, "-o", out, "--quicklook", png, "-q"],
                              capture_output=True, text=True, umask=umask, timeout=120)
        assert done.returncode == 0, done.stderr
        assert permissions(out) == permissions(png) == expected, command


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o600])
def test_in_place_keeps_the_mode_of_the_source(make_raster, tmp_path, mode):
    path = make_raster("input.tif", nodata=0)
    path.chmod(mode)
    done = subprocess.run([*RIOGRANDE, "mask", path, "--in-place", "--yes", "-q"],
                          capture_output=True, text=True, umask=0o022, timeout=120)
    assert done.returncode == 0, done.stderr
    assert permissions(path) == mode
    with rasterio.open(path) as src:
        assert np.array_equal(src.dataset_mask() != 0, mask_reference(path, 0, "all") != 0)


# ------------------------------------------------------- outputs checked up front


def test_quicklook_on_the_input_is_refused_before_any_work(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    before = folder_state(tmp_path)
    for spelling in (path, tmp_path / "." / "input.tif", Path(os.path.relpath(path))):
        usage_error(invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook", spelling),
                    "--quicklook", "also an input", path.name)
        usage_error(invoke("mask", path, "--in-place", "-y", "--quicklook", spelling),
                    "--quicklook", "also an input")
        usage_error(invoke("selector", path, "-o", tmp_path / "m.tif", "--quicklook", spelling),
                    "--quicklook", "also an input")
    os.link(path, tmp_path / "link.png")
    before = folder_state(tmp_path)
    usage_error(invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook",
                       tmp_path / "link.png", "--overwrite"), "--quicklook", "also an input")
    assert folder_state(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_quicklook_on_the_extra_mask_is_refused(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    extra = make_raster("extra.tif", count=1, dtype="uint8")
    before = folder_state(tmp_path)
    usage_error(invoke("selector", path, "-o", tmp_path / "s.tif", "--extra-mask", f"{extra}:1",
                       "--quicklook", extra, "--overwrite"), "--quicklook", "extra.tif")
    usage_error(invoke("selector", path, "-o", extra, "--extra-mask", extra, "--overwrite"),
                "'-o'", "also an input")
    assert folder_state(tmp_path) == before


def test_quicklook_and_output_on_the_same_file(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    before = folder_state(tmp_path)
    out = tmp_path / "out.tif"
    for quicklook in (out, tmp_path / "." / "out.tif"):
        for command in ("mask", "selector"):
            usage_error(invoke(command, path, "-o", out, "--quicklook", quicklook),
                        "'-o'", "'--quicklook'", "out.tif", "each output its own path")
    assert folder_state(tmp_path) == before
    assert not out.exists()


def test_quicklook_folder_checked_before_the_mask_is_written(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    before = folder_state(tmp_path)
    missing = tmp_path / "missing" / "q.png"
    for command in ("mask", "selector"):
        usage_error(invoke(command, path, "-o", tmp_path / "m.tif", "--quicklook", missing),
                    "--quicklook", "does not exist", tmp_path / "missing")
    usage_error(invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook",
                       tmp_path / "input.tif" / "q.png"), "--quicklook", "not a folder")
    assert folder_state(tmp_path) == before


def test_existing_quicklook_needs_overwrite(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    png = tmp_path / "q.png"
    png.write_bytes(b"an older picture")
    usage_error(invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook", png),
                "--quicklook", "already exists", "--overwrite")
    assert png.read_bytes() == b"an older picture" and not (tmp_path / "m.tif").exists()
    done = invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook", png, "--overwrite", "-q")
    assert done.exit_code == 0, done.output
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_output_under_proc(make_raster, tmp_path):
    path = make_raster("input.tif", nodata=0)
    digest = file_sha256(path)
    for output in ("/proc/mask.tif", "/proc/self/mask.tif"):
        with pytest.raises(OutputError) as caught:
            write_mask(path, output, nbrcpu=1)
        assert f"cannot write {output}: the folder {os.path.dirname(output)}" in str(caught.value)
        with pytest.raises(OutputError):
            write_selector(Band(path, 1), output=output, nbrcpu=1)
        usage_error(invoke("mask", path, "-o", output), "'-o'", output)
        usage_error(invoke("mask", path, "-o", tmp_path / "m.tif", "--quicklook",
                           output.replace(".tif", ".png")), "--quicklook", "/proc")
    assert file_sha256(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.tif"]


# ------------------------------------------------------------ in place, by format


def copies_in_other_formats(path: Path) -> dict[str, Path]:
    """The raster as a VRT (pointing at it) and as a PNG."""
    copies = {"VRT": path.with_suffix(".vrt"), "PNG": path.with_suffix(".png")}
    for driver, copy in copies.items():
        rasterio.shutil.copy(path, copy, driver=driver)
    return copies


def test_in_place_into_a_format_without_internal_masks(make_raster, tmp_path):
    path = make_raster("input.tif", dtype="uint8", nodata=0)
    for driver, other in copies_in_other_formats(path).items():
        before = folder_state(tmp_path)
        with pytest.raises(OutputError) as caught:
            write_mask(other, nbrcpu=1)
        message = str(caught.value)
        assert str(other) in message and f"({driver})" in message and "output=" in message
        result = invoke("mask", other, "--in-place", "--yes")
        text = usage_error(result, "--in-place", other.name, driver, "-o FILE")
        assert "output=" not in text
        assert folder_state(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_read_only_in_place_message_names_the_option(make_raster, tmp_path, monkeypatch):
    """The up-front check speaks of -o on the command line, of output= in the library."""
    from riogrande.io import checks

    path = make_raster("input.tif", nodata=0)
    digest = file_sha256(path)
    monkeypatch.setattr(checks.os, "access", lambda name, mode: mode != os.W_OK)
    with pytest.raises(OutputError, match=r"read-only.*output=\.\.\."):
        write_mask(path, nbrcpu=1)
    text = usage_error(invoke("mask", path, "--in-place", "--yes"), "read-only", "-o FILE")
    assert "output=" not in text
    assert file_sha256(path) == digest
