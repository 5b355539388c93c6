"""Module-level task functions that worker processes (spawn) can import."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

import numpy as np


def focal_mean(data: np.ndarray) -> np.ndarray:
    """3x3 mean of the first band over the cells that exist (zero padding, counted)."""
    band = np.asarray(data[0], dtype=np.float64)
    padded = np.pad(band, 1)
    present = np.pad(np.ones_like(band), 1)
    total = np.zeros_like(band)
    count = np.zeros_like(band)
    rows, cols = band.shape
    for dy in range(3):
        for dx in range(3):
            total += padded[dy : dy + rows, dx : dx + cols]
            count += present[dy : dy + rows, dx : dx + cols]
    return total / count


def band_ratio(data: np.ndarray, first: int = 0, second: int = 1) -> np.ndarray:
    """Normalised difference of two bands, 0 where both are 0."""
    a = np.asarray(data[first], dtype=np.float64)
    b = np.asarray(data[second], dtype=np.float64)
    total = a + b
    out = np.zeros_like(total)
    np.divide(a - b, total, out=out, where=total != 0)
    return out


def band_sum(data: np.ndarray) -> np.ndarray:
    """Sum of the bands, as float64."""
    return np.asarray(data, dtype=np.float64).sum(axis=0)


def linear_model(data: np.ndarray, weights: list[float], offset: float = 0.0) -> np.ndarray:
    """``offset + sum(weights[i] * data[i])`` in float64: a fitted model applied to predictors."""
    bands = np.asarray(data, dtype=np.float64)
    return offset + np.tensordot(np.asarray(weights, dtype=np.float64), bands, axes=1)


def first_band_above(array: np.ndarray, nodata: Any, threshold: float = 50.0) -> np.ndarray:
    """A mask logic: valid where band 1 is above ``threshold`` and not nodata."""
    first = np.asarray(array[0], dtype=np.float64)
    return (first > threshold) & (first != nodata)


def fail_when(data: np.ndarray, fail: bool = False, delay: float = 0.0) -> np.ndarray:
    """Return the first band; raise when ``fail``."""
    if delay:
        time.sleep(delay)
    if fail:
        raise ValueError("this block is broken on purpose")
    return np.asarray(data[0])


def die_when(data: np.ndarray, die: bool = False, delay: float = 0.0) -> np.ndarray:
    """Return the first band; SIGKILL the worker process when ``die``."""
    if delay:
        time.sleep(delay)
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
    return np.asarray(data[0])


def slow_copy(data: np.ndarray, delay: float = 0.05) -> np.ndarray:
    """Return the first band after ``delay`` seconds."""
    time.sleep(delay)
    return np.asarray(data[0])


def report_executable(queue: Any) -> None:
    """Put this process's ``sys.executable`` on ``queue``."""
    queue.put(sys.executable)


def fail_on_narrow_block(array: np.ndarray, nodata: Any) -> np.ndarray:
    """A mask logic that breaks on blocks narrower than 10 columns."""
    if array.shape[2] < 10:
        raise RuntimeError(f"cannot handle a block {array.shape[2]} columns wide")
    return np.ones(array.shape[1:], dtype=bool)


def log_start(data: np.ndarray, log_path: str) -> np.ndarray:
    """Append a line to ``log_path`` when the task starts, then return the first band."""
    with open(log_path, "a") as handle:
        handle.write("started\n")
    return np.asarray(data[0])


def gdal_cache_setting(data: np.ndarray) -> str | None:
    """Return this worker's GDAL_CACHEMAX setting (as rasterio sees it)."""
    import rasterio.env

    return rasterio.env.get_gdal_config("GDAL_CACHEMAX")


def inherited_test_modules(data: np.ndarray, delay: float = 0.0) -> np.ndarray:
    """True everywhere if this worker was forked from the test process (it has pytest)."""
    if delay:
        time.sleep(delay)
    return np.full(data.shape[1:], "pytest" in sys.modules)


def band_sum_first_row(array: np.ndarray, nodata: Any) -> np.ndarray:
    """A broken mask logic: returns one row instead of a 2-D mask."""
    return np.asarray(array).sum(axis=0)[0]


def unpicklable_result(data: np.ndarray) -> Any:
    """A task whose result cannot travel back from a worker process."""
    return threading.Lock()


def fail_first_block_of_each_worker(data: np.ndarray, seen: Any = None) -> np.ndarray:
    """Raise on the first block each worker (process or thread) gets; else a float copy.

    The message carries the time of the failure (``failed at <time.monotonic()>``,
    comparable across the processes of one machine).
    """
    key = (os.getpid(), threading.get_ident())
    if key not in _FIRST_BLOCK_SEEN:
        _FIRST_BLOCK_SEEN.add(key)
        raise ValueError(f"failed at {time.monotonic():.6f}")
    return np.repeat(np.asarray(data[0], dtype=np.float64), 1, axis=0)


def big_result_or_fail(data: np.ndarray, fail: bool = False) -> np.ndarray:
    """A block result of several MB (it takes a while to send back), or a failure."""
    if fail:
        raise ValueError(f"failed at {time.monotonic():.6f}")
    return np.asarray(data[0], dtype=np.float64)


_FIRST_BLOCK_SEEN: set = set()
