"""Per-order figures for statistics, rebuilt by the idle writer with the curve blocks.

One ``order_stats`` row per order that has fills, events or an order row: the order's
creation time and whether it traded (from the order row), its fills' count, first and
last time, net result in e8 (realized PnL minus margin-asset commission) and how many
of them carry a non-zero realized PnL, and the times from creation to its first TRADE
event and to its first FILLED event. Closing-order results and fill times over a window
then read one compact row per order instead of grouping millions of fills or joining
every order to its events.

A row is rebuilt with every hour the writer marks dirty in ``stats_dirty`` that holds
one of the order's fills, its creation time or one of its events (:func:`orders_in`
lists those orders; a query recomputes the orders of hours still dirty with
:func:`order_rows`). v7d never deletes history rows, so a rebuilt hour never has to
drop an order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields

from v7d.store.curve import HOUR_MS
from v7d.store.order_tally import (
    order_flags,
    rebuild_closing_hourly,
    rebuild_order_hourly,
)

__all__ = [
    "SPAN_KEY",
    "Key",
    "OrderStat",
    "keyed_query",
    "order_rows",
    "orders_in",
    "rebuild_orders",
]

# meta key: the longest first-to-last fill span of any order (ms), a bound for finding
# orders whose fills straddle a window's edge.
SPAN_KEY = "order_fill_span_ms"

Key = tuple[str, int]  # (symbol, order_id)


@dataclass(frozen=True, slots=True)
class OrderStat:
    """One ``order_stats`` row (without its account)."""

    symbol: str
    order_id: int
    time: int | None
    executed: int | None
    margin_asset: str | None
    fills: int
    first_fill_ms: int | None
    last_fill_ms: int | None
    net_e8: int | None
    nonzero: int
    exact: int
    ttf_first_ms: int | None
    ttf_full_ms: int | None
    status: str | None
    want: int
    full_qty: int
    at_limit: int
    ratio: str | None
    slip: str | None


_KEYS_IN_HOURS = """
    SELECT symbol, order_id FROM trades WHERE account = ?1 AND time >= ?2 AND time < ?3
    UNION SELECT symbol, order_id FROM orders WHERE account = ?1 AND time >= ?2 AND time < ?3
    UNION SELECT symbol, order_id FROM order_events
          WHERE account = ?1 AND event_time >= ?2 AND event_time < ?3
"""


def orders_in(conn: sqlite3.Connection, account: str, start_ms: int, end_ms: int) -> set[Key]:
    """Orders with a fill, their creation or an event in [start_ms, end_ms)."""
    return {(s, o) for s, o in conn.execute(_KEYS_IN_HOURS, (account, start_ms, end_ms))}


def _chunks(keys: Sequence[Key], size: int = 2000) -> Iterable[Sequence[Key]]:
    for i in range(0, len(keys), size):
        yield keys[i : i + size]


def keyed_query(
    sql: str, conn: sqlite3.Connection, account: str, keys: Sequence[Key]
) -> list[tuple]:  # type: ignore[type-arg]
    """Run ``sql`` (a query over CTE ``k(symbol, order_id)``, account ?1) per key chunk.

    The queries join ``k CROSS JOIN`` a table: SQLite then keeps the keys as the outer
    loop (an index lookup per key). Left to the planner, the join over 500 keys of one
    hour of the benchmark store took 100 s instead of 40 ms.
    """
    out: list[tuple] = []  # type: ignore[type-arg]
    for part in _chunks(keys):
        values = ", ".join("(?, ?)" for _ in part)
        flat = [v for key in part for v in key]
        cte = f"WITH k(symbol, order_id) AS (VALUES {values}) "
        out += conn.execute(cte + sql.replace("?1", "?"), [*flat, account]).fetchall()
    return out


_FILLS = """
    SELECT t.symbol, t.order_id, t.margin_asset, COUNT(*), MIN(t.time), MAX(t.time),
           SUM(t.realized_pnl_e8) - SUM(CASE WHEN t.commission_asset = t.margin_asset
                                             THEN t.commission_e8 ELSE 0 END),
           SUM(t.realized_pnl_e8 != 0),
           SUM(t.realized_pnl_e8 IS NULL OR t.commission_e8 IS NULL)
    FROM k CROSS JOIN trades t INDEXED BY trades_order
         ON t.account = ?1 AND t.symbol = k.symbol AND t.order_id = k.order_id
    GROUP BY t.symbol, t.order_id
"""
_ORDERS = """
    SELECT o.symbol, o.order_id, o.time, o.status, o.side, o.orig_qty, o.executed_qty,
           o.price, o.avg_price, o.stop_price
    FROM k CROSS JOIN orders o ON o.account = ?1 AND o.symbol = k.symbol AND o.order_id = k.order_id
