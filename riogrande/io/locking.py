"""Keep two runs from writing into the same raster at once.

Writing a raster's internal mask updates the file in place; two runs doing
it at the same time would interleave their blocks. :func:`exclusive_write`
takes an advisory lock (``flock``) on the file for the duration of the
write: a second run waits for the first to finish. Readers are not
affected. On platforms without ``fcntl`` (Windows) no lock is taken.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from riogrande.errors import RunCancelledError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1


@contextmanager
def exclusive_write(
    path: str | os.PathLike[str], cancel: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` while the block runs.

    Parameters
    ----------
    path : str or path-like
        The file about to be modified in place.
    cancel : callable, optional
        Polled while waiting for another run; True stops waiting.

    Raises
    ------
    RunCancelledError
        If ``cancel()`` returned True while waiting.
    """
    if fcntl is None:
        yield
        return
    with open(path, "rb") as handle:
        waiting = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    logger.warning("another run is writing into %s; waiting for it", path)
                    waiting = True
                if cancel is not None and cancel():
                    raise RunCancelledError(
                        f"cancelled while waiting for another run writing into {path}"
                    ) from None
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
