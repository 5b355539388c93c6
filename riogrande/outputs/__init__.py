"""How a result becomes a file: formats, encodings, COG, creation options, sinks.

The library, the command line and the QGIS algorithms all go through this
package: :func:`~riogrande.outputs.formats.output_format` says which formats
work, :func:`~riogrande.outputs.target.plan_output` and
:func:`~riogrande.outputs.target.plan_derived_output` check an output before
any work, and :meth:`~riogrande.outputs.target.OutputTarget.writing` hands
the run its sink and finishes the file.
"""

from riogrande.outputs.formats import ENCODINGS, FORMATS, output_format, supported_extensions
from riogrande.outputs.options import parse_creation_options
from riogrande.outputs.target import (
    OutputSpec,
    OutputTarget,
    check_derived_format,
    plan_derived_output,
    plan_output,
)

__all__ = [
    "ENCODINGS",
    "FORMATS",
    "OutputSpec",
    "OutputTarget",
    "check_derived_format",
    "output_format",
    "parse_creation_options",
    "plan_derived_output",
    "plan_output",
    "supported_extensions",
]
