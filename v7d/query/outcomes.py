"""Per closing order results and the cumulative net-PnL curve with its drawdowns.

A closing order is an order with at least one fill (in the cut) whose ``realized_pnl``
is not zero. Its result is the sum of its fills' ``realized_pnl`` minus their commission
paid in the margin asset. The curve adds, per margin asset and in time order, each
fill's ``realized_pnl`` minus its margin-asset commission, plus funding when the cut can
attribute it. Pure functions do the arithmetic; SQL only groups.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from types import EllipsisType
from typing import Any

from v7d.query.cuts import DAY_MS, Cut
from v7d.query.drawdown import Drawdown, Num, drawdown
from v7d.query.numbers import Mode, dec, dec_str, num, ratio_str, sum_expr
from v7d.query.per_order import closing_sums, stale_orders
from v7d.query.sums import exact_mode, rollup_total, run_exact
from v7d.store.order_stats import Key

__all__ = [
    "Drawdown",
    "closing_block",
    "closing_results",
    "closing_stats",
    "curve_points",
    "drawdown",
]

_SAME = "t.commission_asset = t.margin_asset"


# A window (or symbol) holding less than this share of the fills is read through a
# narrower index with row lookups; a larger one through a covering index, all of whose
# entries in range are scanned (about 0.2 s per million fills) without row lookups.
# Measured on the benchmark store for closing orders: 7 days of 180 read 3x faster by
# time, 30 days about the same either way, 90 days 1.8x faster by order.
_TIME_INDEX_SHARE = 6


def _small_share(conn: sqlite3.Connection, part: Cut, whole: Cut) -> bool:
    """``part`` holds less than 1/_TIME_INDEX_SHARE of ``whole``'s fills, counting the
    fills of every hour ``part`` touches (an upper bound) from the rollups."""
    mine = rollup_total(conn, "trade_hourly", part, "n")
    return mine * _TIME_INDEX_SHARE < rollup_total(conn, "trade_hourly", whole, "n")


def _closing_source(conn: sqlite3.Connection, cut: Cut) -> tuple[str, str]:
    """FROM and GROUP BY text for grouping the cut's fills by order.

    Without a window, or with a wide one, the covering per-order index delivers the
    groups in its order; a narrow window's fills come from the time index (the planner
    would pick the per-order index whatever the window), where the integer order id
    first makes the sort cheaper.
    """
    by_order = ("trades t", "t.account, t.symbol, t.order_id")
    if cut.start_ms is None and cut.end_ms is None:
        return by_order
    if not _small_share(conn, cut, replace(cut, start_ms=None, end_ms=None)):
        return by_order
    index = "trades_symbol_time" if cut.symbol is not None else "trades_time"
    return f"trades t INDEXED BY {index}", "t.order_id, t.symbol, t.account"


def closing_results(
    conn: sqlite3.Connection, cut: Cut, mode: Mode | None = None
) -> dict[str, list[Num]]:
    """Result of every closing order in the cut, per margin asset.

    Values are e8 integers or Decimals (see :func:`v7d.query.numbers.num`).
    """
    where, params = cut.trade_where("t")
    source, group_by = _closing_source(conn, cut)

    def run(m: Mode) -> list[Any]:
        # margin_asset is a function of the symbol: a bare column, not a GROUP BY key.
        sql = (
            f"SELECT t.margin_asset, {_net(m)} FROM {source} WHERE {where} "
            f"GROUP BY {group_by} HAVING SUM({_nonzero(m)}) > 0"
        )
        return conn.execute(sql, params).fetchall()

    out: dict[str, list[Num]] = defaultdict(list)
    rows = run_exact(mode or exact_mode(conn, "trade_hourly", cut), run)
    if rows and len(rows[0]) == 2:
        for asset, net in rows:
            out[asset].append(net)
    else:
        for asset, pnl, fee in rows:
            out[asset].append(dec(pnl) - dec(fee))
    return dict(out)


def _nonzero(m: Mode) -> str:
    return "t.realized_pnl_e8 != 0" if m == "e8" else "CAST(t.realized_pnl AS REAL) != 0"


def closing_block(
    conn: sqlite3.Connection, cut: Cut, mode: Mode | None = None,
    stale: set[Key] | EllipsisType | None = ...,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The ``closing`` block of a summary: :func:`closing_stats` per margin asset.

    A cut by account, symbol and window reads the writer's per-order rows
    (:mod:`v7d.query.per_order`; ``stale``: :func:`~v7d.query.per_order.stale_orders`
    when the caller has it). Otherwise, in the e8 mode SQL adds the per-order results up
    (counts and sums of wins and losses), so no per-order row reaches Python; the
    Decimal mode (and an overflow) goes through :func:`closing_results`.
    """
    mode = mode or exact_mode(conn, "trade_hourly", cut)
    if mode != "e8":
        stale = None
    elif stale is ...:
        stale = stale_orders(conn, cut, mode)
    if stale is not None and (sums := closing_sums(conn, cut, stale)) is not None:
        return {
            a: _closing_answer(s.n, s.wins, s.losses, dec(s.won), dec(s.lost))
            for a, s in sums.items()
        }
    if mode == "e8":
        where, params = cut.trade_where("t")
        source, group_by = _closing_source(conn, cut)
        sql = (
            "SELECT a, COUNT(*), SUM(r > 0), SUM(r < 0), SUM(CASE WHEN r > 0 THEN r END), "
            "SUM(CASE WHEN r < 0 THEN r END) FROM ("
            f"SELECT t.margin_asset AS a, {_net('e8')} AS r FROM {source} WHERE {where} "
            f"GROUP BY {group_by} HAVING SUM({_nonzero('e8')}) > 0"
            ") GROUP BY a ORDER BY a"
        )
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            mode = "dec"
        else:
            return {
                a: _closing_answer(n, w, lo, dec(won), dec(lost)) for a, n, w, lo, won, lost in rows
            }
    results = closing_results(conn, cut, mode)
    return {a: closing_stats(v) for a, v in sorted(results.items())}


