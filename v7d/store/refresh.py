"""Dirty hours and their rebuild: the statistics tables the idle writer keeps.

The curve blocks (:mod:`v7d.store.curve`), per-order rows (:mod:`v7d.store.order_stats`)
and their hourly sums (:mod:`v7d.store.order_tally`) are derived from the history tables
hour by hour. Every
write marks the (account, hour) it touches in ``stats_dirty`` inside its own
transaction — :func:`mark_inserts` for a writer batch (one row per hour, not per trade),
triggers for updated or deleted trades and income — and :func:`refresh_stats` rebuilds
marked hours in short slices when the writer is idle. Queries read the rows of any hour
still marked, so the derived tables are never trusted stale, and a crash at any moment
leaves either the old marks or the rebuilt hours.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from v7d.store.curve import HOUR_MS, rebuild_curve
from v7d.store.order_stats import rebuild_orders
from v7d.store.records import Income, Order, OrderEvent, Trade

__all__ = ["dirty_hours", "mark_inserts", "refresh_stats"]


def _hour(t: int) -> int:
    return t // HOUR_MS * HOUR_MS


def mark_inserts(conn: sqlite3.Connection, records: Iterable[object]) -> None:
    """Mark the hours a batch's trades, funding, orders and order events go into (inside
    its transaction; a row the upsert then ignores only costs a needless rebuild)."""
    hours: set[tuple[str, int]] = set()
    for r in records:
        if isinstance(r, Trade | Order):
            hours.add((r.account, _hour(r.time)))
        elif isinstance(r, OrderEvent):
            hours.add((r.account, _hour(r.event_time)))
        elif isinstance(r, Income) and r.income_type == "FUNDING_FEE":
            hours.add((r.account, _hour(r.time)))
    if hours:
        conn.executemany("INSERT OR IGNORE INTO stats_dirty VALUES (?, ?)", sorted(hours))


def refresh_stats(
    conn: sqlite3.Connection, limit: int = 48, budget_s: float | None = None
) -> tuple[int, bool]:
    """Rebuild up to ``limit`` dirty hours, oldest first, in one transaction, stopping
    early once ``budget_s`` seconds are spent (after one hour at least).

    Returns (hours rebuilt, whether dirty hours remain). ``conn`` is in autocommit mode.
    """
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        dirty = conn.execute(
            "SELECT account, hour_ms FROM stats_dirty ORDER BY hour_ms LIMIT ?", (limit,)
        ).fetchall()
        done: list[tuple[str, int]] = []
        for account, hour_ms in dirty:
            if done and budget_s is not None and time.monotonic() - started > budget_s:
                break
            rebuild_curve(conn, account, hour_ms)
            rebuild_orders(conn, account, hour_ms, hour_ms + HOUR_MS)
            done.append((account, hour_ms))
        conn.executemany("DELETE FROM stats_dirty WHERE account = ? AND hour_ms = ?", done)
        more = conn.execute("SELECT 1 FROM stats_dirty LIMIT 1").fetchone() is not None
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(done), more


def dirty_hours(
    conn: sqlite3.Connection, account: str, start_ms: int | None = None, end_ms: int | None = None
) -> set[int]:
    """The account's hours in [start_ms, end_ms) (open ends: all) waiting for a rebuild."""
    rows = conn.execute(
        "SELECT hour_ms FROM stats_dirty WHERE account = ? AND hour_ms >= ? AND hour_ms < ?",
        (account, -(2**62) if start_ms is None else start_ms, 2**62 if end_ms is None else end_ms),
    )
    return {r[0] for r in rows}
