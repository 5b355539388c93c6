"""Running a call as an unprivileged user (root may write any file), whatever the checkout.

The call runs in a forked child that drops to ``nobody`` (uid 65534). The child
cannot exec a fresh interpreter (the Python and the checkout may lie under a
0700 home), so it is forked from the test process and uses what that process
already loaded; it must not need files the libraries read lazily from there.
The one such file riogrande's calls reach is PROJ's database (``proj.db`` in
rasterio's wheel), read when a raster has a CRS: rasters for these calls are
written without one (:func:`unprivileged_raster`), and their folder is a
world-readable temporary folder outside the checkout.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from affine import Affine

from .conftest import synthetic_data, write_raster

NOBODY = 65534


@contextmanager
def readable_folder() -> Iterator[Path]:
    """A fresh folder every user may enter (mode 0755), outside the checkout; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="riogrande-readonly-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder)


def unprivileged_raster(path: Path) -> Path:
    """A 2-band float32 GeoTIFF with a geotransform and no CRS (no PROJ lookup to read it)."""
    return write_raster(path, synthetic_data(2, 61, 97), crs=None,
                        transform=Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5200000.0))


def _child(call: Callable[[], Any], answers: Any) -> None:
    if os.getuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    try:
        answers.put(("returned", call()))
    except BaseException as error:  # sent back to the test
        answers.put(("raised", (type(error).__name__, str(error))))


def run_as_nobody(call: Callable[[], Any], timeout: float = 60) -> tuple[str, Any]:
    """Run ``call()`` in a forked child as uid 65534 (when root).

    Returns
    -------
    ("returned", value) or ("raised", (exception class name, message))
    """
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_child, args=(call, answers))
    child.start()
    try:
        return answers.get(timeout=timeout)
    finally:
        child.join(timeout=30)
        assert child.exitcode == 0, f"the unprivileged child ended with code {child.exitcode}"
