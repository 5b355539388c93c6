"""GDAL dataset names that are not plain files, and containers without bands.

Subdatasets of a netCDF file (``NETCDF:"RGB.nc":Band1``, ``netcdf:RGB.nc:Band2``),
pages of a multi-page TIFF (``GTIFF_DIR:2:pages.tif``) and members of a zip
(``/vsizip/a.zip/b.tif``) are read wherever a raster is (library, command line);
results equal numpy on what rasterio reads from the same name. The file behind
such a name counts as an input when outputs are checked. A container with no
bands of its own is refused with the list of its subdatasets.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from click.testing import CliRunner

from riogrande.cli.main import cli
from riogrande.io.exceptions import NoBandsError, OutputError, SourceError
from riogrande.io.models import Band
from riogrande.io.names import backing_file, is_plain_path
from riogrande.masking import selector_array, write_mask, write_selector

from .conftest import CRS, TRANSFORM, file_sha256, synthetic_data, write_raster
from .reference import leftovers, mask_reference, read_all, selector_reference

NODATA = -9999.0


def has_driver(name: str) -> bool:
    with rasterio.Env() as env:
        return name in env.drivers()


needs_netcdf = pytest.mark.skipif(not has_driver("netCDF"),
                                  reason="this GDAL has no netCDF driver")


def netcdf_container(folder: Path) -> Path:
    """RGB.nc: three float32 variables Band1..Band3 (GDAL's netCDF driver), nodata -9999."""
    source = write_raster(folder / "rgb-source.tif", synthetic_data(3, 45, 70, fill=NODATA),
                          nodata=NODATA)
    container = folder / "RGB.nc"
    rasterio.shutil.copy(source, container, driver="netCDF")
    source.unlink()
    return container


def multipage_tiff(folder: Path) -> Path:
    """pages.tif: page 1 one uint8 band, page 2 three float32 bands (nodata -9999)."""
    path = folder / "pages.tif"
    first = synthetic_data(1, 40, 50, "uint8", seed=4)
    second = synthetic_data(3, 40, 50, fill=NODATA, seed=5)
    profile = {"driver": "GTiff", "width": 50, "height": 40, "crs": CRS, "transform": TRANSFORM}
    with rasterio.open(path, "w", count=1, dtype="uint8", **profile) as dst:
        dst.write(first)
    with rasterio.open(path, "w", count=3, dtype="float32", nodata=NODATA,
                       APPEND_SUBDATASET="YES", **profile) as dst:
        dst.write(second)
    return path


def zipped(folder: Path) -> Path:
    """a.zip holding member.tif (three float32 bands, nodata -9999)."""
    member = write_raster(folder / "member.tif", synthetic_data(3, 30, 40, fill=NODATA),
                          nodata=NODATA)
    archive = folder / "a.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.write(member, "member.tif")
    member.unlink()
    return archive


def names(folder: Path) -> dict[str, tuple[str, Path]]:
    """Each kind of dataset name -> (name, the file behind it)."""
    found = {}
    if has_driver("netCDF"):
        container = netcdf_container(folder)
        found["NETCDF:quoted"] = (f'NETCDF:"{container}":Band2', container)
        found["netcdf:plain"] = (f"netcdf:{container}:Band1", container)
    pages = multipage_tiff(folder)
    found["GTIFF_DIR"] = (f"GTIFF_DIR:2:{pages}", pages)
    archive = zipped(folder)
    found["vsizip"] = (f"/vsizip/{archive}/member.tif", archive)
    return found


@pytest.fixture
def dataset_names(tmp_path):
    return names(tmp_path)


def test_names_are_told_apart_from_plain_paths(tmp_path, dataset_names):
    for name, behind in dataset_names.values():
        assert not is_plain_path(name)
        assert backing_file(name) == behind
    colon = tmp_path / "a:b.tif"
    colon.write_bytes(b"")
    for plain in (str(colon), "missing.tif", "C:/data/x.tif", str(tmp_path / "x.tif")):
        assert is_plain_path(plain) and backing_file(plain) == Path(plain)
    assert backing_file("/vsicurl/https://example.com/x.tif") is None


def test_mask_and_selector_of_every_name(tmp_path, dataset_names):
    for kind, (name, behind) in dataset_names.items():
        digest = file_sha256(behind)
        with rasterio.open(name) as src:
            nodata, count = src.nodata, src.count
        out = tmp_path / f"mask-{kind}.tif"
        write_mask(name, out, nodata=nodata if nodata is not None else 0, logic="any", nbrcpu=2)
        expected = mask_reference(name, nodata if nodata is not None else 0, "any")
        np.testing.assert_array_equal(read_all(out)[0], expected, err_msg=kind)
        bands = [Band(name, bidx) for bidx in range(1, count + 1)]
        selected, _ = selector_array(*bands, nbrcpu=2)
        reference = selector_reference([(name, bidx, "band") for bidx in range(1, count + 1)])
        np.testing.assert_array_equal(selected, reference, err_msg=kind)
        written = write_selector(*bands, output=tmp_path / f"sel-{kind}.tif", nbrcpu=1)
        np.testing.assert_array_equal(read_all(written.output)[0], reference.astype(np.uint8))
        assert file_sha256(behind) == digest
    assert leftovers(tmp_path) == []


def test_cli_reads_every_name(tmp_path, dataset_names):
    runner = CliRunner()
    for kind, (name, _) in dataset_names.items():
        out = tmp_path / f"cli-{kind}.tif"
        with rasterio.open(name) as src:
            nodata = src.nodata if src.nodata is not None else 0
        result = runner.invoke(cli, ["mask", name, "-o", str(out), "--nodata", str(nodata),
                                     "-j", "2", "-q"])
        assert result.exit_code == 0, (kind, result.output)
        np.testing.assert_array_equal(read_all(out)[0], mask_reference(name, nodata, "all"))
        result = runner.invoke(cli, ["selector", name, "-o", str(tmp_path / f"s-{kind}.tif"),
                                     "--extra-mask", f"{name}:1", "-q"])
        assert result.exit_code == 0, (kind, result.output)
        info = runner.invoke(cli, ["info", name, "--json"])
        assert info.exit_code == 0, (kind, info.output)


def test_output_on_the_file_behind_a_name(tmp_path, dataset_names):
    runner = CliRunner()
    for kind, (name, behind) in dataset_names.items():
        digest = file_sha256(behind)
        with pytest.raises(OutputError, match="also an input"):
            write_mask(name, behind, nbrcpu=1)
        with pytest.raises(OutputError, match="also an input"):
            write_selector(Band(name, 1), output=behind, nbrcpu=1)
        for option, args in (
            ("'-o'", ["-o", str(behind)]),
            ("'--quicklook'", ["-o", str(tmp_path / "m.tif"), "--quicklook", str(behind)]),
        ):
            result = runner.invoke(cli, ["mask", name, *args, "--overwrite"])
            assert result.exit_code == 2, (kind, option, result.output)
            assert "also an input" in result.output and option in result.output
        assert file_sha256(behind) == digest, kind


def test_in_place_into_a_name_that_is_not_a_file(dataset_names):
    runner = CliRunner()
    for kind, (name, behind) in dataset_names.items():
        digest = file_sha256(behind)
        with pytest.raises(OutputError, match="not a plain file"):
            write_mask(name, nbrcpu=1)
        result = runner.invoke(cli, ["mask", name, "--in-place", "--yes"])
        assert result.exit_code == 2, (kind, result.output)
        assert "--in-place" in result.output and "-o FILE" in result.output
        assert file_sha256(behind) == digest


def test_missing_file_behind_a_name_is_a_clear_error(tmp_path):
    for name in (f'NETCDF:"{tmp_path}/none.nc":Band1', f"GTIFF_DIR:1:{tmp_path}/none.tif"):
        with pytest.raises(SourceError) as caught:
            write_mask(name, tmp_path / "m.tif", nbrcpu=1)
        assert name in str(caught.value) and "Traceback" not in str(caught.value)
        result = CliRunner().invoke(cli, ["mask", name, "-o", str(tmp_path / "m.tif")])
        assert result.exit_code == 1 and name in result.output, result.output
    assert list(tmp_path.iterdir()) == []


@needs_netcdf
# the container itself has no geotransform (its variables have one): rasterio warns on opening it
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_container_without_bands_lists_its_subdatasets(tmp_path):
    container = netcdf_container(tmp_path)
    digest = file_sha256(container)
    with pytest.raises(NoBandsError) as caught:
        write_mask(container, tmp_path / "m.tif", nbrcpu=1)
    message = str(caught.value)
    with rasterio.open(container) as src:
        subdatasets = src.subdatasets
    assert len(subdatasets) == 3
    assert str(container) in message and "no raster bands" in message
    assert all(name in message for name in subdatasets)
    assert isinstance(caught.value, SourceError)
    with pytest.raises(NoBandsError):
        selector_array(Band(container, 1), nbrcpu=1)
    for args in (["mask", str(container), "-o", str(tmp_path / "m.tif")],
                 ["selector", str(container), "-o", str(tmp_path / "m.tif")],
                 ["info", str(container)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert all(name in result.output for name in subdatasets)
        assert "-b" not in result.output and "--bands" not in result.output
        assert "Usage" not in result.output and "Traceback" not in result.output
    assert file_sha256(container) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RGB.nc"]
