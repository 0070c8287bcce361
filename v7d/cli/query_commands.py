"""``v7ctl orders | trades | stats | symbols | positions | export``: the query endpoints.

Each command is a thin wrapper: it turns options into the endpoint's parameters, calls
the daemon through :class:`~v7d.cli.client.ControlClient` and renders the answer as a
table (``--json`` prints the daemon's answer unchanged). Bad values are refused by the
daemon with a message naming the parameter, which ``ControlClient`` shows in one line.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from v7d.cli.client import ControlClient, socket_option
from v7d.cli.render import echo_json, output_options, render_table

__all__ = ["parse_time", "register"]

F = TypeVar("F", bound=Callable[..., Any])

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_time(value: str | None, *, now_ms: int | None = None) -> int | None:
    """Epoch ms from ``1700000000000``, ``2024-05-01``, ``2024-05-01T12:00`` (UTC unless
    an offset is given) or a look-back such as ``7d`` / ``12h`` / ``30m``."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    m = _RELATIVE.match(text)
    if m:
        return now - int(m.group(1)) * _UNIT_MS[m.group(2)]
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected epoch ms, an ISO date/time (UTC) or a look-back like 7d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _iso(ms: Any) -> str:
    if not isinstance(ms, int):
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _window(func: F) -> F:
    func = click.option("--until", default=None, help="End (exclusive): ms, ISO time or 7d.")(func)
    func = click.option("--since", default=None, help="Start: ms, ISO time or look-back (7d).")(
        func
    )
    return click.option("--account", default=None, help="Account name.")(func)


def _times(since: str | None, until: str | None) -> dict[str, int | None]:
    return {"start_ms": parse_time(since), "end_ms": parse_time(until)}


def _pages(
    client: ControlClient, path: str, params: dict[str, Any], limit: int, everything: bool
) -> Iterator[dict[str, Any]]:
    cursor = None
    left = limit
    while True:
        size = 1000 if everything else min(left, 1000)
        page = client.get(path, {**params, "limit": size, "cursor": cursor})
        yield from page["items"]
        left -= len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None or (not everything and left <= 0):
            return


def _list(
    client: ControlClient, path: str, params: dict[str, Any], limit: int, everything: bool,
    as_json: bool, columns: list[str],
) -> None:  # fmt: skip
    items = list(_pages(client, path, params, limit, everything))
    if as_json:
        echo_json(items)
        return
    rows = [{**i, "time": _iso(i.get("time"))} for i in items]
    click.echo(render_table(rows, columns))


_LIMIT = click.option("--limit", default=100, show_default=True, type=click.IntRange(1, None),
                      help="Rows to show.")  # fmt: skip
_ALL = click.option("--all", "everything", is_flag=True, help="Page through every row.")
_PREFIX = click.option("--prefix", default=None, help="Client order id prefix.")


def _listing(func: F) -> F:
    """The options of a paged list command: prefix, window, limit, --all, output, socket."""
    # Applied bottom-up, as the decorator stack they replace was.
    for option in (socket_option, output_options, _ALL, _LIMIT, _window, _PREFIX):
        func = option(func)
    return func


@click.command("orders")
@click.option("--symbol", default=None)
@click.option("--status", default=None, help="NEW, FILLED, CANCELED, ...")
@click.option("--side", default=None, help="BUY or SELL.")
@_listing
def orders_cmd(client: ControlClient, symbol: str | None, status: str | None,
               side: str | None, prefix: str | None, account: str | None, since: str | None,
               until: str | None, limit: int, everything: bool, as_json: bool) -> None:  # fmt: skip
    """Orders, oldest first (GET /orders)."""
    params = {"symbol": symbol, "status": status, "side": side, "account": account,
              "client_order_id_prefix": prefix, **_times(since, until)}  # fmt: skip
    cols = ["time", "symbol", "order_id", "client_order_id", "side", "type", "status",
            "price", "avg_price", "orig_qty", "executed_qty"]  # fmt: skip
    _list(client, "/orders", params, limit, everything, as_json, cols)


@click.command("trades")
@click.option("--symbol", default=None)
@click.option("--order-id", type=int, default=None)
@_listing
def trades_cmd(client: ControlClient, symbol: str | None, order_id: int | None,
               prefix: str | None, account: str | None, since: str | None,
               until: str | None, limit: int, everything: bool, as_json: bool) -> None:  # fmt: skip
    """User trades, oldest first (GET /trades)."""
    params = {"symbol": symbol, "order_id": order_id, "account": account,
              "client_order_id_prefix": prefix, **_times(since, until)}  # fmt: skip
    cols = ["time", "symbol", "id", "order_id", "side", "price", "qty", "realized_pnl",
            "commission", "commission_asset", "maker"]  # fmt: skip
    _list(client, "/trades", params, limit, everything, as_json, cols)


