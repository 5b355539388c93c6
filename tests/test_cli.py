"""The command line through click's runner: outputs against numpy and the library."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from riogrande.blocks import choose_block_size
from riogrande.cli.main import cli
from riogrande.cli.progress import ProgressBar
from riogrande.io.models import Band, Source
from riogrande.masking import write_mask, write_selector
from tests.conftest import file_sha256
from tests.reference import leftovers, mask_reference, read_all, selector_reference

NODATA = -9999.0


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def raster(make_raster) -> Path:
    return make_raster("source.tif", nodata=NODATA)


def invoke(runner: CliRunner, *args: object, input: str | None = None):
    return runner.invoke(cli, [str(arg) for arg in args], input=input)


def json_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("logic, bands", [("all", None), ("any", None), ("any", [1, 3])])
def test_mask_matches_numpy_and_library(runner, raster, tmp_path, logic, bands):
    out = tmp_path / "mask.tif"
    args = ["mask", raster, "-o", out, "--logic", logic, "--nodata", NODATA, "-j", 1, "--json"]
    if bands:
        args += ["--bands", ",".join(map(str, bands))]
    report = json_of(invoke(runner, *args))

    expected = mask_reference(raster, NODATA, logic, bands)
    assert_array_equal(read_all(out)[0], expected)
    library = write_mask(raster, tmp_path / "library.tif", nodata=NODATA, logic=logic,
                         bands=bands, nbrcpu=1)
    assert_array_equal(read_all(out)[0], read_all(library.output)[0])
    assert (report["valid"], report["masked"]) == (library.valid, library.masked)
    assert report["valid"] == int(expected.sum())
    assert report["pixels"] == expected.size
    assert report["output"] == str(out)
    assert report["block_size"] == list(library.block_size)
    assert report["views"] == library.views
    assert report["workers"] == 1 and report["seconds"] >= 0


def test_mask_nodata_defaults_to_the_files_value(runner, make_raster, tmp_path):
    path = make_raster(nodata=float("nan"))
    out = tmp_path / "mask.tif"
    report = json_of(invoke(runner, "mask", path, "-o", out, "-j", 1, "--json"))
    expected = mask_reference(path, float("nan"), "all")
    assert_array_equal(read_all(out)[0], expected)
    assert report["masked"] == int((expected == 0).sum()) > 0


def test_mask_nodata_defaults_to_zero_without_file_nodata(runner, make_raster, tmp_path):
    path = make_raster(dtype="uint8", nodata=None, fill=0)
    out = tmp_path / "mask.tif"
    json_of(invoke(runner, "mask", path, "-o", out, "-j", 1, "--logic", "any", "--json"))
    assert_array_equal(read_all(out)[0], mask_reference(path, 0, "any"))


def test_mask_summary_line(runner, raster, tmp_path):
    result = invoke(runner, "mask", raster, "-o", tmp_path / "m.tif", "-j", 1)
    assert result.exit_code == 0, result.output
    expected = mask_reference(raster, NODATA, "all")
    valid, masked = int(expected.sum()), int((expected == 0).sum())
    line = result.stdout.strip()
    assert len(line.splitlines()) == 1
    assert f"{valid:,} valid, {masked:,} masked" in line
    assert "Mpx/s" in line and str(tmp_path / "m.tif") in line


def test_quiet_prints_nothing(runner, raster, tmp_path):
    result = invoke(runner, "mask", raster, "-o", tmp_path / "m.tif", "-j", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert (tmp_path / "m.tif").exists()


def test_in_place_with_yes_writes_the_internal_mask(runner, raster, tmp_path):
    target = tmp_path / "copy.tif"
    shutil.copy(raster, target)
    report = json_of(invoke(runner, "mask", target, "--in-place", "--yes", "-j", 1, "--json"))
    expected = mask_reference(raster, NODATA, "all")
    with rasterio.open(target) as src:
        assert_array_equal(src.dataset_mask() != 0, expected != 0)
        assert_array_equal(src.read(), read_all(raster))
    assert report["output"] == str(target)


def test_in_place_asks_and_a_no_leaves_the_file(runner, raster, tmp_path):
    target = tmp_path / "copy.tif"
    shutil.copy(raster, target)
    before = file_sha256(target)
    result = invoke(runner, "mask", target, "--in-place", input="n\n")
    assert result.exit_code == 1
    assert "modifies the file" in result.output and "Aborted" in result.output
    assert file_sha256(target) == before


def test_in_place_asks_and_a_yes_writes(runner, raster, tmp_path):
    target = tmp_path / "copy.tif"
    shutil.copy(raster, target)
    result = invoke(runner, "mask", target, "--in-place", "-j", 1, input="y\n")
    assert result.exit_code == 0, result.output
    with rasterio.open(target) as src:
        assert_array_equal(src.dataset_mask() != 0, mask_reference(raster, NODATA, "all") != 0)


@pytest.mark.parametrize(
    "extra, named",
    [
        ([], "--output"),
        (["-o", "{out}", "--in-place"], "--in-place"),
        (["-o", "{out}", "--bands", "0"], "--bands"),
        (["-o", "{out}", "--bands", "one"], "--bands"),
        (["-o", "{out}", "--bands", "2,9"], "--bands"),
        (["-o", "{out}", "--nodata", "abc"], "--nodata"),
        (["-o", "{out}", "--logic", "some"], "--logic"),
        (["-o", "{out}", "--block-size", "0", "10"], "--block-size"),
        (["-o", "{out}", "--block-size", "10"], "--block-size"),
        (["-o", "{out}", "--workers", "0"], "--workers"),
        (["-o", "{existing}"], "--output"),
        (["-o", "{nowhere}"], "--output"),
        (["-o", "{raster}", "--overwrite"], "--output"),
        (["-o", "{out}", "--frobnicate"], "--frobnicate"),
    ],
)
def test_mask_usage_errors(runner, raster, tmp_path, extra, named):
    existing = tmp_path / "existing.tif"
    existing.write_bytes(b"keep")
    out = tmp_path / "out.tif"
    before = file_sha256(raster)
    args = [arg.format(out=out, existing=existing, raster=raster,
                       nowhere=tmp_path / "no" / "m.tif") for arg in extra]
    result = invoke(runner, "mask", raster, *args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not out.exists()
    assert existing.read_bytes() == b"keep"
    assert file_sha256(raster) == before


def test_mask_nodata_out_of_range_is_a_usage_error(runner, make_raster, tmp_path):
    path = make_raster(dtype="uint8")
    result = invoke(runner, "mask", path, "-o", tmp_path / "m.tif", "--nodata", 300)
    assert result.exit_code == 2
    assert "--nodata" in result.output and "uint8" in result.output


def test_missing_source_is_a_usage_error_naming_it(runner, tmp_path):
    missing = tmp_path / "missing.tif"
    result = invoke(runner, "mask", missing, "-o", tmp_path / "m.tif")
    assert result.exit_code == 2
    assert "SRC" in result.output and "missing.tif" in result.output


def test_unreadable_source_is_a_processing_error(runner, tmp_path):
    bad = tmp_path / "text.tif"
    bad.write_text("not a raster")
    result = invoke(runner, "mask", bad, "-o", tmp_path / "m.tif")
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and "text.tif" in result.output
    assert not (tmp_path / "m.tif").exists()
    assert leftovers(tmp_path) == []


def test_overwrite_replaces_the_output(runner, raster, tmp_path):
    out = tmp_path / "m.tif"
    out.write_bytes(b"old")
    result = invoke(runner, "mask", raster, "-o", out, "--overwrite", "-j", 1, "-q")
    assert result.exit_code == 0, result.output
    assert_array_equal(read_all(out)[0], mask_reference(raster, NODATA, "all"))


@pytest.fixture
def selector_inputs(make_raster):
    first = make_raster("first.tif", nodata=NODATA, mask=True, seed=3)
    second = make_raster("second.tif", nodata=0.0, count=2, seed=4)
    extra = make_raster("extra.tif", dtype="uint8", count=2, seed=5)
    return first, second, extra


@pytest.mark.parametrize("mask_source, use", [("band", "band"), ("dataset", "source")])
def test_selector_matches_numpy_and_library(runner, selector_inputs, tmp_path, mask_source, use):
    first, second, extra = selector_inputs
    out = tmp_path / "selector.tif"
    report = json_of(invoke(runner, "selector", first, second, "-o", out, "--bands", "1,2",
                            "--mask-source", mask_source, "--extra-mask", f"{extra}:2",
                            "-j", 1, "--json"))
    specs = [(path, bidx, use) for path in (first, second) for bidx in (1, 2)]
    expected = selector_reference(specs, (extra, 2))
    assert_array_equal(read_all(out)[0] != 0, expected)

    bands = []
    for path, bidx, _ in specs:
        band = Band(Source(path), bidx)
        band.set_mask_reader(use)
        bands.append(band)
    library = write_selector(*bands, output=tmp_path / "library.tif",
                             extra_masking_band=Band(Source(extra), 2), nbrcpu=1)
    assert_array_equal(read_all(out)[0], read_all(library.output)[0])
    assert (report["valid"], report["masked"]) == (library.valid, library.masked)
    assert report["valid"] == int(expected.sum())


def test_selector_all_bands_and_extra_mask_band_one(runner, selector_inputs, tmp_path):
    first, second, extra = selector_inputs
    out = tmp_path / "selector.tif"
    json_of(invoke(runner, "selector", first, second, "-o", out, "--extra-mask", extra, "-j", 1,
                   "--json"))
    specs = [(first, 1, "band"), (first, 2, "band"), (first, 3, "band"),
             (second, 1, "band"), (second, 2, "band")]
    assert_array_equal(read_all(out)[0] != 0, selector_reference(specs, (extra, 1)))


@pytest.mark.parametrize(
    "args, named",
    [
        (["{first}"], "--output"),
        (["-o", "{out}"], "SRC"),
        (["{first}", "-o", "{out}", "--extra-mask", "{missing}"], "--extra-mask"),
        (["{first}", "-o", "{out}", "--extra-mask", "{extra}:3"], "--extra-mask"),
        (["{first}", "-o", "{out}", "--mask-source", "alpha"], "--mask-source"),
        (["{first}", "{second}", "-o", "{out}", "--bands", "3"], "--bands"),
        (["{first}", "-o", "{first}", "--overwrite"], "--output"),
    ],
)
def test_selector_usage_errors(runner, selector_inputs, tmp_path, args, named):
    first, second, extra = selector_inputs
    out = tmp_path / "out.tif"
    names = {"first": first, "second": second, "extra": extra, "out": out,
             "missing": tmp_path / "missing.tif"}
    result = invoke(runner, "selector", *[arg.format(**names) for arg in args])
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not out.exists()


def test_selector_on_different_grids_is_a_processing_error(runner, make_raster, tmp_path):
    first = make_raster("a.tif")
    other = make_raster("b.tif", width=50)
    result = invoke(runner, "selector", first, other, "-o", tmp_path / "s.tif")
    assert result.exit_code == 1
    assert "a.tif" in result.output and "b.tif" in result.output
    assert not (tmp_path / "s.tif").exists()


def test_info_json_matches_rasterio(runner, make_raster):
    path = make_raster(nodata=NODATA, mask=False, block=(32, 16), count=2)
    info = json_of(invoke(runner, "info", path, "--json", "--workers", 2))
    with rasterio.open(path) as src:
        assert (info["width"], info["height"], info["count"]) == (src.width, src.height, 2)
        assert [band["dtype"] for band in info["bands"]] == list(src.dtypes)
        assert [band["nodata"] for band in info["bands"]] == list(src.nodatavals)
        assert [band["mask_flags"] for band in info["bands"]] == [
            [flag.name for flag in flags] for flags in src.mask_flag_enums]
        assert info["tiled"] is True and info["internal_block"] == [32, 16]
        assert info["riogrande"]["block_size"] == list(choose_block_size(src.profile, 2))
        assert info["riogrande"]["workers"] == 2


def test_info_text(runner, make_raster):
    path = make_raster(dtype="int16", nodata=-1, count=2, tiled=False)
    result = invoke(runner, "info", path, "--workers", 1)
    assert result.exit_code == 0, result.output
    with rasterio.open(path) as src:
        block = choose_block_size(src.profile, 1)
    assert f"{src.width} x {src.height} pixels, 2 band(s)" in result.output
    assert "band 2     int16, nodata -1.0, mask nodata" in result.output
    assert "strips of" in result.output
    assert f"blocks of {block[0]}x{block[1]}" in result.output


def test_info_nan_nodata_is_valid_json(runner, make_raster):
    path = make_raster(nodata=float("nan"))
    info = json_of(invoke(runner, "info", path, "--json"))
    assert info["bands"][0]["nodata"] == "nan"


def test_demo_runs_both_jobs(runner, tmp_path):
    folder = tmp_path / "demo"
    report = json_of(invoke(runner, "demo", folder, "--size", 120, 90, "-j", 1, "--json"))
    example = folder / "example.tif"
    assert report["example"] == str(example)
    for logic in ("all", "any"):
        out = folder / f"mask_{logic}.tif"
        assert report[f"mask_{logic}"]["output"] == str(out)
        assert_array_equal(read_all(out)[0], mask_reference(example, NODATA, logic))
        assert Path(report[f"mask_{logic}"]["quicklook"]).is_file()
    expected = selector_reference([(example, bidx, "band") for bidx in (1, 2, 3)])
    assert_array_equal(read_all(folder / "selector.tif")[0] != 0, expected)
    assert report["selector"]["valid"] == int(expected.sum())


def test_demo_text_summary(runner, tmp_path):
    result = invoke(runner, "demo", tmp_path / "d", "--size", 64, 48, "-j", 1)
    assert result.exit_code == 0, result.output
    for name in ("mask_all", "mask_any", "selector"):
        assert f"{name}: " in result.output and f"{name}.png" in result.output


def test_version_and_help(runner):
    assert invoke(runner, "--version").output.strip().endswith("0.1.0")
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for command in ("mask", "selector", "info", "demo"):
        assert command in result.output


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal():
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with ProgressBar("mask", stream=stream) as bar:
            for done in range(5):
                bar(done, 4 if done < 5 else 4)
    assert "4/4 blocks" in terminal.getvalue() and "100%" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    assert pipe.getvalue() == ""
    quiet = _Terminal()
    with ProgressBar("mask", enabled=False, stream=quiet) as bar:
        bar(1, 2)
    assert quiet.getvalue() == ""


def test_no_progress_when_output_is_not_a_terminal(runner, raster, tmp_path):
    result = invoke(runner, "mask", raster, "-o", tmp_path / "m.tif", "-j", 1, "--json")
    assert "blocks" not in result.output.replace('"block_size"', "")
    assert np.isfinite(json_of(result)["seconds"])
