"""Benchmark of the sync engine's backfill and live ingest against the simulator.

Run: ``.venv/bin/python bench/bench_sync.py`` (``make bench``). ``--quick`` runs a smaller
account. The simulator runs as a separate process (``v7d-sim``), so the CPU time measured
here is v7d's own.

Scenario (issue #4): 600 listed symbols, 12 active, 14 days, about 200k trades.

1. **Backfill weight.** v7d's 14-day backfill (``universe = active``, discovery included)
   against (a) the theoretical minimum for that data — every 7-day window of userTrades
   and allOrders of each active symbol and of account-wide income, one request per
   1,000 rows (at least one per window), plus one exchangeInfo — and (b) a naive ccxt
   script that sweeps every listed symbol × every endpoint (userTrades, allOrders,
   income) × 7-day windows, paging full windows, run for real.
2. **Wall time.** v7d's CPU time for the backfill against the time the weight budget
   alone forces at Binance's default limit (2,400/min × ``max_weight_share`` 0.5): the
   backfill is bounded by the budget when its CPU time is far below that floor. (The
   simulator's limit is raised for the run so that the naive sweep finishes today.)
3. **Live ingest.** Stream event received → row committed, p50/p99, with the simulator
   generating live activity at about 200 stream messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from v7d.binance.budget import RateBudget
from v7d.binance.rest import BinanceRest
from v7d.config.model import SyncConfig
from v7d.credentials import Credentials
from v7d.store.read import StoreReader
from v7d.store.writer import Writer
from v7d.sync.engine import SyncEngine
from v7d.sync.plan import DAY_MS, WINDOW_MS

DEFAULT_LIMIT = 2400
DEFAULT_SHARE = 0.5


class Sim:
    """A ``v7d-sim`` subprocess and its control endpoints."""

    def __init__(self, proc: subprocess.Popen[str], fields: dict[str, str]) -> None:
        self.proc = proc
        self.rest_url = fields["rest_url"]
        self.ws_url = fields["ws_url"]
        self.api_key = fields["api_key"]
        self.secret = fields["secret"]

    def get(self, path: str, **params: Any) -> Any:
        """GET a ``/_sim/...`` endpoint."""
        with httpx.Client(base_url=self.rest_url, timeout=600) as c:
            r = c.get(path, params=params)
            r.raise_for_status()
            return r.json()


@contextmanager
def sim_process(*args: str) -> Iterator[Sim]:
    """Start ``v7d-sim --port 0 ARGS``; stop it on exit."""
    launcher = "from v7d.sim.cli import main; main()"
    cmd = [sys.executable, "-c", launcher, "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    fields: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"(\w+)\s*=\s*(\S+)", line)
        if m:
            fields[m.group(1)] = m.group(2)
        if line.startswith("READY"):
            break
    try:
        yield Sim(proc, fields)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def weight_of(sim: Sim) -> int:
    """Weight the simulator has served so far."""
    return int(sim.get("/_sim/stats")["weight_total"])


# -- v7d ----------------------------------------------------------------------------------


async def v7d_engine(sim: Sim, db: Path, *, ws: bool) -> tuple[SyncEngine, Any]:
    """A started engine (and a closer) against ``sim``."""
    cfg = SyncConfig(request_rate_per_sec=50.0, request_burst=20, max_weight_share=0.5)
    writer = Writer(db)
    await writer.start()
    reader = StoreReader(db)
    budget = RateBudget(rate_per_sec=50.0, burst=20, max_weight_share=0.5)
    rest = BinanceRest(
        rest_url=sim.rest_url,
        credentials=Credentials(api_key=sim.api_key, secret=sim.secret),
        budget=budget,
    )
    await rest.open()
    engine = SyncEngine(
        account="default",
        sync_config=cfg,
        rest=rest,
        ws_url=sim.ws_url if ws else None,
        writer=writer,
        reader=reader,
    )

    async def close() -> None:
        engine.ctx.close()
        await rest.close()
        reader.close()
        await writer.close()

    return engine, close


async def v7d_backfill(sim: Sim, db: Path, days: float) -> dict[str, Any]:
    """Backfill ``days`` with v7d; weight, wall and CPU time."""
    w0 = weight_of(sim)
    wall0, cpu0 = time.monotonic(), time.process_time()
    engine, close = await v7d_engine(sim, db, ws=False)
    try:
        await engine.start_backfill(days=days)
        await engine.run_jobs()
    finally:
        await close()
    return {
        "weight": weight_of(sim) - w0,
        "wall_s": time.monotonic() - wall0,
        "cpu_s": time.process_time() - cpu0,
    }


# -- the theoretical minimum -------------------------------------------------------------


def minimum_weight(sim: Sim, start_ms: int, end_ms: int) -> int:
    """Windows and pages that must be fetched for the data in ``[start_ms, end_ms)``."""
    truth = sim.get("/_sim/truth", start_ms=start_ms, end_ms=end_ms)
    span = WINDOW_MS["userTrades"]
    windows = math.ceil((end_ms - start_ms) / span)

    def per_window(rows: list[dict[str, Any]], key: str) -> dict[Any, list[int]]:
        out: dict[Any, list[int]] = defaultdict(lambda: [0] * windows)
        for r in rows:
            out[r[key]][(r["time"] - start_ms) // span] += 1
        return out

    total = 1  # exchangeInfo
    active = {r["symbol"] for r in truth["trades"]} | {r["symbol"] for r in truth["orders"]}
    for kind in ("trades", "orders"):
        counts = per_window([r for r in truth[kind] if r["retrievable"]], "symbol")
        for symbol in active:
            total += 5 * sum(max(1, math.ceil(n / 1000)) for n in counts[symbol])
    income = per_window(truth["income"], "account")
    total += 30 * sum(max(1, math.ceil(n / 1000)) for n in income["default"])
    return total


# -- the naive ccxt sweep ----------------------------------------------------------------


async def naive_sweep(sim: Sim, start_ms: int, end_ms: int) -> dict[str, Any]:
    """Every listed symbol × userTrades, allOrders, income × 7-day windows, paged."""
    import ccxt.async_support as ccxt

    ex = ccxt.binanceusdm({"apiKey": sim.api_key, "secret": sim.secret, "enableRateLimit": False})
    for key, url in list(ex.urls["api"].items()):
        if isinstance(url, str) and key.startswith("fapi"):
            ex.urls["api"][key] = re.sub(r"^https?://[^/]+", sim.rest_url, url)
    w0 = weight_of(sim)
    wall0 = time.monotonic()
    try:
        info = await ex.fapiPublicGetExchangeInfo()
        symbols = [s["symbol"] for s in info["symbols"] if s.get("contractType") == "PERPETUAL"]
        span = WINDOW_MS["userTrades"]
        rows = 0
        for symbol in symbols:
            for lo in range(start_ms, end_ms, span):
                hi = min(lo + span, end_ms) - 1
                rows += await _naive_window(ex, symbol, lo, hi)
    finally:
        await ex.close()
    return {
        "weight": weight_of(sim) - w0,
        "wall_s": time.monotonic() - wall0,
        "symbols": len(symbols),
        "rows": rows,
    }


async def _naive_window(ex: Any, symbol: str, lo: int, hi: int) -> int:
    rows = 0
    base = {"symbol": symbol, "startTime": lo, "endTime": hi, "limit": 1000}
    page = await ex.fapiPrivateGetUserTrades(base)
    rows += len(page)
    while len(page) == 1000:
        page = await ex.fapiPrivateGetUserTrades(
            {"symbol": symbol, "fromId": int(page[-1]["id"]) + 1, "limit": 1000}
        )
        rows += len(page)
    page = await ex.fapiPrivateGetAllOrders(base)
    rows += len(page)
    while len(page) == 1000:
        page = await ex.fapiPrivateGetAllOrders(
            {"symbol": symbol, "orderId": int(page[-1]["orderId"]) + 1, "limit": 1000}
        )
        rows += len(page)
    n = 1
    while True:
        page = await ex.fapiPrivateGetIncome({**base, "page": n})
        rows += len(page)
        if len(page) < 1000:
            return rows
        n += 1


# -- live ingest latency -----------------------------------------------------------------


async def stream_latency(sim: Sim, db: Path, seconds: float) -> dict[str, Any]:
    """Run the engine with the stream for ``seconds``; event → commit latency."""
    engine, close = await v7d_engine(sim, db, ws=True)
    task = asyncio.create_task(engine.run())
    try:
        for _ in range(600):  # up to 30 s for the stream to connect
            if engine.status()["stream"]["state"] == "live":
                break
            await asyncio.sleep(0.05)
        engine.ingest.latencies_ms.clear()
        n0 = engine.ingest.messages
        await asyncio.sleep(seconds)
        lat = sorted(engine.ingest.latencies_ms)
        n = engine.ingest.messages - n0
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await close()
    if not lat:
        return {"events_per_s": 0.0, "p50_ms": None, "p99_ms": None}
    return {
        "events_per_s": n / seconds,
        "p50_ms": lat[len(lat) // 2],
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "max_ms": lat[-1],
    }


# -- main ----------------------------------------------------------------------------------


def table(rows: list[tuple[str, str, str]]) -> str:
    """A plain text table."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


