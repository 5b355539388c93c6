"""The errors riogrande raises, in one module below every other.

Every error derives from :class:`RiograndeError`; most also derive from the
builtin exception a caller would naturally catch (``OSError``, ``ValueError``,
``RuntimeError``), so ``except ValueError`` keeps working. A raster that is
missing or cannot be read raises a :class:`SourceError`, which is also
rasterio's :class:`~rasterio.errors.RasterioIOError`, the error rasterio
raises for the same file: ``except RasterioIOError`` keeps working too.
"""

from __future__ import annotations

from typing import Any

# Importing rasterio's error classes loads rasterio, which the riogrande
# package has loaded before this module in any case.
from rasterio.errors import RasterioIOError

__all__ = [
    "AggregationError",
    "BandSelectionAmbiguousError",
    "BandSelectionNoMatchError",
    "BlockProcessingError",
    "BlockSizeError",
    "CreationOptionError",
    "EncodingError",
    "ExpressionError",
    "ExtraMaskBandError",
    "FunctionError",
    "IncompatibleRastersError",
    "InvalidBandError",
    "InvalidMaskSelectorError",
    "InvalidModeError",
    "InvalidNodataError",
    "NoBandsError",
    "OutputError",
    "OutputFormatError",
    "RasterMismatchError",
    "RiograndeError",
    "RunCancelledError",
    "RunError",
    "SourceError",
    "SourceNotFoundError",
    "SourceNotSavedError",
    "UnknownExtensionError",
    "UnsupportedDtypeError",
    "UnsupportedLogicError",
    "ValueRangeError",
    "WorkerLostError",
]


class RiograndeError(Exception):
    """Base class of every riogrande error."""


class SourceError(RiograndeError, RasterioIOError):
    """A raster source cannot be opened or read.

    Also a :class:`rasterio.errors.RasterioIOError` (an ``OSError``), as
    rasterio raises for a missing file or one that is not a raster.
    """


class SourceNotFoundError(SourceError, FileNotFoundError):
    """A raster source does not exist."""


class SourceNotSavedError(SourceNotFoundError):
    """A :class:`~riogrande.io.models.Source` names a file that has not been written yet."""


class UnknownExtensionError(RiograndeError, ValueError):
    """A new raster's file name does not tell which format to write."""


class InvalidModeError(RiograndeError, ValueError):
    """A raster cannot be opened in the mode asked for."""


class NoBandsError(SourceError):
    """A dataset has no raster bands (a container such as netCDF: open a subdataset)."""


class InvalidBandError(RiograndeError, ValueError):
    """A band index is out of range or otherwise unusable."""


class BandSelectionNoMatchError(InvalidBandError):
    """No band has the requested index or tags."""


class BandSelectionAmbiguousError(InvalidBandError):
    """Several bands match the requested tags, or an index and tags disagree."""


class ExtraMaskBandError(InvalidBandError):
    """The extra masking band of a selector is not a band of its file."""


class InvalidMaskSelectorError(RiograndeError, ValueError):
    """A band's mask reader is none of the supported choices."""


class BlockSizeError(RiograndeError, ValueError):
    """A block size is not a pair of positive integers."""


class IncompatibleRastersError(RiograndeError, ValueError):
    """Rasters that must share a grid (shape, transform, CRS) do not."""


class RasterMismatchError(IncompatibleRastersError, TypeError):
    """Rasters differ in CRS, linear units or resolution (also a ``TypeError``)."""


class UnsupportedDtypeError(RiograndeError, ValueError):
    """A data type has no value range to convert from or to (e.g. ``bool``)."""


class ValueRangeError(RiograndeError, OverflowError):
    """A result does not fit the data type it must be stored in."""


class UnsupportedLogicError(RiograndeError, ValueError):
    """A mask logic is neither a supported name nor a callable."""


class InvalidNodataError(RiograndeError, ValueError):
    """A nodata value cannot occur in the data type it is applied to."""


class OutputError(RiograndeError, OSError):
    """An output raster cannot be written where it was asked for."""


class OutputFormatError(OutputError, ValueError):
    """An output format (file extension or driver) riogrande cannot write."""


class CreationOptionError(OutputError, ValueError):
    """A creation option the output driver rejects, or one riogrande sets itself."""


class EncodingError(OutputError, ValueError):
    """An output encoding that does not fit the source, the format or other options."""


class RunError(RiograndeError, RuntimeError):
    """A parallel run failed."""


class BlockProcessingError(RunError):
    """A task raised an exception while processing one view.

    Attributes
    ----------
    view : tuple of int
        The ``(x, y, width, height)`` view the task failed on.
    remote_traceback : str
        The formatted traceback from the worker process, if available.
    """

    def __init__(self, message: str, view: Any = None, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.view = view
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple:
        return (type(self), (self.args[0], self.view, self.remote_traceback))


class WorkerLostError(RunError):
    """A worker process died (killed by the OS, crashed) during a run."""


class AggregationError(RunError):
    """The aggregator failed to consume or write the results."""


class RunCancelledError(RunError):
    """A run was cancelled by its caller; partial outputs were removed."""


class FunctionError(RiograndeError, TypeError):
    """A user function cannot be used (e.g. it cannot be sent to worker processes)."""


class ExpressionError(RiograndeError, ValueError):
    """A raster calculator expression is malformed or uses something not allowed.

    Attributes
    ----------
    column : int or None
        1-based column of the offending part of the expression.
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column

    def __reduce__(self) -> tuple:
        return (type(self), (self.args[0], self.column))
