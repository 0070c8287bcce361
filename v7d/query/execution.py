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
from types import EllipsisType
from typing import Any

from v7d.query.cuts import Cut
from v7d.query.numbers import bps_str, mean_ms, mean_of, p90, ratio_str
from v7d.query.per_order import p90_column, stale_orders, stored_fill_times, tally_by_status
from v7d.store.order_stats import Key, order_rows
from v7d.store.order_tally import WIDE, Tally, slippage_bps
from v7d.store.records import FINAL_ORDER_STATUSES

__all__ = ["execution_quality", "slippage_bps"]


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
            tally.ratio_sum = WIDE.add(tally.ratio_sum, full_n)
    if not rest:
        return tally
    rows_sql = (
        "SELECT o.status, o.side, o.orig_qty, o.executed_qty, o.price, o.avg_price, "
        f"o.stop_price FROM {source} WHERE {where} AND {_DONE} > 0 AND (NOT {_AT_LIMIT} OR "
        f"({_FINAL} AND {_WANT} > {_DONE}))"
    )
    for status, side, orig, executed, price, avg, stop in conn.execute(rows_sql, params):
        if status in FINAL_ORDER_STATUSES and float(orig or 0) > float(executed or 0):
            tally.ratio_sum = WIDE.add(tally.ratio_sum, Decimal(executed) / Decimal(orig))
        at_limit = avg == price and float(price or 0) > 0
        if not at_limit and (slip := slippage_bps(side, avg, price, stop)) is not None:
            tally.slippage_n += 1
            tally.slippage_sum = WIDE.add(tally.slippage_sum, slip)
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


# A window holding at least 1/_WALK_SHARE of the account's fill times ranks them by
# walking the value index; a narrower one sorts its own (bench_query: 2M orders).
_WALK_SHARE = 8


def _times(values: list[int]) -> dict[str, Any]:
    return {"n": len(values), "mean": mean_ms(values), "p90": p90(values)}


def _from_order_rows(conn: sqlite3.Connection, cut: Cut, stale: set[Key]) -> dict[str, Any]:
    """The block from the writer's per-order rows and hourly tallies."""
    assert cut.account is not None
    fresh = order_rows(conn, cut.account, stale)
    tallies = tally_by_status(conn, cut, stale, fresh)
    t = _OrderTally()
    total = Tally()
    for status, part in tallies.items():
        t.counts[status] += part.n
        total.merge(part)
        if status in FINAL_ORDER_STATUSES:
            t.ratio_n += part.want
            t.ratio_sum = WIDE.add(t.ratio_sum, WIDE.add(part.ratio_sum, part.full))
    t.with_fills, t.slippage_n, t.slippage_sum = total.traded, total.slip_n, total.slip_sum
    mine = [r for r in fresh if r.executed and r.time is not None
            and (cut.start_ms is None or r.time >= cut.start_ms)
            and (cut.end_ms is None or r.time < cut.end_ms)]  # fmt: skip
    everywhere = conn.execute(
        "SELECT coalesce(SUM(first_n), 0), coalesce(SUM(full_fill_n), 0) FROM order_hourly "
        "WHERE account = ? AND symbol = ''",
        (cut.account,),
    ).fetchone()
    removed = stored_fill_times(conn, cut, stale)
    times = []
    for col, n, total_ms, all_n in (
        ("ttf_first_ms", total.first_n, total.first_sum, everywhere[0]),
        ("ttf_full_ms", total.full_fill_n, total.full_fill_sum, everywhere[1]),
    ):
        extra = [v for r in mine if (v := getattr(r, col)) is not None]
        # Walking the value index costs about a ninth of sorting as many values (measured).
        walk = n * _WALK_SHARE >= all_n
        p = p90_column(conn, cut, col, removed[col], extra, n, walk=walk)
        times.append({"n": n, "mean": mean_of(total_ms, n), "p90": p})
    return _answer(t, times[0], times[1])


def _orders_from(cut: Cut) -> str:
    # Without a window or a symbol every order of the account is read: one pass over the
    # table beats the account prefix of an index (a row lookup per order).
    if cut.symbol is None and cut.start_ms is None and cut.end_ms is None:
        return "orders o NOT INDEXED"
    return "orders o"


def execution_quality(
    conn: sqlite3.Connection, cut: Cut, stale: set[Key] | EllipsisType | None = ...
) -> dict[str, Any]:
    """The execution-quality block of a summary.

    A cut by account, symbol and window reads the writer's per-order rows and hourly
    tallies (:mod:`v7d.query.per_order`; ``stale``:
    :func:`~v7d.query.per_order.stale_orders` in the e8 mode when the caller has it);
    other cuts read the orders and their events.
    """
    if stale is ...:
        stale = stale_orders(conn, cut, "e8")  # integers only: exact in any mode
    if stale is not None:
        return _from_order_rows(conn, cut, stale)
    where, params = cut.order_where("o")
    source = _orders_from(cut)
    t = _tally(conn, source, where, params)
    first, full = _fill_times(conn, source, where, params)
    return _answer(t, _times(first), _times(full))


def _answer(t: _OrderTally, first: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    counts = {s: n for s, n in sorted(t.counts.items()) if n}
    total = sum(counts.values())
    finals = sum(n for s, n in counts.items() if s in FINAL_ORDER_STATUSES)
    return {
        "orders": total,
        "final_orders": finals,
        "counts_by_status": counts,
        "orders_with_fills": t.with_fills,
        "fill_rate": ratio_str(Decimal(t.with_fills), Decimal(total)),
        "fill_ratio": ratio_str(t.ratio_sum, Decimal(t.ratio_n)),
        "cancel_rate": ratio_str(Decimal(counts.get("CANCELED", 0)), Decimal(finals)),
        "time_to_first_fill_ms": first,
        "time_to_full_fill_ms": full,
        "slippage_bps": {
            "n": t.slippage_n,
            "mean": bps_str(t.slippage_sum / t.slippage_n) if t.slippage_n else None,
        },
    }
