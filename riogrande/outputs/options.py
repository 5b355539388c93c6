"""Creation options: parsed, merged onto riogrande's defaults, checked by GDAL itself.

GDAL validates creation options against each driver's
``DMD_CREATIONOPTIONLIST`` when a file is created, but only warns. Before
any work starts, :func:`check_creation_options` creates a tiny file in
``/vsimem/`` with the same driver, data type, band count and options, and
turns every warning or error GDAL gives into a :class:`CreationOptionError`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.transform import from_origin

from riogrande.errors import CreationOptionError

#: Profile keys riogrande sets from the source and the encoding.
RESERVED = ("DRIVER", "COUNT", "DTYPE", "WIDTH", "HEIGHT", "CRS", "TRANSFORM", "NODATA")

#: Overview resampling that keeps a 0/1 mask made of 0 and 1.
MASK_RESAMPLING = ("NEAREST", "MODE")

_PROBE_SIDE = 64


def parse_creation_options(items: Iterable[str]) -> dict[str, str]:
    """Parse ``KEY=VALUE`` texts (``--co`` of the command line) into a dict.

    Raises
    ------
    CreationOptionError
        For an item without ``=`` or with an empty key.
    """
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise CreationOptionError(f"creation option {item!r} is not KEY=VALUE "
                                      "(for example COMPRESS=ZSTD)")
        options[key.strip().upper()] = value.strip()
    return options


def normalize_creation_options(options: Mapping[str, Any] | None) -> dict[str, str]:
    """Return ``options`` with upper-case keys and text values.

    Raises
    ------
    CreationOptionError
        For a key riogrande sets itself (size, type, bands, georeferencing).
    """
    normalized: dict[str, str] = {}
    for key, value in (options or {}).items():
        name = str(key).strip().upper()
        if name in RESERVED:
            raise CreationOptionError(
                f"{name} is set by riogrande from the source and the encoding, "
                f"not as a creation option (riogrande sets {', '.join(RESERVED)})")
        if isinstance(value, bool):
            value = "YES" if value else "NO"
        normalized[name] = str(value)
    return normalized


def merge_options(defaults: Mapping[str, Any], user: Mapping[str, str]) -> dict[str, Any]:
    """Creation options: riogrande's ``defaults`` overridden by the user's.

    A user's ``COMPRESS`` also drops the default compression level and
    predictor, which belong to the default compression.
    """
    merged = {key.upper(): value for key, value in defaults.items()}
    if "COMPRESS" in user:
        for tied in ("ZLEVEL", "LEVEL", "PREDICTOR"):
            merged.pop(tied, None)
    merged.update(user)
    return merged


def check_mask_resampling(options: Mapping[str, Any]) -> None:
    """Refuse overview resampling that would average 0/1 values.

    Raises
    ------
    CreationOptionError
        For a ``RESAMPLING``/``OVERVIEW_RESAMPLING`` other than NEAREST or MODE.
    """
    for key in ("RESAMPLING", "OVERVIEW_RESAMPLING"):
        value = str(options.get(key, "NEAREST")).upper()
        if value not in MASK_RESAMPLING:
            raise CreationOptionError(
                f"{key}={value} would average a 0/1 mask into other values; "
                f"use one of {', '.join(MASK_RESAMPLING)}")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _gdal_warnings() -> Iterator[list[str]]:
    """Collect the warnings GDAL reports (rasterio logs them on ``rasterio._env``)."""
    gdal_logger = logging.getLogger("rasterio._env")
    handler = _Collect()
    previous = gdal_logger.level, gdal_logger.propagate
    gdal_logger.setLevel(logging.WARNING)
    gdal_logger.propagate = False  # reported as one error, not also logged
    gdal_logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        gdal_logger.removeHandler(handler)
        gdal_logger.setLevel(previous[0])
        gdal_logger.propagate = previous[1]


def _profile(dtype: str, count: int) -> dict[str, Any]:
    return {"width": _PROBE_SIDE, "height": _PROBE_SIDE, "count": count, "dtype": dtype,
            "crs": "EPSG:4326", "transform": from_origin(0, 1, 1 / _PROBE_SIDE, 1 / _PROBE_SIDE)}


def _probe(
    driver: str, direct: bool, dtype: str, count: int, options: Mapping[str, Any]
) -> list[str]:
    """Create a tiny file with ``options``; return GDAL's complaints."""
    name = f"/vsimem/riogrande-probe-{uuid.uuid4().hex}"
    target = f"{name}.out"
    with _gdal_warnings() as messages:
        try:
            if direct:
                with rasterio.open(target, "w", driver=driver, **_profile(dtype, count),
                                   **options) as probe:
                    probe.write(np.zeros((count, _PROBE_SIDE, _PROBE_SIDE), dtype=dtype))
            else:
                with rasterio.open(f"{name}.tif", "w", driver="GTiff",
                                   **_profile(dtype, count)) as scratch:
                    scratch.write(np.zeros((count, _PROBE_SIDE, _PROBE_SIDE), dtype=dtype))
                rasterio.shutil.copy(f"{name}.tif", target, driver=driver, **options)
        except Exception as error:  # noqa: BLE001 (any failure of the probe is GDAL's answer)
            messages.append(str(error))
        finally:
            for path in (f"{name}.tif", target):
                with suppress(RasterioError, OSError):
                    rasterio.shutil.delete(path)
    short = target.rpartition("/")[2]
    return [message.replace(f"{target}: ", "").replace(f"{short}: ", "") for message in messages]


def check_creation_options(
    driver: str, direct: bool, dtype: str, count: int, options: Mapping[str, Any]
) -> None:
    """Check the creation ``options`` (keys in any case) of a file of ``driver`` with GDAL,
    before any work.

    The probe file has ``count`` bands of ``dtype`` and is written with
    ``Create`` when ``direct``, else with ``CreateCopy``.

    Raises
    ------
    CreationOptionError
        Quoting what GDAL said about the options.
    """
    messages = _probe(driver, direct, dtype, count, options)
    if messages:
        shown = ", ".join(f"{key}={value}" for key, value in options.items())
        raise CreationOptionError(f"the {driver} driver does not accept the creation options "
                                  f"({shown}): " + "; ".join(dict.fromkeys(messages)))


@cache
def driver_accepts(driver: str, direct: bool, dtype: str, key: str, value: str) -> bool:
    """Whether ``driver`` takes ``key=value`` without complaint (for defaults)."""
    return not _probe(driver, direct, dtype, 1, {key: value})
