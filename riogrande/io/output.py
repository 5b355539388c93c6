"""New output files: written under a temporary name, moved into place on success."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

#: Side files GDAL may write next to a raster.
SIDECARS = (".aux.xml", ".msk", ".ovr")


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDECARS)):
        try:
            candidate.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a file under a temporary name; move it into place only on success.

    Parameters
    ----------
    path : str or path-like
        The final location.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (same folder, so the move is atomic).
        If the ``with`` block raises, it is deleted and ``path`` is untouched.
    """
    final = Path(path)
    handle, name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=".part" + (final.suffix or ".tif"), dir=final.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    os.replace(temporary, final)
    for suffix in SIDECARS:  # side files of an older output describe another raster
        Path(f"{final}{suffix}").unlink(missing_ok=True)
        side = Path(f"{temporary}{suffix}")
        if side.exists():
            os.replace(side, f"{final}{suffix}")
    logger.info("wrote %s", final)
