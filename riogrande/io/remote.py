"""Rasters over the network: telling them apart, naming them without secrets, reading, uploading.

A raster in object storage or behind a URL (``https://``, ``s3://``, ``gs://``,
``az://``, GDAL's ``/vsicurl/``, ``/vsis3/``...) is read through GDAL like a
file, with settings that spare requests (:data:`READ_SETTINGS`: no directory
listing on open, the header read once, adjacent ranges merged). A network
fault must never become a wrong pixel: :func:`checked_read` treats a read
that raised, or during which GDAL only logged an error, as failed, drops what
GDAL cached of the file (:func:`forget`: a cut answer stays in its cache and
fails every later read) and tries again with a growing pause before giving up
with an error that names the raster (:func:`redact`: without credentials) and
the window; :func:`checked_open` does the same for opening. Once the run a
read belongs to has failed (:func:`tries_end_when`), it is not tried again.
An output in
object storage is written locally, then uploaded whole (:func:`upload`): a
failure or an interrupt never leaves part of it under its key.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import rasterio.env
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio passes through as they are
from rasterio.errors import RasterioError, RasterioIOError

from riogrande.errors import OutputError, SourceError

T = TypeVar("T")

#: GDAL's virtual file systems of remote data.
REMOTE_PREFIXES = ("/vsicurl/", "/vsicurl?", "/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/",
                   "/vsioss/", "/vsiswift/", "/vsiwebhdfs/", "/vsihdfs/")
#: URL schemes rasterio turns into those.
REMOTE_SCHEMES = ("http://", "https://", "s3://", "gs://", "az://", "azure://", "oss://",
                  "swift://", "ftp://", "zip+https://", "zip+s3://")

#: Object storage URL schemes and the virtual file systems GDAL reads them through.
_STORAGE = {"s3://": "/vsis3/", "gs://": "/vsigs/", "az://": "/vsiaz/", "azure://": "/vsiaz/",
            "oss://": "/vsioss/", "swift://": "/vsiswift/"}
#: URL schemes GDAL reads through ``/vsicurl/``.
_WEB = ("http://", "https://", "ftp://")
#: Virtual file systems that take new files (object storage).
WRITABLE_PREFIXES = ("/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsioss/", "/vsiswift/")

#: GDAL settings of remote reads: no directory listing when a file is opened
#: (it would list the bucket), the header read in one request, adjacent
#: ranges merged, GDAL's own retries of HTTP 429 and 5xx, a request ended
#: when nothing arrives for 10 s (or after 60 s in all), and a cache of
#: downloaded ranges that holds the tiles fetched ahead and those of every
#: read in flight (with GDAL's 16 MB, a tile can be dropped before the read
#: that fetched it uses it, and fetched again).
READ_SETTINGS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.vrt,.TIF,.TIFF,.ovr,.msk",
    "GDAL_INGESTED_BYTES_AT_OPEN": "65536",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    "GDAL_HTTP_LOW_SPEED_TIME": "10",
    "GDAL_HTTP_LOW_SPEED_LIMIT": "1",
    "CPL_VSIL_CURL_CACHE_SIZE": str(64 * 2**20),
}


def read_settings(settings: Mapping[str, str] = READ_SETTINGS) -> dict[str, str]:
    """``settings`` (by default :data:`READ_SETTINGS`) but those the environment sets.

    GDAL reads its settings from the environment too, and a setting given to
    it here would override the variable (e.g. ``GDAL_HTTP_TIMEOUT`` exported
    before a command).
    """
    return {key: value for key, value in settings.items() if key not in os.environ}


#: Tries of one read before it fails, and the first pause between two (doubled each time).
READ_TRIES = 4
FIRST_PAUSE = 0.2
#: Seconds of failing tries of one read after which no other starts: a server that
#: stopped answering costs about a minute, not every try's time-outs.
READ_PATIENCE = 60.0

#: Settings whose values are secrets: never shown.
SECRET_SETTINGS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
                   "GS_SECRET_ACCESS_KEY", "GS_ACCESS_KEY_ID", "GS_OAUTH2_REFRESH_TOKEN",
                   "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_CONNECTION_STRING",
                   "AZURE_STORAGE_SAS_TOKEN", "AZURE_SAS", "OSS_SECRET_ACCESS_KEY",
                   "SWIFT_KEY", "GDAL_HTTP_USERPWD", "GDAL_HTTP_BEARER",
                   "GDAL_HTTP_HEADERS")
#: Answers that another try does not change: a missing file or key, refused access
#: (any HTTP 4xx but 429, "too many requests").
_FINAL = re.compile(r"HTTP response code: 4(?!29)\d\d|does not exist|No such file")
_USER_INFO = re.compile(r"(?<=://)[^/@\s\"']+@")
_QUERY = re.compile(r"(://[^\s\"'?]*)\?[^\s\"']*")

logger = logging.getLogger(__name__)

#: Per thread: the event set when the run of this thread's reads has ended.
_run_state = threading.local()


def is_remote(name: str | os.PathLike[str]) -> bool:
    """Tell whether the raster ``name`` (a dataset name as given to rasterio) is read over the
    network."""
    text = os.fspath(name)
    return text.startswith(REMOTE_PREFIXES) or text.lower().startswith(REMOTE_SCHEMES)


def vsi_name(name: str | os.PathLike[str]) -> str:
    """The GDAL name of ``name``: ``s3://b/k`` is ``/vsis3/b/k``; other names as they are."""
    text = os.fspath(name)
    if text.lower().startswith(_WEB):
        return "/vsicurl/" + text
    for scheme, prefix in _STORAGE.items():
        if text.lower().startswith(scheme):
            return prefix + text[len(scheme):]
    return text


