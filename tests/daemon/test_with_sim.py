"""The daemon against the simulator: a backfill survives SIGTERM, the stream flows in,
STATUS says what is going on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from v7d.sim.cli import write_credentials
from v7d.sim.testing import SimHandle, running_sim
from v7d.supervise.testing import DaemonProcess, NotifyRecorder, write_sim_config


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """Two weeks of history on a handful of symbols."""
    with running_sim(seed=5, days=16, symbols_listed=60, symbols_active=4) as s:
        yield s


def _sim_daemon(
    factory: Callable[..., DaemonProcess],
    sim: SimHandle,
    short_dir: Path,
    rate: float,
    burst: int = 2,
) -> DaemonProcess:
    """A daemon (not started) on ``sim``'s key, its credentials in ``short_dir``."""
    return factory(write_sim_config(short_dir, sim, rate=rate, burst=burst))


def _job(daemon: DaemonProcess, job_id: str) -> dict:  # type: ignore[type-arg]
    return dict(daemon.get(f"/control/jobs/{job_id}").json())


class TestBackfillAcrossRestart:
    """SIGTERM in the middle of a backfill drains, exits 0, and the job resumes."""

    def test_sigterm_mid_backfill_then_resume(
        self,
        daemon_factory: Callable[..., DaemonProcess],
        sim: SimHandle,
        short_dir: Path,
        notify: NotifyRecorder,
    ) -> None:
        """The job continues from its persisted progress and ends equal to the truth."""
        daemon = _sim_daemon(daemon_factory, sim, short_dir, rate=12.0).start()
        daemon.wait_ready()
        job_id = daemon.post("/control/backfill", json={"days": 8}).json()["job_id"]
        daemon.wait_until(
            lambda: _job(daemon, job_id)["progress"].get("windows_done", 0) >= 3,
            timeout=60,
            what="3 windows done",
        )
        before = _job(daemon, job_id)
        assert before["state"] == "running"
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 15
        notify.wait_for("STOPPING", "1", timeout=1)

        again = DaemonProcess(daemon.config_path, notify=notify).start()
        try:
            again.wait_ready()
            resumed = _job(again, job_id)
            assert resumed["progress"]["windows_done"] >= before["progress"]["windows_done"]
            again.wait_until(lambda: _job(again, job_id)["state"] == "done", timeout=90)
            final = _job(again, job_id)
            start, end = final["params"]["start_ms"], final["params"]["end_ms"]
            truth = {(t["symbol"], t["id"]) for t in sim.truth(start, end)["trades"]}
            db = daemon.config_path.parent / "state" / "history.db"
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                rows = conn.execute(
                    "SELECT symbol, id FROM trades WHERE time >= ? AND time < ?", (start, end)
                ).fetchall()
            assert len(rows) == len(set(rows))
            assert set(rows) == truth
        finally:
            assert again.stop() == 0


def _stream_status(daemon: DaemonProcess) -> dict[str, Any]:
    """The default account's ``engine.stream`` block of ``/sync/status``."""
    return dict(daemon.get("/sync/status").json()["accounts"]["default"]["engine"]["stream"])


