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
from dataclasses import dataclass

from v7d.store.curve import FAR, HOUR_MS, rebuild_curve, span_of
from v7d.store.order_stats import rebuild_orders
from v7d.store.records import Income, Order, OrderEvent, Trade

__all__ = ["Pacer", "dirty_hours", "mark_inserts", "refresh_stats"]


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
    conn: sqlite3.Connection, limit: int = 48, budget_s: float | None = None,
    before_ms: int | None = None,
) -> tuple[int, bool]:  # fmt: skip
    """Rebuild up to ``limit`` dirty hours (those before ``before_ms`` only, if given),
    oldest first, in one transaction, stopping early once ``budget_s`` seconds are spent
    (after one hour at least).

    Returns (hours rebuilt, whether dirty hours remain). ``conn`` is in autocommit mode.
    """
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        dirty = conn.execute(
            "SELECT account, hour_ms FROM stats_dirty WHERE hour_ms < ? ORDER BY hour_ms LIMIT ?",
            (FAR if before_ms is None else before_ms, limit),
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
        (account, *span_of(start_ms, end_ms)),
    )
    return {r[0] for r in rows}


@dataclass(slots=True)
class Pacer:
    """When the writer rebuilds dirty hours, and which (times are monotonic seconds).

    Hours before the current one (a backfill's) are caught up while batches keep coming,
    in slices taking at most half the writer's time (after a slice, as long again with
    none). The current hour, which live trading marks again after every batch, is rebuilt
    once the writer has been idle for ``idle_s``, or ``force_s`` after the last slice.
    """

    idle_s: float = 0.5
    force_s: float = 30.0
    pending: bool = True  # dirty hours may remain (the last run may have left some)
    old_left: bool = True  # hours before the current one may be dirty
    last_batch: float = 0.0
    last_slice: float = 0.0
    duty_next: float = 0.0
    retry_at: float = 0.0

    def plan(self, now: float) -> tuple[float, bool]:
        """(seconds to wait first, 0 to start now; whether the current hour may be
        rebuilt too)."""
        if now < self.retry_at:
            return self.retry_at - now, False
        due_all = min(self.last_batch + self.idle_s, self.last_slice + self.force_s)
        if now >= due_all:
            return 0.0, True
        if self.old_left and now >= self.duty_next:
            return 0.0, False
        wake = min(due_all, self.duty_next) if self.old_left else due_all
        return wake - now, False

    def batch(self, now: float) -> None:
        """A batch was committed: it may have marked hours, old ones too."""
        self.last_batch = now
        self.pending = self.old_left = True

    def sliced(self, start: float, end: float, rebuilt: int, more: bool, every: bool) -> None:
        """A slice ran from ``start`` to ``end``; ``every``: the current hour was allowed."""
        self.last_slice = end
        self.duty_next = end + (end - start)
        self.pending = more
        if not every and not rebuilt:
            self.old_left = False

    def failed(self, now: float) -> None:
        """A slice failed: try again after ``force_s``."""
        self.retry_at = now + self.force_s