def redact(text: str) -> str:
    """``text`` (a name or a message) without credentials: user and password of URLs, query
    strings (signed URLs, SAS tokens), and the value of every secret setting of the
    environment."""
    text = _USER_INFO.sub("***@", text)
    text = _QUERY.sub(r"\1?***", text)
    for setting in SECRET_SETTINGS:
        value = os.environ.get(setting)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


class _GdalErrors(logging.Filter):
    """Notes the errors and warnings GDAL only logs, per thread.

    rasterio logs GDAL's errors that do not raise at INFO level (``GDAL
    signalled an error``) and GDAL's warnings at WARNING level; a failed
    range request can be either (``Request for ... failed``). Installed on
    rasterio's loggers while remote reads are watched; every record passes
    on only where it would have passed anyway.
    """

    def __init__(self) -> None:
        super().__init__()
        self.watched: dict[int, list[str]] = {}
        self.passing: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        errors = self.watched.get(record.thread or 0)
        message = record.getMessage()
        if errors is not None and (record.levelno >= logging.WARNING
                                   or message.startswith("GDAL signalled an error")):
            errors.append(message)
        return record.levelno >= self.passing.get(record.name, logging.WARNING)


_filter = _GdalErrors()
_watchers = 0
_watch_lock = threading.Lock()
_levels: dict[str, int] = {}
#: rasterio's loggers that report GDAL's errors.
_GDAL_LOGGERS = ("rasterio._err", "rasterio._env")


@contextmanager
def gdal_errors_watched(ident: int, errors: list[str]) -> Iterator[None]:
    """Errors and warnings GDAL only logs in thread ``ident`` go to ``errors`` meanwhile.

    rasterio reports GDAL's errors that do not raise at INFO level; its
    loggers are opened to that level while any thread is watched (the first
    watcher opens them, the last one closes them), and records pass on where
    they would have.
    """
    global _watchers
    with _watch_lock:
        if _watchers == 0:
            for name in _GDAL_LOGGERS:
                gdal_logger = logging.getLogger(name)
                _levels[name] = gdal_logger.level
                _filter.passing[name] = gdal_logger.getEffectiveLevel()
                gdal_logger.addFilter(_filter)
                gdal_logger.setLevel(logging.INFO)
        _watchers += 1
    _filter.watched[ident] = errors
    try:
        yield
    finally:
        _filter.watched.pop(ident, None)
        with _watch_lock:
            _watchers -= 1
            if _watchers == 0:
                for name in _GDAL_LOGGERS:
                    gdal_logger = logging.getLogger(name)
                    gdal_logger.removeFilter(_filter)
                    gdal_logger.setLevel(_levels.pop(name, logging.NOTSET))