"""
_EVENTS = """
    SELECT e.symbol, e.order_id,
           MIN(CASE WHEN e.execution_type = 'TRADE' THEN e.transaction_time END),
           MIN(CASE WHEN e.status = 'FILLED' THEN e.transaction_time END)
    FROM k CROSS JOIN order_events e INDEXED BY order_events_order
         ON e.account = ?1 AND e.order_id = k.order_id AND e.symbol = k.symbol
    GROUP BY e.symbol, e.order_id
"""


def order_rows(conn: sqlite3.Connection, account: str, keys: Iterable[Key]) -> list[OrderStat]:
    """The ``order_stats`` rows of ``keys`` computed from the history tables now."""
    ordered = sorted(set(keys))
    if not ordered:
        return []
    fills = {(r[0], r[1]): r[2:] for r in keyed_query(_FILLS, conn, account, ordered)}
    orders = {(r[0], r[1]): r[2:] for r in keyed_query(_ORDERS, conn, account, ordered)}
    events = {(r[0], r[1]): r[2:] for r in keyed_query(_EVENTS, conn, account, ordered)}
    out = []
    for key in ordered:
        f, o, e = fills.get(key), orders.get(key), events.get(key)
        if f is None and o is None and e is None:
            continue
        out.append(_stat(key, f, o, e))
    return out


def _stat(key: Key, f: tuple | None, o: tuple | None, e: tuple | None) -> OrderStat:  # type: ignore[type-arg]
    """One row from the fills' sums ``f``, the order's columns ``o`` and the events' first
    TRADE and FILLED times ``e`` (None: none in the store)."""
    created, status = (o[0], o[1]) if o is not None else (None, None)
    flags = order_flags(*o[1:]) if o is not None else None
    first_trade, filled = e if e is not None else (None, None)

    def since(t: int | None) -> int | None:
        return None if t is None or created is None else t - created

    if f is None:
        asset, n, first, last, net, nonzero, exact = None, 0, None, None, None, 0, 1
    else:
        asset, n, first, last, net, nonzero, nulls = f
        exact = 0 if nulls else 1
        if nulls:
            net, nonzero = None, 0
    return OrderStat(
        key[0], key[1], created, None if flags is None else flags.traded, asset, n,
        first, last, net, nonzero, exact, since(first_trade), since(filled), status,
        flags.want if flags else 0, flags.full if flags else 0, flags.at_limit if flags else 0,
        None if flags is None or flags.ratio is None else str(flags.ratio),
        None if flags is None or flags.slip is None else str(flags.slip),
    )  # fmt: skip


def rebuild_orders(conn: sqlite3.Connection, account: str, hour_ms: int, hour_end: int) -> None:
    """Rebuild the ``order_stats`` rows of the orders touching [hour_ms, hour_end), the
    ``order_hourly`` tallies of the creation hours and the ``closing_hourly`` sums of the
    first-fill hours they were and are in."""
    keys = sorted(orders_in(conn, account, hour_ms, hour_end))
    rows = order_rows(conn, account, keys)
    both = [*stored_rows(conn, account, keys), *rows]  # hours they were in, and are in
    created = {r.time for r in both if r.time is not None}
    first_fills = {r.first_fill_ms for r in both if r.first_fill_ms is not None}
    marks = ", ".join("?" * (len(fields(OrderStat)) + 1))
    conn.executemany(
        f"INSERT OR REPLACE INTO order_stats VALUES ({marks})",
        [(account, *astuple(r)) for r in rows],
    )
    rebuild_order_hourly(conn, account, {t // HOUR_MS * HOUR_MS for t in created})
    rebuild_closing_hourly(conn, account, {t // HOUR_MS * HOUR_MS for t in first_fills})
    spans = [
        r.last_fill_ms - r.first_fill_ms
        for r in rows
        if r.first_fill_ms is not None and r.last_fill_ms is not None
    ]
    if spans:
        conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
            "value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
            (SPAN_KEY, str(max(spans))),
        )


_STORED = """
    SELECT s.* FROM k CROSS JOIN order_stats s
    ON s.account = ?1 AND s.symbol = k.symbol AND s.order_id = k.order_id
"""


def stored_rows(conn: sqlite3.Connection, account: str, keys: Iterable[Key]) -> list[OrderStat]:
    """The ``order_stats`` rows stored now for ``keys`` (those that have one)."""
    return [OrderStat(*r[1:]) for r in keyed_query(_STORED, conn, account, sorted(set(keys)))]
