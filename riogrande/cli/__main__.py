"""``python -m riogrande.cli``: the ``riogrande`` command."""

from riogrande.cli.main import cli

cli(prog_name="riogrande")
