"""Small index-driven lookups: the accounts in the store, the symbols of a table, and
which (account, symbol) pairs an order id exists under."""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["accounts", "distinct_symbols", "order_homes"]

_TABLES = ("trades", "orders", "income", "order_events", "algo_orders", "positions", "balances")


def _distinct(conn: sqlite3.Connection, table: str, column: str, where: str = "1",
              params: tuple[Any, ...] = ()) -> list[str]:  # fmt: skip
    # A skip-scan by hand: one index seek per distinct value instead of a full scan.
    sql = (
        f"WITH RECURSIVE d(x) AS (SELECT min({column}) FROM {table} WHERE {where} "
        f"UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {where} AND {column} > x) "
        "FROM d WHERE x IS NOT NULL) SELECT x FROM d WHERE x IS NOT NULL"
    )
    return [r[0] for r in conn.execute(sql, params + params)]


def accounts(conn: sqlite3.Connection) -> list[str]:
    """Every account that has rows in any history table, sorted."""
    found: set[str] = set()
    for table in _TABLES:
        found.update(_distinct(conn, table, "account"))
    return sorted(found)


def distinct_symbols(conn: sqlite3.Connection, table: str, account: str) -> list[str]:
    """The symbols ``table`` holds rows for in ``account`` (index seeks only)."""
    return _distinct(conn, table, "symbol", "account = ?", (account,))


def order_homes(
    conn: sqlite3.Connection, order_id: int, account: str | None, symbol: str | None
) -> list[tuple[str, str]]:
    """The (account, symbol) pairs holding an order or events with ``order_id``."""
    homes: set[tuple[str, str]] = set()
    for acc in [account] if account is not None else accounts(conn):
        syms = [symbol] if symbol is not None else distinct_symbols(conn, "orders", acc)
        for sym in syms:
            row = conn.execute(
                "SELECT 1 FROM orders WHERE account = ? AND symbol = ? AND order_id = ?",
                (acc, sym, order_id),
            ).fetchone()
            if row:
                homes.add((acc, sym))
        sql = "SELECT DISTINCT symbol FROM order_events WHERE account = ? AND order_id = ?"
        params: tuple[Any, ...] = (acc, order_id)
        if symbol is not None:
            sql += " AND symbol = ?"
            params += (symbol,)
        homes.update((acc, s) for (s,) in conn.execute(sql, params))
    return sorted(homes)
