"""Idempotent upserts, one function per record type, run inside the writer's transaction.

Each function takes the write connection, the records of one type from a batch, and the
:class:`BatchResult` to count into. Replaying any batch any number of times changes
nothing: every table is keyed on the exchange's identity of the row, and updates only
happen when the incoming version is strictly newer by the DESIGN.md rules (or, at an equal
key, when REST's fuller payload replaces a stream-built row).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from v7d.store.exact import to_e8
from v7d.store.records import (
    AccountState,
    AlgoOrder,
    Balance,
    BatchResult,
    CoverageMark,
    CursorMove,
    Income,
    JobState,
    MetaItem,
    Order,
    OrderEvent,
    Position,
    StreamEvent,
    SymbolInfo,
    Trade,
    order_status_rank,
)

__all__ = ["MarginAssets", "apply_coverage", "apply_cursors", "upsert_records"]

_KNOWN_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD")

_Upsert = Callable[[sqlite3.Connection, Sequence[Any], BatchResult, "MarginAssets"], None]


class MarginAssets:
    """Resolves a symbol's margin asset: the registry first, then the quote suffix."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}

    def load(self, conn: sqlite3.Connection) -> None:
        """Fill the cache from the ``symbols`` table."""
        for account, symbol, margin in conn.execute(
            "SELECT account, symbol, margin_asset FROM symbols WHERE margin_asset != ''"
        ):
            self._known[(account, symbol)] = margin

    def learn(self, account: str, symbol: str, margin_asset: str) -> None:
        """Remember what exchangeInfo said."""
        if margin_asset:
            self._known[(account, symbol)] = margin_asset

    def get(self, account: str, symbol: str) -> str:
        """The margin asset, or the quote suffix when the registry does not know it yet."""
        known = self._known.get((account, symbol))
        if known:
            return known
        base = symbol.split("_", 1)[0]
        for quote in _KNOWN_QUOTES:
            if base.endswith(quote):
                return quote
        return ""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _digest(raw: str) -> int:
    # 8 bytes of BLAKE2b as a signed 64-bit integer: the dedupe key of a raw stream message.
    return int.from_bytes(hashlib.blake2b(raw.encode(), digest_size=8).digest(), "big", signed=True)


# --- trades -------------------------------------------------------------------------

_TRADE_COLS = (
    "account, symbol, id, order_id, side, position_side, price, qty, qty_e8, quote_qty, "
    "quote_qty_e8, realized_pnl, realized_pnl_e8, commission, commission_e8, "
    "commission_asset, margin_asset, maker, buyer, time, source, raw"
)
_TRADE_INSERT = f"INSERT OR IGNORE INTO trades ({_TRADE_COLS}) VALUES ({', '.join('?' * 22)})"
_TRADE_REPLACE_WS = """
    UPDATE trades SET order_id=?, side=?, position_side=?, price=?, qty=?, qty_e8=?,
        quote_qty=?, quote_qty_e8=?, realized_pnl=?, realized_pnl_e8=?, commission=?,
        commission_e8=?, commission_asset=?, margin_asset=?, maker=?, buyer=?, time=?,
        source='rest', raw=?
    WHERE account=? AND symbol=? AND id=? AND source='ws'
"""


def _trades(
    conn: sqlite3.Connection, rows: Sequence[Trade], res: BatchResult, ma: MarginAssets
) -> None:
    params = []
    for t in rows:
        params.append(
            (
                t.account,
                t.symbol,
                t.id,
                t.order_id,
                t.side,
                t.position_side,
                t.price,
                t.qty,
                to_e8(t.qty),
                t.quote_qty,
                to_e8(t.quote_qty),
                t.realized_pnl,
                to_e8(t.realized_pnl),
                t.commission,
                to_e8(t.commission),
                t.commission_asset,
                ma.get(t.account, t.symbol),
                int(t.maker),
                None if t.buyer is None else int(t.buyer),
                t.time,
                t.source,
                t.raw,
            )
        )
    inserted = conn.executemany(_TRADE_INSERT, params).rowcount
    rest = [p for p in params if p[20] == "rest"]
    updated = 0
    if rest and inserted < len(params):
        updated = conn.executemany(
            _TRADE_REPLACE_WS, [(*p[3:20], p[21], p[0], p[1], p[2]) for p in rest]
        ).rowcount
    res.add("trades", inserted, updated)


