"""Live ingest and gap repair with the engine running against the simulator's stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from sync_rig import assert_store_equals_truth, rig, sync_config

from v7d.sim.testing import running_sim


async def _until(cond: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class TestStream:
    """Stream events become rows at once; a dropped stream is repaired from REST."""

    async def test_stream_rows_then_gap_repair(self, short_tmp: Path) -> None:
        """A fill arrives by stream (source ws); activity during a drop is repaired."""
        cfg = sync_config(reconcile_interval=30.0, poll_interval=30.0)
        with running_sim(seed=11, days=1, symbols_listed=20, symbols_active=2,
                         trades_per_day=50) as sim:  # fmt: skip
            async with rig(sim, short_tmp / "h.db", ws=True, config=cfg) as r:
                await r.engine.start_backfill(days=2)
                await r.engine.run_jobs()
                task = asyncio.create_task(r.engine.run())
                try:
                    await _until(lambda: r.engine.status()["stream"]["state"] == "live")
                    await _until(lambda: r.engine.last_pass is not None)
                    made = sim.add_activity(kind="fill", symbol="BTCUSDT", fills=2)
                    oid = made["orders"][0]

                    def ws_events() -> int:
                        rows = r.engine.ctx.query(
                            "SELECT count(*) FROM order_events WHERE symbol='BTCUSDT' "
                            "AND order_id=? AND source='ws' AND execution_type='TRADE'",
                            (oid,),
                        )
                        return int(rows[0][0])

                    await _until(lambda: ws_events() == 2, 5.0)
                    assert r.engine.ctx.query(
                        "SELECT count(*) FROM trades WHERE symbol='BTCUSDT' AND order_id=?", (oid,)
                    ) == [(2,)]
                    assert r.engine.healthy
                    repairs = r.engine.gap_repairs
                    sim.drop_connections()
                    sim.add_activity(kind="partial_cancel", symbol="ETHUSDT", fills=2)
                    await _until(lambda: r.engine.gap_repairs > repairs, 15.0)
                    await _until(lambda: r.engine.status()["stream"]["state"] == "live")
                    sim.add_activity(kind="cancel", symbol="BTCUSDT")
                    await asyncio.sleep(0.5)
                    await r.engine.run_once()
                    assert_store_equals_truth(r.db, sim)
                    status = r.engine.status()
                    text = json.dumps(status)  # JSON-able as it is
                    assert sim.secret not in text and sim.api_key not in text
                    assert status["stream"]["messages"] > 0
                    assert status["parse_errors"] == 0
                    assert max(r.engine.ingest.latencies_ms) < 1000
                    assert any(c.endpoint == "stream" for c in r.reader.coverage("default"))
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                assert sim.stats()["trading_requests"] == 0
