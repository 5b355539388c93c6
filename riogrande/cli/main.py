"""The ``riogrande`` command group (also ``rio grande`` through rasterio's plugins)."""

from __future__ import annotations

import logging

import click

from riogrande import __version__
from riogrande.cli.calc import calc
from riogrande.cli.demo import demo
from riogrande.cli.errors import InterruptibleGroup
from riogrande.cli.info import info
from riogrande.cli.mask import mask
from riogrande.cli.selector import selector
from riogrande.cli.stderr import native_stderr_hidden
from riogrande.io.remote import redact

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


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
