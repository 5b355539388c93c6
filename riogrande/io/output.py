"""New output files: written under a temporary name, moved into place on success."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from riogrande.errors import OutputError

logger = logging.getLogger(__name__)

#: Side files GDAL may write next to a raster.
SIDECARS = (".aux.xml", ".msk", ".ovr")


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDECARS)):
        candidate.unlink(missing_ok=True)


def new_file_mode() -> int:
    """The permissions ``open()`` gives a new file: ``0o666`` less the umask (0644 under 022).

    Linux reports the umask in ``/proc/self/status``; elsewhere it is read by
    setting and restoring it (``os.umask`` has no read-only form).
    """
    with suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a file under a temporary name; move it to ``path`` only on success.

    Yields
    ------
    pathlib.Path
        The temporary path to write to (same folder, so the move is atomic).
        If the ``with`` block raises, it is deleted and ``path`` is untouched.
        The file gets the permissions of any new file of the caller
        (:func:`new_file_mode`), not the private ``0600`` of a temporary file.

    Raises
    ------
    OutputError
        If the temporary file cannot be created in the folder of ``path``.
    """
    final = Path(path)
    temporary = None
    try:
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{final.stem}.", suffix=".part" + (final.suffix or ".tif"),
                dir=final.parent,
            )
        except OSError as error:
            raise OutputError(f"cannot write {final}: {error.strerror or error}") from None
        temporary = Path(name)
        os.close(handle)
        yield temporary
        os.chmod(temporary, new_file_mode())
    except BaseException:
        if temporary is not None:
            _remove(temporary)
        raise
    os.replace(temporary, final)
    for suffix in SIDECARS:  # side files of an older output describe another raster
        Path(f"{final}{suffix}").unlink(missing_ok=True)
        side = Path(f"{temporary}{suffix}")
        if side.exists():
            os.replace(side, f"{final}{suffix}")
    logger.info("wrote %s", final)

