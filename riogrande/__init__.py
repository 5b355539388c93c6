"""riogrande: block-parallel raster processing with numpy and rasterio.

Big rasters are cut into views (blocks); a pool of worker processes reads and
processes each block; one aggregator writes the results into a raster or an
array. See :mod:`riogrande.parallel` for the main functions.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from riogrande.blockwise import ApplyReport, apply  # noqa: E402
from riogrande.errors import RiograndeError  # noqa: E402
from riogrande.io.models import Band, Source  # noqa: E402
from riogrande.masking import MaskReport, selector_array, write_mask, write_selector  # noqa: E402
from riogrande.parallel import compute_mask, prepare_selector  # noqa: E402
from riogrande.pool import Pool  # noqa: E402

__all__ = [
    "ApplyReport",
    "Band",
    "MaskReport",
    "Pool",
    "RiograndeError",
    "Source",
    "__version__",
    "apply",
    "compute_mask",
    "prepare_selector",
    "selector_array",
    "write_mask",
    "write_selector",
]
