"""Stream ingest: messages become committed rows in one batch; bad ones are kept raw."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from v7d.config.model import SyncConfig
from v7d.store.read import StoreReader
from v7d.store.writer import Writer
from v7d.sync.context import SyncContext
from v7d.sync.ingest import StreamIngest

PAYLOADS = Path(__file__).parent.parent / "payloads"


def _payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


class TestIngest:
    """What StreamIngest writes for good and bad messages."""

    async def test_batch_of_messages(self, short_tmp: Path) -> None:
        """An order update with a fill becomes event, order and trade rows, all raw-kept."""
        db = short_tmp / "h.db"
        writer = Writer(db)
        await writer.start()
        reader = StoreReader(db)
        ctx = SyncContext(
            account="a", rest=None, writer=writer, reader=reader, clock=time.time,
            config=SyncConfig(),
        )  # fmt: skip
        ingest = StreamIngest(ctx)
        try:
            now = int(time.time() * 1000)
            items = [
                (_payload("ws_order_trade_update_new.json"), now),
                (_payload("ws_order_trade_update_partial_fill.json"), now),
                (_payload("ws_trade_lite.json"), now),
                (_payload("ws_account_update.json"), now),
                ({"e": "ORDER_TRADE_UPDATE", "E": 5, "o": {"s": 1}}, now),  # unparseable
            ]
            await ingest.commit(items)
            counts = reader.counts()
            assert counts["stream_events"] == 5
            assert counts["trades"] == 1
            assert counts["order_events"] == 2
            assert ctx.parse_errors == 1
            assert ingest.messages == 5 and ingest.batches == 1
            assert "BTCUSDT" in ctx.stream_symbols
        finally:
            ctx.close()
            reader.close()
            await writer.close()
