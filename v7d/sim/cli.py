"""``v7d-sim``: run the simulator standalone and print where it listens."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path

import click

from v7d.sim.faults import PROFILES
from v7d.sim.options import SimOptions
from v7d.sim.server import SimServer

__all__ = ["main"]


#: The options' defaults are SimOptions' own (one place to change them).
_DEFAULT = {f.name: f.default for f in dataclasses.fields(SimOptions)}


def write_credentials(path: Path, api_key: str, secret: str) -> None:
    """Write a v7d credentials file (``api_key=`` / ``secret=`` lines), mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"api_key={api_key}\nsecret={secret}\n")
    os.chmod(path, 0o600)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=9900, show_default=True, type=int, help="Port (0: a free one).")
@click.option(
    "--seed",
    default=_DEFAULT["seed"],
    show_default=True,
    type=int,
    help="Seed of the account history.",
)
@click.option(
    "--days", default=_DEFAULT["days"], show_default=True, type=int, help="Days of history."
)
@click.option("--symbols-listed", default=_DEFAULT["symbols_listed"], show_default=True, type=int)
@click.option("--symbols-active", default=_DEFAULT["symbols_active"], show_default=True, type=int)
@click.option("--trades-per-day", default=_DEFAULT["trades_per_day"], show_default=True, type=int)
@click.option(
    "--live-rate",
    default=_DEFAULT["live_rate"],
    show_default=True,
    type=float,
    help="Live events per second (0: none).",
)
@click.option(
    "--faults", default=_DEFAULT["faults"], show_default=True, type=click.Choice(list(PROFILES))
)
@click.option("--weight-limit", default=_DEFAULT["weight_limit"], show_default=True, type=int)
@click.option(
    "--time-scale",
    default=_DEFAULT["time_scale"],
    show_default=True,
    type=float,
    help="Divide key TTL, connection age, ping, funding interval, retention by this.",
)
@click.option("--hedge-mode", is_flag=True, help="Hedge (LONG/SHORT) instead of one-way mode.")
@click.option("--api-key", default=None, help="API key (random when not given).")
@click.option("--secret", default=None, help="Secret (random when not given).")
@click.option(
    "--credentials-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a v7d credentials file (mode 0600) here.",
)
def main(
    host: str,
    port: int,
    seed: int,
    days: int,
    symbols_listed: int,
    symbols_active: int,
    trades_per_day: int,
    live_rate: float,
    faults: str,
    weight_limit: int,
    time_scale: float,
    hedge_mode: bool,
    api_key: str | None,
    secret: str | None,
    credentials_out: Path | None,
) -> None:
    """Run a Binance USDⓈ-M futures simulator (REST + user-data stream)."""
    if (api_key is None) != (secret is None):
        raise click.UsageError("--api-key and --secret go together")
    try:
        opts = SimOptions(
            seed=seed,
            days=days,
            symbols_listed=symbols_listed,
            symbols_active=symbols_active,
            trades_per_day=trades_per_day,
            live_rate=live_rate,
            faults=faults,
            weight_limit=weight_limit,
            time_scale=time_scale,
            hedge_mode=hedge_mode,
            api_key=api_key,
            secret=secret,
        )
        server = SimServer(opts, host=host, port=port, use_uvloop=True)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    server.start()
    sim = server.sim
    if credentials_out is not None:
        write_credentials(credentials_out, sim.api_key, sim.secret)
    click.echo(f"rest_url = {server.rest_url}")
    click.echo(f"ws_url   = {server.ws_url}   (stream: {server.ws_url}/private/ws/<listenKey>)")
    click.echo(f"api_key  = {sim.api_key}")
    click.echo(f"secret   = {sim.secret}")
    if credentials_out is not None:
        click.echo(f"credentials written to {credentials_out}")
    click.echo(f"READY rest={server.rest_url} ws={server.ws_url}")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if server._thread is None or not server._thread.is_alive():
            break
    server.stop()


if __name__ == "__main__":  # python -m v7d.sim.cli
    main()
