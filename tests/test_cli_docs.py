"""The example script of the documentation runs and gives the whole-array result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from numpy.testing import assert_allclose

from tests.reference import box_mean, read_all

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_smooth_example_equals_the_whole_array_filter(make_raster, tmp_path):
    raster = make_raster(width=300, height=270, count=2, block=(64, 64))
    out = tmp_path / "smooth.tif"
    done = subprocess.run([sys.executable, str(EXAMPLES / "smooth.py"), str(raster), str(out),
                           "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_allclose(read_all(out), box_mean(read_all(raster), 3), rtol=1e-5)
    assert "4/4 blocks" in done.stdout  # 300 x 270 pixels in views of 256 x 256
