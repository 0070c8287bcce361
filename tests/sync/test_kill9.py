"""kill -9 of a syncing process during a large backfill, five times: the restarted job
resumes from its committed progress, ends equal to the truth, and spends at most 1.3×
the weight of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sync_rig import assert_store_equals_truth

from v7d.sim.testing import SimHandle, running_sim
from v7d.store.read import StoreReader

WORKER = Path(__file__).with_name("backfill_worker.py")
DAYS = 4.0
RATE = 25.0


def _start(sim: SimHandle, db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "V7D_TEST_KEY": sim.api_key, "V7D_TEST_SECRET": sim.secret}
    with open(db.with_suffix(".log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, str(WORKER), str(db), sim.rest_url, str(DAYS), str(RATE)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _position(db: Path) -> tuple[Any, ...] | None:
    """Where the job stands (phase, window, page), from its committed progress row."""
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT progress FROM jobs").fetchone()
    except sqlite3.OperationalError:
        return None  # not created yet
    finally:
        conn.close()
    if row is None:
        return None
    p = json.loads(row[0])
    return (p["phase"], p["next_window"], json.dumps(p["page"], sort_keys=True))


def _wait_progress(proc: subprocess.Popen[bytes], db: Path, since: Any) -> None:
    """Block until the worker has committed at least one more page (or exited)."""
    deadline = time.monotonic() + 60
    while _position(db) == since and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def _weight(sim: SimHandle) -> int:
    return int(sim.stats()["weight_total"])


def _finish(proc: subprocess.Popen[bytes], db: Path) -> None:
    proc.wait(timeout=120)
    assert proc.returncode == 0, db.with_suffix(".log").read_text()[-3000:]


def _job(db: Path) -> Any:
    reader = StoreReader(db)
    try:
        return reader.jobs()[0]
    finally:
        reader.close()


class TestKill9:
    """A backfill survives five kill -9s without redoing committed work."""

    def test_kill9_five_times_then_finish(self, short_tmp: Path) -> None:
        """Store equals truth after 5 kills and restarts; weight ≤ 1.3× uninterrupted."""
        rng = random.Random(20)
        with running_sim(seed=21, days=3, symbols_listed=40, symbols_active=6,
                         trades_per_day=4000, sweep_fills=1200) as sim:  # fmt: skip
            w0 = _weight(sim)
            _finish(_start(sim, short_tmp / "clean.db"), short_tmp / "clean.db")
            clean_weight = _weight(sim) - w0

            db = short_tmp / "killed.db"
            w1 = _weight(sim)
            kills = 0
            while kills < 5:
                since = _position(db)
                proc = _start(sim, db)
                # A random moment after this run has committed at least one page: every
                # kill interrupts real work, and the job always moves forward.
                _wait_progress(proc, db, since)
                time.sleep(rng.uniform(0.0, 0.15))
                if proc.poll() is not None:
                    break  # it finished before the kill: nothing left to interrupt
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            assert kills == 5, f"the backfill finished after {kills} kills: make it larger"
            assert _job(db).state == "running"
            _finish(_start(sim, db), db)
            killed_weight = _weight(sim) - w1

            job = _job(db)
            assert job.state == "done", job
            assert_store_equals_truth(db, sim)
            assert killed_weight <= 1.3 * clean_weight, (killed_weight, clean_weight)
            stats = sim.stats()
            assert stats["served_418"] == 0 and stats["trading_requests"] == 0
