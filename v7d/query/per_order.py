"""Statistics from the per-order rows and hourly sums the writer keeps.

For a cut by account, symbol and time window (nothing else), closing-order results and
execution quality read :mod:`v7d.store.order_stats` (one compact row per order) and the
hourly sums of :mod:`v7d.store.order_tally` (``closing_hourly`` by first-fill hour,
``order_hourly`` by creation hour) instead of grouping every fill by order or joining
every order to its events:

* whole hours of the window add their hourly sums; the partial hours at its ends add the
  per-order rows;
* the orders touching an hour still marked dirty are stale: their stored rows and the
  hourly sums holding them are set aside and the orders recomputed from the history
  tables — unless too many hours are dirty (right after a backfill), when the caller
  falls back to the history tables altogether;
* closing orders whose fills straddle a window edge (found through the longest fill span
  any order has) have their in-window fills summed from the trades;
* fill-time percentiles read the stored values around their rank in one ordered read.

Every function returns None when the rows cannot answer exactly; the caller then takes
the path over the history tables (:mod:`v7d.query.outcomes`, :mod:`v7d.query.execution`).
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections import defaultdict
from typing import Any

from v7d.query.cuts import Cut
from v7d.query.numbers import Mode
from v7d.query.sums import split_hours
from v7d.store.curve import FAR, HOUR_MS, span_of
from v7d.store.order_stats import SPAN_KEY, Key, OrderStat, keyed_query, orders_in, stored_rows
from v7d.store.order_tally import TALLY_COLUMNS, ClosingSums, Tally, stored_flags
from v7d.store.refresh import dirty_hours

__all__ = [
    "closing_sums",
    "p90_column",
    "stale_orders",
    "stored_fill_times",
    "tally_by_status",
]

# More dirty hours than this (a backfill not yet rebuilt): read the history tables.
MAX_DIRTY_HOURS = 48
# Stale orders are recomputed one by one; beyond this many, read the history tables.
MAX_STALE_ORDERS = 5000


def stale_orders(conn: sqlite3.Connection, cut: Cut, mode: Mode) -> set[Key] | None:
    """The cut's orders whose stored rows may be stale, or None when the rows cannot
    answer this cut (another mode, a cut the rows do not carry, too much still dirty)."""
    if mode != "e8" or cut.account is None or not cut.income_attributable:
        return None
    hours = dirty_hours(conn, cut.account)
    if len(hours) > MAX_DIRTY_HOURS:
        return None
    stale: set[Key] = set()
    for h in hours:
        stale |= orders_in(conn, cut.account, h, h + HOUR_MS)
    if cut.symbol is not None:
        stale = {k for k in stale if k[0] == cut.symbol}
    return stale if len(stale) <= MAX_STALE_ORDERS else None


def _sym(cut: Cut) -> tuple[str, list[Any]]:
    return ("AND symbol = ? ", [cut.symbol]) if cut.symbol is not None else ("", [])


def closing_sums(
    conn: sqlite3.Connection, cut: Cut, stale: set[Key]
) -> dict[str, ClosingSums] | None:
    """Closing-order sums per margin asset over the cut, or None (read the trades).

    Orders are placed by their first fill: the whole hours of the window add their
    ``closing_hourly`` sums, less the orders whose fills run past the window's end; the
    partial hours at its ends, and hours whose sums hold a stale order, add the
    per-order rows of orders wholly inside. Orders with fills on both sides of an edge,
    and stale orders, add the sum of their fills inside the window, from the trades.
    """
    assert cut.account is not None
    lo, hi = span_of(cut.start_ms, cut.end_ms)
    acc: dict[str, ClosingSums] = defaultdict(ClosingSums)
    stored = stored_rows(conn, cut.account, stale)
    redo = {r.first_fill_ms // HOUR_MS * HOUR_MS for r in stored if r.first_fill_ms is not None}
    whole, edges = split_hours(cut)
    spans = [span_of(e.start_ms, e.end_ms) for e in edges]
    w_lo = w_hi = 0
    if whole is not None:
        w_lo, w_hi = span_of(whole.start_ms, whole.end_ms)
        if not _add_hours(conn, cut, w_lo, w_hi, redo, acc):
            return None
        spans += [(h, h + HOUR_MS) for h in sorted(redo) if w_lo <= h < w_hi]
    if not _add_inside(conn, cut, spans, hi, stale, acc):
        return None
    straddling = _straddling(conn, cut, lo, hi, stale)
    # The hourly sums counted the orders that start in a whole hour but end past the window.
    for r in stored_rows(conn, cut.account, straddling):
        first, last = r.first_fill_ms, r.last_fill_ms
        assert first is not None and last is not None and r.margin_asset is not None
        hour = first // HOUR_MS * HOUR_MS
        if w_lo <= first < w_hi and hour not in redo and last >= hi and r.nonzero and r.exact:
            acc[r.margin_asset].add(r.net_e8 or 0, -1)
    fresh = _in_window(conn, cut, stale | straddling)
    if fresh is None:
        return None
    for asset, net in fresh:
        acc[asset].add(net)
    return {a: s for a, s in sorted(acc.items()) if s.n}


def _add_hours(
    conn: sqlite3.Connection, cut: Cut, w_lo: int, w_hi: int, redo: set[int],
    acc: dict[str, ClosingSums],
) -> bool:  # fmt: skip
    """Add the ``closing_hourly`` sums of the whole hours [w_lo, w_hi) but those in
    ``redo``; False when one counts an order without exact integers."""
    sql = (
        "SELECT hour_ms, margin_asset, n, wins, losses, won_e8, lost_e8, inexact "
        "FROM closing_hourly WHERE account = ? AND symbol = ? AND hour_ms >= ? AND hour_ms < ?"
    )
    for hour, asset, n, wins, losses, won, lost, inexact in conn.execute(
        sql, [cut.account, cut.symbol or "", w_lo, w_hi]
    ):
        if hour in redo:
            continue
        if inexact:
            return False
        acc[asset].merge(ClosingSums(n, wins, losses, won, lost))
    return True


def _add_inside(
    conn: sqlite3.Connection, cut: Cut, spans: list[tuple[int, int]], hi: int, stale: set[Key],
    acc: dict[str, ClosingSums],
) -> bool:  # fmt: skip
    """Add the stored results of the closing orders whose first fill is in ``spans`` and
    last fill before ``hi`` (not stale); False when one lacks exact integers."""
    sym, sym_params = _sym(cut)
    for a, b in spans:
        rows = conn.execute(
            "SELECT symbol, order_id, margin_asset, nonzero, exact, net_e8 FROM order_stats "
            f"WHERE account = ? AND first_fill_ms >= ? AND first_fill_ms < ? "
            f"AND last_fill_ms < ? {sym}",
            [cut.account, a, b, hi, *sym_params],
        )
        for symbol, order_id, asset, nonzero, exact, net in rows:
            if (symbol, order_id) in stale:
                continue
            if not exact:
                return False
            if nonzero > 0:
                acc[asset].add(net)
    return True


def _straddling(conn: sqlite3.Connection, cut: Cut, lo: int, hi: int, stale: set[Key]) -> set[Key]:
    """Orders with fills on both sides of a window edge (their rows are not stale)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (SPAN_KEY,)).fetchone()
    span = int(row[0]) if row else 0
    sym, sym_params = _sym(cut)
    out: set[Key] = set()
    for edge in (lo, hi):
        if abs(edge) == FAR:
            continue
        sql = (
            "SELECT symbol, order_id FROM order_stats WHERE account = ? AND first_fill_ms >= ? "
            f"AND first_fill_ms < ? AND last_fill_ms >= ? {sym}"
        )
        rows = conn.execute(sql, [cut.account, edge - span, edge, edge, *sym_params])
        out |= {(r[0], r[1]) for r in rows}
    return out - stale


