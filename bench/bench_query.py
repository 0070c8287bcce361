"""Query benchmark: a large generated store, then p50/p99 per query (a table, not a test).

    .venv/bin/python bench/bench_query.py                      # 5M trades, 2M orders, 50 symbols
    .venv/bin/python bench/bench_query.py --trades 500000 --orders 200000 --db /tmp/q.db

Rows go straight into SQLite through the writer's ``apply_batch`` (the same upserts and
rollup triggers as the daemon), without the asyncio queue. An existing ``--db`` with
rows is reused (and migrated to the current schema first). The statistics tables the idle
writer keeps (curve blocks, per-order rows, hourly order tallies) are rebuilt before the
measurements, and that time is printed. Targets (issue 6): a 500-trade page by symbol and time range p99 < 10 ms
in-process and < 20 ms over HTTP; additive summary figures over all history or an
hour-aligned window p50 < 200 ms; arbitrary windows with percentiles and drawdown < 2 s;
/stats/symbols < 300 ms; HTTP overhead on limit=1 < 2 ms; CSV export >= 200k rows/s with
flat RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import make_cut
from v7d.query.sums import income_sums, trade_groups
from v7d.store.db import open_database
from v7d.store.records import Income, Order, OrderEvent, Trade, WriteBatch
from v7d.store.refresh import refresh_stats
from v7d.store.upserts import MarginAssets
from v7d.store.writer import apply_batch
from v7d.web.app import create_app
from v7d.web.query_routes import build_query_routes

DAY = 86_400_000
HOUR = 3_600_000
START = 1_700_006_400_000


# -- generation ---------------------------------------------------------------------------


def _symbols(n: int) -> list[str]:
    return [f"S{i:02d}USDT" if i % 10 else f"S{i:02d}USDC" for i in range(n)]


def generate(path: Path, trades: int, orders: int, n_symbols: int, days: int) -> None:
    """Fill ``path`` with ``orders`` orders carrying ``trades`` fills over ``days`` days."""
    conn = open_database(path)
    ma = MarginAssets()
    rng = random.Random(1)
    symbols = _symbols(n_symbols)
    per_order = trades / orders
    span = days * DAY
    step = span / (orders / n_symbols)
    batch: list[Any] = []
    tid, started, done = 1, time.perf_counter(), 0

    def flush() -> None:
        nonlocal batch
        apply_batch(conn, WriteBatch(records=batch), ma)
        batch = []

    for k in range(orders):
        sym = symbols[k % n_symbols]
        t = START + int((k // n_symbols) * step) + rng.randint(0, 999)
        fills = int(per_order) + (1 if rng.random() < per_order % 1 else 0)
        batch += _order_rows(rng, sym, k + 1, t, fills, tid)
        tid += fills
        done += fills
        if len(batch) >= 20_000:
            flush()
            if k % 200_000 < (k - 1) % 200_000 or k == orders - 1:
                rate = done / (time.perf_counter() - started)
                print(f"  {k + 1:,} orders, {done:,} trades ({rate:,.0f} trades/s)", flush=True)
    for d in range(days):
        for h in (0, 8, 16):
            for i, sym in enumerate(symbols):
                amount = f"{rng.randint(-5000, 5000) / 1000:.3f}"
                tran = (d * 3 + h // 8) * 1000 + i
                batch.append(Income("default", sym, "FUNDING_FEE", amount, sym[-4:], "", START
                                    + d * DAY + h * HOUR, tran, "", "{}"))  # fmt: skip
    flush()
    conn.close()


def _order_rows(rng: random.Random, sym: str, oid: int, t: int, fills: int, tid: int) -> list[Any]:
    side = "BUY" if rng.random() < 0.5 else "SELL"
    price = 100 + rng.randint(0, 10_000) / 100
    qty = fills * 0.01 if fills else 0.01
    status = "FILLED" if fills else "CANCELED"
    asset = sym[-4:]
    cid = ("alpha-" if oid % 3 == 0 else "beta-" if oid % 3 == 1 else "x") + str(oid)
    out: list[Any] = []
    ft = t
    for i in range(fills):
        ft += rng.choice((0, 3, 50, 2000))
        pnl = "0" if rng.random() < 0.5 else f"{rng.randint(-5000, 5000) / 1000:.3f}"
        maker = rng.random() < 0.4
        out.append(Trade("default", sym, tid + i, oid, side, "BOTH", f"{price:.2f}", "0.01",
                         f"{price * 0.01:.4f}", pnl, f"{price * 0.000004:.8f}", asset, maker,
                         ft, "rest", "{}"))  # fmt: skip
        if i == 0:
            out.append(OrderEvent("default", sym, oid, ft, ft, "TRADE", "PARTIALLY_FILLED"
                                  if fills > 1 else "FILLED", "0.01", f"{price:.2f}", "0.01",
                                  tid, "ws"))  # fmt: skip
    if fills > 1:
        out.append(OrderEvent("default", sym, oid, ft, ft, "TRADE", "FILLED", "0.01",
                              f"{price:.2f}", f"{qty:.2f}", tid + fills - 1, "ws"))  # fmt: skip
    out.append(Order("default", sym, oid, cid, side, "BOTH", "LIMIT", "LIMIT", status, "GTC",
                     f"{price:.2f}", f"{price:.2f}" if fills else "0", "0", f"{qty:.2f}",
                     f"{qty:.2f}" if fills else "0", f"{price * qty:.4f}", False, t, ft, "rest",
                     "{}"))  # fmt: skip
    return out


# -- measuring ----------------------------------------------------------------------------


def timings(fn: Callable[[], Any], n: int) -> list[float]:
    """``n`` wall-clock timings of ``fn`` in milliseconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


