"""Cancel from the feedback: the run stops fast, leaving no output and no worker process."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

pytest.importorskip("qgis.core")

from qgis.core import QgsProcessingException, QgsProcessingFeedback  # noqa: E402
from riogrande_qgis.warm_pool import WARM_POOL  # noqa: E402

from tests.reference import leftovers  # noqa: E402


def worker_processes() -> list[psutil.Process]:
    """Children of this process, except multiprocessing's resource tracker (which
    lives as long as the process, by design)."""
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                children.append(child)
        except psutil.NoSuchProcess:
            continue
    return children


class CancelAfterFirstBlocks(QgsProcessingFeedback):
    """Feedback whose user presses Cancel once the first blocks are done."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled_at: float | None = None
        self.progressChanged.connect(self._on_progress)

    def _on_progress(self, percent: float) -> None:
        if percent > 0 and self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()


@pytest.mark.parametrize("algorithm", ["riogrande:computemask", "riogrande:prepareselector"])
def test_cancel_after_first_blocks(algorithm, make_raster, run_alg, tmp_path):
    data = np.random.default_rng(3).uniform(1, 9, (2, 1200, 1500)).astype("float32")
    source = make_raster(data=data, nodata=0.0)
    output = tmp_path / "out.tif"
    feedback = CancelAfterFirstBlocks()
    WARM_POOL.close()  # the workers earlier tests left warm
    assert worker_processes() == []
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        run_alg(algorithm, {"INPUT": str(source), "BLOCK_SIZE": 64, "WORKERS": 2,
                            "OUTPUT": str(output)}, feedback=feedback)
    stopped_after = time.monotonic() - feedback.cancelled_at
    assert 0 < feedback.progress() < 50  # it did stop early: 456 blocks in all
    assert stopped_after < 3
    assert not output.exists()
    assert leftovers(tmp_path) == []
    assert worker_processes() == []
