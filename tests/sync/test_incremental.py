"""Incremental passes, open-order refresh, pause and auth stop against the simulator."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from sync_rig import assert_store_equals_truth, rig, sync_config

from v7d.sim.testing import running_sim


class TestIncremental:
    """run_once brings the store up to the exchange after new activity."""

    async def test_new_activity_after_backfill(self, short_tmp: Path) -> None:
        """Fills, cancels, expiries, algo orders, funding and a liquidation all arrive."""
        with running_sim(seed=5, days=2, symbols_listed=30, symbols_active=3,
                         trades_per_day=200) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                await r.engine.start_backfill(days=3)
                await r.engine.run_jobs()
                trades = 0
                for kind in ("fill", "partial_cancel", "cancel", "expire", "algo", "funding",
                             "liquidation", "limit"):  # fmt: skip
                    trades += len(sim.add_activity(kind=kind, symbol="BTCUSDT", fills=3)["trades"])
                made = sim.add_activity(kind="fill", symbol="ETHUSDT", fills=2, count=3)
                trades += len(made["trades"])
                report = await r.engine.run_once()
                assert report.errors == [] and report.requests > 0
                assert report.rows.get("trades", 0) == trades
                assert_store_equals_truth(r.db, sim)
                # Position and balance snapshots equal what the exchange reports now.
                live = {
                    (d["symbol"], d["positionSide"]): d["positionAmt"]
                    for d in await r.rest.position_risk()
                    if Decimal(d["positionAmt"]) != 0
                }
                held = {
                    (sym, side): amt
                    for sym, side, amt in r.engine.ctx.query(
                        "SELECT symbol, position_side, position_amt FROM positions"
                    )
                    if Decimal(amt) != 0
                }
                assert held == live
                assert r.engine.ctx.query("SELECT count(*) FROM balances")[0][0] > 0

    async def test_symbol_first_seen_in_income(self, short_tmp: Path) -> None:
        """A symbol never traded before is discovered from its income rows."""
        with running_sim(seed=6, days=1, symbols_listed=30, symbols_active=2,
                         trades_per_day=50) as sim:  # fmt: skip
            info = sim.info()
            fresh = next(s for s in ("XRPUSDT", "SOLUSDT", "DOGEUSDT", "ADAUSDT")
                         if s not in info.get("active_symbols", []))  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                await r.engine.start_backfill(days=2)
                await r.engine.run_jobs()
                sim.add_activity(kind="fill", symbol=fresh, fills=2)
                await r.engine.run_once()
                assert_store_equals_truth(r.db, sim)
                assert fresh in {s.symbol for s in r.reader.symbols("default") if s.active_ms}


class TestOpenOrders:
    """Orders the store holds as non-final are re-fetched until final."""

    async def test_late_fill_of_old_open_order(self, short_tmp: Path) -> None:
        """An order seen NEW is later FILLED although it left every incremental window."""
        cfg = sync_config(overlap_ms=200)
        with running_sim(seed=7, days=1, symbols_listed=30, symbols_active=2,
                         trades_per_day=20) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db", config=cfg) as r:
                await r.engine.start_backfill(days=2)
                await r.engine.run_jobs()
                made = sim.add_activity(kind="limit", symbol="BTCUSDT")
                oid = made["orders"][0]
                await r.engine.run_once()
                # Order ids are per symbol: compare (symbol, id) pairs.
                opens = {(s, i) for s, i, _t in r.reader.open_orders("default")}
                assert ("BTCUSDT", oid) in opens
                await asyncio.sleep(0.5)  # the order's time is now behind every cursor
                await r.engine.run_once()
                filled = sim.add_activity(kind="fill_open", symbol="BTCUSDT")["orders"][0]
                assert ("BTCUSDT", filled) in opens  # the oldest open LIMIT order, seen NEW
                await asyncio.sleep(0.3)
                await r.engine.run_once()
                assert_store_equals_truth(r.db, sim)
                still_open = {(s, i) for s, i, _t in r.reader.open_orders("default")}
                assert ("BTCUSDT", filled) not in still_open


class TestControl:
    """Pause stops REST work; an auth error stops the account without retrying."""

    async def test_pause_is_persisted_and_blocks_passes(self, short_tmp: Path) -> None:
        """A paused engine makes no request; a new engine on the same store stays paused."""
        with running_sim(seed=8, days=1, symbols_listed=20, symbols_active=1,
                         trades_per_day=10) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db") as r:
                await r.engine.start()
                r.engine.pause()
                before = sim.stats()["requests_total"]
                report = await r.engine.run_once()
                assert report.errors == ["paused"]
                assert sim.stats()["requests_total"] == before
                assert r.engine.status()["paused"] is True
                await asyncio.sleep(0.1)  # the meta write is queued in the background
            async with rig(sim, short_tmp / "h.db") as r2:
                await r2.engine.start()
                assert r2.engine.status()["state"] == "paused"
                r2.engine.resume()
                report = await r2.engine.run_once()
                assert report.errors == []

    async def test_auth_error_stops_the_account(self, short_tmp: Path) -> None:
        """A rejected key stops the account with a clear status and no retry loop."""
        with running_sim(seed=9, days=1, symbols_listed=20, symbols_active=1,
                         trades_per_day=10) as sim:  # fmt: skip
            sim.secret = "wrong" + sim.secret[5:]
            async with rig(sim, short_tmp / "h.db") as r:
                report = await r.engine.run_once()
                assert report.errors and "account stopped" in report.errors[0]
                status = r.engine.status()
                assert status["state"] == "stopped"
                assert "auth" in status["stopped_reason"]
                assert sim.secret not in str(status)
                requests = sim.stats()["requests_total"]
                again = await r.engine.run_once()
                assert "account stopped" in again.errors[0]
                assert sim.stats()["requests_total"] == requests
                conn_rows = r.engine.ctx.query("SELECT status, detail FROM accounts")
                assert conn_rows[0][0] == "stopped"


class TestPriorities:
    """Incremental work is served before backfill inside the one budget."""

    async def test_pass_overtakes_running_backfill(self, short_tmp: Path) -> None:
        """A pass started during a long backfill finishes while the backfill still runs."""
        cfg = sync_config(request_rate_per_sec=30.0, request_burst=2)
        with running_sim(seed=15, days=1, symbols_listed=40, symbols_active=2,
                         trades_per_day=20) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db", config=cfg) as r:
                await r.engine.start()
                job_id = await r.engine.start_backfill(days=14, all_symbols=True)
                jobs = asyncio.create_task(r.engine.run_jobs())
                await asyncio.sleep(1.0)  # the backfill is queueing requests by now
                report = await r.engine.run_once()
                job = r.reader.job(job_id)
                assert report.errors == []
                assert job is not None and job.state == "running"
                progress = json.loads(job.progress)
                assert progress["windows_done"] < progress["windows_total"]
                assert await asyncio.wait_for(jobs, 60) == 1
