"""Migrations: from empty, idempotent, and a newer database refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from v7d.errors import SchemaTooNewError, StoreError
from v7d.store import SCHEMA_VERSION, migrate, open_database

TABLES = {
    "meta", "accounts", "symbols", "orders", "order_events", "algo_orders", "trades", "income",
    "stream_events", "positions", "balances", "sync_cursors", "coverage", "jobs",
    "trade_hourly", "income_hourly",
}  # fmt: skip


class TestMigrations:
    def test_from_empty_creates_every_table_in_wal_mode(self, tmp_path: Path) -> None:
        """A new file ends at SCHEMA_VERSION, in WAL mode, with every table of the design."""
        conn = open_database(tmp_path / "h.db")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert names >= TABLES
        for table in TABLES - {"meta"}:
            cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            assert "account" in cols, table

    def test_reopen_is_a_no_op(self, tmp_path: Path) -> None:
        """Opening a migrated database again changes nothing."""
        open_database(tmp_path / "h.db").close()
        conn = open_database(tmp_path / "h.db")
        assert migrate(conn) == SCHEMA_VERSION

    def test_newer_database_is_refused(self, tmp_path: Path) -> None:
        """A database written by a newer v7d is refused with a clear error, untouched."""
        path = tmp_path / "h.db"
        raw = sqlite3.connect(path)
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        raw.close()
        with pytest.raises(SchemaTooNewError, match="newer than this v7d"):
            open_database(path)
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1

    def test_failed_migration_rolls_back_whole(self) -> None:
        """A migration that fails leaves no half-created tables and the old version."""
        from v7d.store import schema

        conn = sqlite3.connect(":memory:", isolation_level=None)

        def broken(c: sqlite3.Connection) -> None:
            c.execute("CREATE TABLE half (x)")
            raise RuntimeError("boom")

        schema.MIGRATIONS.append(broken)
        try:
            with pytest.raises(RuntimeError):
                migrate(conn, target=len(schema.MIGRATIONS))
        finally:
            schema.MIGRATIONS.pop()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "half" not in names

    def test_missing_directory_names_the_key(self, tmp_path: Path) -> None:
        """A path in a missing directory gives an error naming [storage].path."""
        with pytest.raises(StoreError, match=r"\[storage\]\.path"):
            open_database(tmp_path / "nope" / "h.db")

    def test_not_a_database_is_refused(self, tmp_path: Path) -> None:
        """A file that is not SQLite is refused with a clear error."""
        path = tmp_path / "h.db"
        path.write_bytes(b"this is not a database" * 100)
        with pytest.raises(StoreError, match="not a usable v7d database"):
            open_database(path)