def _stats_table(s: dict[str, Any]) -> str:
    rows = []
    for asset, a in s["assets"].items():
        c = s["closing"].get(asset, {})
        d = s["drawdown"].get(asset, {})
        rows.append({"asset": asset, **{k: a[k] for k in ("trades", "realized_pnl",
                     "commission", "funding", "net_pnl", "turnover", "fee_bps")},
                     "win_rate": c.get("win_rate"), "profit_factor": c.get("profit_factor"),
                     "max_drawdown": d.get("max_drawdown")})  # fmt: skip
    e = s["execution"]
    lines = [render_table(rows), ""]
    lines.append(
        f"orders {e['orders']:,} · fill rate {e['fill_rate']} · cancel rate "
        f"{e['cancel_rate']} · first fill p90 {e['time_to_first_fill_ms']['p90']} ms · "
        f"slippage {e['slippage_bps']['mean']} bps"
    )
    other = {k: v for k, v in s["commission_by_asset"].items() if k not in s["assets"]}
    if other:
        lines.append("commission in other assets: " + ", ".join(f"{v} {k}" for k, v in
                                                                 other.items()))  # fmt: skip
    cov = s["coverage"]
    lines.append("coverage: " + ("complete" if cov["complete"] else "INCOMPLETE — see --json"))
    return "\n".join(lines)


@click.command("stats")
@click.option("--symbol", default=None)
@click.option("--side", default=None)
@click.option("--position-side", default=None)
@click.option("--order-type", default=None)
@click.option("--status", default=None)
@_PREFIX
@_window
@output_options
@socket_option
def stats_cmd(client: ControlClient, symbol: str | None, side: str | None,
              position_side: str | None, order_type: str | None, status: str | None,
              prefix: str | None, account: str | None, since: str | None,
              until: str | None, as_json: bool) -> None:  # fmt: skip
    """PnL, fees, funding, closing-order results, drawdown, execution (GET /stats/summary)."""
    params = {"symbol": symbol, "side": side, "position_side": position_side,
              "order_type": order_type, "status": status, "client_order_id_prefix": prefix,
              "account": account, **_times(since, until)}  # fmt: skip
    answer = client.get("/stats/summary", params)
    if as_json:
        echo_json(answer)
    else:
        click.echo(_stats_table(answer))


@click.command("symbols")
@_window
@output_options
@socket_option
def symbols_cmd(client: ControlClient, account: str | None, since: str | None,
                until: str | None, as_json: bool) -> None:  # fmt: skip
    """One row per symbol with the headline figures (GET /stats/symbols)."""
    items = client.get("/stats/symbols", {"account": account, **_times(since, until)})["items"]
    if as_json:
        echo_json(items)
        return
    cols = ["symbol", "margin_asset", "trades", "realized_pnl", "commission", "funding",
            "net_pnl", "turnover"]  # fmt: skip
    click.echo(render_table(items, cols))


@click.command("positions")
@click.option("--account", default=None)
@click.option("--symbol", default=None)
@output_options
@socket_option
def positions_cmd(client: ControlClient, account: str | None, symbol: str | None,
                  as_json: bool) -> None:  # fmt: skip
    """Current positions (GET /positions)."""
    items = client.get("/positions", {"account": account, "symbol": symbol})["items"]
    if as_json:
        echo_json(items)
        return
    cols = ["account", "symbol", "position_side", "position_amt", "entry_price",
            "mark_price", "unrealized_profit", "liquidation_price"]  # fmt: skip
    click.echo(render_table(items, cols))


@click.command("export")
@click.option("--what", type=click.Choice(["trades", "orders", "income"]), default="trades",
              show_default=True)  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)  # fmt: skip
@click.option("--symbol", default=None)
@_window
@click.option("--output", "-o", default="-", help="File to write (default: stdout).")
@socket_option
def export_cmd(client: ControlClient, what: str, fmt: str, symbol: str | None,
               account: str | None, since: str | None, until: str | None,
               output: str) -> None:  # fmt: skip
    """Stream every row of a window as CSV or JSON lines (GET /export/...)."""
    params = {"format": fmt, "symbol": symbol, "account": account, **_times(since, until)}
    target = None if output == "-" else Path(output)
    partial = None if target is None else target.with_name(f".{target.name}.partial")
    with client.stream("GET", f"/export/{what}", params=params, timeout=3600) as resp:
        out = sys.stdout.buffer if partial is None else partial.open("wb")
        try:
            for chunk in resp.iter_bytes():
                out.write(chunk)
        finally:
            if partial is not None:
                out.close()
    if partial is not None and target is not None:
        partial.replace(target)


def register(group: click.Group) -> None:
    """Add the query commands to ``v7ctl``."""
    for cmd in (orders_cmd, trades_cmd, stats_cmd, symbols_cmd, positions_cmd, export_cmd):
        group.add_command(cmd)