# --- orders -------------------------------------------------------------------------

_ORDER_COLS = (
    "account, symbol, order_id, client_order_id, side, position_side, type, orig_type, "
    "status, status_rank, time_in_force, price, avg_price, stop_price, orig_qty, "
    "executed_qty, executed_qty_e8, cum_quote, cum_quote_e8, reduce_only, close_position, "
    "time, update_time, source, first_seen_ms, raw"
)
_ORDER_INSERT = f"INSERT OR IGNORE INTO orders ({_ORDER_COLS}) VALUES ({', '.join('?' * 26)})"
# A version replaces the stored one when it is strictly newer by (update_time, status rank,
# executed qty), or equal and REST's fuller payload replaces a stream-built row; a final
# status is never left for a non-final one, whatever the timestamps say.
_ORDER_UPDATE = """
    UPDATE orders SET client_order_id=:client_order_id, side=:side,
        position_side=:position_side, type=:type, orig_type=:orig_type, status=:status,
        status_rank=:status_rank, time_in_force=:time_in_force, price=:price,
        avg_price=:avg_price, stop_price=:stop_price, orig_qty=:orig_qty,
        executed_qty=:executed_qty, executed_qty_e8=:executed_qty_e8, cum_quote=:cum_quote,
        cum_quote_e8=:cum_quote_e8, reduce_only=:reduce_only, close_position=:close_position,
        time=CASE WHEN :source='rest' THEN :time ELSE time END,
        update_time=:update_time, source=:source, raw=:raw
    WHERE account=:account AND symbol=:symbol AND order_id=:order_id
      AND NOT (status_rank = 2 AND :status_rank < 2)
      AND (
        (:update_time, :status_rank, coalesce(:executed_qty_e8, -1))
            > (update_time, status_rank, coalesce(executed_qty_e8, -1))
        OR ((:update_time, :status_rank, coalesce(:executed_qty_e8, -1))
            = (update_time, status_rank, coalesce(executed_qty_e8, -1))
            AND :source = 'rest' AND source = 'ws')
      )
"""
# A REST version that loses (stale REST) still carries the order's real creation time.
_ORDER_FIX_TIME = """
    UPDATE orders SET time=:time
    WHERE account=:account AND symbol=:symbol AND order_id=:order_id
      AND source='ws' AND time != :time
"""


def _orders(
    conn: sqlite3.Connection, rows: Sequence[Order], res: BatchResult, _: MarginAssets
) -> None:
    now = _now_ms()
    named: list[dict[str, Any]] = []
    for o in rows:
        named.append(
            {
                "account": o.account,
                "symbol": o.symbol,
                "order_id": o.order_id,
                "client_order_id": o.client_order_id,
                "side": o.side,
                "position_side": o.position_side,
                "type": o.type,
                "orig_type": o.orig_type,
                "status": o.status,
                "status_rank": order_status_rank(o.status),
                "time_in_force": o.time_in_force,
                "price": o.price,
                "avg_price": o.avg_price,
                "stop_price": o.stop_price,
                "orig_qty": o.orig_qty,
                "executed_qty": o.executed_qty,
                "executed_qty_e8": to_e8(o.executed_qty),
                "cum_quote": o.cum_quote,
                "cum_quote_e8": to_e8(o.cum_quote),
                "reduce_only": int(o.reduce_only),
                "close_position": int(o.close_position),
                "time": o.time,
                "update_time": o.update_time,
                "source": o.source,
                "first_seen_ms": now,
                "raw": o.raw,
            }
        )
    cols = [c.strip() for c in _ORDER_COLS.split(",")]
    inserted = conn.executemany(_ORDER_INSERT, [tuple(d[c] for c in cols) for d in named]).rowcount
    updated = 0
    if inserted < len(named):
        updated = conn.executemany(_ORDER_UPDATE, named).rowcount
        rest = [d for d in named if d["source"] == "rest"]
        if rest:
            conn.executemany(_ORDER_FIX_TIME, rest)
    res.add("orders", inserted, updated)


