"""Live ingest: user-data stream messages become rows, committed as fast as they come.

The stream client calls :meth:`StreamIngest.on_message` for every message; it only queues
the message (it never waits for the database, so a slow commit cannot back up into the
WebSocket). One task drains the queue: it takes the first message, then everything that
queued up meanwhile, and commits them as ONE batch — batching what arrives together
without ever waiting for more, which keeps event → committed row latency at one commit.

Every message is kept raw (a :class:`~v7d.store.records.StreamEvent`) even when the parser
refuses it; such a message is logged with its payload and counted in ``parse_errors``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog

from v7d.store.records import Order, OrderEvent, Record, StreamEvent, Trade, WriteBatch
from v7d.sync.context import SyncContext

__all__ = ["StreamIngest", "symbols_in_records"]

log = structlog.get_logger(__name__)

#: Upper bound of messages committed in one batch (bounded transaction size).
MAX_BATCH = 2000


def symbols_in_records(records: list[Record]) -> set[str]:
    """Symbols that stream-built order/trade records name (activity for discovery)."""
    return {r.symbol for r in records if isinstance(r, Order | OrderEvent | Trade) and r.symbol}


class StreamIngest:
    """Queue + drain task turning stream messages into committed rows."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self._queue: asyncio.Queue[tuple[dict[str, Any], int]] = asyncio.Queue()
        self.messages = 0
        self.batches = 0
        self.last_event_ms = 0
        self.last_received_ms = 0
        self.lag_ms = 0
        self.latencies_ms: list[float] = []

    async def on_message(self, message: dict[str, Any], received_ms: int) -> None:
        """The stream client's callback: queue the message, never block."""
        self._queue.put_nowait((message, received_ms))

    @property
    def queued(self) -> int:
        """Messages received but not yet committed."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Drain the queue until cancelled."""
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self.commit(batch)

    async def commit(self, items: list[tuple[dict[str, Any], int]]) -> None:
        """Parse and commit ``items`` as one batch."""
        records: list[Record] = []
        for message, received_ms in items:
            records += self._records(message, received_ms)
        self.ctx.stream_symbols |= symbols_in_records(records)
        await self.ctx.writer.submit(WriteBatch(records=records))
        done_ms = self.ctx.now_ms()
        self.messages += len(items)
        self.batches += 1
        for message, received_ms in items:
            self.latencies_ms.append(float(done_ms - received_ms))
            event_ms = _event_time(message)
            if event_ms:
                self.last_event_ms = max(self.last_event_ms, event_ms)
                self.lag_ms = max(0, received_ms - event_ms)
            self.last_received_ms = max(self.last_received_ms, received_ms)
        if len(self.latencies_ms) > 10_000:
            del self.latencies_ms[:5_000]

    def _records(self, message: dict[str, Any], received_ms: int) -> list[Record]:
        from v7d.binance import parse

        try:
            return list(parse.records_from_ws(self.ctx.account, message, received_ms))
        except Exception as exc:  # ParseError, or a shape nobody foresaw
            self.ctx.parse_error("stream", message, exc)
            return [
                StreamEvent(
                    self.ctx.account,
                    str(message.get("e", "")) if isinstance(message, dict) else "",
                    _event_time(message),
                    received_ms,
                    json.dumps(message, separators=(",", ":"), default=str),
                )
            ]


def _event_time(message: Any) -> int:
    if not isinstance(message, dict):
        return 0
    try:
        return int(message.get("E") or 0)
    except (TypeError, ValueError):
        return 0