_FILLS_IN_WINDOW = """
    SELECT t.margin_asset,
           SUM(t.realized_pnl_e8) - SUM(CASE WHEN t.commission_asset = t.margin_asset
                                             THEN t.commission_e8 ELSE 0 END),
           SUM(t.realized_pnl_e8 != 0), SUM(t.realized_pnl_e8 IS NULL OR t.commission_e8 IS NULL)
    FROM k CROSS JOIN trades t INDEXED BY trades_order
         ON t.account = ?1 AND t.symbol = k.symbol AND t.order_id = k.order_id
    WHERE t.time >= {lo} AND t.time < {hi}
    GROUP BY t.symbol, t.order_id
"""


def _in_window(conn: sqlite3.Connection, cut: Cut, keys: set[Key]) -> list[tuple[str, int]] | None:
    """(margin asset, in-window result) of each closing order among ``keys``."""
    assert cut.account is not None
    lo, hi = span_of(cut.start_ms, cut.end_ms)
    sql = _FILLS_IN_WINDOW.format(lo=int(lo), hi=int(hi))
    out = []
    for asset, net, nonzero, nulls in keyed_query(sql, conn, cut.account, sorted(keys)):
        if nulls:
            return None
        if nonzero:
            out.append((asset, net))
    return out


def _tally_rows(
    conn: sqlite3.Connection, cut: Cut, spans: list[tuple[int, int]], stale: set[Key]
) -> list[tuple[Any, ...]]:
    """Stored per-order rows created in ``spans`` (orders not stale), as tally input."""
    sym, sym_params = _sym(cut)
    out = []
    for lo, hi in spans:
        rows = conn.execute(
            "SELECT symbol, order_id, status, executed, want, full_qty, at_limit, ratio, slip, "
            f"ttf_first_ms, ttf_full_ms FROM order_stats WHERE account = ? AND time >= ? "
            f"AND time < ? {sym}",
            [cut.account, lo, hi, *sym_params],
        )
        out += [tuple(r)[2:] for r in rows if (r[0], r[1]) not in stale]
    return out


