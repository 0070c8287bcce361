"""``v7d``: the daemon's command line (``v7d run``, ``v7d demo``)."""

from __future__ import annotations

import click

from v7d import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="v7d")
def main() -> None:
    """v7d keeps a complete local history of a Binance USDⓈ-M futures account."""
