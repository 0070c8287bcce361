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
    "trade_hourly", "income_hourly", "trade_daily", "income_daily",
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


# -- migration 2: daily rollups and per-order fill sums ------------------------------------

_TRADE_DAILY_TRUTH = """
    SELECT account, symbol, (time / 86400000) * 86400000, side, position_side, margin_asset,
           commission_asset, COUNT(*), SUM(maker), SUM(coalesce(qty_e8, 0)),
           SUM(CASE WHEN maker THEN coalesce(qty_e8, 0) ELSE 0 END),
           SUM(coalesce(quote_qty_e8, 0)), SUM(coalesce(realized_pnl_e8, 0)),
           SUM(coalesce(commission_e8, 0)),
           SUM(CASE WHEN maker THEN coalesce(commission_e8, 0) ELSE 0 END),
           SUM(qty_e8 IS NULL OR quote_qty_e8 IS NULL OR realized_pnl_e8 IS NULL
               OR commission_e8 IS NULL)
    FROM trades GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
"""
_INCOME_DAILY_TRUTH = """
    SELECT account, symbol, (time / 86400000) * 86400000, income_type, asset, COUNT(*),
           SUM(coalesce(income_e8, 0)), SUM(income_e8 IS NULL)
    FROM income GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""


def _v1_store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    return conn


def _write_old(conn: sqlite3.Connection, records: list[object]) -> None:
    """Write records into a store of an older schema version (the upserts alone: the
    writer's other per-batch work targets the current schema)."""
    from v7d.store.records import BatchResult
    from v7d.store.upserts import MarginAssets, upsert_records

    conn.execute("BEGIN IMMEDIATE")
    upsert_records(conn, records, BatchResult(), MarginAssets())
    conn.execute("COMMIT")


def _trade(i: int, **kw: object) -> object:
    """A factory trade whose side is its order's (all fills of an order share a side)."""
    from dataclasses import replace

    from tests.store.factories import trade

    t = trade(i, **kw)  # type: ignore[arg-type]
    return replace(t, side="BUY" if t.order_id % 2 else "SELL")


def _history() -> list[object]:
    """Trades over several days and symbols (BNB fees, inexact values, ws rows) and income."""
    from tests.store.factories import income

    day = 86_400_000
    rows: list[object] = []
    for i in range(1, 120):
        t = 1_700_000_000_000 + (i % 7) * day + i * 3_600_001
        pnl = "0" if i % 3 else ("1.5" if i % 2 else "-0.25")
        if i == 50:
            pnl = "0.000000001"  # nine decimals: no e8 twin
        rows.append(
            _trade(i, time=t, pnl=pnl, symbol="ETHUSDT" if i % 4 else "BTCUSDT",
                  asset="BNB" if i % 11 == 0 else "USDT", maker=i % 5 == 0,
                  source="ws" if i % 6 == 0 else "rest")
        )  # fmt: skip
    for k in range(1, 30):
        t = 1_700_000_000_000 + k * 8 * 3_600_000
        rows.append(income(k, time=t, amount="0.0000000001" if k == 7 else f"-0.{k:02d}"))
    return rows


def _rollups_equal_rows(conn: sqlite3.Connection) -> None:
    for table, truth in (
        ("trade_daily", _TRADE_DAILY_TRUTH),
        ("income_daily", _INCOME_DAILY_TRUTH),
    ):
        got = conn.execute(f"SELECT * FROM {table} WHERE n != 0 ORDER BY 1, 2, 3, 4, 5").fetchall()
        want = conn.execute(truth).fetchall()
        assert sorted(got) == sorted(want), table
        assert got, table


class TestMigration2:
    def test_v1_database_with_rows_migrates_to_group_by_over_rows(self, tmp_path: Path) -> None:
        """A version-1 store with rows gets daily rollups equal to its rows, and the covering
        per-order, time and order-event indexes."""

        conn = _v1_store(tmp_path / "h.db")
        _write_old(conn, _history())
        assert migrate(conn, target=2) == 2
        _rollups_equal_rows(conn)
        for index, lead in (("trades_order", ["account", "symbol", "order_id"]),
                            ("trades_time", ["account", "time", "symbol", "id"])):  # fmt: skip
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info({index})")]
            assert cols[: len(lead)] == lead, index
            assert {"realized_pnl_e8", "commission_e8", "margin_asset"} <= set(cols), index
        cols = [r[2] for r in conn.execute("PRAGMA index_info(order_events_order)")]
        assert cols[:3] == ["account", "order_id", "event_time"]
        assert {"symbol", "execution_type", "status", "transaction_time"} <= set(cols)

    def test_triggers_keep_rollups_equal_after_migration(self, tmp_path: Path) -> None:
        """Inserts, and REST rows replacing stream rows, keep every rollup equal to the rows."""
        from v7d.store.records import WriteBatch
        from v7d.store.upserts import MarginAssets
        from v7d.store.writer import apply_batch

        conn = _v1_store(tmp_path / "h.db")
        history = _history()
        _write_old(conn, history[:60])
        migrate(conn)
        apply_batch(conn, WriteBatch(records=history[60:]), MarginAssets())  # type: ignore[arg-type]
        # the REST versions of the stream rows, with a different realized PnL
        fixes = [
            _trade(i, time=1_700_000_000_000 + (i % 7) * 86_400_000 + i * 3_600_001,
                  pnl="2.75", symbol="ETHUSDT" if i % 4 else "BTCUSDT")
            for i in range(6, 120, 6)
        ]  # fmt: skip
        apply_batch(conn, WriteBatch(records=fixes), MarginAssets())  # type: ignore[arg-type]
        ws_left = conn.execute("SELECT COUNT(*) FROM trades WHERE source = 'ws'").fetchone()[0]
        assert ws_left == 0
        _rollups_equal_rows(conn)
        hourly = conn.execute("SELECT SUM(n), SUM(realized_pnl_e8) FROM trade_hourly").fetchone()
        daily = conn.execute("SELECT SUM(n), SUM(realized_pnl_e8) FROM trade_daily").fetchone()
        assert hourly == daily


class TestMigration3:
    def test_v2_database_with_rows_gets_every_hour_marked_for_curve_blocks(
        self, tmp_path: Path
    ) -> None:
        """Migrating a version-2 store with trades marks each hour holding trades or
        funding; one rebuild then leaves nothing dirty and a block per hour and curve."""
        from v7d.store.refresh import refresh_stats

        conn = _v1_store(tmp_path / "h.db")
        assert migrate(conn, target=2) == 2
        _write_old(conn, _history())
        assert migrate(conn) == SCHEMA_VERSION == 3
        hours = conn.execute(
            "SELECT DISTINCT account, (time / 3600000) * 3600000 FROM trades UNION "
            "SELECT DISTINCT account, (time / 3600000) * 3600000 FROM income "
            "WHERE income_type = 'FUNDING_FEE' ORDER BY 1, 2"
        ).fetchall()
        assert hours and conn.execute("SELECT * FROM stats_dirty ORDER BY 1, 2").fetchall() == hours
        assert refresh_stats(conn, limit=10_000) == (len(hours), False)
        assert conn.execute("SELECT COUNT(*) FROM stats_dirty").fetchone() == (0,)
        got = conn.execute(
            "SELECT DISTINCT account, hour_ms FROM curve_hourly WHERE symbol = '' ORDER BY 1, 2"
        ).fetchall()
        assert got == hours
