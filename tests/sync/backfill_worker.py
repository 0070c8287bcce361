"""A syncing subprocess for the kill -9 test: runs (or resumes) backfill jobs, then exits.

Usage: ``python backfill_worker.py DB REST_URL DAYS RATE`` with ``V7D_TEST_KEY`` and
``V7D_TEST_SECRET`` in the environment. Starts a backfill of DAYS when the store has no
job yet, otherwise resumes the running one from its persisted progress.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from v7d.binance.budget import RateBudget
from v7d.binance.rest import BinanceRest
from v7d.config.model import SyncConfig
from v7d.credentials import Credentials
from v7d.store.read import StoreReader
from v7d.store.writer import Writer
from v7d.sync.engine import SyncEngine


async def main(db: Path, rest_url: str, days: float, rate: float) -> int:
    """Run the jobs of the store at ``db`` against ``rest_url``; 0 when all are done."""
    writer = Writer(db)
    await writer.start()
    reader = StoreReader(db)
    cfg = SyncConfig(request_rate_per_sec=rate, request_burst=2, max_weight_share=0.9)
    budget = RateBudget(rate_per_sec=rate, burst=2, max_weight_share=0.9)
    creds = Credentials(api_key=os.environ["V7D_TEST_KEY"], secret=os.environ["V7D_TEST_SECRET"])
    rest = BinanceRest(rest_url=rest_url, credentials=creds, budget=budget, retry_base_s=0.05)
    await rest.open()
    engine = SyncEngine(
        account="default", sync_config=cfg, rest=rest, ws_url=None, writer=writer, reader=reader
    )
    try:
        if not reader.jobs():
            await engine.start_backfill(days=days)
        await engine.run_jobs()
        return 0 if all(j.state == "done" for j in reader.jobs()) else 1
    finally:
        engine.ctx.close()
        await rest.close()
        reader.close()
        await writer.close()


if __name__ == "__main__":
    sys.exit(
        asyncio.run(main(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
    )
