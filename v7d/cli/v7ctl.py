"""``v7ctl``: talks to the running daemon over its Unix control socket."""

from __future__ import annotations

import click

from v7d import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="v7ctl")
def main() -> None:
    """Control and query a running v7d daemon over its Unix socket."""