async def main(args: argparse.Namespace) -> int:
    days = args.days
    per_day = args.trades // days
    with tempfile.TemporaryDirectory(prefix="v7d-bench-") as tmp:
        with sim_process(
            "--seed", "11", "--days", str(days), "--symbols-listed", str(args.listed),
            "--symbols-active", str(args.active), "--trades-per-day", str(per_day),
            "--weight-limit", "100000000",
        ) as sim:  # fmt: skip
            now = int(sim.get("/_sim/info")["now_ms"])
            start = now - days * DAY_MS
            v7d = await v7d_backfill(sim, Path(tmp) / "bench.db", days + 0.0)
            end = int(sim.get("/_sim/info")["now_ms"])
            minimum = minimum_weight(sim, start, end)
            trades = len(sim.get("/_sim/truth", start_ms=start, end_ms=end)["trades"])
            naive = await naive_sweep(sim, start, end)
        with sim_process(
            "--seed", "12", "--days", "1", "--symbols-listed", "50", "--symbols-active", "6",
            "--trades-per-day", "100", "--live-rate", str(args.live_rate),
        ) as live_sim:  # fmt: skip
            live = await asyncio.wait_for(
                stream_latency(live_sim, Path(tmp) / "live.db", args.live_seconds),
                timeout=args.live_seconds + 90,
            )
    floor_s = v7d["weight"] / (DEFAULT_LIMIT * DEFAULT_SHARE) * 60
    print(f"\nScenario: {args.listed} listed / {args.active} active symbols, {days} days, "
          f"{trades:,} trades\n")  # fmt: skip
    print(table([
        ("measure", "value", "target"),
        ("v7d backfill weight (discovery included)", f"{v7d['weight']:,}", ""),
        ("theoretical minimum weight", f"{minimum:,}", ""),
        ("v7d / minimum", f"{v7d['weight'] / minimum:.2f}x", "<= 1.2x"),
        (f"naive ccxt sweep weight ({naive['symbols']} symbols)", f"{naive['weight']:,}", ""),
        ("naive / v7d", f"{naive['weight'] / v7d['weight']:.1f}x", ">= 5x"),
        ("v7d backfill wall time (sim limit raised)", f"{v7d['wall_s']:.1f} s", ""),
        ("v7d backfill CPU time", f"{v7d['cpu_s']:.1f} s", ""),
        ("budget floor at 2,400/min x 0.5", f"{floor_s:.0f} s", "CPU << floor"),
        ("naive sweep wall time (no budget)", f"{naive['wall_s']:.1f} s", ""),
        ("stream messages/s ingested", f"{live['events_per_s']:.0f}", "~200"),
        ("stream event -> commit p50", f"{live['p50_ms']:.1f} ms", ""),
        ("stream event -> commit p99", f"{live['p99_ms']:.1f} ms", "< 50 ms"),
    ]))  # fmt: skip
    return 0


if __name__ == "__main__":
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where is it stuck?
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listed", type=int, default=600)
    parser.add_argument("--active", type=int, default=12)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--trades", type=int, default=200_000)
    # One live step of the simulator sends about three stream messages (order update,
    # trade lite, account update): 65 steps/s is about 200 messages/s.
    parser.add_argument("--live-rate", type=float, default=65.0)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="a small account (smoke run)")
    ns = parser.parse_args()
    if ns.quick:
        ns.listed, ns.active, ns.days, ns.trades, ns.live_seconds = 60, 4, 3, 5000, 3.0
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main(ns)))
