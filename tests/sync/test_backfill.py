"""Backfill against the real simulator: the store ends equal to the ground truth."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sync_rig import assert_store_equals_truth, diff_against_truth, rig, store_view

from v7d.sim.testing import running_sim
from v7d.sync.plan import DAY_MS


class TestBackfill:
    """A backfill job fetches every retrievable row, pages through ties, reports progress."""

    async def test_backfill_equals_truth(self, short_tmp: Path) -> None:
        """After a 4-day backfill of a 3-day history the store equals the truth."""
        with running_sim(seed=3, days=3, symbols_listed=40, symbols_active=7,
                         trades_per_day=300, sweep_fills=1200) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                job_id = await r.engine.start_backfill(days=4)
                assert await r.engine.run_jobs() == 1
                job = r.reader.job(job_id)
                assert job is not None and job.state == "done", job
                now = int(time.time() * 1000)
                truth = sim.truth(None, now)
                view = store_view(r.db, 0, now)
                problems = diff_against_truth(view, truth)
                assert problems == [], problems[:20]
                # The hard cases are really in this history (and so in the store).
                per_ms = Counter((t["symbol"], t["time"]) for t in view["trades"])
                assert max(per_ms.values()) > 1000
                assert max(Counter(i["time"] for i in view["income"]).values()) > 1000
                symbols = {t["symbol"] for t in view["trades"]}
                assert any(s.endswith("USDC") for s in symbols)
                delisted = set(sim.info()["delisted_symbols"])
                assert delisted & {i["symbol"] for i in view["income"]}
                progress = json.loads(job.progress)
                assert progress["windows_done"] == progress["windows_total"] > 0
                assert progress["weight"] > 0 and progress["phase"] == "done"
                stats = sim.stats()
                assert stats["served_418"] == 0 and stats["trading_requests"] == 0

    async def test_backfill_beyond_retention_says_so(self, short_tmp: Path) -> None:
        """Asking for 200 days records the unreachable part as expired, never fails."""
        with running_sim(seed=4, days=2, symbols_listed=20, symbols_active=2,
                         trades_per_day=50) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                job_id = await r.engine.start_backfill(days=200)
                await r.engine.run_jobs()
                job = r.reader.job(job_id)
                assert job is not None and job.state == "done", job
                progress = json.loads(job.progress)
                expired = {(e["endpoint"], e["symbol"]) for e in progress["expired"]}
                assert ("income", "") in expired
                assert any(e == "allOrders" for e, _s in expired)
                marks = r.reader.coverage("default", endpoint="income")
                kinds = {m.kind for m in marks}
                assert kinds == {"complete", "expired"}
                now = int(time.time() * 1000)
                assert any(m.end_ms > now - 90 * DAY_MS for m in marks if m.kind == "expired")


SWITCHES = {
    "documented": {},
    "alternates": {"trade_ids": "global", "window_error": "-1100", "income_max_window_days": 7,
                   "retry_after": False},
}  # fmt: skip


class TestUncertainBehaviour:
    """Where the reference marks the exchange's behaviour [?], sync works either way."""

    @pytest.mark.parametrize("switches", sorted(SWITCHES))
    async def test_backfill_then_pass_under_switches(self, short_tmp: Path, switches: str) -> None:
        """Global trade ids, -1100 window errors, a 7-day income window: store == truth."""
        with running_sim(seed=14, days=2, symbols_listed=20, symbols_active=3,
                         trades_per_day=400, **SWITCHES[switches]) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                await r.engine.start_backfill(days=3)
                await r.engine.run_jobs()
                sim.add_activity(kind="fill", symbol="ETHUSDT", fills=4)
                sim.add_activity(kind="partial_cancel", symbol="BTCUSDT", fills=2)
                report = await r.engine.run_once()
                assert report.errors == []
                assert_store_equals_truth(r.db, sim)


class TestSpedUpClock:
    """With the simulator's clock sped up, retention edges fall inside the history."""

    async def test_retention_edges_inside_history(self, short_tmp: Path) -> None:
        """Refused ranges become expired marks; everything still retrievable is stored."""
        with running_sim(seed=16, days=2, symbols_listed=30, symbols_active=4,
                         trades_per_day=300, time_scale=1000) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                job_id = await r.engine.start_backfill(days=3)
                await r.engine.run_jobs()
                job = r.reader.job(job_id)
                assert job is not None and job.state == "done", job
                expired = json.loads(job.progress)["expired"]
                assert {e["endpoint"] for e in expired} >= {"income", "userTrades"}
                sim.add_activity(kind="fill", symbol="BTCUSDT", fills=2)
                assert (await r.engine.run_once()).errors == []
                now = int(time.time() * 1000)
                truth = sim.truth(None, now)
                assert any(not t["retrievable"] for t in truth["trades"])
                problems = diff_against_truth(store_view(r.db, 0, now), truth)
                assert problems == [], problems[:20]


class TestBackfillOptions:
    """--all-symbols sweeps the listed perpetuals; --symbols limits the sweep; pause holds."""

    async def test_all_symbols_and_explicit_symbols(self, short_tmp: Path) -> None:
        """all_symbols plans every listed USDT/USDC perpetual; symbols= exactly those."""
        with running_sim(seed=12, days=1, symbols_listed=15, symbols_active=2,
                         trades_per_day=20) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                sweep = await r.engine.start_backfill(days=1, all_symbols=True)
                await r.engine.run_jobs()
                listed = {
                    s.symbol
                    for s in r.reader.symbols("default")
                    if s.listed and s.contract_type == "PERPETUAL"
                }
                swept = set(json.loads(r.reader.job(sweep).progress)["symbols"])
                assert listed <= swept and len(swept) >= 15
                only = await r.engine.start_backfill(days=1, symbols=["ETHUSDT"])
                await r.engine.run_jobs()
                assert json.loads(r.reader.job(only).progress)["symbols"] == ["ETHUSDT"]
                # Later passes follow the symbols with activity, not the whole sweep.
                with_rows = {
                    s
                    for (s,) in r.engine.ctx.query(
                        "SELECT symbol FROM trades UNION SELECT symbol FROM orders "
                        "UNION SELECT symbol FROM income WHERE symbol != ''"
                    )
                }
                report = await r.engine.run_once()
                assert report.errors == []
                assert 0 < report.symbols <= len(with_rows) < len(swept)

    async def test_paused_job_waits_then_finishes(self, short_tmp: Path) -> None:
        """A paused engine's job sends nothing until resumed, then completes."""
        import asyncio

        with running_sim(seed=13, days=1, symbols_listed=15, symbols_active=2,
                         trades_per_day=20) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                job_id = await r.engine.start_backfill(days=1)
                r.engine.pause()
                before = sim.stats()["requests_total"]
                runner = asyncio.create_task(r.engine.run_jobs())
                await asyncio.sleep(0.5)
                assert sim.stats()["requests_total"] == before
                assert r.engine.status()["state"] == "paused"
                r.engine.resume()
                assert await asyncio.wait_for(runner, 30) == 1
                job = r.reader.job(job_id)
                assert job is not None and job.state == "done"