def _append_only(
    table: str, record: type, computed: Callable[[Any], dict[str, Any]] | None = None
) -> _Upsert:
    """``INSERT OR IGNORE`` of rows that never change once stored (their table's unique key
    makes a replay a no-op); columns are ``record``'s fields plus ``computed(row)``."""
    names = tuple(f.name for f in fields(record))

    def upsert(
        conn: sqlite3.Connection, rows: Sequence[Any], res: BatchResult, _: MarginAssets
    ) -> None:
        params = [
            {**{c: getattr(r, c) for c in names}, **(computed(r) if computed else {})} for r in rows
        ]
        cols = tuple(params[0])
        sql = (
            f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) "
            f"VALUES ({', '.join(':' + c for c in cols)})"
        )
        res.add(table, conn.executemany(sql, params).rowcount, 0)

    return upsert


_ALGO_COLS = (
    "account",
    "algo_id",
    "symbol",
    "client_algo_id",
    "algo_type",
    "order_type",
    "side",
    "position_side",
    "status",
    "quantity",
    "price",
    "trigger_price",
    "time",
    "update_time",
    "source",
    "raw",
)
_ALGO_INSERT = (
    f"INSERT OR IGNORE INTO algo_orders ({', '.join(_ALGO_COLS)}) "
    f"VALUES ({', '.join(':' + c for c in _ALGO_COLS)})"
)
# A stream update's T is its update time, not the creation time: only REST sets ``time``.
_ALGO_UPDATE = f"""
    UPDATE algo_orders SET {", ".join(f"{c}=:{c}" for c in _ALGO_COLS[2:] if c != "time")},
        time=CASE WHEN :source = 'rest' THEN :time ELSE time END
    WHERE account=:account AND algo_id=:algo_id
      AND (:update_time > update_time
           OR (:update_time = update_time AND :source = 'rest' AND source = 'ws'))
"""


def _algo_orders(
    conn: sqlite3.Connection, rows: Sequence[AlgoOrder], res: BatchResult, _: MarginAssets
) -> None:
    params = [{c: getattr(a, c) for c in _ALGO_COLS} for a in rows]
    inserted = conn.executemany(_ALGO_INSERT, params).rowcount
    updated = conn.executemany(_ALGO_UPDATE, params).rowcount if inserted < len(params) else 0
    res.add("algo_orders", inserted, updated)


def _snapshot_upsert(table: str, key: tuple[str, ...], cols: tuple[str, ...]) -> str:
    """Newest-wins upsert for snapshot tables (positions, balances)."""
    # The stream carries fewer fields than REST (no mark price, notional, available
    # balance): an empty string from the stream keeps the value REST gave.
    sets = ", ".join(
        f"{c}=CASE WHEN excluded.{c} = '' THEN {table}.{c} ELSE excluded.{c} END"
        for c in cols
        if c not in key
    )
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets} "
        f"WHERE excluded.update_time > {table}.update_time "
        f"OR (excluded.update_time = {table}.update_time AND excluded.raw != {table}.raw "
        f"AND excluded.source = 'rest')"
    )


def _snapshot(table: str, key: tuple[str, ...], record: type) -> _Upsert:
    """The newest-wins upsert of a snapshot table whose columns are ``record``'s fields."""
    cols = tuple(f.name for f in fields(record))
    sql = _snapshot_upsert(table, key, cols)

    def upsert(
        conn: sqlite3.Connection, rows: Sequence[Any], res: BatchResult, _: MarginAssets
    ) -> None:
        n = conn.executemany(sql, [{c: getattr(r, c) for c in cols} for r in rows]).rowcount
        res.add(table, 0, n)

    return upsert


