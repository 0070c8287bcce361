"""The database schema as numbered migrations (``PRAGMA user_version``).

Each migration is a plain ``(conn) -> None`` function. Pending migrations run in order,
each in one transaction together with its ``user_version`` bump, so a crash mid-migration
leaves the previous version intact. A database whose version is newer than the code is
refused with :class:`~v7d.errors.SchemaTooNewError` instead of being misread.

Design notes (expensive to change later, so decided here):

* Every row carries its ``account``.
* Money and quantities: the exchange's decimal string plus an ``*_e8`` integer twin for
  exact sums (see :mod:`v7d.store.exact` for the NULL fallback).
* Times are epoch milliseconds; ``raw`` keeps the payload's JSON text.
* List queries page by keyset on (time, symbol, id); the indexes below lead with
  ``account`` and then either ``symbol`` or ``time`` so that both
  ``/trades?symbol=&start_ms=`` and the all-symbol listing are index range scans.
* Hourly rollups (``trade_hourly``, ``income_hourly``) are maintained by triggers inside the
  writer's transaction, so additive statistics over any hour-aligned window read a few
  thousand rows instead of millions, and can never disagree with the rows they sum.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from v7d.errors import SchemaTooNewError
from v7d.store.schema_stats import m3_stats_tables
from v7d.store.sql_script import run_script as _run_script

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]


def _m1_initial(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE accounts (
            account    TEXT PRIMARY KEY,
            status     TEXT NOT NULL DEFAULT 'ok',
            detail     TEXT NOT NULL DEFAULT '',
            updated_ms INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;

        CREATE TABLE symbols (
            account       TEXT NOT NULL,
            symbol        TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT '',
            contract_type TEXT NOT NULL DEFAULT '',
            quote_asset   TEXT NOT NULL DEFAULT '',
            margin_asset  TEXT NOT NULL DEFAULT '',
            listed        INTEGER NOT NULL DEFAULT 1,
            active_ms     INTEGER NOT NULL DEFAULT 0,
            raw           TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (account, symbol)
        ) WITHOUT ROWID;

        CREATE TABLE orders (
            account         TEXT NOT NULL,
            symbol          TEXT NOT NULL,
            order_id        INTEGER NOT NULL,
            client_order_id TEXT NOT NULL,
            side            TEXT NOT NULL,
            position_side   TEXT NOT NULL,
            type            TEXT NOT NULL,
            orig_type       TEXT NOT NULL,
            status          TEXT NOT NULL,
            status_rank     INTEGER NOT NULL,
            time_in_force   TEXT NOT NULL,
            price           TEXT NOT NULL,
            avg_price       TEXT NOT NULL,
            stop_price      TEXT NOT NULL,
            orig_qty        TEXT NOT NULL,
            executed_qty    TEXT NOT NULL,
            executed_qty_e8 INTEGER,
            cum_quote       TEXT NOT NULL,
            cum_quote_e8    INTEGER,
            reduce_only     INTEGER NOT NULL,
            close_position  INTEGER NOT NULL DEFAULT 0,
            time            INTEGER NOT NULL,
            update_time     INTEGER NOT NULL,
            source          TEXT NOT NULL,
            first_seen_ms   INTEGER NOT NULL,
            raw             TEXT NOT NULL,
            PRIMARY KEY (account, symbol, order_id)
        );
        CREATE INDEX orders_symbol_time ON orders (account, symbol, time, order_id);
        CREATE INDEX orders_time ON orders (account, time, symbol, order_id);
        CREATE INDEX orders_open ON orders (account, status_rank) WHERE status_rank < 2;
        CREATE INDEX orders_client_id ON orders (account, client_order_id);

        CREATE TABLE order_events (
            seq              INTEGER PRIMARY KEY,
            account          TEXT NOT NULL,
            symbol           TEXT NOT NULL,
            order_id         INTEGER NOT NULL,
            event_time       INTEGER NOT NULL,
            transaction_time INTEGER NOT NULL,
            execution_type   TEXT NOT NULL,
            status           TEXT NOT NULL,
            last_qty         TEXT NOT NULL,
            last_price       TEXT NOT NULL,
            cum_qty          TEXT NOT NULL,
            trade_id         INTEGER NOT NULL,
            source           TEXT NOT NULL,
            raw              TEXT NOT NULL,
            UNIQUE (account, symbol, order_id, execution_type, status, cum_qty, trade_id)
        );
        CREATE INDEX order_events_order ON order_events (account, order_id, event_time);
        CREATE INDEX order_events_time ON order_events (account, event_time);

        CREATE TABLE algo_orders (
            account        TEXT NOT NULL,
            algo_id        INTEGER NOT NULL,
            symbol         TEXT NOT NULL,
            client_algo_id TEXT NOT NULL,
            algo_type      TEXT NOT NULL,
            order_type     TEXT NOT NULL,
            side           TEXT NOT NULL,
            position_side  TEXT NOT NULL,
            status         TEXT NOT NULL,
            quantity       TEXT NOT NULL,
            price          TEXT NOT NULL,
            trigger_price  TEXT NOT NULL,
            time           INTEGER NOT NULL,
            update_time    INTEGER NOT NULL,
            source         TEXT NOT NULL,
            raw            TEXT NOT NULL,
            PRIMARY KEY (account, algo_id)
        );
        CREATE INDEX algo_orders_time ON algo_orders (account, time, algo_id);
        CREATE INDEX algo_orders_symbol_time ON algo_orders (account, symbol, time, algo_id);

        CREATE TABLE trades (
            account          TEXT NOT NULL,
            symbol           TEXT NOT NULL,
            id               INTEGER NOT NULL,
            order_id         INTEGER NOT NULL,
            side             TEXT NOT NULL,
            position_side    TEXT NOT NULL,
            price            TEXT NOT NULL,
            qty              TEXT NOT NULL,
            qty_e8           INTEGER,
            quote_qty        TEXT NOT NULL,
            quote_qty_e8     INTEGER,
            realized_pnl     TEXT NOT NULL,
            realized_pnl_e8  INTEGER,
            commission       TEXT NOT NULL,
            commission_e8    INTEGER,
            commission_asset TEXT NOT NULL,
            margin_asset     TEXT NOT NULL,
            maker            INTEGER NOT NULL,
            buyer            INTEGER,
            time             INTEGER NOT NULL,
            source           TEXT NOT NULL,
            raw              TEXT NOT NULL,
            PRIMARY KEY (account, symbol, id)
        );
        CREATE INDEX trades_symbol_time ON trades (account, symbol, time, id);
        CREATE INDEX trades_time ON trades (account, time, symbol, id);
        CREATE INDEX trades_order ON trades (account, symbol, order_id);

        CREATE TABLE income (
            account     TEXT NOT NULL,
            income_type TEXT NOT NULL,
            tran_id     INTEGER NOT NULL,
            symbol      TEXT NOT NULL,
            income      TEXT NOT NULL,
            income_e8   INTEGER,
            asset       TEXT NOT NULL,
            info        TEXT NOT NULL,
            time        INTEGER NOT NULL,
            trade_id    TEXT NOT NULL,
            raw         TEXT NOT NULL,
            PRIMARY KEY (account, income_type, tran_id)
        );
        CREATE INDEX income_time ON income (account, time, income_type, tran_id);
        CREATE INDEX income_symbol_time ON income (account, symbol, time, income_type, tran_id);

        CREATE TABLE stream_events (
            seq         INTEGER PRIMARY KEY,
            account     TEXT NOT NULL,
            event_type  TEXT NOT NULL,
            event_time  INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            digest      INTEGER NOT NULL,
            raw         TEXT NOT NULL,
            UNIQUE (account, event_time, digest)
        );

        CREATE TABLE positions (
            account           TEXT NOT NULL,
            symbol            TEXT NOT NULL,
            position_side     TEXT NOT NULL,
            position_amt      TEXT NOT NULL,
            entry_price       TEXT NOT NULL,
            break_even_price  TEXT NOT NULL,
            mark_price        TEXT NOT NULL,
            unrealized_profit TEXT NOT NULL,
            liquidation_price TEXT NOT NULL,
            notional          TEXT NOT NULL,
            margin_asset      TEXT NOT NULL,
            update_time       INTEGER NOT NULL,
            source            TEXT NOT NULL,
            raw               TEXT NOT NULL,
            PRIMARY KEY (account, symbol, position_side)
        ) WITHOUT ROWID;

        CREATE TABLE balances (
            account              TEXT NOT NULL,
            asset                TEXT NOT NULL,
            wallet_balance       TEXT NOT NULL,
            cross_wallet_balance TEXT NOT NULL,
            available_balance    TEXT NOT NULL,
            update_time          INTEGER NOT NULL,
            source               TEXT NOT NULL,
            raw                  TEXT NOT NULL,
            PRIMARY KEY (account, asset)
        ) WITHOUT ROWID;

        CREATE TABLE sync_cursors (
            account     TEXT NOT NULL,
            endpoint    TEXT NOT NULL,
            symbol      TEXT NOT NULL,
            position_ms INTEGER NOT NULL,
            position_id INTEGER,
            state       TEXT,
            updated_ms  INTEGER NOT NULL,
            PRIMARY KEY (account, endpoint, symbol)
        ) WITHOUT ROWID;

        CREATE TABLE coverage (
            account    TEXT NOT NULL,
            endpoint   TEXT NOT NULL,
            symbol     TEXT NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('complete', 'expired')),
            start_ms   INTEGER NOT NULL,
            end_ms     INTEGER NOT NULL CHECK (end_ms >= start_ms),
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (account, endpoint, symbol, kind, start_ms)
        ) WITHOUT ROWID;

        CREATE TABLE jobs (
            job_id     TEXT PRIMARY KEY,
            account    TEXT NOT NULL,
            kind       TEXT NOT NULL,
            state      TEXT NOT NULL,
            params     TEXT NOT NULL,
            progress   TEXT NOT NULL,
            error      TEXT NOT NULL DEFAULT '',
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL
        );
        CREATE INDEX jobs_state ON jobs (state, created_ms);

        -- Hourly rollups. `inexact` counts rows whose *_e8 was NULL: a window that touches
        -- such an hour is summed from the rows instead (exact.py's fallback).
        CREATE TABLE trade_hourly (
            account          TEXT NOT NULL,
            symbol           TEXT NOT NULL,
            hour_ms          INTEGER NOT NULL,
            side             TEXT NOT NULL,
            position_side    TEXT NOT NULL,
            margin_asset     TEXT NOT NULL,
            commission_asset TEXT NOT NULL,
            n                INTEGER NOT NULL,
            maker_n          INTEGER NOT NULL,
            qty_e8           INTEGER NOT NULL,
            maker_qty_e8     INTEGER NOT NULL,
            quote_qty_e8     INTEGER NOT NULL,
            realized_pnl_e8  INTEGER NOT NULL,
            commission_e8    INTEGER NOT NULL,
            maker_commission_e8 INTEGER NOT NULL,
            inexact          INTEGER NOT NULL,
            PRIMARY KEY (account, symbol, hour_ms, side, position_side, margin_asset,
                         commission_asset)
        ) WITHOUT ROWID;
        CREATE INDEX trade_hourly_hour ON trade_hourly (account, hour_ms);

        CREATE TABLE income_hourly (
            account     TEXT NOT NULL,
            symbol      TEXT NOT NULL,
            hour_ms     INTEGER NOT NULL,
            income_type TEXT NOT NULL,
            asset       TEXT NOT NULL,
            n           INTEGER NOT NULL,
            income_e8   INTEGER NOT NULL,
            inexact     INTEGER NOT NULL,
            PRIMARY KEY (account, symbol, hour_ms, income_type, asset)
        ) WITHOUT ROWID;
        CREATE INDEX income_hourly_hour ON income_hourly (account, hour_ms);
        """,
    )
    _run_script(conn, _rollup_triggers())


def _trade_hourly_sql(sign: str, row: str) -> str:
    """Upsert of one trade row (NEW or OLD) into ``trade_hourly`` with sign +1 or -1."""
    r = row
    return f"""
        INSERT INTO trade_hourly VALUES (
            {r}.account, {r}.symbol, ({r}.time / 3600000) * 3600000, {r}.side,
            {r}.position_side, {r}.margin_asset, {r}.commission_asset,
            {sign}1, {sign}{r}.maker,
            {sign}coalesce({r}.qty_e8, 0),
            {sign}(CASE WHEN {r}.maker THEN coalesce({r}.qty_e8, 0) ELSE 0 END),
            {sign}coalesce({r}.quote_qty_e8, 0),
            {sign}coalesce({r}.realized_pnl_e8, 0),
            {sign}coalesce({r}.commission_e8, 0),
            {sign}(CASE WHEN {r}.maker THEN coalesce({r}.commission_e8, 0) ELSE 0 END),
            {sign}(({r}.qty_e8 IS NULL) OR ({r}.quote_qty_e8 IS NULL)
                   OR ({r}.realized_pnl_e8 IS NULL) OR ({r}.commission_e8 IS NULL))
        )
        ON CONFLICT DO UPDATE SET
            n = n + excluded.n, maker_n = maker_n + excluded.maker_n,
            qty_e8 = qty_e8 + excluded.qty_e8,
            maker_qty_e8 = maker_qty_e8 + excluded.maker_qty_e8,
            quote_qty_e8 = quote_qty_e8 + excluded.quote_qty_e8,
            realized_pnl_e8 = realized_pnl_e8 + excluded.realized_pnl_e8,
            commission_e8 = commission_e8 + excluded.commission_e8,
            maker_commission_e8 = maker_commission_e8 + excluded.maker_commission_e8,
            inexact = inexact + excluded.inexact;
    """


def _income_hourly_sql(sign: str, row: str) -> str:
    r = row
    return f"""
        INSERT INTO income_hourly VALUES (
            {r}.account, {r}.symbol, ({r}.time / 3600000) * 3600000, {r}.income_type,
            {r}.asset, {sign}1, {sign}coalesce({r}.income_e8, 0),
            {sign}({r}.income_e8 IS NULL)
        )
        ON CONFLICT DO UPDATE SET
            n = n + excluded.n, income_e8 = income_e8 + excluded.income_e8,
            inexact = inexact + excluded.inexact;
    """


def _rollup_triggers(
    trade: Callable[[str, str], str] | None = None,
    income: Callable[[str, str], str] | None = None,
) -> str:
    # The trigger bodies keep the rollups equal to a GROUP BY over the rows at every
    # commit; UPDATE is handled as "remove OLD, add NEW" so that a REST row replacing a
    # stream row cannot count twice. Migration 1 keeps its own bodies (the defaults).
    _trade_rollup_sql = trade or _trade_hourly_sql
    _income_rollup_sql = income or _income_hourly_sql
    return f"""
        CREATE TRIGGER trades_ai AFTER INSERT ON trades BEGIN
            {_trade_rollup_sql("+", "NEW")}
        END;
        CREATE TRIGGER trades_au AFTER UPDATE ON trades BEGIN
            {_trade_rollup_sql("-", "OLD")}
            {_trade_rollup_sql("+", "NEW")}
        END;
        CREATE TRIGGER trades_ad AFTER DELETE ON trades BEGIN
            {_trade_rollup_sql("-", "OLD")}
        END;
        CREATE TRIGGER income_ai AFTER INSERT ON income BEGIN
            {_income_rollup_sql("+", "NEW")}
        END;
        CREATE TRIGGER income_au AFTER UPDATE ON income BEGIN
            {_income_rollup_sql("-", "OLD")}
            {_income_rollup_sql("+", "NEW")}
        END;
        CREATE TRIGGER income_ad AFTER DELETE ON income BEGIN
            {_income_rollup_sql("-", "OLD")}
        END;
    """