def closing_stats(results: Iterable[Num]) -> dict[str, Any]:
    """Win rate, average win/loss, profit factor and expectancy of closing orders."""
    values = list(results)
    wins = [v for v in values if v > 0]
    losses = [v for v in values if v < 0]
    return _closing_answer(len(values), len(wins), len(losses), dec(sum(wins)), dec(sum(losses)))


def _closing_answer(n: int, n_won: int, n_lost: int, won: Decimal, lost: Decimal) -> dict[str, Any]:
    return {
        "closing_orders": n,
        "wins": n_won,
        "losses": n_lost,
        "breakeven": n - n_won - n_lost,
        "gross_profit": dec_str(won),
        "gross_loss": dec_str(lost),
        "win_rate": ratio_str(Decimal(n_won), Decimal(n)),
        "avg_win": ratio_str(won, Decimal(n_won)),
        "avg_loss": ratio_str(lost, Decimal(n_lost)),
        "profit_factor": ratio_str(won, -lost),
        "expectancy": ratio_str(won + lost, Decimal(n)),
    }


def curve_points(
    conn: sqlite3.Connection,
    cut: Cut,
    with_funding: bool,
    mode: Mode | None = None,
    assets: Iterable[str] | None = None,
) -> dict[str, list[tuple[int, Num]]]:
    """Net-PnL changes per margin asset, one point per millisecond that has any, in order.

    ``assets``: the margin assets of the cut's trades, when the caller knows them.
    """
    where, params = cut.trade_where("t")
    mode = mode or exact_mode(conn, "trade_hourly", cut)
    if assets is None:
        assets = [r[0] for r in conn.execute(
            f"SELECT DISTINCT t.margin_asset FROM trades t WHERE {where}", params)]  # fmt: skip
    out: dict[str, list[tuple[int, Num]]] = {}
    # A symbol holding a small share of the fills is read through its own time index (row
    # lookups); otherwise the planner's choice, the covering all-symbol time index.
    source = "trades t"
    if cut.symbol is not None and (
        _short(cut) or _small_share(conn, cut, replace(cut, symbol=None))
    ):
        source = "trades t INDEXED BY trades_symbol_time"
    for asset in sorted(set(assets)):

        def run(m: Mode, asset: str = asset) -> list[Any]:
            # One asset at a time, grouped by time alone: the time index delivers the
            # groups in order, no sort of the window.
            sql = (
                f"SELECT t.time, {_net(m)} FROM {source} "
                f"WHERE {where} AND t.margin_asset = ? GROUP BY t.time"
            )
            return conn.execute(sql, [*params, asset]).fetchall()

        rows = run_exact(mode, run)
        if rows and not isinstance(rows[0][1], int):
            rows = [(t, dec(p) - dec(f)) for t, p, f in rows]
        out[asset] = rows
    if with_funding:
        _add_funding(conn, cut, out, mode)
    return out


def _short(cut: Cut) -> bool:
    """A window of at most a day (such as one read of hours the curve blocks skip)."""
    return (
        cut.start_ms is not None and cut.end_ms is not None and cut.end_ms - cut.start_ms <= DAY_MS
    )


def _net(m: Mode) -> str:
    """SQL for a fill's net change: one e8 integer, or (pnl, fee) Decimal texts."""
    pnl, fee = sum_expr(m, "t.realized_pnl"), sum_expr(m, "t.commission", _SAME)
    return f"{pnl} - {fee}" if m == "e8" else f"{pnl}, {fee}"


def _add_funding(
    conn: sqlite3.Connection, cut: Cut, curves: dict[str, list[tuple[int, Num]]], mode: Mode
) -> None:
    where, params = cut.income_where("i")

    def run(m: Mode) -> list[Any]:
        sql = (
            f"SELECT i.asset, i.time, {sum_expr(m, 'i.income')} FROM income i "
            f"WHERE {where} AND i.income_type = 'FUNDING_FEE' GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return conn.execute(sql, params).fetchall()

    funding = [(a, t, num(amount)) for a, t, amount in run_exact(mode, run)]
    for asset in {r[0] for r in funding}:
        rows = [(t, v) for a, t, v in funding if a == asset]
        curve = curves.get(asset, [])
        if curve and type(curve[0][1]) is not type(rows[0][1]):
            # An overflow retry left the two in different units: both to Decimal.
            curve = [(t, dec(v)) for t, v in curve]
            rows = [(t, dec(v)) for t, v in rows]
        curves[asset] = _merge_points(curve, rows)


def _merge_points(a: list[tuple[int, Num]], b: list[tuple[int, Num]]) -> list[tuple[int, Num]]:
    """Two time-ordered point lists as one, changes at the same time added (linear: the
    trade curve can hold millions of points, funding a few per day)."""
    out: list[tuple[int, Num]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][0] < b[j][0]:
            k = i
            while k < len(a) and a[k][0] < b[j][0]:
                k += 1
            out.extend(a[i:k])
            i = k
        elif b[j][0] < a[i][0]:
            out.append(b[j])
            j += 1
        else:
            out.append((a[i][0], a[i][1] + b[j][1]))
            i += 1
            j += 1
    out.extend(a[i:])
    out.extend(b[j:])
    return out
