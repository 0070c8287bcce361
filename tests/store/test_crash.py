"""Crash safety: kill -9 at random moments never leaves an inconsistent database.

A subprocess writes batches of 100 trades, each with the cursor move it justifies, and is
killed with SIGKILL at random points; every time, the database must open, pass
``PRAGMA integrity_check``, hold whole batches only, and have its cursor point at the last
trade present. Concurrent readers must never see half a batch.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.store.factories import trade
from v7d.store import StoreReader, WriteBatch, Writer, connect_readonly

WORKER = Path(__file__).with_name("crash_writer.py")


def check_consistent(path: Path) -> int:
    """Assert the invariants after a crash; return the number of trades."""
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n, lo, hi = conn.execute("SELECT count(*), min(id), max(id) FROM trades").fetchone()
    conn.close()
    reader = StoreReader(path)
    cur = reader.cursor("default", "userTrades", "BTCUSDT")
    reader.close()
    if n == 0:
        assert cur is None
        return 0
    assert n % 100 == 0, f"half a batch survived: {n} rows"
    assert (lo, hi) == (0, n - 1), "ids must be contiguous: batches commit whole"
    assert cur is not None and cur.position_id == hi, "cursor must point at the newest row present"
    return n


class TestCrashSafety:
    def test_kill_9_at_random_moments(self, tmp_path: Path) -> None:
        """Twelve SIGKILLs at random moments: each restart finds a consistent database."""
        path = tmp_path / "h.db"
        rng = random.Random(int(os.environ.get("V7D_CRASH_SEED", "1234")))
        counts = []
        for _ in range(12):
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(path)], stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.02, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()
            counts.append(check_consistent(path))
        assert counts[-1] > 0, "the worker never committed: the test proved nothing"
        assert counts == sorted(counts), "a crash lost committed batches"


class TestConcurrentReaders:
    async def test_readers_never_see_half_a_batch(self, tmp_path: Path) -> None:
        """A reader polling during 100-row batches always sees a multiple of 100 rows,
        and rollups that agree with the rows in the same snapshot."""
        path = tmp_path / "h.db"
        w = Writer(path)
        await w.start()
        stop = threading.Event()
        seen: list[int] = []
        errors: list[str] = []

        def reader() -> None:
            conn = connect_readonly(path)
            while not stop.is_set():
                conn.execute("BEGIN")
                n = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
                r = conn.execute("SELECT coalesce(sum(n), 0) FROM trade_hourly").fetchone()[0]
                conn.execute("COMMIT")
                if n % 100 or r != n:
                    errors.append(f"rows={n} rollup={r}")
                seen.append(n)

        th = threading.Thread(target=reader)
        th.start()
        for b in range(40):
            await w.submit(WriteBatch(records=[trade(b * 100 + i) for i in range(100)]))
            await asyncio.sleep(0)
        stop.set()
        th.join()
        await w.close()
        assert not errors, errors[:5]
        assert len(set(seen)) > 2, "the reader did not overlap the writes"