class TestLiveStream:
    """Activity on the exchange reaches the store through the stream; STATUS tells."""

    def test_activity_is_ingested_and_status_line_is_current(
        self,
        daemon_factory: Callable[..., DaemonProcess],
        sim: SimHandle,
        short_dir: Path,
        notify: NotifyRecorder,
    ) -> None:
        """A fill pushed by the simulator is stored; STATUS says streaming with trades."""
        daemon = _sim_daemon(daemon_factory, sim, short_dir, rate=50.0).start()
        daemon.wait_ready()

        def stream_live() -> bool:
            engine = daemon.get("/sync/status").json()["accounts"]["default"].get("engine")
            return bool(engine) and engine["stream"]["state"] == "live"

        daemon.wait_until(stream_live, timeout=30, what="stream live")
        before = _stream_status(daemon)
        made = sim.add_activity(symbol="BTCUSDT", kind="fill")
        assert made["trades"]
        daemon.wait_until(
            lambda: _stream_status(daemon)["messages"] > before["messages"],
            timeout=20,
            what="a stream message",
        )
        daemon.wait_until(
            lambda: any(
                v.startswith("streaming") and "trades" in v for _, v in notify.fields("STATUS")
            ),
            timeout=20,
            what="a streaming STATUS line",
        )
        db = daemon.config_path.parent / "state" / "history.db"

        def stored() -> set[int]:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                rows = conn.execute("SELECT id FROM trades WHERE symbol = 'BTCUSDT'").fetchall()
            return {r[0] for r in rows}

        wanted = {t["id"] if isinstance(t, dict) else t for t in made["trades"]}
        daemon.wait_until(lambda: wanted <= stored(), timeout=20, what="the fill stored")
        assert daemon.stop() == 0


class TestRefusedKey:
    """A key the exchange refuses stops the account with a clear state, not a retry loop."""

    def test_wrong_secret_stops_the_account_and_health_says_so(
        self,
        daemon_factory: Callable[..., DaemonProcess],
        sim: SimHandle,
        short_dir: Path,
    ) -> None:
        """/health is 503 ``all_accounts_stopped``; status names the reason; no secret logged."""
        creds = short_dir / "bad-credentials"
        wrong = "wrong-secret-for-this-test-0042"
        write_credentials(creds, sim.api_key, wrong)
        daemon = daemon_factory(rest_url=sim.rest_url, ws_url=sim.ws_url, credentials=creds)
        daemon.start()
        daemon.wait_ready()
        daemon.wait_until(
            lambda: daemon.get("/health").status_code == 503, timeout=30, what="503 health"
        )
        assert daemon.get("/health").json()["reasons"] == ["all_accounts_stopped"]
        account = daemon.get("/sync/status").json()["accounts"]["default"]
        assert account["state"] == "stopped" and "auth" in account["detail"]
        assert daemon.stop() == 0
        assert wrong not in daemon.output and sim.secret not in daemon.output


class TestSeveralAccounts:
    """``[[accounts]]``: one engine per account, control requests routed by ``account``."""

    def test_two_accounts_sync_and_take_requests(
        self,
        daemon_factory: Callable[..., DaemonProcess],
        sim: SimHandle,
        short_dir: Path,
    ) -> None:
        """Both accounts stream; a backfill for ``beta`` is beta's job; health is ok."""
        daemon = _sim_daemon(daemon_factory, sim, short_dir, rate=50.0, burst=50)
        creds = short_dir / "credentials"
        text = daemon.config_path.read_text().replace(f'credentials = "{creds}"\n', "")
        for name in ("alpha", "beta"):
            text += f'\n[[accounts]]\nname = "{name}"\ncredentials = "{creds}"\n'
        daemon.config_path.write_text(text)
        daemon.start()
        daemon.wait_ready()
        job_id = daemon.post("/control/backfill", json={"days": 1, "account": "beta"}).json()
        job_id = job_id["job_id"]
        daemon.wait_until(lambda: _job(daemon, job_id)["state"] == "done", timeout=60)
        assert _job(daemon, job_id)["account"] == "beta"

        def both_live() -> bool:
            accounts = daemon.get("/sync/status").json()["accounts"]
            return sorted(accounts) == ["alpha", "beta"] and all(
                (a.get("engine") or {}).get("stream", {}).get("state") == "live"
                for a in accounts.values()
            )

        daemon.wait_until(both_live, timeout=30, what="both streams live")
        answer = daemon.post("/control/sync-once", json={"account": "alpha"})
        assert answer.status_code == 200 and answer.json()["errors"] == []
        unknown = daemon.post("/control/sync-once", json={"account": "gamma"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_account"
        assert daemon.get("/health").json()["status"] == "ok"
        assert daemon.stop() == 0
