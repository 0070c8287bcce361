"""A daemon restarted after more than 3 days down warns and the ledger shows the hole."""

from __future__ import annotations

import time
from pathlib import Path

from v7d.config.model import SyncConfig
from v7d.store.read import StoreReader
from v7d.store.records import MetaItem, SymbolInfo, WriteBatch
from v7d.store.writer import Writer
from v7d.sync.engine import SyncEngine
from v7d.sync.passes import last_alive_key
from v7d.sync.plan import DAY_MS


async def _engine(db: Path, writer: Writer) -> SyncEngine:
    reader = StoreReader(db)
    return SyncEngine(
        account="default",
        sync_config=SyncConfig(),
        rest=None,
        ws_url=None,
        writer=writer,
        reader=reader,
    )


class TestRestartGap:
    """Start-up reads when the last pass ran and reacts to a long absence."""

    async def test_four_days_down(self, short_tmp: Path) -> None:
        """retention_gap_possible in status, expired allOrders marks, a gap queued."""
        db = short_tmp / "h.db"
        writer = Writer(db)
        await writer.start()
        now = int(time.time() * 1000)
        down_since = now - 4 * DAY_MS
        await writer.submit(
            WriteBatch(
                records=[
                    MetaItem(last_alive_key("default"), str(down_since)),
                    SymbolInfo("default", "BTCUSDT", active_ms=down_since - 1000),
                ]
            )
        )
        engine = await _engine(db, writer)
        try:
            await engine.start()
            status = engine.status()
            warn = status["retention_gap_possible"]
            assert warn is not None and warn["down_from_ms"] == down_since
            assert status["pending_gaps"] == 1
            assert [(m.start_ms, m.kind) for m in engine._pending_marks] == [
                (down_since, "expired")
            ]
            await writer.submit(WriteBatch(coverage=engine._pending_marks))
            marks = engine.reader.coverage("default", endpoint="allOrders")
            assert marks[0].kind == "expired" and marks[0].symbol == "BTCUSDT"
            assert abs(marks[0].end_ms - (now - 3 * DAY_MS)) < 60_000
        finally:
            engine.reader.close()
            await writer.close()

    async def test_short_restart_is_only_a_gap(self, short_tmp: Path) -> None:
        """A restart after minutes queues a gap repair and does not warn."""
        db = short_tmp / "h.db"
        writer = Writer(db)
        await writer.start()
        now = int(time.time() * 1000)
        await writer.submit(
            WriteBatch(records=[MetaItem(last_alive_key("default"), str(now - 120_000))])
        )
        engine = await _engine(db, writer)
        try:
            await engine.start()
            status = engine.status()
            assert status["retention_gap_possible"] is None
            assert status["pending_gaps"] == 1
            assert status["state"] == "running"
        finally:
            engine.reader.close()
            await writer.close()
