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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from v7d.query.cuts import Cut
from v7d.query.numbers import Mode, dec, dec_str, ratio_str, sum_expr
from v7d.query.sums import exact_mode, run_exact

__all__ = ["Drawdown", "closing_results", "closing_stats", "curve_points", "drawdown"]

_SAME = "t.commission_asset = t.margin_asset"


def closing_results(conn: sqlite3.Connection, cut: Cut) -> dict[str, list[Decimal]]:
    """Result of every closing order in the cut, per margin asset (in order-id order)."""
    where, params = cut.trade_where("t")

    def run(m: Mode) -> list[Any]:
        sql = (
            f"SELECT t.margin_asset, {sum_expr(m, 't.realized_pnl')}, "
            f"{sum_expr(m, 't.commission', _SAME)} FROM trades t WHERE {where} "
            "GROUP BY t.account, t.symbol, t.order_id, t.margin_asset "
            "HAVING SUM(CAST(t.realized_pnl AS REAL) != 0) > 0 "
            "ORDER BY t.account, t.symbol, t.order_id"
        )
        return conn.execute(sql, params).fetchall()

    out: dict[str, list[Decimal]] = defaultdict(list)
    for asset, pnl, fee in run_exact(exact_mode(conn, "trade_hourly", cut), run):
        out[asset].append(dec(pnl) - dec(fee))
    return dict(out)


def closing_stats(results: Iterable[Decimal]) -> dict[str, Any]:
    """Win rate, average win/loss, profit factor and expectancy of closing orders."""
    values = list(results)
    wins = [v for v in values if v > 0]
    losses = [v for v in values if v < 0]
    won, lost = sum(wins, Decimal(0)), sum(losses, Decimal(0))
    n = len(values)
    return {
        "closing_orders": n,
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": n - len(wins) - len(losses),
        "gross_profit": dec_str(won),
        "gross_loss": dec_str(lost),
        "win_rate": ratio_str(Decimal(len(wins)), Decimal(n)),
        "avg_win": ratio_str(won, Decimal(len(wins))),
        "avg_loss": ratio_str(lost, Decimal(len(losses))),
        "profit_factor": ratio_str(won, -lost),
        "expectancy": ratio_str(won + lost, Decimal(n)),
    }


def curve_points(
    conn: sqlite3.Connection, cut: Cut, with_funding: bool
) -> dict[str, list[tuple[int, Decimal]]]:
    """Net-PnL changes per margin asset, one point per millisecond that has any, in order."""
    where, params = cut.trade_where("t")

    def run(m: Mode) -> list[Any]:
        sql = (
            f"SELECT t.margin_asset, t.time, {sum_expr(m, 't.realized_pnl')}, "
            f"{sum_expr(m, 't.commission', _SAME)} FROM trades t WHERE {where} "
            "GROUP BY t.margin_asset, t.time ORDER BY t.time"
        )
        return conn.execute(sql, params).fetchall()

    deltas: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for asset, t, pnl, fee in run_exact(exact_mode(conn, "trade_hourly", cut), run):
        deltas[asset][t] = dec(pnl) - dec(fee)
    if with_funding:
        _add_funding(conn, cut, deltas)
    return {a: sorted(d.items()) for a, d in deltas.items()}


def _add_funding(conn: sqlite3.Connection, cut: Cut, deltas: dict[str, dict[int, Decimal]]) -> None:
    where, params = cut.income_where("i")

    def run(m: Mode) -> list[Any]:
        sql = (
            f"SELECT i.asset, i.time, {sum_expr(m, 'i.income')} FROM income i "
            f"WHERE {where} AND i.income_type = 'FUNDING_FEE' GROUP BY 1, 2"
        )
        return conn.execute(sql, params).fetchall()

    for asset, t, amount in run_exact(exact_mode(conn, "income_hourly", cut), run):
        per = deltas[asset]
        per[t] = per.get(t, Decimal(0)) + dec(amount)


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Largest fall from a running peak, and the longest time spent below a peak."""

    max_drawdown: Decimal
    peak_ms: int | None
    trough_ms: int | None
    longest_ms: int
    longest_start_ms: int | None
    longest_end_ms: int | None
    underwater_at_end: bool

    def as_dict(self) -> dict[str, Any]:
        """Answer form (money as exact text)."""
        return {
            "max_drawdown": dec_str(self.max_drawdown),
            "max_drawdown_peak_ms": self.peak_ms,
            "max_drawdown_trough_ms": self.trough_ms,
            "longest_drawdown_ms": self.longest_ms,
            "longest_drawdown_start_ms": self.longest_start_ms,
            "longest_drawdown_end_ms": self.longest_end_ms,
            "underwater_at_end": self.underwater_at_end,
        }


def drawdown(points: list[tuple[int, Decimal]]) -> Drawdown:
    """Drawdowns of the cumulative sum of ``points`` (time, change), starting at 0.

    The running peak starts at 0 at the first point's time. A drawdown lasts from the
    time its peak was set until the first point back at or above it, or until the last
    point when the curve never recovers (then ``underwater_at_end``).
    """
    if not points:
        return Drawdown(Decimal(0), None, None, 0, None, None, False)
    cum, peak, peak_t = Decimal(0), Decimal(0), points[0][0]
    best = (Decimal(0), None, None)
    longest: tuple[int, int | None, int | None] = (0, None, None)
    for t, change in points:
        cum += change
        if cum >= peak:
            if peak_t is not None and t - peak_t > longest[0] and cum - change < peak:
                longest = (t - peak_t, peak_t, t)
            peak, peak_t = cum, t
        elif peak - cum > best[0]:
            best = (peak - cum, peak_t, t)
    last_t = points[-1][0]
    under = cum < peak
    if under and last_t - peak_t > longest[0]:
        longest = (last_t - peak_t, peak_t, last_t)
    return Drawdown(best[0], best[1], best[2], longest[0], longest[1], longest[2], under)