class Report:
    """Rows of the result table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, str, bool]] = []

    def add(self, name: str, ms: list[float], target: str, ok: Callable[[float, float], bool]):
        p50, p99 = statistics.median(ms), pct(ms, 99)
        self.rows.append((name, p50, p99, target, ok(p50, p99)))
        print(f"  {name:<58} p50 {p50:9.2f} ms  p99 {p99:9.2f} ms", flush=True)

    def print(self) -> None:
        print()
        print(f"{'query':<58} {'p50 ms':>9} {'p99 ms':>9}  {'target':<16} ok")
        for name, p50, p99, target, ok in self.rows:
            print(f"{name:<58} {p50:9.2f} {p99:9.2f}  {target:<16} {'yes' if ok else 'NO'}")


def serve(db: Path) -> tuple[str, uvicorn.Server]:
    """The query app on 127.0.0.1:<free port> in a thread."""

    class _Health:
        async def health(self) -> tuple[bool, dict[str, Any]]:
            return True, {}

    app = create_app(routes=build_query_routes(db_path=str(db), query_timeout_ms=60_000),
                     health=_Health())  # fmt: skip
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


def rebuild(db: Path) -> None:
    """Rebuild every dirty hour of the statistics tables, as the idle writer would."""
    conn = open_database(db)
    t0, hours = time.perf_counter(), 0
    while True:
        n, more = refresh_stats(conn, limit=96)
        hours += n
        if not more:
            break
    conn.close()
    if hours:
        secs = time.perf_counter() - t0
        print(f"statistics tables: {hours:,} dirty hours rebuilt in {secs:.1f} s "
              f"({secs / hours * 1000:.1f} ms per hour)")  # fmt: skip


def _mark_last_hour(db: Path) -> None:
    """Mark the newest hour dirty, as live trading keeps it between rebuilds."""
    conn = open_database(db)
    conn.execute(
        "INSERT OR IGNORE INTO stats_dirty SELECT account, MAX(time) / 3600000 * 3600000 "
        "FROM trades GROUP BY account"
    )
    conn.close()


def rss_mb() -> float:
    """Resident set size of this process."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(db: Path, args: argparse.Namespace) -> Report:
    """Every measurement."""
    rep = Report()
    rng = random.Random(2)
    syms = _symbols(args.symbols)
    api = HistoryQueryAPI(db, timeout_ms=60_000)
    last = api.get_trades(limit=1)  # warm
    span = args.days * DAY

    def page(limit: int = 500) -> dict[str, Any]:
        s = START + rng.randint(0, span - 7 * DAY)
        return {"symbol": rng.choice(syms), "start_ms": s, "end_ms": s + 7 * DAY,
                "limit": limit}  # fmt: skip

    rep.add(
        "trades page 500 by symbol+range (in-process)",
        timings(lambda: api.trades_page(**page()), 300),
        "p99 < 10",
        lambda a, b: b < 10,
    )
    base, server = serve(db)
    with httpx.Client(base_url=base, timeout=600) as http:
        http.get("/trades", params={"limit": 1})
        rep.add("trades page 500 by symbol+range (HTTP)",
                timings(lambda: http.get("/trades", params=page()), 300), "p99 < 20",
                lambda a, b: b < 20)  # fmt: skip
        inproc = timings(lambda: api.trades_page(limit=1), 300)
        over = timings(lambda: http.get("/trades", params={"limit": 1}), 300)
        ovh = [o - i for o, i in zip(sorted(over), sorted(inproc), strict=True)]
        rep.add(
            "HTTP overhead, limit=1 (HTTP minus in-process)", ovh, "p50 < 2", lambda a, b: a < 2
        )
        _additive(rep, api, rng, span)
        rep.add(
            "full summary, all history",
            timings(lambda: api.summary(), 3),
            "< 2000",
            lambda a, b: b < 2000,
        )
        for days, n in ((90, 3), (30, 5), (7, 5)):
            rep.add(f"full summary, random {days}-day window (unaligned)",
                    timings(lambda d=days: api.summary(  # type: ignore[misc]
                        start_ms=(s := START + rng.randint(0, span - d * DAY) + rng.randint(1, HOUR)),
                        end_ms=s + d * DAY), n), "< 2000", lambda a, b: b < 2000)  # fmt: skip
        rep.add("full summary, one symbol, all history",
                timings(lambda: api.summary(symbol=rng.choice(syms)), 5), "< 2000",
                lambda a, b: b < 2000)  # fmt: skip
        _mark_last_hour(db)
        rep.add("full summary, all history, newest hour not yet rebuilt",
                timings(lambda: api.summary(), 3), "< 2000", lambda a, b: b < 2000)  # fmt: skip
        rebuild(db)
        rep.add(
            "/stats/symbols, all history (HTTP)",
            timings(lambda: http.get("/stats/symbols"), 10),
            "< 300",
            lambda a, b: b < 300,
        )
        _export(rep, http)
        server.should_exit = True
    api.close()
    del last
    return rep


