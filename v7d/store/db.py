"""Opening the database: the one read-write connection and its pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from v7d.errors import StoreError
from v7d.store.schema import migrate

__all__ = ["open_database"]


def open_database(path: str | Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database; return a read-write connection.

    WAL lets readers work while the writer commits. ``synchronous=NORMAL`` in WAL mode
    never corrupts the database on a crash; a power loss may roll back the last few
    commits, and since every batch commits its rows together with the cursor moves they
    justify, sync then simply re-fetches from the older cursors.
    """
    p = Path(path)
    if str(path) != ":memory:" and not p.parent.is_dir():
        raise StoreError(f"[storage].path: directory {str(p.parent)!r} does not exist")
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
    except sqlite3.Error as exc:
        raise StoreError(f"[storage].path: cannot open {str(path)!r}: {exc}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(path) != ":memory:" and mode != "wal":
            raise StoreError(f"[storage].path: {str(path)!r} cannot use WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA journal_size_limit=67108864")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"[storage].path: {str(path)!r} is not a usable v7d database: {exc}"
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn
