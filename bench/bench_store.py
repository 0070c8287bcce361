"""Store benchmark: writer ingest rate and keyset-paged trade queries on millions of rows.

Targets (issue: foundation): ingest >= 20,000 trades/s through the writer in batches with raw
JSON kept; a keyset-paged ``trades`` query by symbol and time range on 5 million rows with
p99 < 10 ms per page of 500. Prints a table; asserts nothing.

    .venv/bin/python bench/bench_store.py [--rows 5000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from v7d.store import WriteBatch, Writer, connect_readonly
from v7d.store.records import Trade

SYMBOLS = [f"S{i:02d}USDT" for i in range(50)]
T0 = 1_700_000_000_000


def make_trades(start: int, n: int, rng: random.Random) -> list[Trade]:
    """``n`` trades with ids from ``start``, spread over 50 symbols and ~180 days."""
    out = []
    for i in range(start, start + n):
        sym = SYMBOLS[i % 50]
        t = T0 + i * 3  # ~5M rows span ~4 hours × ... times stay increasing per id
        price = f"{rng.randint(1000, 90000)}.{rng.randint(0, 99):02d}"
        qty = f"0.{rng.randint(1, 999):03d}"
        raw = {
            "symbol": sym, "id": i, "orderId": i // 2, "side": "BUY", "price": price, "qty": qty,
            "realizedPnl": "0", "quoteQty": "1", "commission": "0.0004", "commissionAsset": "USDT",
            "time": t, "positionSide": "BOTH", "buyer": True, "maker": False,
        }  # fmt: skip
        out.append(
            Trade("default", sym, i, i // 2, "BUY", "BOTH", price, qty, "1", "0", "0.0004",
                  "USDT", bool(i % 2), t, "rest", json.dumps(raw, separators=(",", ":")))
        )  # fmt: skip
    return out


async def ingest(path: Path, rows: int, batch: int) -> tuple[float, float]:
    """Write ``rows`` trades through the writer; return (rows/s, commit p99 ms)."""
    rng = random.Random(7)
    # Records are built before the clock starts: the figure is the store's, not the generator's.
    batches = [make_trades(s, min(batch, rows - s), rng) for s in range(0, rows, batch)]
    w = Writer(path)
    await w.start()
    lat = []
    started = time.perf_counter()
    for recs in batches:
        res = await w.submit(WriteBatch(records=recs))
        lat.append(res.commit_ms)
    elapsed = time.perf_counter() - started
    await w.close()
    lat.sort()
    return rows / elapsed, lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0]


def page_query(path: Path, pages: int) -> list[float]:
    """Time keyset pages of 500 by symbol and time range; return per-page ms."""
    conn = connect_readonly(path)
    (max_time,) = conn.execute("SELECT max(time) FROM trades").fetchone()
    rng = random.Random(3)
    times = []
    sql = (
        "SELECT * FROM trades WHERE account=? AND symbol=? AND time < ? "
        "AND (time, id) > (?, ?) ORDER BY time, id LIMIT 500"
    )
    for _ in range(pages):
        sym = rng.choice(SYMBOLS)
        start = rng.randint(T0, max_time)
        end = start + 86_400_000
        t = time.perf_counter()
        rows = conn.execute(sql, ("default", sym, end, start, -1)).fetchall()
        if rows:  # and the next page from the cursor, as a client would
            last = rows[-1]
            conn.execute(sql, ("default", sym, end, last["time"], last["id"])).fetchall()
        times.append((time.perf_counter() - t) * 1000 / (2 if rows else 1))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--ingest-rows", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("V7D_BENCH_DIR", "/tmp")) as d:
        path = Path(d) / "bench.db"
        rate, p99 = asyncio.run(ingest(path, args.ingest_rows, args.batch))
        fill_started = time.perf_counter()
        if args.rows > args.ingest_rows:
            # Fill the rest straight through the same upsert code, but without the asyncio hop.
            from v7d.store.db import open_database
            from v7d.store.upserts import MarginAssets
            from v7d.store.writer import apply_batch

            conn = open_database(path)
            ma = MarginAssets()
            rng = random.Random(11)
            for start in range(args.ingest_rows, args.rows, 10_000):
                n = min(10_000, args.rows - start)
                apply_batch(conn, WriteBatch(records=make_trades(start, n, rng)), ma)
            conn.close()
        fill_s = time.perf_counter() - fill_started
        times = sorted(page_query(path, args.pages))
        size_mb = path.stat().st_size / 1e6
        p50 = statistics.median(times)
        p99q = times[int(len(times) * 0.99) - 1]
        rows = [
            (f"ingest through writer (batches of {args.batch})", f"{rate:,.0f} trades/s", ">= 20,000 trades/s",
             "ok" if rate >= 20_000 else "MISSED"),
            ("commit latency p99 (one batch)", f"{p99:.1f} ms", "-", "-"),
            (f"trades page of 500, {args.rows:,} rows, p50", f"{p50:.2f} ms", "-", "-"),
            (f"trades page of 500, {args.rows:,} rows, p99", f"{p99q:.2f} ms", "< 10 ms",
             "ok" if p99q < 10 else "MISSED"),
            ("database size", f"{size_mb:,.0f} MB", "-", "-"),
            ("bulk fill of the remaining rows", f"{(args.rows - args.ingest_rows) / max(fill_s, 1e-9):,.0f} rows/s", "-", "-"),
        ]  # fmt: skip
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        hdr = ("measure", "result", "target", "")
        print("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
        for r in rows:
            print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))


if __name__ == "__main__":
    main()
