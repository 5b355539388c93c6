"""A failing run, hundreds of times: it raises every time, promptly, leaving nothing behind.

Stopping worker processes while some of them are sending a result back used to
hang a run now and then (a result pipe left with half a message); these tests
repeat the failure often enough to catch a race that shows once in tens of runs.
"""

from __future__ import annotations

import re
import time
from functools import partial

import numpy as np
import pytest

from riogrande.io.exceptions import BlockProcessingError
from riogrande.io.models import Source
from riogrande.parallel import compute_mask, fill_matrix, process_block
from riogrande.prepare import create_views
from riogrande.runner import run_views

from . import tasks
from .reference import leftovers
from .test_runner import assert_no_orphans, time_limit

pytestmark = pytest.mark.slow

#: A generous bound between a block's failure and the error in the caller (typically
#: tens of milliseconds, seconds on a machine busy with other work): a run that needs
#: more is stuck, not slow.
PROMPT_SECONDS = 10.0


def failure_latency(error: BlockProcessingError) -> float:
    failed_at = float(re.search(r"failed at (\d+\.\d+)", str(error)).group(1))
    return time.monotonic() - failed_at


@pytest.fixture
def big_raster(make_raster):
    """1024x1024 float64: blocks of 256x256 send back 0.5 MB each."""
    return make_raster(width=1024, height=1024, count=1, dtype="float64", block=(256, 256))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_failures_while_results_are_sent_back(big_raster, start_method):
    """Blocks fail while other workers are writing big results: never a hang."""
    views, _ = create_views((256, 256), (0, 0), (1024, 1024))
    runs = 150 if start_method == "fork" else 25
    worst = 0.0
    with time_limit(600):
        for run in range(runs):
            failing = {run % len(views), (run * 7 + 3) % len(views)}
            jobs = [{"task": tasks.big_result_or_fail, "source": Source(big_raster),
                     "bands": [1], "view": view, "task_params": {"fail": index in failing},
                     "read_params": {}, "open_params": {}}
                    for index, view in enumerate(views)]
            with pytest.raises(BlockProcessingError) as caught:
                run_views(process_block, jobs, partial(fill_matrix, np.zeros((1024, 1024))),
                          nbrcpu=2, start_method=start_method)
            worst = max(worst, failure_latency(caught.value))
            assert_no_orphans()
    assert worst < PROMPT_SECONDS


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_every_worker_fails_on_its_first_block(make_raster, tmp_path, backend):
    """All workers fail at once, in a file-writing run: an error, no scratch file."""
    path = make_raster(width=512, height=512, count=1, dtype="uint8", block=(64, 64))
    runs = 200 if backend == "threads" else 25
    worst = 0.0
    with time_limit(600):
        for run in range(runs):
            tasks._FIRST_BLOCK_SEEN.clear()  # threads share this process's memory
            output = tmp_path / f"mask{run}.tif"
            with pytest.raises(BlockProcessingError) as caught:
                compute_mask(path, (64, 64), logic=tasks.fail_first_block_of_each_worker,
                             output=output, nbrcpu=2, backend=backend,
                             start_method="fork" if backend == "processes" else None)
            worst = max(worst, failure_latency(caught.value))
            assert not output.exists() and leftovers(tmp_path) == []
            assert_no_orphans()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert worst < PROMPT_SECONDS


def failing_aggregator(q, after=3):
    """Consume ``after`` messages, then fail like a full disk."""
    for _ in range(after):
        q.get()
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("executor", ["threads", "ThreadPoolExecutor", "processes"])
def test_aggregator_failures(big_raster, executor):
    """The aggregator fails while blocks are in flight: an error every time, nothing left."""
    from concurrent.futures import ThreadPoolExecutor

    from riogrande.io.exceptions import AggregationError

    views, _ = create_views((128, 128), (0, 0), (1024, 1024))
    jobs = [{"task": tasks.big_result_or_fail, "source": Source(big_raster), "bands": [1],
             "view": view, "task_params": {}, "read_params": {}, "open_params": {}}
            for view in views]
    runs = 25 if executor == "processes" else 100
    with time_limit(600), ThreadPoolExecutor(2) as pool:
        for _ in range(runs):
            options = ({"executor": pool} if executor == "ThreadPoolExecutor" else
                       {"backend": "threads"} if executor == "threads" else
                       {"start_method": "fork"})
            with pytest.raises(AggregationError, match="No space left"):
                run_views(process_block, jobs, failing_aggregator, nbrcpu=2, **options)
            assert_no_orphans()
