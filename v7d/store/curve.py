"""Hourly blocks of the net-PnL curve, kept by the writer for fast drawdowns.

The drawdown statistics walk the cumulative net-PnL curve (each fill's realized PnL
minus its margin-asset commission, plus funding) point by point. Over months of history
that is millions of points. A :class:`Block` holds what the walk needs to step over one
UTC hour of one curve (an account's whole curve, ``symbol = ''``, or one symbol's) in
constant time: its total, its highest and lowest prefix with their times, and upper
bounds of the deepest and longest drawdown that can start inside it. The walk
(:mod:`v7d.query.drawdown`) reads an hour's fills only when those bounds say the hour
could change the answer, so the result equals a walk over every point.

Maintenance: :mod:`v7d.store.refresh` marks an hour dirty with every write into it and
has the idle writer rebuild it (:func:`rebuild_curve`); a query treats a dirty hour as
rows to read, so a block is never trusted after its rows changed.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import astuple, dataclass, fields

__all__ = ["BLOCK_COLUMNS", "FAR", "HOUR_MS", "Block", "block_of", "rebuild_curve", "span_of"]

HOUR_MS = 3_600_000
FAR = 2**62  # epoch ms beyond any real time: the bound of an open window end


def span_of(start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    """[start_ms, end_ms) with open ends made far-away numbers."""
    return -FAR if start_ms is None else start_ms, FAR if end_ms is None else end_ms


@dataclass(frozen=True, slots=True)
class Block:
    """One hour of one curve, in e8 units; prefixes ``c_i`` are sums of the first i changes.

    ``dd_e8``: the deepest fall of a prefix below an earlier prefix in the hour
    (max of ``max(c_1..c_i) - c_i``). ``gap_ms``: the longest time between two successive
    prefix records (points at or above every earlier prefix) with points under water
    between them. Both bound what a drawdown that starts inside the hour can reach.
    """

    hour_ms: int
    points: int
    first_ms: int
    last_ms: int
    total_e8: int
    max_e8: int
    max_first_ms: int
    max_last_ms: int
    min_e8: int
    min_first_ms: int
    dd_e8: int
    gap_ms: int


BLOCK_COLUMNS = tuple(f.name for f in fields(Block))


def block_of(hour_ms: int, points: list[tuple[int, int]]) -> Block:
    """The block of ``points`` ((time, change) in time order, one per millisecond)."""
    cum = 0
    top = bottom = None
    top_first = top_last = bottom_first = 0
    dd = gap = 0
    rec_t = rec_i = 0
    for i, (t, change) in enumerate(points):
        cum += change
        if top is None or cum >= top:
            if top is not None and i > rec_i + 1:
                gap = max(gap, t - rec_t)
            if top is None or cum > top:
                top_first = t
            top, top_last, rec_t, rec_i = cum, t, t, i
        else:
            dd = max(dd, top - cum)
        if bottom is None or cum < bottom:
            bottom, bottom_first = cum, t
    if top is None or bottom is None:
        raise ValueError("a block needs at least one point")
    return Block(
        hour_ms, len(points), points[0][0], points[-1][0], cum, top, top_first, top_last,
        bottom, bottom_first, dd, gap,
    )  # fmt: skip


# The net change of each fill in e8; a NULL twin makes the hour's sum NULL on purpose.
_TRADES = """
    SELECT symbol, margin_asset, time,
           SUM(realized_pnl_e8) - SUM(CASE WHEN commission_asset = margin_asset
                                           THEN commission_e8 ELSE 0 END),
           SUM(realized_pnl_e8 IS NULL OR commission_e8 IS NULL)
    FROM trades WHERE account = ? AND time >= ? AND time < ?
    GROUP BY symbol, margin_asset, time
"""
_FUNDING = """
    SELECT symbol, asset, time, SUM(income_e8), SUM(income_e8 IS NULL)
    FROM income WHERE account = ? AND time >= ? AND time < ? AND income_type = 'FUNDING_FEE'
    GROUP BY symbol, asset, time
"""


def rebuild_curve(conn: sqlite3.Connection, account: str, hour_ms: int) -> None:
    """Replace the blocks of one (account, hour) with ones built from its rows."""
    curves: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    inexact: set[tuple[str, str]] = set()
    args = (account, hour_ms, hour_ms + HOUR_MS)
    for sql in (_TRADES, _FUNDING):
        for symbol, asset, t, change, nulls in conn.execute(sql, args):
            for key in ((symbol, asset), ("", asset)):
                if nulls:
                    inexact.add(key)
                else:
                    curves[key][t] += change
    conn.execute("DELETE FROM curve_hourly WHERE account = ? AND hour_ms = ?", (account, hour_ms))
    rows = []
    for key in set(curves) | inexact:
        head = (account, *key, hour_ms)
        if key in inexact:
            # No integers to add up: the block says so, and a query reads the rows.
            rows.append((*head, 0, *([None] * (len(BLOCK_COLUMNS) - 1))))
        else:
            block = block_of(hour_ms, sorted(curves[key].items()))
            rows.append((*head, 1, *astuple(block)[1:]))
    marks = ", ".join("?" * (len(BLOCK_COLUMNS) + 4))
    conn.executemany(f"INSERT INTO curve_hourly VALUES ({marks})", rows)
