"""Migration 3: the statistics tables the writer keeps (docs/storage.md).

Hourly blocks of the net-PnL curve (:mod:`v7d.store.curve`), per-order figures
(:mod:`v7d.store.order_stats`), their hourly sums (:mod:`v7d.store.order_tally`) and the
dirty hours they are rebuilt from (:mod:`v7d.store.refresh`). Like every migration, frozen
once released: a later change is a new migration.
"""

from __future__ import annotations

import sqlite3

from v7d.store.sql_script import run_script as _run_script

__all__ = ["m3_stats_tables"]


def _dirty_triggers(table: str, name: str) -> str:
    """Triggers marking the (account, hour) of each updated or deleted row (a moved or
    removed row changes its hour's curve); inserts are marked by the writer per batch."""

    def mark(row: str) -> str:
        return (
            f"INSERT OR IGNORE INTO stats_dirty VALUES "
            f"({row}.account, ({row}.time / 3600000) * 3600000);"
        )

    return f"""
        CREATE TRIGGER {name}_au AFTER UPDATE ON {table} BEGIN {mark("OLD")} {mark("NEW")} END;
        CREATE TRIGGER {name}_ad AFTER DELETE ON {table} BEGIN {mark("OLD")} END;
    """


def m3_stats_tables(conn: sqlite3.Connection) -> None:
    """Hourly blocks of the net-PnL curve (:mod:`v7d.store.curve`), per-order figures
    (:mod:`v7d.store.order_stats`) and the dirty hours they are rebuilt from
    (:mod:`v7d.store.refresh`).

    The writer marks the hours a batch writes into (one mark per hour and batch rather
    than a trigger per row), triggers mark the hours of updated or deleted trades and
    income, and the writer rebuilds marked hours when idle, so ingest
    does not pay for them. Every hour that holds history starts out marked.
    """
    hour = "(time / 3600000) * 3600000"
    _run_script(
        conn,
        f"""
        CREATE TABLE stats_dirty (
            account TEXT NOT NULL,
            hour_ms INTEGER NOT NULL,
            PRIMARY KEY (account, hour_ms)
        ) WITHOUT ROWID;

        CREATE TABLE curve_hourly (
            account      TEXT NOT NULL,
            symbol       TEXT NOT NULL,  -- '' for the account's whole curve
            margin_asset TEXT NOT NULL,
            hour_ms      INTEGER NOT NULL,
            exact        INTEGER NOT NULL,  -- 0: a row lacks its e8 twin; read the rows
            points       INTEGER,
            first_ms     INTEGER,
            last_ms      INTEGER,
            total_e8     INTEGER,
            max_e8       INTEGER,
            max_first_ms INTEGER,
            max_last_ms  INTEGER,
            min_e8       INTEGER,
            min_first_ms INTEGER,
            dd_e8        INTEGER,
            gap_ms       INTEGER,
            PRIMARY KEY (account, symbol, margin_asset, hour_ms)
        ) WITHOUT ROWID;
        CREATE INDEX curve_hourly_hour ON curve_hourly (account, hour_ms);

        CREATE TABLE order_stats (
            account       TEXT NOT NULL,
            symbol        TEXT NOT NULL,
            order_id      INTEGER NOT NULL,
            time          INTEGER,          -- the order's creation (NULL: no order row)
            executed      INTEGER,          -- executed_qty > 0 (NULL: no order row)
            margin_asset  TEXT,
            fills         INTEGER NOT NULL,
            first_fill_ms INTEGER,
            last_fill_ms  INTEGER,
            net_e8        INTEGER,          -- realized PnL - margin-asset commission
            nonzero       INTEGER NOT NULL, -- fills with realized PnL != 0
            exact         INTEGER NOT NULL, -- 0: a fill lacks its e8 twins
            ttf_first_ms  INTEGER,          -- first TRADE event - creation
            ttf_full_ms   INTEGER,          -- first FILLED event - creation
            status        TEXT,             -- the order's (NULL: no order row)
            want          INTEGER NOT NULL, -- orig_qty > 0
            full_qty      INTEGER NOT NULL, -- want and executed_qty >= orig_qty
            at_limit      INTEGER NOT NULL, -- traded at exactly its positive limit price
            ratio         TEXT,             -- executed/orig when final and partly filled
            slip          TEXT,             -- slippage in bps when traded off the limit
            PRIMARY KEY (account, symbol, order_id)
        ) WITHOUT ROWID;
        -- Closing orders by their fills' span (all symbols, covering; one symbol) and
        -- fill times by creation time (covering).
        CREATE INDEX order_stats_fills ON order_stats (account, first_fill_ms, last_fill_ms,
            margin_asset, nonzero, net_e8, exact);
        CREATE INDEX order_stats_symbol_fills ON order_stats (account, symbol, first_fill_ms,
            last_fill_ms);
        CREATE INDEX order_stats_time ON order_stats (account, time, executed, ttf_first_ms,
            ttf_full_ms);
        CREATE INDEX order_stats_symbol_time ON order_stats (account, symbol, time, executed,
            ttf_first_ms, ttf_full_ms);
        -- A fill-time percentile over a wide window walks these in value order to its rank
        -- instead of sorting the window (0.1 s instead of 1 s on 2M orders).
        CREATE INDEX order_stats_ttf_first ON order_stats (account, executed, ttf_first_ms,
            time, symbol);
        CREATE INDEX order_stats_ttf_full ON order_stats (account, executed, ttf_full_ms,
            time, symbol);

        -- Execution-quality sums of the orders created in one hour, per status
        -- (v7d.store.order_tally.Tally); symbol '' for all of the account's.
        CREATE TABLE order_hourly (
            account       TEXT NOT NULL,
            symbol        TEXT NOT NULL,
            hour_ms       INTEGER NOT NULL,
            status        TEXT NOT NULL,
            n             INTEGER NOT NULL,
            traded        INTEGER NOT NULL,
            want          INTEGER NOT NULL,
            full          INTEGER NOT NULL,
            ratio_sum     TEXT NOT NULL,
            slip_n        INTEGER NOT NULL,
            slip_sum      TEXT NOT NULL,
            first_n       INTEGER NOT NULL,
            first_sum     INTEGER NOT NULL,
            full_fill_n   INTEGER NOT NULL,
            full_fill_sum INTEGER NOT NULL,
            PRIMARY KEY (account, symbol, hour_ms, status)
        ) WITHOUT ROWID;
        CREATE INDEX order_hourly_hour ON order_hourly (account, hour_ms);

        -- Closing-order sums of the orders whose first fill is in the hour
        -- (v7d.store.order_tally.ClosingSums, e8); symbol '' for all of the account's.
        CREATE TABLE closing_hourly (
            account      TEXT NOT NULL,
            symbol       TEXT NOT NULL,
            margin_asset TEXT NOT NULL,
            hour_ms      INTEGER NOT NULL,
            n            INTEGER NOT NULL,
            wins         INTEGER NOT NULL,
            losses       INTEGER NOT NULL,
            won_e8       INTEGER NOT NULL,
            lost_e8      INTEGER NOT NULL,
            inexact      INTEGER NOT NULL,  -- orders lacking e8 twins: read the trades
            PRIMARY KEY (account, symbol, hour_ms, margin_asset)
        ) WITHOUT ROWID;
        CREATE INDEX closing_hourly_hour ON closing_hourly (account, hour_ms);

        INSERT OR IGNORE INTO stats_dirty SELECT DISTINCT account, {hour} FROM trades;
        INSERT OR IGNORE INTO stats_dirty
            SELECT DISTINCT account, {hour} FROM income WHERE income_type = 'FUNDING_FEE';
        INSERT OR IGNORE INTO stats_dirty SELECT DISTINCT account, {hour} FROM orders;
        INSERT OR IGNORE INTO stats_dirty
            SELECT DISTINCT account, (event_time / 3600000) * 3600000 FROM order_events;
        """
        + _dirty_triggers("trades", "trades_curve")
        + _dirty_triggers("income", "income_curve"),
    )