def _add_rows(acc: dict[str, Tally], rows: list[tuple[Any, ...]]) -> None:
    for status, *stored in rows:
        acc[status].add_order(*stored_flags(stored))


def tally_by_status(
    conn: sqlite3.Connection, cut: Cut, stale: set[Key], fresh: list[OrderStat]
) -> dict[str, Tally]:
    """Execution-quality sums per status of the cut's orders (by creation time).

    Whole hours come from ``order_hourly`` unless a stale order was or is created in
    them; those hours and the partial hours at the window's ends are added up from the
    per-order rows, with ``fresh`` (the stale orders recomputed) in place of stale rows.
    """
    assert cut.account is not None
    lo, hi = span_of(cut.start_ms, cut.end_ms)
    acc: dict[str, Tally] = defaultdict(Tally)
    both = [*stored_rows(conn, cut.account, stale), *fresh]  # hours they were and are in
    redo = {r.time // HOUR_MS * HOUR_MS for r in both if r.time is not None}
    whole, edges = split_hours(cut)
    spans = [span_of(e.start_ms, e.end_ms) for e in edges]
    if whole is not None:
        w_lo, w_hi = span_of(whole.start_ms, whole.end_ms)
        cols = ", ".join(TALLY_COLUMNS)
        sql = (
            f"SELECT hour_ms, status, {cols} FROM order_hourly WHERE account = ? AND symbol = ? "
            "AND hour_ms >= ? AND hour_ms < ?"
        )
        for hour, status, *values in conn.execute(sql, [cut.account, cut.symbol or "", w_lo, w_hi]):
            if hour not in redo:
                acc[status].merge(Tally.from_row(values))
        spans += [(h, h + HOUR_MS) for h in sorted(redo) if w_lo <= h < w_hi]
    _add_rows(acc, _tally_rows(conn, cut, spans, stale))
    for r in fresh:
        if (
            r.time is not None
            and r.status is not None
            and lo <= r.time < hi
            and (cut.symbol is None or r.symbol == cut.symbol)
        ):
            _add_rows(acc, [(r.status, r.executed, r.want, r.full_qty, r.at_limit, r.ratio,
                             r.slip, r.ttf_first_ms, r.ttf_full_ms)])  # fmt: skip
    return dict(acc)


def stored_fill_times(conn: sqlite3.Connection, cut: Cut, keys: set[Key]) -> dict[str, list[int]]:
    """The stored fill times (``ttf_first_ms``, ``ttf_full_ms``) of ``keys`` that count in
    the cut: traded, created in its window, of its symbol."""
    assert cut.account is not None
    lo, hi = span_of(cut.start_ms, cut.end_ms)
    out: dict[str, list[int]] = {"ttf_first_ms": [], "ttf_full_ms": []}
    for r in stored_rows(conn, cut.account, keys):
        if (
            r.executed
            and r.time is not None
            and lo <= r.time < hi
            and cut.symbol in (None, r.symbol)
        ):
            for col in out:
                if (v := getattr(r, col)) is not None:
                    out[col].append(v)
    return out


def p90_column(
    conn: sqlite3.Connection, cut: Cut, col: str, removed: list[int], extra: list[int], n: int,
    *, walk: bool = False,
) -> int | None:  # fmt: skip
    """Nearest-rank 90th percentile of ``col`` over the cut's traded orders: the stored
    values, less ``removed`` (the stale orders' stored values in the cut), plus ``extra``
    (their fresh values); ``n`` counts that union.

    One ordered read of the stored values with ranks k - len(extra) to k + len(removed)
    answers (k: the wanted rank in the union): fewer than k + 1 union values lie below
    that range and at least k + 1 within it, so the answer is the first value there at
    which the union's count reaches k + 1. ``walk``: read the column's own index in
    value order (a window holding a large share of the orders) instead of sorting.
    """
    if not n:
        return None
    k = max(0, math.ceil(0.9 * n) - 1)
    lo = max(0, k - len(extra))
    sym, sym_params = _sym(cut)
    where = f"account = ? AND executed = 1 AND time >= ? AND time < ? AND {col} IS NOT NULL {sym}"
    params: list[Any] = [cut.account, *span_of(cut.start_ms, cut.end_ms), *sym_params]
    if walk:
        index = f"INDEXED BY order_stats_{col[:-3]}"
    else:
        index = f"INDEXED BY order_stats_{'symbol_' if cut.symbol is not None else ''}time"
    got = [r[0] for r in conn.execute(
        f"SELECT {col} FROM order_stats {index} WHERE {where} ORDER BY {col} LIMIT ? OFFSET ?",
        [*params, k + len(removed) - lo + 1, lo],
    )]  # fmt: skip
    extra, removed = sorted(extra), sorted(removed)
    for v in sorted(set(got) | {e for e in extra if lo == 0 or e >= got[0]}):
        below = lo + bisect.bisect_right(got, v)
        below += bisect.bisect_right(extra, v) - bisect.bisect_right(removed, v)
        if below >= k + 1:
            return int(v)
    raise AssertionError("p90 rank not found")  # n counts the union: unreachable