def _additive(rep: Report, api: HistoryQueryAPI, rng: random.Random, span: int) -> None:
    conn = api._conn  # the bench measures the additive block alone, on the API's connection

    def additive(start: int | None, end: int | None) -> None:
        cut = make_cut(account="default", start_ms=start, end_ms=end)
        trade_groups(conn, cut)
        income_sums(conn, cut)

    rep.add("additive figures, all history (rollups)", timings(lambda: additive(None, None), 20),
            "p50 < 200", lambda a, b: a < 200)  # fmt: skip

    def aligned() -> None:
        s = START + rng.randint(0, span // HOUR - 48) * HOUR
        additive(s, s + rng.randint(1, 24 * 30) * HOUR)

    rep.add(
        "additive figures, hour-aligned window (rollups)",
        timings(aligned, 50),
        "p50 < 200",
        lambda a, b: a < 200,
    )


_CLIENT = """
import sys, httpx
rows = 0
with httpx.stream("GET", sys.argv[1] + "/export/trades", params={"format": "csv"},
                  timeout=600) as resp:
    for chunk in resp.iter_bytes():
        rows += chunk.count(b"\\n")
print(rows)
"""


def _export(rep: Report, http: httpx.Client) -> None:
    """CSV export of every trade to a client in another process (as ``v7ctl export`` or
    curl would be: a client in this process would take the server's GIL), sampling this
    process's RSS meanwhile."""
    base = str(http.base_url).rstrip("/")
    before = peak = rss_mb()
    t0 = time.perf_counter()
    client = subprocess.Popen([sys.executable, "-c", _CLIENT, base], stdout=subprocess.PIPE)
    while client.poll() is None:
        peak = max(peak, rss_mb())
        time.sleep(0.05)
    secs = time.perf_counter() - t0
    out, _ = client.communicate()
    rows = int(out)
    rate = (rows - 1) / secs
    print(f"  export: {rows - 1:,} rows in {secs:.1f} s = {rate:,.0f} rows/s; "
          f"RSS {before:.0f} -> peak {peak:.0f} MB")  # fmt: skip
    rep.rows.append((f"CSV export {rate:,.0f} rows/s, RSS +{peak - before:.0f} MB", 0.0, 0.0,
                     ">= 200k rows/s", rate >= 200_000))  # fmt: skip


def main() -> None:
    """Parse arguments, build or reuse the store, measure, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/v7d-bench-query.db"))
    ap.add_argument("--trades", type=int, default=5_000_000)
    ap.add_argument("--orders", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--days", type=int, default=180)
    args = ap.parse_args()
    if not args.db.exists():
        print(f"generating {args.trades:,} trades / {args.orders:,} orders into {args.db}")
        t0 = time.perf_counter()
        generate(args.db, args.trades, args.orders, args.symbols, args.days)
        print(f"generated in {time.perf_counter() - t0:.0f} s "
              f"({os.path.getsize(args.db) / 2**20:,.0f} MB)")  # fmt: skip
    else:
        t0 = time.perf_counter()
        open_database(args.db).close()  # an older store gets the current schema's rollups
        print(f"opened (and migrated) in {time.perf_counter() - t0:.1f} s")
    rebuild(args.db)
    rep = run(args.db, args)
    rep.print()
    print(json.dumps({"trades": args.trades, "orders": args.orders, "symbols": args.symbols}))


if __name__ == "__main__":
    main()
