"""The ``riogrande`` command group (also ``rio grande`` through rasterio's plugins)."""

from __future__ import annotations

import ctypes
import logging
import platform

import click

from riogrande import __version__
from riogrande.cli.calc import calc
from riogrande.cli.demo import demo
from riogrande.cli.errors import InterruptibleGroup
from riogrande.cli.info import info
from riogrande.cli.mask import mask
from riogrande.cli.selector import selector
from riogrande.cli.stderr import native_stderr_hidden
from riogrande.contexts import get_nbr_workers
from riogrande.io.remote import redact

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: ``mallopt``'s parameter for the most malloc arenas glibc creates (``malloc.h``).
M_ARENA_MAX = -8


@click.group(name="grande", cls=InterruptibleGroup,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="Log more on stderr (-v: INFO, -vv: DEBUG, rasterio's and GDAL's too); "
                   "credentials are never shown.")
@click.version_option(__version__, prog_name="riogrande")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Block-parallel nodata masks, valid-pixel selectors and raster calculations.

    Exit codes: 0 success, 1 processing error, 2 usage error, 130 interrupted
    (Ctrl-C), 143 terminated (SIGTERM).
    """
    one_malloc_arena_per_cpu()
    if not verbose:  # GDAL's own lines ("No space left on device"...) repeat riogrande's error
        ctx.with_resource(native_stderr_hidden())
        logging.getLogger("rasterio").setLevel(logging.CRITICAL)
    logging.basicConfig(format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretsHidden())
    if verbose:
        logging.getLogger("riogrande").setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    if verbose > 1:  # rasterio's and GDAL's messages too
        logging.getLogger("rasterio").setLevel(logging.DEBUG)


def one_malloc_arena_per_cpu() -> None:
    """Let glibc's malloc keep at most one arena per usable CPU in this process.

    glibc gives every thread that allocates an arena of its own, up to eight
    per CPU. A remote input is downloaded ahead by threads of their own whose
    ranges are freed by the reading threads, and the memory stays in each
    downloading thread's arena: with glibc's default the same run peaks about
    60 MB higher (``benchmarks/bench_remote.py``), for no speed. Only the
    command does this; the library leaves its caller's process as it is.
    """
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, max(2, get_nbr_workers()))


class SecretsHidden(logging.Filter):
    """Shows no credential in a log line: URLs' passwords and signatures, secret settings."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message in place; let it through."""
        record.msg, record.args = redact(record.getMessage()), None
        return True


cli.add_command(mask)
cli.add_command(selector)
cli.add_command(info)
cli.add_command(demo)
cli.add_command(calc)
