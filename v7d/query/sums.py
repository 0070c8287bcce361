"""Additive sums of trades and income for a cut: hourly rollups when they can answer,
rows otherwise, exact either way.

The rollups (``trade_hourly``, ``income_hourly``, kept by triggers in the writer's
transactions) answer when the window is hour-aligned, the cut has no order-level part,
and no hour in the window holds an inexact row (``inexact`` > 0). Otherwise the rows are
summed; see :mod:`v7d.query.numbers` for the e8/Decimal modes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from v7d.query.cuts import HOUR_MS, Cut
from v7d.query.numbers import Mode, dec, sum_expr

__all__ = [
    "IncomeSum",
    "TradeGroup",
    "exact_mode",
    "income_sums",
    "run_exact",
    "split_hours",
    "summary_mode",
    "trade_groups",
    "trade_groups_mode",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TradeGroup:
    """Sums of the cut's trades with one (key, margin asset, commission asset).

    ``key`` holds the values of the extra grouping columns asked for (side, symbol,
    bucket start), in that order.
    """

    key: tuple[Any, ...]
    margin_asset: str
    commission_asset: str
    n: int
    maker_n: int
    qty: Decimal
    maker_qty: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    maker_commission: Decimal


@dataclass(frozen=True, slots=True)
class IncomeSum:
    """Sum of the cut's income rows of one (key, type, asset); ``key`` as in TradeGroup."""

    key: tuple[Any, ...]
    income_type: str
    asset: str
    n: int
    total: Decimal


