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

import csv
import io
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from v7d.query.items import ALGO, EVENT, INCOME, ORDER, TRADE, ItemShape
from v7d.query.validate import decode_cursor, encode_cursor

__all__ = ["KINDS", "ListKind", "ListQuery", "fetch_page", "fetch_rows"]


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


def _csv_fix(conn: sqlite3.Connection, kind: ListKind, rows: list[Any]) -> list[Any]:
    """Rows whose plain CSV line (fields joined by commas) would be wrong — a field holds
    a quote, a newline or a comma — re-encoded by the csv module from their fields."""
    n = len(kind.shape.fields) - 1
    out = rows
    for i, row in enumerate(rows):
        line = row[0]
        if '"' in line or "\n" in line or line.count(",") != n:
            if out is rows:
                out = list(rows)
            where = " AND ".join(f"t.{c} = ?" for c in kind.keyset)
            sql = f"SELECT {_select(kind, True)} FROM {kind.shape.table} t WHERE {where}"
            fields = conn.execute(sql, list(row[1:])).fetchone()
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(tuple(fields)[: n + 1])
            out[i] = (buf.getvalue()[:-1], *row[1:])
    return out


def _select(kind: ListKind, text_bools: bool, csv_lines: bool = False) -> str:
    """The item fields, then the keyset columns unless the fields already hold them.

    ``csv_lines``: the fields joined by commas by SQLite (booleans as text, NULL as
    empty), then every keyset column: millions of rows encoded in C instead of Python
    (:func:`_csv_fix` re-encodes the rare row that needs quoting).
    """
    shape = kind.shape
    cols = [
        f"CASE WHEN t.{f} THEN 'true' ELSE 'false' END" if (text_bools or csv_lines)
        and f in shape.bools else f"t.{f}"
        for f in shape.fields
    ]  # fmt: skip
    if csv_lines:
        line = f"printf('{','.join(['%s'] * len(cols))}', {', '.join(cols)})"
        return ", ".join([line, *(f"t.{c}" for c in kind.keyset)])
    if not set(kind.keyset) <= set(shape.fields):
        cols += [f"t.{c}" for c in kind.keyset]
    return ", ".join(cols)


def _position_of(kind: ListKind, row: Any, csv_lines: bool = False) -> list[Any]:
    fields = kind.shape.fields
    if csv_lines:
        return list(row[1:])
    if set(kind.keyset) <= set(fields):
        return [row[fields.index(c)] for c in kind.keyset]
    return list(row[len(fields) :])


def _arm(
    kind: ListKind, q: ListQuery, account: str | None, position: list[Any] | None, limit: int,
    text_bools: bool = False, csv_lines: bool = False,
) -> tuple[str, list[Any]]:  # fmt: skip
    """One account's page query (``account`` None: the query's own account filter)."""
    fixed = set(q.fixed) | ({"account"} if account is not None else set())
    where, params = list(q.where), list(q.params)
    if account is not None and "account" not in q.fixed:
        where.append("t.account = ?")
        params.append(account)
    cols = [c for c in kind.keyset if c not in fixed]
    if position is not None:
        pos = dict(zip(kind.keyset, position, strict=True))
        # With the account fixed, (..., account) > (..., pos_account) reduces to >= on the
        # other columns when this account sorts after the cursor's, > otherwise.
        op = ">=" if account is not None and "account" not in q.fixed and account > pos[
            "account"] else ">"  # fmt: skip
        lhs = ", ".join(f"t.{c}" for c in cols)
        marks = ", ".join("?" * len(cols))
        where.append(f"({lhs}) {op} ({marks})" if len(cols) > 1 else f"{lhs} {op} ?")
        params.extend(pos[c] for c in cols)
    sql = (
        f"SELECT {_select(kind, text_bools, csv_lines)} FROM {kind.shape.table} t"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {', '.join('t.' + c for c in cols)} LIMIT ?"
    )
    return sql, [*params, limit]


def fetch_rows(
    conn: sqlite3.Connection,
    q: ListQuery,
    *,
    limit: int,
    cursor: str | None,
    accounts: list[str] | None = None,
    text_bools: bool = False,
    csv_lines: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``q`` as raw rows (item fields in order, then any keyset column the
    fields do not hold), and the next cursor. ``text_bools``: booleans as ``true`` /
    ``false`` text (what CSV wants) instead of 0/1. ``csv_lines``: each row is the CSV
    line of the item fields, then the keyset columns.

    ``accounts``: the accounts in the store, used when ``q`` has no account filter. One
    account becomes an equality (the index then serves the order); several are merged
    from one index-ordered query per account (``UNION ALL`` + ``ORDER BY``), never by
    sorting the whole table.
    """
    kind = KINDS[q.kind]
    position = decode_cursor(cursor, q.kind, q.filters, kind.keyset_types)
    if "account" in q.fixed or not accounts:
        sql, params = _arm(kind, q, None, position, limit + 1, text_bools, csv_lines)
    elif len(accounts) == 1:
        sql, params = _arm(kind, q, accounts[0], position, limit + 1, text_bools, csv_lines)
    else:
        arms = [_arm(kind, q, a, position, limit + 1, text_bools, csv_lines) for a in accounts]
        fields = kind.shape.fields
        n = len(fields)
        order = ", ".join(
            str(2 + i if csv_lines else fields.index(c) + 1 if c in fields else n + 1 + i)
            for i, c in enumerate(kind.keyset)
        )
        sql = " UNION ALL ".join(f"SELECT * FROM ({a[0]})" for a in arms)
        sql += f" ORDER BY {order} LIMIT ?"
        params = [p for a in arms for p in a[1]] + [limit + 1]
    rows = conn.execute(sql, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    if csv_lines:
        rows = _csv_fix(conn, kind, rows)
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(q.kind, _position_of(kind, rows[-1], csv_lines), q.filters)
    return rows, next_cursor


def fetch_page(
    conn: sqlite3.Connection,
    q: ListQuery,
    *,
    limit: int,
    cursor: str | None,
    as_float: bool = False,
    accounts: list[str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``q``: (items, next_cursor); see :func:`fetch_rows`."""
    rows, next_cursor = fetch_rows(conn, q, limit=limit, cursor=cursor, accounts=accounts)
    shape = KINDS[q.kind].shape
    return [shape.to_item(r, as_float) for r in rows], next_cursor
