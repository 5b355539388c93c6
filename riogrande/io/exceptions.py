"""The errors of riogrande under the GeoRacoon package's module name.

They are defined in :mod:`riogrande.errors`; ``from riogrande.io.exceptions
import SourceError`` finds the same classes here.
"""

from riogrande.errors import *  # noqa: F403 (every error, under this name too)
from riogrande.errors import __all__  # noqa: F401
