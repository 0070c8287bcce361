"""Additive sums of trades and income for a cut: daily and hourly rollups when they can
answer, rows otherwise, exact either way.

The rollups (``trade_daily``/``trade_hourly``, ``income_daily``/``income_hourly``, kept by
triggers in the writer's transactions) answer the whole days and whole hours of a window
when the cut has no order-level part and no bucket in the window holds an inexact row
(``inexact`` > 0); the partial hours at the ends are summed from the rows. Otherwise the
rows are summed; see :mod:`v7d.query.numbers` for the e8/Decimal modes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from v7d.query.cuts import DAY_MS, HOUR_MS, Cut
from v7d.query.numbers import Mode, dec, sum_expr

__all__ = [
    "IncomeSum",
    "Spans",
    "TradeGroup",
    "exact_mode",
    "income_sums",
    "rollup_total",
    "run_exact",
    "spans",
    "split_at",
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


def _bounds(cut: Cut, column: str, unit: int) -> tuple[str, list[Any]]:
    """WHERE over a rollup table for every bucket of length ``unit`` the cut touches."""
    conds: list[str] = []
    params: list[Any] = []
    for col, value in (("account", cut.account), ("symbol", cut.symbol)):
        if value is not None:
            conds.append(f"{col} = ?")
            params.append(value)
    if cut.start_ms is not None:
        conds.append(f"{column} >= ?")
        params.append(cut.start_ms // unit * unit)
    if cut.end_ms is not None:
        conds.append(f"{column} < ?")
        params.append(cut.end_ms)
    return " AND ".join(conds) or "1", params


def rollup_total(conn: sqlite3.Connection, table: str, cut: Cut, column: str) -> int:
    """Sum of a rollup ``column`` over every hour the cut touches (its account and symbol).

    ``table`` names the kind (``trade_hourly`` or ``income_hourly``); the cut's whole days
    are read from the daily rollup, the other hours from the hourly one.
    """
    kind = table.split("_")[0]
    sp = spans(cut)
    parts = [] if sp.days is None else [(f"{kind}_daily", "day_ms", DAY_MS, sp.days)]
    parts += [(f"{kind}_hourly", "hour_ms", HOUR_MS, c) for c in sp.hours + sp.rows]
    total = 0
    for tbl, bucket, unit, part in parts:
        where, params = _bounds(part, bucket, unit)
        sql = f"SELECT coalesce(SUM({column}), 0) FROM {tbl} WHERE {where}"
        total += int(conn.execute(sql, params).fetchone()[0])
    return total


def inexact_rows(conn: sqlite3.Connection, table: str, cut: Cut) -> int:
    """Rows without exact e8 twins in the hours the cut touches (from the rollups)."""
    return rollup_total(conn, table, cut, "inexact")


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

_TRADE_FROM_ROLLUP = """
    SELECT {keys}t.margin_asset, t.commission_asset, SUM(n), SUM(maker_n), SUM(qty_e8),
           SUM(maker_qty_e8), SUM(quote_qty_e8), SUM(realized_pnl_e8), SUM(commission_e8),
           SUM(maker_commission_e8), SUM(inexact)
    FROM {table} t WHERE {where} GROUP BY {groups} HAVING SUM(n) > 0 ORDER BY {groups}
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


