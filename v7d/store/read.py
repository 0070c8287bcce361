"""Read-only access: connections that cannot write, with a time limit per query.

Readers open ``file:…?mode=ro`` URIs plus ``PRAGMA query_only``, so a bug in a query path
can never write. Every query gets a deadline enforced by SQLite's progress handler
(:func:`timed`), so one expensive request cannot hold a reader thread forever.
:class:`StoreReader` holds the small typed reads the sync engine and the daemon need.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from v7d.errors import StoreError
from v7d.store.records import JobState, SymbolInfo

__all__ = [
    "CoverageRow",
    "CursorRow",
    "QueryTimeout",
    "StoreReader",
    "connect_readonly",
    "timed",
]


class QueryTimeout(StoreError):
    """A read query ran past its time limit and was interrupted."""


def connect_readonly(path: str | Path, *, timeout_ms: int = 5000) -> sqlite3.Connection:
    """A read-only connection to the database at ``path`` (which must exist).

    ``check_same_thread=False`` because the web layer runs queries in worker threads; the
    callers keep one connection per thread (or serialise access).
    """
    p = Path(path)
    if not p.exists():
        raise StoreError(f"database {str(p)!r} does not exist")
    uri = f"file:{quote(str(p.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(
            uri, uri=True, check_same_thread=False, timeout=timeout_ms / 1000, isolation_level=None
        )
        conn.execute("PRAGMA query_only=1")
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {str(p)!r} read-only: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


@contextlib.contextmanager
def timed(conn: sqlite3.Connection, timeout_ms: int) -> Iterator[sqlite3.Connection]:
    """Interrupt any statement on ``conn`` that runs past ``timeout_ms`` inside the block.

    Raises :class:`QueryTimeout` instead of sqlite's generic "interrupted".
    """
    deadline = time.monotonic() + timeout_ms / 1000
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
    try:
        yield conn
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryTimeout(f"query ran longer than {timeout_ms} ms") from exc
        raise
    finally:
        conn.set_progress_handler(None, 1000)


@dataclass(frozen=True, slots=True)
class CursorRow:
    """A sync cursor as stored."""

    account: str
    endpoint: str
    symbol: str
    position_ms: int
    position_id: int | None
    state: str | None
    updated_ms: int


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """A coverage ledger range as stored."""

    account: str
    endpoint: str
    symbol: str
    kind: str
    start_ms: int
    end_ms: int


class StoreReader:
    """Small typed reads for the sync engine and the daemon, over one read-only connection.

    Thread-safe by a lock: these reads are short. The database must exist (the writer
    creates it), so construct the reader after ``await writer.start()``.
    """

    def __init__(self, path: str | Path, *, timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self._timeout_ms = timeout_ms
        self._conn = connect_readonly(path, timeout_ms=timeout_ms)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, timed(self._conn, self._timeout_ms) as c:
            return c.execute(sql, params).fetchall()

    def cursor(self, account: str, endpoint: str, symbol: str) -> CursorRow | None:
        """One cursor, or None when that (account, endpoint, symbol) never synced."""
        rows = self._all(
            "SELECT * FROM sync_cursors WHERE account=? AND endpoint=? AND symbol=?",
            (account, endpoint, symbol),
        )
        return CursorRow(*rows[0]) if rows else None

    def cursors(self, account: str | None = None) -> list[CursorRow]:
        """All cursors (of one account)."""
        if account is None:
            rows = self._all("SELECT * FROM sync_cursors ORDER BY account, endpoint, symbol")
        else:
            rows = self._all(
                "SELECT * FROM sync_cursors WHERE account=? ORDER BY endpoint, symbol", (account,)
            )
        return [CursorRow(*r) for r in rows]

    def open_orders(self, account: str) -> list[tuple[str, int, int]]:
        """(symbol, order_id, time) of every order not yet in a final status."""
        rows = self._all(
            "SELECT symbol, order_id, time FROM orders WHERE account=? AND status_rank < 2 "
            "ORDER BY time",
            (account,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def coverage(
        self, account: str, endpoint: str | None = None, symbol: str | None = None
    ) -> list[CoverageRow]:
        """Ledger ranges, filtered by endpoint and symbol when given."""
        sql = (
            "SELECT account, endpoint, symbol, kind, start_ms, end_ms FROM coverage WHERE account=?"
        )
        params: list[Any] = [account]
        if endpoint is not None:
            sql += " AND endpoint=?"
            params.append(endpoint)
        if symbol is not None:
            sql += " AND symbol=?"
            params.append(symbol)
        rows = self._all(sql + " ORDER BY endpoint, symbol, kind, start_ms", params)
        return [CoverageRow(*r) for r in rows]

    def jobs(self, state: str | None = None) -> list[JobState]:
        """Jobs, newest first (only those in ``state`` when given)."""
        cols = "job_id, account, kind, state, params, progress, created_ms, updated_ms, error"
        if state is None:
            rows = self._all(f"SELECT {cols} FROM jobs ORDER BY created_ms DESC")
        else:
            rows = self._all(
                f"SELECT {cols} FROM jobs WHERE state=? ORDER BY created_ms DESC", (state,)
            )
        return [JobState(*r) for r in rows]

    def job(self, job_id: str) -> JobState | None:
        """One job by id."""
        cols = "job_id, account, kind, state, params, progress, created_ms, updated_ms, error"
        rows = self._all(f"SELECT {cols} FROM jobs WHERE job_id=?", (job_id,))
        return JobState(*rows[0]) if rows else None

    def symbols(self, account: str) -> list[SymbolInfo]:
        """The symbol registry of an account."""
        rows = self._all(
            "SELECT account, symbol, status, contract_type, quote_asset, margin_asset, listed, "
            "active_ms, raw FROM symbols WHERE account=? ORDER BY symbol",
            (account,),
        )
        return [
            SymbolInfo(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8]) for r in rows
        ]

    def meta(self, key: str) -> str | None:
        """A value from the meta table."""
        rows = self._all("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def counts(self) -> dict[str, int]:
        """Row counts of the history tables (cheap enough for status: uses max(rowid)
        where rows are append-only would be wrong after deletes, so it counts)."""
        out: dict[str, int] = {}
        for table in ("orders", "order_events", "trades", "income", "algo_orders", "stream_events"):
            out[table] = self._all(f"SELECT count(*) FROM {table}")[0][0]
        return out