def _hour_bounds(cut: Cut) -> tuple[str, list[Any]]:
    conds: list[str] = []
    params: list[Any] = []
    for col, value in (("account", cut.account), ("symbol", cut.symbol)):
        if value is not None:
            conds.append(f"{col} = ?")
            params.append(value)
    if cut.start_ms is not None:
        conds.append("hour_ms >= ?")
        params.append(cut.start_ms // HOUR_MS * HOUR_MS)
    if cut.end_ms is not None:
        conds.append("hour_ms < ?")
        params.append(cut.end_ms)
    return " AND ".join(conds) or "1", params


def inexact_rows(conn: sqlite3.Connection, table: str, cut: Cut) -> int:
    """Rows without exact e8 twins in the hours the cut touches (from the rollup)."""
    where, params = _hour_bounds(cut)
    sql = f"SELECT coalesce(SUM(inexact), 0) FROM {table} WHERE {where}"
    return int(conn.execute(sql, params).fetchone()[0])


def exact_mode(conn: sqlite3.Connection, table: str, cut: Cut) -> Mode:
    """``e8`` unless an hour in the window holds a row the integers cannot carry."""
    return "dec" if inexact_rows(conn, table, cut) else "e8"


def summary_mode(conn: sqlite3.Connection, cut: Cut) -> Mode:
    """One mode for every sum of a statistic over ``cut`` (trades and income alike), so
    that amounts from different queries can be added in the same unit."""
    if inexact_rows(conn, "trade_hourly", cut) or inexact_rows(conn, "income_hourly", cut):
        return "dec"
    return "e8"


def run_exact(mode: Mode, run: Callable[[Mode], T]) -> T:
    """``run(mode)``, retried in Decimal mode if an integer sum overflowed."""
    try:
        return run(mode)
    except sqlite3.OperationalError as exc:
        if mode == "e8" and "overflow" in str(exc):
            return run("dec")
        raise


_TRADE_FROM_ROWS = """
    SELECT {keys}t.margin_asset, t.commission_asset, COUNT(*), coalesce(SUM(t.maker), 0),
           {qty}, {maker_qty}, {quote_qty}, {pnl}, {fee}, {maker_fee}
    FROM trades t WHERE {where} GROUP BY {groups} ORDER BY {groups}
"""

_TRADE_FROM_HOURS = """
    SELECT {keys}t.margin_asset, t.commission_asset, SUM(n), SUM(maker_n), SUM(qty_e8),
           SUM(maker_qty_e8), SUM(quote_qty_e8), SUM(realized_pnl_e8), SUM(commission_e8),
           SUM(maker_commission_e8), SUM(inexact)
    FROM trade_hourly t WHERE {where} GROUP BY {groups} HAVING SUM(n) > 0 ORDER BY {groups}
"""


def _keys(by: tuple[str, ...], time_col: str, bucket_ms: int | None) -> tuple[str, str]:
    """SELECT prefix and GROUP BY list for the grouping columns ``by``."""
    exprs = []
    for b in by:
        if b == "bucket":
            if bucket_ms is None:
                raise ValueError("bucket grouping needs bucket_ms")
            exprs.append(f"(t.{time_col} / {int(bucket_ms)}) * {int(bucket_ms)}")
        else:
            exprs.append(f"t.{b}")
    n = len(exprs) + 2
    return "".join(e + ", " for e in exprs), ", ".join(str(i) for i in range(1, n + 1))


def _group(row: Any, nkeys: int) -> TradeGroup:
    k = nkeys
    return TradeGroup(
        tuple(row[:k]), row[k], row[k + 1], int(row[k + 2]), int(row[k + 3]),
        *(dec(v) for v in row[k + 4 : k + 10]),
    )  # fmt: skip


def trade_groups(
    conn: sqlite3.Connection,
    cut: Cut,
    by: tuple[str, ...] = ("side",),
    bucket_ms: int | None = None,
    mode: Mode | None = None,
) -> list[TradeGroup]:
    """The cut's trade sums, one row per (``by`` columns, margin asset, commission asset).

    ``by`` names columns among side, position_side, symbol, account, and ``bucket`` (the
    UTC start of the ``bucket_ms``-long bucket; a whole number of hours for the rollups).
    """
    return trade_groups_mode(conn, cut, by, bucket_ms, mode)[0]


def split_hours(cut: Cut) -> tuple[Cut | None, list[Cut]]:
    """The cut's whole hours (None if it has none) and the partial hours at its ends."""
    s, e = cut.start_ms, cut.end_ms
    lo = s if s is None or s % HOUR_MS == 0 else (s // HOUR_MS + 1) * HOUR_MS
    hi = e if e is None or e % HOUR_MS == 0 else e // HOUR_MS * HOUR_MS
    if lo is not None and hi is not None and lo >= hi:
        return None, [cut]
    edges = []
    if s is not None and lo is not None and s != lo:
        edges.append(replace(cut, start_ms=s, end_ms=lo))
    if e is not None and hi is not None and e != hi:
        edges.append(replace(cut, start_ms=hi, end_ms=e))
    return replace(cut, start_ms=lo, end_ms=hi), edges


def _merge(parts: list[list[TradeGroup]]) -> list[TradeGroup]:
    acc: dict[tuple[Any, ...], TradeGroup] = {}
    for part in parts:
        for g in part:
            k = (g.key, g.margin_asset, g.commission_asset)
            o = acc.get(k)
            acc[k] = g if o is None else TradeGroup(
                g.key, g.margin_asset, g.commission_asset, o.n + g.n, o.maker_n + g.maker_n,
                o.qty + g.qty, o.maker_qty + g.maker_qty, o.quote_qty + g.quote_qty,
                o.realized_pnl + g.realized_pnl, o.commission + g.commission,
                o.maker_commission + g.maker_commission,
            )  # fmt: skip
    return [acc[k] for k in sorted(acc)]


def _from_hours(
    conn: sqlite3.Connection, cut: Cut, by: tuple[str, ...], bucket_ms: int | None
) -> list[TradeGroup] | None:
    """Sums from ``trade_hourly`` (an hour-aligned cut), or None when the rollup cannot
    answer exactly (an hour holds an inexact row, or the integers overflow)."""
    where, params = cut.hourly_where("t", sides=True)
    keys, groups = _keys(by, "hour_ms", bucket_ms)
    sql = _TRADE_FROM_HOURS.format(keys=keys, groups=groups, where=where)
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "overflow" not in str(exc):
            raise
        return None
    # The rollup's own inexact count tells whether its integers hold every row.
    if any(r[len(by) + 10] for r in rows):
        return None
    return [_group(r, len(by)) for r in rows]


def _from_rows(
    conn: sqlite3.Connection, cut: Cut, by: tuple[str, ...], bucket_ms: int | None,
    mode: Mode | None,
) -> tuple[list[TradeGroup], Mode]:  # fmt: skip
    mode = mode or exact_mode(conn, "trade_hourly", cut)
    where, params = cut.trade_where("t")
    keys, groups = _keys(by, "time", bucket_ms)

    def run(m: Mode) -> list[TradeGroup]:
        sql = _TRADE_FROM_ROWS.format(
            keys=keys,
            groups=groups,
            where=where,
            qty=sum_expr(m, "t.qty"),
            maker_qty=sum_expr(m, "t.qty", "t.maker"),
            quote_qty=sum_expr(m, "t.quote_qty"),
            pnl=sum_expr(m, "t.realized_pnl"),
            fee=sum_expr(m, "t.commission"),
            maker_fee=sum_expr(m, "t.commission", "t.maker"),
        )
        return [_group(r, len(by)) for r in conn.execute(sql, params).fetchall()]

    return run_exact(mode, run), mode


def trade_groups_mode(
    conn: sqlite3.Connection,
    cut: Cut,
    by: tuple[str, ...] = ("side",),
    bucket_ms: int | None = None,
    mode: Mode | None = None,
) -> tuple[list[TradeGroup], Mode]:
    """:func:`trade_groups`, and the mode the cut's trade rows need (``e8`` when none of
    them lacks an integer twin), for the row-based statistics that follow.

    Whole hours come from the rollup; only the partial hours at the window's ends are
    summed from rows, so any window costs about as little as an hour-aligned one.
    """
    hourly_buckets = bucket_ms is None or bucket_ms % HOUR_MS == 0
    if mode != "dec" and not cut.order_level and hourly_buckets:
        inner, edges = split_hours(cut)
        rolled = None if inner is None else _from_hours(conn, inner, by, bucket_ms)
        if rolled is not None:
            parts, modes = [rolled], []
            for edge in edges:
                part, m = _from_rows(conn, edge, by, bucket_ms, None)
                parts.append(part)
                modes.append(m)
            return _merge(parts), "dec" if "dec" in modes else "e8"
        if inner is not None:
            mode = "dec"  # the whole hours hold an inexact row or overflow
    return _from_rows(conn, cut, by, bucket_ms, mode)


def _income(row: Any, k: int) -> IncomeSum:
    return IncomeSum(tuple(row[:k]), row[k], row[k + 1], int(row[k + 2]), dec(row[k + 3]))


def income_sums(
    conn: sqlite3.Connection,
    cut: Cut,
    by: tuple[str, ...] = (),
    bucket_ms: int | None = None,
    mode: Mode | None = None,
) -> list[IncomeSum]:
    """The cut's income sums by (``by``, type, asset); empty when not attributable.

    ``by`` names columns among symbol, account and ``bucket`` (see :func:`trade_groups`).
    """
    if not cut.income_attributable:
        return []
    mode = mode or exact_mode(conn, "income_hourly", cut)
    hourly_buckets = bucket_ms is None or bucket_ms % HOUR_MS == 0
    if mode == "e8" and cut.hour_aligned and hourly_buckets:
        where, params = cut.hourly_where("t", sides=False)
        keys, groups = _keys(by, "hour_ms", bucket_ms)
        sql = (
            f"SELECT {keys}t.income_type, t.asset, SUM(n), SUM(income_e8) FROM income_hourly t "
            f"WHERE {where} GROUP BY {groups} HAVING SUM(n) > 0 ORDER BY {groups}"
        )
        try:
            return [_income(r, len(by)) for r in conn.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            mode = "dec"
    where, params = cut.income_where("t")
    keys, groups = _keys(by, "time", bucket_ms)

    def run(m: Mode) -> list[IncomeSum]:
        sql = (
            f"SELECT {keys}t.income_type, t.asset, COUNT(*), {sum_expr(m, 't.income')} "
            f"FROM income t WHERE {where} GROUP BY {groups} ORDER BY {groups}"
        )
        return [_income(r, len(by)) for r in conn.execute(sql, params).fetchall()]

    return run_exact(mode, run)
