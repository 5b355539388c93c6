"""How a result becomes a file: formats, encodings, COG, creation options.

The library, the command line and the QGIS algorithms all go through this
package: :func:`~riogrande.outputs.formats.output_format` says which formats
work, :func:`~riogrande.outputs.plan.plan_output` checks an output before any
work, and :meth:`~riogrande.outputs.plan.OutputPlan.write` writes it.
"""

from riogrande.outputs.formats import ENCODINGS, FORMATS, output_format, supported_extensions
from riogrande.outputs.options import parse_creation_options
from riogrande.outputs.plan import OutputPlan, OutputSpec, plan_output

__all__ = [
    "ENCODINGS",
    "FORMATS",
    "OutputPlan",
    "OutputSpec",
    "output_format",
    "parse_creation_options",
    "plan_output",
    "supported_extensions",
]
