"""Drawdowns over the writer's hourly curve blocks, reading rows only where needed.

A cut by account, symbol and time window (nothing else) walks its curve hour by hour:
whole hours with a fresh exact block are stepped over (:meth:`Walk.step`), and the
partial hours at the window's ends, the hours still marked dirty, and the hours whose
block bounds could change the answer are read as points. Other cuts (side, position
side, order-level) have no blocks and walk every point (:mod:`v7d.query.outcomes`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace

from v7d.query.cuts import Cut
from v7d.query.drawdown import Drawdown, Num, Walk
from v7d.query.sums import split_hours
from v7d.store.curve import BLOCK_COLUMNS, HOUR_MS, Block, span_of
from v7d.store.refresh import dirty_hours

__all__ = ["block_drawdowns", "blockable"]

Points = Callable[[Cut, str], list[tuple[int, Num]]]


def blockable(cut: Cut) -> bool:
    """The cut selects whole curves the blocks were built for."""
    return cut.account is not None and cut.income_attributable


def _blocks(conn: sqlite3.Connection, cut: Cut, asset: str, lo: int, hi: int) -> list[Block | int]:
    """The hours in [lo, hi) in order: a fresh exact Block, or the hour to read as rows."""
    stale = dirty_hours(conn, cut.account or "", lo, hi)
    sql = (
        f"SELECT exact, {', '.join(BLOCK_COLUMNS)} FROM curve_hourly WHERE account = ? "
        "AND symbol = ? AND margin_asset = ? AND hour_ms >= ? AND hour_ms < ? ORDER BY hour_ms"
    )
    out: list[Block | int] = []
    for exact, *values in conn.execute(sql, (cut.account, cut.symbol or "", asset, lo, hi)):
        hour = values[0]
        if hour in stale or not exact:
            out.append(hour)
        else:
            out.append(Block(*values))
        stale.discard(hour)
    return sorted(out + list(stale), key=lambda x: x if isinstance(x, int) else x.hour_ms)


def block_drawdowns(
    conn: sqlite3.Connection, cut: Cut, assets: list[str], points: Points
) -> dict[str, Drawdown]:
    """Drawdowns per margin asset; ``points(part, asset)`` reads one asset's points over
    a part of the window exactly as the point-by-point walk does."""
    out: dict[str, Drawdown] = {}
    whole, edges = split_hours(cut)
    for asset in assets:
        walk = Walk()
        if whole is None:
            walk.feed(points(cut, asset))
            out[asset] = walk.result()
            continue
        lo, hi = span_of(whole.start_ms, whole.end_ms)
        head = [e for e in edges if e.end_ms == whole.start_ms]
        tail = [e for e in edges if e.start_ms == whole.end_ms]
        for e in head:
            walk.feed(points(e, asset))
        pending: list[int] = []  # consecutive hours to read in one query
        for item in _blocks(conn, cut, asset, lo, hi):
            if isinstance(item, int):
                pending.append(item)
                continue
            _flush(walk, pending, cut, asset, points)
            if not walk.step(item):
                walk.feed(points(_hours(cut, item.hour_ms, item.hour_ms), asset))
        _flush(walk, pending, cut, asset, points)
        for e in tail:
            walk.feed(points(e, asset))
        out[asset] = walk.result()
    return out


def _hours(cut: Cut, first: int, last: int) -> Cut:
    return replace(cut, start_ms=first, end_ms=last + HOUR_MS)


def _flush(walk: Walk, pending: list[int], cut: Cut, asset: str, points: Points) -> None:
    """Feed the pending hours' points: each run of consecutive hours in one read."""
    i = 0
    while i < len(pending):
        j = i
        while j + 1 < len(pending) and pending[j + 1] == pending[j] + HOUR_MS:
            j += 1
        walk.feed(points(_hours(cut, pending[i], pending[j]), asset))
        i = j + 1
    pending.clear()
