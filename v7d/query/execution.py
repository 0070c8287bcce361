"""Execution quality of the cut's orders (selected by creation time).

Counts by status, fill rate and fill ratio, cancel rate, time to first and to full fill
(from order events: ``transaction_time`` of the first TRADE event and of the first
FILLED event, minus the order's ``time``), and slippage of the average fill price
against the order's own limit or stop price. Definitions: docs/stats.md.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from v7d.query.cuts import Cut
from v7d.query.numbers import bps_str, mean_ms, p90, ratio_str
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


def _counts(conn: sqlite3.Connection, where: str, params: list[Any]) -> dict[str, int]:
    sql = f"SELECT o.status, COUNT(*) FROM orders o WHERE {where} GROUP BY 1 ORDER BY 1"
    return {s: int(n) for s, n in conn.execute(sql, params).fetchall()}


def _fill_ratio(conn: sqlite3.Connection, where: str, params: list[Any]) -> tuple[Decimal, int]:
    """Sum of min(1, executed/orig) over final orders with orig_qty > 0, and their count."""
    finals = ", ".join(f"'{s}'" for s in sorted(FINAL_ORDER_STATUSES))
    base = f"{where} AND o.status IN ({finals}) AND CAST(o.orig_qty AS REAL) > 0"
    n, full = conn.execute(
        "SELECT COUNT(*), "
        "coalesce(SUM(CAST(o.executed_qty AS REAL) >= CAST(o.orig_qty AS REAL)), 0) "
        f"FROM orders o WHERE {base}",
        params,
    ).fetchone()
    total = Decimal(int(full))
    # Only partly filled orders need a division: full ones add 1, empty ones 0.
    partial = conn.execute(
        f"SELECT o.executed_qty, o.orig_qty FROM orders o WHERE {base} "
        "AND CAST(o.executed_qty AS REAL) < CAST(o.orig_qty AS REAL) "
        "AND CAST(o.executed_qty AS REAL) > 0",
        params,
    )
    for executed, orig in partial:
        total += Decimal(executed) / Decimal(orig)
    return total, int(n)


def _fill_times(conn: sqlite3.Connection, where: str, params: list[Any]) -> tuple[list, list]:
    sql = (
        "SELECT MIN(CASE WHEN e.execution_type = 'TRADE' THEN e.transaction_time END) - o.time, "
        "MIN(CASE WHEN e.status = 'FILLED' THEN e.transaction_time END) - o.time "
        "FROM orders o JOIN order_events e ON e.account = o.account AND "
        "e.order_id = o.order_id AND e.symbol = o.symbol "
        f"WHERE {where} GROUP BY o.account, o.symbol, o.order_id"
    )
    first: list[int] = []
    full: list[int] = []
    for a, b in conn.execute(sql, params):
        if a is not None:
            first.append(int(a))
        if b is not None:
            full.append(int(b))
    return first, full


def _slippage(conn: sqlite3.Connection, where: str, params: list[Any]) -> list[Decimal]:
    sql = (
        "SELECT o.side, o.avg_price, o.price, o.stop_price FROM orders o "
        f"WHERE {where} AND CAST(o.executed_qty AS REAL) > 0"
    )
    out = []
    for row in conn.execute(sql, params):
        s = slippage_bps(*row)
        if s is not None:
            out.append(s)
    return out


def execution_quality(conn: sqlite3.Connection, cut: Cut) -> dict[str, Any]:
    """The execution-quality block of a summary."""
    where, params = cut.order_where("o")
    counts = _counts(conn, where, params)
    finals = sum(n for s, n in counts.items() if s in FINAL_ORDER_STATUSES)
    ratio_sum, ratio_n = _fill_ratio(conn, where, params)
    filled_any = conn.execute(
        f"SELECT COUNT(*) FROM orders o WHERE {where} AND CAST(o.executed_qty AS REAL) > 0",
        params,
    ).fetchone()[0]
    first, full = _fill_times(conn, where, params)
    slips = _slippage(conn, where, params)
    return {
        "orders": sum(counts.values()),
        "final_orders": finals,
        "counts_by_status": counts,
        "orders_with_fills": int(filled_any),
        "fill_rate": ratio_str(Decimal(int(filled_any)), Decimal(sum(counts.values()))),
        "fill_ratio": ratio_str(ratio_sum, Decimal(ratio_n)),
        "cancel_rate": ratio_str(Decimal(counts.get("CANCELED", 0)), Decimal(finals)),
        "time_to_first_fill_ms": {"n": len(first), "mean": mean_ms(first), "p90": p90(first)},
        "time_to_full_fill_ms": {"n": len(full), "mean": mean_ms(full), "p90": p90(full)},
        "slippage_bps": {
            "n": len(slips),
            "mean": bps_str(sum(slips, Decimal(0)) / len(slips)) if slips else None,
        },
    }
