"""Benchmark of v7d-sim: signed requests/s, full 1,000-row pages/s, a 1M-trade account.

Runs the simulator as a separate process (``python -m v7d.sim``, uvloop) and drives it
with aiohttp from this one, then prints a table. Targets: >= 1,000 small signed
requests/s, >= 150 full pages/s, 1M trades generated in < 60 s with RSS < 2 GB.
Wall-clock figures depend on what else runs on the machine, so CPU seconds of the
simulator process are printed beside them.

    .venv/bin/python bench/bench_sim.py [--trades 1000000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

DAYS = 90


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    """One simulator process and an aiohttp session signing like Binance."""

    def __init__(self, rest: str, key: str, secret: str, pid: int) -> None:
        self.rest, self.key, self.secret, self.pid = rest, key, secret, pid
        self.session: aiohttp.ClientSession | None = None

    def url(self, path: str, params: dict[str, object]) -> str:
        """A signed URL."""
        qs = urlencode({**params, "timestamp": int(time.time() * 1000)})
        sig = hmac.new(self.secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
        return f"{self.rest}{path}?{qs}&signature={sig}"

    async def get(self, path: str, params: dict[str, object]) -> bytes:
        """Signed GET; raises on a non-200 answer."""
        assert self.session is not None
        async with self.session.get(
            self.url(path, params), headers={"X-MBX-APIKEY": self.key}
        ) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"{path}: {r.status} {body[:200]!r}")
            return body

    async def rate(
        self, seconds: float, workers: int, call: Callable[[int], Awaitable[None]]
    ) -> tuple[float, float]:
        """(calls per second, simulator CPU seconds per call) over ``seconds``."""
        done = 0
        stop = time.perf_counter() + seconds
        cpu0 = _cpu_seconds(self.pid)

        async def worker(w: int) -> None:
            nonlocal done
            i = w
            while time.perf_counter() < stop:
                await call(i)
                done += 1
                i += workers

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        elapsed = time.perf_counter() - t0
        return done / elapsed, (_cpu_seconds(self.pid) - cpu0) / max(1, done)


async def _run(
    args: argparse.Namespace, proc: subprocess.Popen[str], t_start: float
) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    try:
        assert proc.stdout is not None
        key = secret = rest = ""
        for line in proc.stdout:
            if line.startswith("api_key"):
                key = line.split("=", 1)[1].strip()
            elif line.startswith("secret"):
                secret = line.split("=", 1)[1].strip()
            elif line.startswith("READY "):
                rest = line.split()[1].removeprefix("rest=")
                break
        ready_s = time.perf_counter() - t_start
        rows.append(("process start to READY (lazy history)", f"{ready_s:.2f} s", "< 60 s"))
        b = Bench(rest, key, secret, proc.pid)
        conn = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=conn) as session:
            b.session = session
            async with session.post(f"{rest}/_sim/warm") as r:
                warm = await r.json()
            rows.append(
                (
                    f"generate all history: {warm['trades']:,} trades, {warm['orders']:,} orders, "
                    f"{warm['income']:,} income rows",
                    f"{warm['seconds']:.1f} s wall, {warm['cpu_seconds']:.1f} s CPU",
                    "< 60 s",
                )
            )
            rows.append(
                ("simulator peak RSS after that", f"{_rss_mb(proc.pid):,.0f} MB", "< 2,048 MB")
            )

            async def small(i: int) -> None:
                await b.get("/fapi/v1/openOrders", {"symbol": "BTCUSDT"})

            rps, cpu = await b.rate(args.seconds, 32, small)
            rows.append(
                (
                    "small signed requests (openOrders?symbol)",
                    f"{rps:,.0f} /s ({cpu * 1e3:.2f} ms sim CPU each)",
                    ">= 1,000 /s",
                )
            )
            first = await b.get(
                "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": 0, "limit": 1}
            )
            start = int(first.split(b'"id":', 1)[1].split(b",", 1)[0])
            ids: list[int] = []  # fromIds whose page is full
            while len(ids) < 400:
                page = await b.get(
                    "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": start, "limit": 1000}
                )
                if page.count(b'"id":') < 1000:
                    break
                ids.append(start)
                start = int(page.rsplit(b'"id":', 1)[1].split(b",", 1)[0]) + 1

            async def full_page(i: int) -> None:
                body = await b.get(
                    "/fapi/v1/userTrades",
                    {"symbol": "BTCUSDT", "fromId": ids[i % len(ids)], "limit": 1000},
                )
                assert body.count(b'"id":') == 1000

            pps, cpu = await b.rate(args.seconds, 8, full_page)
            rows.append(
                (
                    "full 1,000-row userTrades pages (fromId)",
                    f"{pps:,.0f} /s ({cpu * 1e3:.2f} ms sim CPU each)",
                    ">= 150 /s",
                )
            )

            async def income_page(i: int) -> None:
                await b.get(
                    "/fapi/v1/income", {"symbol": "BTCUSDT", "limit": 1000, "page": 1 + i % 5}
                )

            ips, cpu = await b.rate(args.seconds, 8, income_page)
            rows.append(
                (
                    "full 1,000-row income pages (page)",
                    f"{ips:,.0f} /s ({cpu * 1e3:.2f} ms sim CPU each)",
                    "-",
                )
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000, help="trades in the account")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rate test")
    args = parser.parse_args()
    tpd = max(1, round(args.trades * 1.03 / DAYS))  # the generator lands ~2-3% under
    cmd = [
        sys.executable,
        "-m",
        "v7d.sim",
        "--port",
        "0",
        "--days",
        str(DAYS),
        "--trades-per-day",
        str(tpd),
        "--weight-limit",
        "1000000000",
    ]
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    rows = asyncio.run(_run(args, proc, t_start))
    load = os.getloadavg()[0]
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(
        f"v7d-sim benchmark ({os.cpu_count()} CPUs, load average {load:.1f}; "
        "client and simulator share them)"
    )
    print(f"{'measure':<{w}}  {'result':<{v}}  target")
    print(f"{'-' * w}  {'-' * v}  ------")
    for name, value, target in rows:
        print(f"{name:<{w}}  {value:<{v}}  {target}")


if __name__ == "__main__":
    main()
