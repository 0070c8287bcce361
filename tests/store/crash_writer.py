"""Subprocess for the crash test: writes trade batches with their cursor moves until killed.

Usage: python crash_writer.py DB_PATH. Each batch holds 100 trades with consecutive ids after
the stored cursor, and moves the cursor to the last of them, in one WriteBatch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.store.factories import trade
from v7d.store import CursorMove, StoreReader, WriteBatch, Writer


async def main(path: str) -> None:
    w = Writer(path)
    await w.start()
    cur = StoreReader(path).cursor("default", "userTrades", "BTCUSDT")
    next_id = 0 if cur is None else int(cur.position_id or 0) + 1
    print("started", flush=True)
    while True:
        ids = range(next_id, next_id + 100)
        last = trade(ids[-1])
        await w.submit(
            WriteBatch(
                records=[trade(i) for i in ids],
                cursors=[CursorMove("default", "userTrades", "BTCUSDT", last.time, last.id)],
            )
        )
        next_id += 100


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
