"""Running a multi-statement SQL script inside the caller's transaction (migrations)."""

from __future__ import annotations

import sqlite3

__all__ = ["run_script"]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run a multi-statement script inside the caller's transaction.

    ``executescript`` would COMMIT first, breaking the one-transaction-per-migration rule,
    so statements are split with ``sqlite3.complete_statement`` (which understands trigger
    bodies) and executed one by one.
    """
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                conn.execute(buf)
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf[:80]!r}")
