"""riogrande: block-parallel raster processing with numpy and rasterio.

Big rasters are cut into views (blocks); workers (threads, processes, a Dask
cluster) read and process each block; one sink writes the results into a
raster or an array. A run goes one way: the command line or QGIS translates
its arguments; a job is planned (inputs and output checked, nothing
written), then run (the engine feeds the output's sink); its report goes
back. The modules, from the top, each with one job:

* ``cli``: the ``riogrande`` command; ``demo``: its example raster;
* ``masking``: the nodata mask and the valid-pixel selector, planned then run;
* ``blockwise`` (and ``blockwise_worker``): :func:`apply`, your function over blocks;
* ``expression``: raster calculator expressions, checked, evaluated with ``apply``;
* ``parallel``, ``workers``, ``aggregators``: the seed's functions;
* ``inputs``: a job's inputs checked once (rasters, bands, grids, nodata, run options);
* ``outputs``: formats, creation options, encodings, the output target and its sinks;
* ``runner``: the engine (jobs to workers, blocks to one sink, progress, stop, failures);
* ``pool``, ``processes``: the executors; ``stopping``: one way to stop a run;
  ``messages``: what workers send the sink;
* ``prepare``, ``blocks``: views and block sizes; ``logic``: per-block validity;
  ``contexts``: worker counts and start methods; ``helper``, ``dtypes``,
  ``compatibility``, ``timing``: the helpers under the seed's and GeoRacoon's names;
* ``io.rasters``: :class:`Source` and :class:`Band`; ``io.handles``, ``io.create``,
  ``io.output``, ``io.names``, ``io.checks``, ``io.tags``: core I/O; ``io.remote``: rasters
  over the network (names without secrets, retried reads, uploads); ``io.prefetch``: their
  tiles downloaded ahead of the blocks; ``errors``: every error;
* ``io.models``, ``io.lookup``, ``io.pixels``, ``io.operations``, ``io.core``: the
  GeoRacoon-compatible surface, beside core I/O.
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
