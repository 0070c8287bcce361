"""``v7d``: the daemon's command line (``v7d run``, ``v7d demo``)."""

from __future__ import annotations

import sys

import click

from v7d import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="v7d")
def main() -> None:
    """v7d keeps a complete local history of a Binance USDⓈ-M futures account."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $V7D_CONFIG, else /etc/v7d/v7d.toml).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json", "journal"]),
    default=None,
    help="Override [log].format.",
)
def run(config_path: str | None, log_format: str | None) -> None:
    """Run the daemon in the foreground (systemd's ExecStart; Type=notify aware)."""
    from v7d.daemon import run as run_daemon

    sys.exit(run_daemon(config_path, log_format))


@main.command()
@click.option("--keep", is_flag=True, help="Leave the simulator and the daemon running.")
@click.option("--days", type=click.IntRange(1, 90), default=14, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--stream-seconds", type=click.FloatRange(0, 600), default=6.0, hidden=True)
def demo(keep: bool, days: int, seed: int, stream_seconds: float) -> None:
    """Simulator + daemon on a temporary state dir: backfill, stream, then what to query."""
    from v7d.demo import run_demo

    sys.exit(run_demo(keep=keep, days=days, seed=seed, stream_seconds=stream_seconds))