@contextmanager
def gdal_options(settings: Mapping[str, str] | None) -> Iterator[None]:
    """GDAL configuration options for the ``with`` block, credentials included.

    ``rasterio.Env(**options)`` refuses AWS credentials as options (it
    wants a session); a caller's session reaches worker processes as the
    options it set, which are set here the way rasterio's sessions set them.
    """
    if not settings:
        yield
        return
    with rasterio.Env():
        rasterio.env.setenv(**settings)
        yield


@contextmanager
def tries_end_when(ended: threading.Event | None) -> Iterator[None]:
    """Reads and openings of this thread are not tried again once ``ended`` is set.

    A run's blocks read in threads that it cannot stop: once one block has
    failed, the others' reads give up at their next fault instead of
    waiting through their own tries (a server that stopped answering costs
    one block's tries, not one per thread). ``ended`` is set when the run
    has failed or was cancelled; with None, reads are always tried again.
    """
    previous = getattr(_run_state, "ended", None)
    _run_state.ended = ended
    try:
        yield
    finally:
        _run_state.ended = previous


def checked_read(name: str, window: Any, read: Callable[[], T]) -> T:
    """Return ``read()`` of the raster ``name`` over ``window`` (both for the messages); tried
    again on a network fault.

    A read that raised, or during which GDAL logged an error or a warning
    in this thread (a cut connection, a short body, HTTP 5xx or 429 after
    GDAL's own retries), counts as failed: a block read after a fault is never used.
    Before the next try, GDAL's cache of the file is dropped; there is none
    once the run has ended (see :func:`tries_end_when`), nor after
    :data:`READ_PATIENCE` seconds of tries. A local file is read once: its
    errors (a damaged or truncated file) are not transient.

    Raises
    ------
    SourceError
        Naming the raster (without credentials), the window and GDAL's
        reasons, once every try failed.
    """
    if not is_remote(name):
        try:
            return read()
        except RasterioIOError as error:
            raise SourceError(f"cannot read {name} ({_where(window)}), the file is damaged "
                              f"or truncated: {_reasons(error)}") from None
    pause, started = FIRST_PAUSE, time.monotonic()
    ident = threading.get_ident()
    for attempt in range(1, READ_TRIES + 1):
        errors: list[str] = []
        try:
            with gdal_errors_watched(ident, errors):
                result = read()
        except RasterioIOError as error:
            reason = _reasons(error)
        else:
            if not errors:
                return result
            reason = "; ".join(dict.fromkeys(errors))
        if attempt == READ_TRIES or not _before_next_try(name, f"reading {_where(window)}",
                                                         attempt, reason, pause, started):
            break
        pause *= 2
    raise SourceError(redact(f"cannot read {name} ({_where(window)}) in {attempt} "
                             f"tr{'y' if attempt == 1 else 'ies'} over the network: {reason}"))


def checked_open(name: str, open_dataset: Callable[[], T]) -> T:
    """Return ``open_dataset()`` of the raster ``name``; tried again on a network fault.

    An answer another try does not change (a missing key, refused access:
    HTTP 4xx but 429) is final; so is any error of a local file, and any
    once the run has ended (see :func:`tries_end_when`).

    Raises
    ------
    rasterio.errors.RasterioIOError
        The error of the last try.
    """
    if not is_remote(name):
        return open_dataset()
    pause, started = FIRST_PAUSE, time.monotonic()
    for attempt in range(1, READ_TRIES):
        try:
            return open_dataset()
        except RasterioIOError as error:
            reason = _reasons(error)
            if _FINAL.search(reason) or not _before_next_try(name, "opening", attempt, reason,
                                                             pause, started):
                raise
        pause *= 2
    return open_dataset()