def _symbols(
    conn: sqlite3.Connection, rows: Sequence[SymbolInfo], res: BatchResult, ma: MarginAssets
) -> None:
    # A SymbolInfo with a status comes from exchangeInfo and describes the symbol; one
    # without (from activity discovery) only records that the account touched it.
    n = 0
    for s in rows:
        if s.status:
            ma.learn(s.account, s.symbol, s.margin_asset)
            cur = conn.execute(
                """INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (account, symbol) DO UPDATE SET status=excluded.status,
                     contract_type=excluded.contract_type, quote_asset=excluded.quote_asset,
                     margin_asset=excluded.margin_asset, listed=excluded.listed,
                     active_ms=max(active_ms, excluded.active_ms), raw=excluded.raw
                   WHERE (status, contract_type, quote_asset, margin_asset, listed, raw)
                      IS NOT (excluded.status, excluded.contract_type, excluded.quote_asset,
                              excluded.margin_asset, excluded.listed, excluded.raw)
                      OR excluded.active_ms > active_ms""",
                (
                    s.account,
                    s.symbol,
                    s.status,
                    s.contract_type,
                    s.quote_asset,
                    s.margin_asset,
                    int(s.listed),
                    s.active_ms,
                    s.raw,
                ),
            )
        else:
            cur = conn.execute(
                """INSERT INTO symbols (account, symbol, listed, active_ms) VALUES (?,?,?,?)
                   ON CONFLICT (account, symbol) DO UPDATE SET active_ms=excluded.active_ms
                   WHERE excluded.active_ms > active_ms""",
                (s.account, s.symbol, int(s.listed), s.active_ms),
            )
        n += cur.rowcount
    res.add("symbols", 0, n)


def _jobs(
    conn: sqlite3.Connection, rows: Sequence[JobState], res: BatchResult, _: MarginAssets
) -> None:
    n = conn.executemany(
        "INSERT INTO jobs (job_id, account, kind, state, params, progress, error, created_ms, "
        "updated_ms) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (job_id) DO UPDATE SET "
        "account=excluded.account, kind=excluded.kind, state=excluded.state, "
        "params=excluded.params, progress=excluded.progress, error=excluded.error, "
        "updated_ms=excluded.updated_ms WHERE (state, params, progress, error, updated_ms) "
        "IS NOT (excluded.state, excluded.params, excluded.progress, excluded.error, "
        "excluded.updated_ms)",
        [
            (
                j.job_id,
                j.account,
                j.kind,
                j.state,
                j.params,
                j.progress,
                j.error,
                j.created_ms,
                j.updated_ms,
            )
            for j in rows
        ],
    ).rowcount
    res.add("jobs", 0, n)


def _accounts(
    conn: sqlite3.Connection, rows: Sequence[AccountState], res: BatchResult, _: MarginAssets
) -> None:
    n = conn.executemany(
        "INSERT INTO accounts VALUES (?,?,?,?) ON CONFLICT (account) DO UPDATE SET "
        "status=excluded.status, detail=excluded.detail, updated_ms=excluded.updated_ms "
        "WHERE (status, detail) IS NOT (excluded.status, excluded.detail)",
        [(a.account, a.status, a.detail, a.updated_ms) for a in rows],
    ).rowcount
    res.add("accounts", 0, n)


def _meta(
    conn: sqlite3.Connection, rows: Sequence[MetaItem], res: BatchResult, _: MarginAssets
) -> None:
    n = conn.executemany(
        "INSERT INTO meta VALUES (?,?) ON CONFLICT (key) DO UPDATE SET value=excluded.value "
        "WHERE value IS NOT excluded.value",
        [(m.key, m.value) for m in rows],
    ).rowcount
    res.add("meta", 0, n)