DAY_MS = 86_400_000


def _daily_sql(hourly: str, bucket: str) -> str:
    """Turn an hourly rollup upsert into the same upsert on its daily table."""
    return hourly.replace(f"{bucket}_hourly", f"{bucket}_daily").replace(
        "/ 3600000) * 3600000", f"/ {DAY_MS}) * {DAY_MS}"
    )


def _trade_triggers_v2(sign: str, row: str) -> str:
    hourly = _trade_hourly_sql(sign, row)
    return hourly + _daily_sql(hourly, "trade")


def _income_triggers_v2(sign: str, row: str) -> str:
    hourly = _income_hourly_sql(sign, row)
    return hourly + _daily_sql(hourly, "income")


def _m2_daily_rollups(conn: sqlite3.Connection) -> None:
    """Daily rollups kept by the same triggers as the hourly ones, and a covering index
    for per-order fill sums.

    Whole-history statistics then read thousands of day rows instead of hundreds of
    thousands of hour rows. The daily tables are backfilled from the hourly ones (which
    equal a GROUP BY over the rows at every commit). A per-order rollup kept by trigger
    was measured and dropped: a third upsert per trade cost a third of the ingest rate.
    """
    day = f"(hour_ms / {DAY_MS}) * {DAY_MS}"
    _run_script(
        conn,
        f"""
        DROP TRIGGER trades_ai;
        DROP TRIGGER trades_au;
        DROP TRIGGER trades_ad;
        DROP TRIGGER income_ai;
        DROP TRIGGER income_au;
        DROP TRIGGER income_ad;

        CREATE TABLE trade_daily (
            account          TEXT NOT NULL,
            symbol           TEXT NOT NULL,
            day_ms           INTEGER NOT NULL,
            side             TEXT NOT NULL,
            position_side    TEXT NOT NULL,
            margin_asset     TEXT NOT NULL,
            commission_asset TEXT NOT NULL,
            n                INTEGER NOT NULL,
            maker_n          INTEGER NOT NULL,
            qty_e8           INTEGER NOT NULL,
            maker_qty_e8     INTEGER NOT NULL,
            quote_qty_e8     INTEGER NOT NULL,
            realized_pnl_e8  INTEGER NOT NULL,
            commission_e8    INTEGER NOT NULL,
            maker_commission_e8 INTEGER NOT NULL,
            inexact          INTEGER NOT NULL,
            PRIMARY KEY (account, symbol, day_ms, side, position_side, margin_asset,
                         commission_asset)
        ) WITHOUT ROWID;
        CREATE INDEX trade_daily_day ON trade_daily (account, day_ms);

        CREATE TABLE income_daily (
            account     TEXT NOT NULL,
            symbol      TEXT NOT NULL,
            day_ms      INTEGER NOT NULL,
            income_type TEXT NOT NULL,
            asset       TEXT NOT NULL,
            n           INTEGER NOT NULL,
            income_e8   INTEGER NOT NULL,
            inexact     INTEGER NOT NULL,
            PRIMARY KEY (account, symbol, day_ms, income_type, asset)
        ) WITHOUT ROWID;
        CREATE INDEX income_daily_day ON income_daily (account, day_ms);

        -- Closing-order results group the fills by order: an index that carries what
        -- they add up answers without touching the table. It replaces trades_order, whose
        -- columns it leads with, so ingest maintains no extra index.
        DROP INDEX trades_order;
        CREATE INDEX trades_order ON trades (account, symbol, order_id, margin_asset,
            realized_pnl_e8, commission_e8, commission_asset, side, position_side, time);
        -- The same for the net-PnL curve, which walks the fills in time order: the
        -- all-symbol time index carries the curve's columns after its keyset columns.
        DROP INDEX trades_time;
        CREATE INDEX trades_time ON trades (account, time, symbol, id, margin_asset,
            realized_pnl_e8, commission_e8, commission_asset, side, position_side);

        -- Fill times join each order to its events: the per-order event index carries
        -- the columns they read.
        DROP INDEX order_events_order;
        CREATE INDEX order_events_order ON order_events (account, order_id, event_time,
            symbol, execution_type, status, transaction_time);

        INSERT INTO trade_daily
            SELECT account, symbol, {day}, side, position_side, margin_asset,
                   commission_asset, SUM(n), SUM(maker_n), SUM(qty_e8), SUM(maker_qty_e8),
                   SUM(quote_qty_e8), SUM(realized_pnl_e8), SUM(commission_e8),
                   SUM(maker_commission_e8), SUM(inexact)
            FROM trade_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING SUM(n) != 0;
        INSERT INTO income_daily
            SELECT account, symbol, {day}, income_type, asset, SUM(n), SUM(income_e8),
                   SUM(inexact)
            FROM income_hourly GROUP BY 1, 2, 3, 4, 5 HAVING SUM(n) != 0;
        """,
    )
    _run_script(conn, _rollup_triggers(trade=_trade_triggers_v2, income=_income_triggers_v2))


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1_initial,
    _m2_daily_rollups,
    m3_stats_tables,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> int:
    """Apply pending migrations; return the version the database is at afterwards.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in
    its own explicit transaction together with its ``user_version`` bump.
    """
    target = SCHEMA_VERSION if target is None else target
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {current} is newer than this v7d understands "
            f"({SCHEMA_VERSION}); upgrade v7d or open a backup made by this version"
        )
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version - 1](conn)
            conn.execute(f"PRAGMA user_version = {version:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return int(max(current, target))
