"""Execution quality of the cut's orders (selected by creation time).

Counts by status, fill rate and fill ratio, cancel rate, time to first and to full fill
(from order events: ``transaction_time`` of the first TRADE event and of the first
FILLED event, minus the order's ``time``), and slippage of the average fill price
against the order's own limit or stop price. Definitions: docs/stats.md.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from v7d.query.cuts import Cut
from v7d.query.numbers import bps_str, mean_ms, mean_of, p90, ratio_str
from v7d.query.per_order import fill_times, stale_orders
from v7d.store.records import FINAL_ORDER_STATUSES

__all__ = ["execution_quality", "slippage_bps"]


def slippage_bps(side: str, avg_price: str, price: str, stop_price: str) -> Decimal | None:
    """Signed slippage of ``avg_price`` against the limit (else stop) price, in bps.

    Positive means worse than the reference (paid more on a BUY, got less on a SELL).
    None when the order has no reference price or no average fill price.
    """
    avg = Decimal(avg_price or "0")
    ref = Decimal(price or "0")
    if ref <= 0:
        ref = Decimal(stop_price or "0")
    if ref <= 0 or avg <= 0:
        return None
    diff = avg - ref if side == "BUY" else ref - avg
    return diff / ref * 10_000


@dataclass(slots=True)
class _OrderTally:
    """What one pass over the cut's orders adds up."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    with_fills: int = 0
    ratio_sum: Decimal = Decimal(0)
    ratio_n: int = 0
    slippage_n: int = 0
    slippage_sum: Decimal = Decimal(0)


_DONE = "CAST(o.executed_qty AS REAL)"
_WANT = "CAST(o.orig_qty AS REAL)"
# Filled exactly at its own positive limit price: slippage 0, no division needed.
_AT_LIMIT = "(o.avg_price = o.price AND CAST(o.price AS REAL) > 0)"
_FINAL = "o.status IN ({})".format(", ".join(f"'{s}'" for s in sorted(FINAL_ORDER_STATUSES)))


def _tally(conn: sqlite3.Connection, source: str, where: str, params: list[Any]) -> _OrderTally:
    # SQL counts what needs no arithmetic (statuses, fully filled orders, fills at the
    # limit price); only partly filled final orders (fill ratio) and fills away from the
    # limit price (slippage) reach Python, as rows, for the exact Decimal divisions.
    counts_sql = (
        f"SELECT o.status, COUNT(*), SUM({_DONE} > 0), SUM({_WANT} > 0), "
        f"SUM({_WANT} > 0 AND {_DONE} >= {_WANT}), SUM({_DONE} > 0 AND {_AT_LIMIT}), "
        f"SUM({_DONE} > 0 AND (NOT {_AT_LIMIT} OR {_WANT} > {_DONE})) "
        f"FROM {source} WHERE {where} GROUP BY o.status"
    )
    tally = _OrderTally()
    rest = 0  # an upper bound of the rows the second pass returns: none, no second pass
    for status, n, with_fills, want_n, full_n, at_limit_n, rest_n in conn.execute(
        counts_sql, params
    ):
        rest += rest_n
        tally.counts[status] += n
        tally.with_fills += with_fills
        tally.slippage_n += at_limit_n
        if status in FINAL_ORDER_STATUSES:
            tally.ratio_n += want_n
            tally.ratio_sum += full_n
    if not rest:
        return tally
    rows_sql = (
        "SELECT o.status, o.side, o.orig_qty, o.executed_qty, o.price, o.avg_price, "
        f"o.stop_price FROM {source} WHERE {where} AND {_DONE} > 0 AND (NOT {_AT_LIMIT} OR "
        f"({_FINAL} AND {_WANT} > {_DONE}))"
    )
    for status, side, orig, executed, price, avg, stop in conn.execute(rows_sql, params):
        if status in FINAL_ORDER_STATUSES and float(orig or 0) > float(executed or 0):
            tally.ratio_sum += Decimal(executed) / Decimal(orig)
        at_limit = avg == price and float(price or 0) > 0
        if not at_limit and (slip := slippage_bps(side, avg, price, stop)) is not None:
            tally.slippage_n += 1
            tally.slippage_sum += slip
    return tally


def _fill_times(
    conn: sqlite3.Connection, source: str, where: str, params: list[Any]
) -> tuple[list[int], list[int]]:
    # Only orders that traded; their events through the events' unique index.
    sql = (
        "SELECT MIN(CASE WHEN e.execution_type = 'TRADE' THEN e.transaction_time END) - o.time, "
        "MIN(CASE WHEN e.status = 'FILLED' THEN e.transaction_time END) - o.time "
        f"FROM {source} JOIN order_events e ON e.account = o.account AND "
        "e.symbol = o.symbol AND e.order_id = o.order_id "
        f"WHERE {where} AND CAST(o.executed_qty AS REAL) > 0 GROUP BY o.rowid"
    )
    first: list[int] = []
    full: list[int] = []
    for a, b in conn.execute(sql, params):
        if a is not None:
            first.append(int(a))
        if b is not None:
            full.append(int(b))
    return first, full


def _fill_time_figures(
    conn: sqlite3.Connection, cut: Cut, source: str, where: str, params: list[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """n, mean and p90 of time to first and to full fill: from the writer's per-order
    rows when they carry the cut (the times are integers, exact in any mode), else by
    joining the orders to their events."""
    stale = stale_orders(conn, cut, "e8")
    if stale is not None:
        return tuple(  # type: ignore[return-value]
            {"n": f.n, "mean": mean_of(f.total, f.n), "p90": f.p90}
            for f in fill_times(conn, cut, stale)
        )
    first, full = _fill_times(conn, source, where, params)
    return (
        {"n": len(first), "mean": mean_ms(first), "p90": p90(first)},
        {"n": len(full), "mean": mean_ms(full), "p90": p90(full)},
    )


def _orders_from(cut: Cut) -> str:
    # Without a window or a symbol every order of the account is read: one pass over the
    # table beats the account prefix of an index (a row lookup per order).
    if cut.symbol is None and cut.start_ms is None and cut.end_ms is None:
        return "orders o NOT INDEXED"
    return "orders o"


def execution_quality(conn: sqlite3.Connection, cut: Cut) -> dict[str, Any]:
    """The execution-quality block of a summary."""
    where, params = cut.order_where("o")
    source = _orders_from(cut)
    t = _tally(conn, source, where, params)
    counts = dict(sorted(t.counts.items()))
    total = sum(counts.values())
    finals = sum(n for s, n in counts.items() if s in FINAL_ORDER_STATUSES)
    times = _fill_time_figures(conn, cut, source, where, params)
    return {
        "orders": total,
        "final_orders": finals,
        "counts_by_status": counts,
        "orders_with_fills": t.with_fills,
        "fill_rate": ratio_str(Decimal(t.with_fills), Decimal(total)),
        "fill_ratio": ratio_str(t.ratio_sum, Decimal(t.ratio_n)),
        "cancel_rate": ratio_str(Decimal(counts.get("CANCELED", 0)), Decimal(finals)),
        "time_to_first_fill_ms": times[0],
        "time_to_full_fill_ms": times[1],
        "slippage_bps": {
            "n": t.slippage_n,
            "mean": bps_str(t.slippage_sum / t.slippage_n) if t.slippage_n else None,
        },
    }