def split_at(cut: Cut, unit: int) -> tuple[Cut | None, list[Cut]]:
    """The cut's whole ``unit``-long UTC buckets (None if none) and the partial ends."""
    s, e = cut.start_ms, cut.end_ms
    lo = s if s is None or s % unit == 0 else (s // unit + 1) * unit
    hi = e if e is None or e % unit == 0 else e // unit * unit
    if lo is not None and hi is not None and lo >= hi:
        return None, [cut]
    edges = []
    if s is not None and lo is not None and s != lo:
        edges.append(replace(cut, start_ms=s, end_ms=lo))
    if e is not None and hi is not None and e != hi:
        edges.append(replace(cut, start_ms=hi, end_ms=e))
    return replace(cut, start_ms=lo, end_ms=hi), edges


def split_hours(cut: Cut) -> tuple[Cut | None, list[Cut]]:
    """The cut's whole hours (None if it has none) and the partial hours at its ends."""
    return split_at(cut, HOUR_MS)


@dataclass(frozen=True, slots=True)
class Spans:
    """A cut split by what answers each part: whole UTC days (the daily rollups), whole
    hours outside them (the hourly rollups), partial hours at the ends (the rows)."""

    days: Cut | None
    hours: list[Cut]
    rows: list[Cut]


def spans(cut: Cut) -> Spans:
    """Split ``cut`` into :class:`Spans` (their windows are disjoint and cover the cut)."""
    hours, rows = split_hours(cut)
    if hours is None:
        return Spans(None, [], rows)
    days, hour_edges = split_at(hours, DAY_MS)
    return Spans(days, hour_edges, rows)


def _rollup_parts(kind: str, sp: Spans, bucket_ms: int | None) -> list[tuple[str, str, Cut]]:
    """(table, bucket column, cut) for the parts of ``sp`` a rollup answers; the days go
    to the hourly table when the asked bucket is not a whole number of days."""
    parts = []
    if sp.days is not None:
        if bucket_ms is None or bucket_ms % DAY_MS == 0:
            parts.append((f"{kind}_daily", "day_ms", sp.days))
        else:
            parts.append((f"{kind}_hourly", "hour_ms", sp.days))
    return parts + [(f"{kind}_hourly", "hour_ms", c) for c in sp.hours]


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


def _from_rollup(
    conn: sqlite3.Connection, part: tuple[str, str, Cut], by: tuple[str, ...],
    bucket_ms: int | None,
) -> list[TradeGroup] | None:  # fmt: skip
    """Sums from a trade rollup over a cut of whole buckets, or None when the rollup
    cannot answer exactly (a bucket holds an inexact row, or the integers overflow)."""
    table, column, cut = part
    where, params = cut.hourly_where("t", sides=True, column=column)
    keys, groups = _keys(by, column, bucket_ms)
    sql = _TRADE_FROM_ROLLUP.format(keys=keys, groups=groups, where=where, table=table)
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
        sp = spans(cut)
        parts = _rollup_parts("trade", sp, bucket_ms)
        rolled = [_from_rollup(conn, p, by, bucket_ms) for p in parts]
        if parts and all(r is not None for r in rolled):
            groups: list[list[TradeGroup]] = [r for r in rolled if r is not None]
            modes: list[Mode] = []
            for edge in sp.rows:
                part, m = _from_rows(conn, edge, by, bucket_ms, None)
                groups.append(part)
                modes.append(m)
            return _merge(groups), "dec" if "dec" in modes else "e8"
        if parts:
            mode = "dec"  # the whole hours hold an inexact row or overflow
    return _from_rows(conn, cut, by, bucket_ms, mode)


def _income(row: Any, k: int) -> IncomeSum:
    return IncomeSum(tuple(row[:k]), row[k], row[k + 1], int(row[k + 2]), dec(row[k + 3]))


def _merge_income(parts: list[list[IncomeSum]]) -> list[IncomeSum]:
    acc: dict[tuple[Any, ...], IncomeSum] = {}
    for part in parts:
        for x in part:
            k = (x.key, x.income_type, x.asset)
            o = acc.get(k)
            acc[k] = x if o is None else replace(o, n=o.n + x.n, total=o.total + x.total)
    return [acc[k] for k in sorted(acc)]


def _income_rollup(
    conn: sqlite3.Connection, part: tuple[str, str, Cut], by: tuple[str, ...],
    bucket_ms: int | None,
) -> list[IncomeSum]:  # fmt: skip
    table, column, cut = part
    where, params = cut.hourly_where("t", sides=False, column=column)
    keys, groups = _keys(by, column, bucket_ms)
    sql = (
        f"SELECT {keys}t.income_type, t.asset, SUM(n), SUM(income_e8) FROM {table} t "
        f"WHERE {where} GROUP BY {groups} HAVING SUM(n) > 0 ORDER BY {groups}"
    )
    return [_income(r, len(by)) for r in conn.execute(sql, params).fetchall()]


def _income_rows(
    conn: sqlite3.Connection, cut: Cut, by: tuple[str, ...], bucket_ms: int | None, mode: Mode
) -> list[IncomeSum]:
    where, params = cut.income_where("t")
    keys, groups = _keys(by, "time", bucket_ms)

    def run(m: Mode) -> list[IncomeSum]:
        sql = (
            f"SELECT {keys}t.income_type, t.asset, COUNT(*), {sum_expr(m, 't.income')} "
            f"FROM income t WHERE {where} GROUP BY {groups} ORDER BY {groups}"
        )
        return [_income(r, len(by)) for r in conn.execute(sql, params).fetchall()]

    return run_exact(mode, run)


def income_sums(
    conn: sqlite3.Connection,
    cut: Cut,
    by: tuple[str, ...] = (),
    bucket_ms: int | None = None,
    mode: Mode | None = None,
) -> list[IncomeSum]:
    """The cut's income sums by (``by``, type, asset); empty when not attributable.

    ``by`` names columns among symbol, account and ``bucket`` (see :func:`trade_groups`).
    Whole days and hours come from the rollups (when no row in the window lacks an e8
    twin), the partial hours at the ends from the rows.
    """
    if not cut.income_attributable:
        return []
    mode = mode or exact_mode(conn, "income_hourly", cut)
    if mode == "e8" and (bucket_ms is None or bucket_ms % HOUR_MS == 0):
        sp = spans(cut)
        parts = _rollup_parts("income", sp, bucket_ms)
        if parts:
            try:
                got = [_income_rollup(conn, p, by, bucket_ms) for p in parts]
                got += [_income_rows(conn, edge, by, bucket_ms, "e8") for edge in sp.rows]
                return _merge_income(got)
            except sqlite3.OperationalError as exc:
                if "overflow" not in str(exc):
                    raise
                mode = "dec"
    return _income_rows(conn, cut, by, bucket_ms, mode)