# Symbols first: their margin assets feed the trades of the same batch.
_ORDERED: tuple[tuple[type, _Upsert], ...] = (
    (SymbolInfo, _symbols),
    (AccountState, _accounts),
    (Trade, _trades),
    (Order, _orders),
    (OrderEvent, _append_only("order_events", OrderEvent)),
    # Income rows never change once booked: the first copy of (income_type, tran_id) stays.
    (Income, _append_only("income", Income, lambda i: {"income_e8": to_e8(i.income)})),
    (AlgoOrder, _algo_orders),
    (Position, _snapshot("positions", ("account", "symbol", "position_side"), Position)),
    (Balance, _snapshot("balances", ("account", "asset"), Balance)),
    # Append-only, yet replay-safe: the same message (account, event time and bytes) is
    # stored once.
    (StreamEvent, _append_only("stream_events", StreamEvent, lambda e: {"digest": _digest(e.raw)})),
    (JobState, _jobs),
    (MetaItem, _meta),
)


def upsert_records(
    conn: sqlite3.Connection, records: Sequence[Any], res: BatchResult, ma: MarginAssets
) -> None:
    """Upsert a batch's records, grouped by type, inside the caller's transaction."""
    groups: dict[type, list[Any]] = {}
    for r in records:
        groups.setdefault(type(r), []).append(r)
    unknown = set(groups) - {t for t, _ in _ORDERED}
    if unknown:
        raise TypeError(f"not a store record: {sorted(t.__name__ for t in unknown)}")
    for typ, fn in _ORDERED:
        rows = groups.get(typ)
        if rows:
            fn(conn, rows, res, ma)


def apply_cursors(conn: sqlite3.Connection, moves: Sequence[CursorMove], res: BatchResult) -> None:
    """Move cursors forward (max of old and new), or exactly where ``force`` says."""
    now = _now_ms()
    n = 0
    for m in moves:
        cur = conn.execute(
            """INSERT INTO sync_cursors VALUES (?,?,?,?,?,?,?)
               ON CONFLICT (account, endpoint, symbol) DO UPDATE SET
                 position_ms=excluded.position_ms, position_id=excluded.position_id,
                 state=excluded.state, updated_ms=excluded.updated_ms
               WHERE (?8 AND (position_ms, position_id, state)
                              IS NOT (excluded.position_ms, excluded.position_id, excluded.state))
                  OR (excluded.position_ms, coalesce(excluded.position_id, -1))
                     > (position_ms, coalesce(position_id, -1))
                  OR ((excluded.position_ms, coalesce(excluded.position_id, -1))
                      = (position_ms, coalesce(position_id, -1))
                      AND excluded.state IS NOT state)""",
            (
                m.account,
                m.endpoint,
                m.symbol,
                m.position_ms,
                m.position_id,
                m.state,
                now,
                int(m.force),
            ),
        )
        n += cur.rowcount
    res.add("sync_cursors", 0, n)


def apply_coverage(
    conn: sqlite3.Connection, marks: Sequence[CoverageMark], res: BatchResult
) -> None:
    """Add ledger ranges, merging each with the overlapping or adjacent ranges of its key."""
    now = _now_ms()
    for m in marks:
        if m.end_ms < m.start_ms:
            raise ValueError(f"coverage mark ends before it starts: {m}")
        key = (m.account, m.endpoint, m.symbol, m.kind)
        touching = conn.execute(
            "SELECT start_ms, end_ms FROM coverage WHERE account=? AND endpoint=? AND symbol=? "
            "AND kind=? AND start_ms <= ? AND end_ms >= ?",
            (*key, m.end_ms, m.start_ms),
        ).fetchall()
        start = min([m.start_ms, *(r[0] for r in touching)])
        end = max([m.end_ms, *(r[1] for r in touching)])
        if len(touching) == 1 and touching[0] == (start, end):
            continue  # already covered: replaying the mark changes nothing
        conn.execute(
            "DELETE FROM coverage WHERE account=? AND endpoint=? AND symbol=? AND kind=? "
            "AND start_ms <= ? AND end_ms >= ?",
            (*key, m.end_ms, m.start_ms),
        )
        conn.execute("INSERT INTO coverage VALUES (?,?,?,?,?,?,?)", (*key, start, end, now))
        res.add("coverage", 1, 0)
