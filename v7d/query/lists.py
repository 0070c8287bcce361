"""Keyset-paged list queries: trades, orders, income, algo orders, order events.

Lists are ascending by (time, tie-break columns, account). A page asks for the rows
strictly after the last position served, ``limit + 1`` of them, so ``next_cursor`` is
null exactly when nothing follows. Keyset paging is stable under concurrent inserts: a
row that existed when paging began is served exactly once, whatever the writer commits
meanwhile (rows inserted behind the position are, by construction, not served).

Columns fixed by an equality filter are left out of the comparison and the ORDER BY so
that SQLite walks the matching index (``trades_symbol_time`` for one symbol,
``trades_time`` otherwise) without sorting.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from v7d.query.items import ALGO, EVENT, INCOME, ORDER, TRADE, ItemShape
from v7d.query.validate import decode_cursor, encode_cursor

__all__ = ["KINDS", "ListKind", "ListQuery", "fetch_page"]


@dataclass(frozen=True, slots=True)
class ListKind:
    """A list's table shape and keyset columns (time first, account last)."""

    shape: ItemShape
    keyset: tuple[str, ...]
    keyset_types: tuple[type, ...]


KINDS: dict[str, ListKind] = {
    "trades": ListKind(TRADE, ("time", "symbol", "id", "account"), (int, str, int, str)),
    "orders": ListKind(ORDER, ("time", "symbol", "order_id", "account"), (int, str, int, str)),
    "income": ListKind(INCOME, ("time", "income_type", "tran_id", "account"), (int, str, int, str)),
    "algo_orders": ListKind(ALGO, ("time", "algo_id", "account"), (int, int, str)),
    "events": ListKind(EVENT, ("event_time", "seq", "account"), (int, int, str)),
}


@dataclass(slots=True)
class ListQuery:
    """WHERE clauses of one list query, and the columns they fix by equality."""

    kind: str
    filters: dict[str, Any]
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    fixed: set[str] = field(default_factory=set)

    def eq(self, column: str, value: Any) -> None:
        """``column = value`` (and the column no longer orders the page)."""
        if value is not None:
            self.where.append(f"t.{column} = ?")
            self.params.append(value)
            self.fixed.add(column)

    def add(self, clause: str, *params: Any) -> None:
        """Any other condition on alias ``t``."""
        self.where.append(clause)
        self.params.extend(params)

    def window(self, column: str, start_ms: int | None, end_ms: int | None) -> None:
        """``start_ms <= column < end_ms`` (either side open)."""
        if start_ms is not None:
            self.add(f"t.{column} >= ?", start_ms)
        if end_ms is not None:
            self.add(f"t.{column} < ?", end_ms)


def fetch_page(
    conn: sqlite3.Connection,
    q: ListQuery,
    *,
    limit: int,
    cursor: str | None,
    as_float: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``q``: (items, next_cursor)."""
    kind = KINDS[q.kind]
    position = decode_cursor(cursor, q.kind, q.filters, kind.keyset_types)
    order_cols = [c for c in kind.keyset if c not in q.fixed]
    where, params = list(q.where), list(q.params)
    if position is not None:
        pos = dict(zip(kind.keyset, position, strict=True))
        cols = ", ".join(f"t.{c}" for c in order_cols)
        marks = ", ".join("?" * len(order_cols))
        where.append(f"({cols}) > ({marks})" if len(order_cols) > 1 else f"{cols} > ?")
        params.extend(pos[c] for c in order_cols)
    sql = (
        f"SELECT {kind.shape.select_list('t')}, {', '.join('t.' + c for c in kind.keyset)} "
        f"FROM {kind.shape.table} t"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {', '.join('t.' + c for c in order_cols)} LIMIT ?"
    )
    rows = conn.execute(sql, [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    n = len(kind.shape.fields)
    items = [kind.shape.to_item(r, as_float) for r in rows]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(q.kind, list(rows[-1][n:]), q.filters)
    return items, next_cursor