def _before_next_try(name: str, what: str, attempt: int, reason: str, pause: float,
                     started: float) -> bool:
    """Log a failed try, forget the file's cached data, wait ``pause`` seconds.

    Returns False, without waiting, when there is no next try: the run has
    ended, or the tries began more than :data:`READ_PATIENCE` seconds ago
    (``started``, of :func:`time.monotonic`).
    """
    ended = getattr(_run_state, "ended", None)
    if (ended is not None and ended.is_set()) or time.monotonic() - started > READ_PATIENCE:
        return False
    logger.info("%s %s failed, try %d of %d: %s", what, redact(name), attempt, READ_TRIES,
                redact(reason))
    forget(name)
    if ended is None:
        time.sleep(pause)
        return True
    return not ended.wait(pause)


def forget(name: str) -> None:
    """Drop what GDAL caches of the remote raster ``name`` (its size, the ranges read).

    GDAL keeps the answers of a remote file for the whole process, a cut or
    short one included, on which every later read of that part fails again.
    """
    clear = _cache_clearer()
    if clear is not None:
        clear(vsi_name(name).encode())


@functools.cache
def gdal_library() -> ctypes.CDLL | None:
    """The GDAL library rasterio uses, for the functions rasterio does not expose.

    It is found through rasterio's own extension module, which links it;
    None where the platform does not resolve it.
    """
    import rasterio._base  # the extension module linked with GDAL

    try:
        return ctypes.CDLL(rasterio._base.__file__)
    except OSError:
        return None


@functools.cache
def _cache_clearer() -> Callable[[bytes], None] | None:
    """GDAL's ``VSICurlPartialClearCache`` (None where not found)."""
    clear = getattr(gdal_library(), "VSICurlPartialClearCache", None)
    if clear is None:
        logger.debug("GDAL's VSICurlPartialClearCache not found: failed remote reads are "
                     "tried again without clearing GDAL's cache")
        return None
    clear.argtypes = [ctypes.c_char_p]
    clear.restype = None
    return clear


def _where(window: Any) -> str:
    return "the whole raster" if window is None else str(window)


def _reasons(error: BaseException) -> str:
    """GDAL's messages behind a rasterio error, deepest first (rasterio chains them)."""
    messages: list[str] = []
    cause: BaseException | None = error
    while cause is not None:
        text = str(cause).strip()
        if text and "See previous exception" not in text and text not in messages:
            messages.append(text)
        cause = cause.__cause__
    return "; ".join(reversed(messages)) or type(error).__name__


def check_remote_output(output: str | os.PathLike[str],
                        inputs: list[str | os.PathLike[str]]) -> str:
    """Check that a new raster can be written at the remote name ``output``.

    Returns
    -------
    str
        ``output`` as given.

    Raises
    ------
    OutputError
        For a URL that takes no new file (HTTP), or an output that is an input.
    """
    name = vsi_name(output)
    if not name.startswith(WRITABLE_PREFIXES):
        raise OutputError(f"cannot write {redact(os.fspath(output))}: over the network, new "
                          "files go to object storage (s3://, gs://, az://...)")
    for source in inputs:
        if vsi_name(source) == name:
            raise OutputError(f"the output {redact(os.fspath(output))} is also an input; "
                              "choose another output")
    return os.fspath(output)


def exists(name: str) -> bool:
    """Whether a raster already stands under the remote name ``name``."""
    try:
        return bool(rasterio.shutil.exists(vsi_name(name)))
    except (RasterioError, CPLE_BaseError):  # GDAL says "no such key" by an error
        return False


def upload(local: str | os.PathLike[str], output: str) -> None:
    """Copy the finished file ``local`` to the remote name ``output``, whole.

    Object storage shows a new object only once it is complete: a failure
    leaves nothing under the key.

    Raises
    ------
    OutputError
        Naming the output (without credentials) and GDAL's reason.
    """
    try:
        with rasterio.Env(**read_settings()):
            rasterio.shutil.copyfiles(os.fspath(local), vsi_name(output))
    except (RasterioError, CPLE_BaseError, OSError) as error:
        raise OutputError(redact(f"uploading {output} failed: {error}")) from None
