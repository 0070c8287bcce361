"""The control routes in-process (httpx.ASGITransport): validation, envelopes, backup.

The backend here is small and real: a migrated database, the store's writer and reader,
and an engine stand-in that records what the routes asked of it (its behaviour against
the exchange is covered by the subprocess tests).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from v7d.store import StoreReader, WriteBatch, Writer
from v7d.store.records import JobState
from v7d.web.app import create_app
from v7d.web.control import build_control_routes
from v7d.web.errors import ApiError
from v7d.web.testing import assert_error_envelope


class RecordingEngine:
    """Answers like an engine and remembers the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.paused = False

    async def start_backfill(self, **kw: Any) -> str:
        self.calls.append(("start_backfill", kw))
        return "bf-000000000001"

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False


class Backend:
    """The ControlBackend protocol over a real store."""

    def __init__(self, db_path: Path, reader: StoreReader, writer: Writer) -> None:
        self.db_path = db_path
        self.test_hooks = False
        self.reader = reader
        self.writer = writer
        self.engine_ = RecordingEngine()
        self.reloads = 0

    async def engine(self, account: str | None) -> Any:
        if account not in (None, "default"):
            raise ApiError(404, "unknown_account", f"account {account!r} is not configured")
        return self.engine_

    def jobs(self, state: str | None = None) -> list[Any]:
        return list(self.reader.jobs(state))

    def job(self, job_id: str) -> Any | None:
        return self.reader.job(job_id)

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"reloaded": True, "needs_restart": []}

    def hang_writer(self) -> None:
        raise AssertionError("never called without test hooks")


class NoHealth:
    """Always healthy (the control routes do not depend on it)."""

    async def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Backend]]:
    """An ASGI client on the control routes over a fresh store with one job."""
    db = tmp_path / "history.db"
    writer = Writer(db)
    await writer.start()
    job = JobState("bf-aaaaaaaaaaaa", "default", "backfill", "running",
                   '{"days": 1}', '{"phase": "symbols", "windows_done": 2, "windows_total": 8}',
                   1, 2)  # fmt: skip
    await writer.submit(WriteBatch(records=[job]))
    reader = StoreReader(db)
    backend = Backend(db, reader, writer)
    app = create_app(routes=build_control_routes(backend), health=NoHealth())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://v7d") as client:
        yield client, backend
    reader.close()
    await writer.close()


class TestBackfillValidation:
    """``POST /control/backfill`` refuses bad bodies by name and passes good ones on."""

    async def test_good_body_reaches_the_engine(self, setup: Any) -> None:
        """days, symbols (deduplicated) and all_symbols are passed through."""
        client, backend = setup
        body = {"days": 3, "symbols": ["BTCUSDT", "BTCUSDT", "ETHUSDT"]}
        resp = await client.post("/control/backfill", json=body)
        assert resp.status_code == 202
        assert resp.json() == {"job_id": "bf-000000000001"}
        assert backend.engine_.calls == [
            (
                "start_backfill",
                {"days": 3.0, "symbols": ["BTCUSDT", "ETHUSDT"], "all_symbols": False},
            )
        ]

    @pytest.mark.parametrize(
        ("body", "status", "code", "names"),
        [
            ({}, 422, "invalid_parameter", "days"),
            ({"days": -1}, 422, "invalid_parameter", "days"),
            ({"days": True}, 422, "invalid_parameter", "days"),
            ({"days": "3"}, 422, "invalid_parameter", "days"),
            ({"days": 1, "symbols": ["btc-usdt"]}, 422, "invalid_parameter", "symbols"),
            ({"days": 1, "all_symbols": "yes"}, 422, "invalid_parameter", "all_symbols"),
            ({"days": 1, "symbols": ["BTCUSDT"], "all_symbols": True}, 422, "invalid_parameter",
             "all_symbols"),
            ({"days": 1, "dayz": 2}, 400, "unknown_parameter", "dayz"),
            ({"days": 1, "account": "other"}, 404, "unknown_account", "other"),
        ],
    )  # fmt: skip
    async def test_bad_bodies(
        self, setup: Any, body: dict[str, Any], status: int, code: str, names: str
    ) -> None:
        """Each bad body gets its status and code, and the message names the field."""
        client, backend = setup
        resp = await client.post("/control/backfill", json=body)
        error = assert_error_envelope(resp, status, code)
        assert names in error["message"]
        assert backend.engine_.calls == []

    async def test_not_json(self, setup: Any) -> None:
        """A body that is not JSON is a 400 ``invalid_json``."""
        client, _ = setup
        resp = await client.post("/control/backfill", content=b"days=3")
        assert_error_envelope(resp, 400, "invalid_json")


class TestJobsAndToggles:
    """Jobs are read from the store; pause/resume/reload reach the backend."""

    async def test_jobs_list_and_one_job(self, setup: Any) -> None:
        """Progress is decoded JSON; an unknown id is a 404 ``job_not_found``."""
        client, _ = setup
        items = (await client.get("/control/jobs")).json()["items"]
        assert [j["job_id"] for j in items] == ["bf-aaaaaaaaaaaa"]
        one = (await client.get("/control/jobs/bf-aaaaaaaaaaaa")).json()
        assert one["progress"]["windows_done"] == 2 and one["params"] == {"days": 1}
        assert_error_envelope(await client.get("/control/jobs/bf-nope"), 404, "job_not_found")

    async def test_pause_resume_reload(self, setup: Any) -> None:
        """Each toggle answers JSON and changes the engine's state."""
        client, backend = setup
        assert (await client.post("/control/pause")).json() == {"paused": True}
        assert backend.engine_.paused
        assert (await client.post("/control/resume")).json() == {"paused": False}
        assert not backend.engine_.paused
        assert (await client.post("/control/reload")).json()["reloaded"] is True
        assert backend.reloads == 1

    async def test_hang_hook_absent_without_test_hooks(self, setup: Any) -> None:
        """``/control/debug/hang`` is a 404 unless V7D_TEST_HOOKS=1."""
        client, _ = setup
        assert_error_envelope(await client.post("/control/debug/hang"), 404, "not_found")

    async def test_wrong_method_is_enveloped(self, setup: Any) -> None:
        """GET on a POST-only route is a 405 in the envelope."""
        client, _ = setup
        assert_error_envelope(await client.get("/control/backfill"), 405, "method_not_allowed")


class TestBackup:
    """``POST /control/backup`` streams a consistent SQLite snapshot."""

    async def test_snapshot_is_a_copy_of_the_store(self, setup: Any, tmp_path: Path) -> None:
        """The streamed bytes are a valid database with the same jobs."""
        client, _ = setup
        resp = await client.post("/control/backup")
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/vnd.sqlite3"
        target = tmp_path / "snap.db"
        target.write_bytes(resp.content)
        assert int(resp.headers["content-length"]) == len(resp.content)
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT job_id FROM jobs").fetchall() == [("bf-aaaaaaaaaaaa",)]

    async def test_unreadable_store_is_a_503(self, setup: Any, tmp_path: Path) -> None:
        """A database that cannot be opened gives ``backup_failed``, not a 500."""
        client, backend = setup
        backend.db_path = tmp_path / "missing" / "nothing.db"
        assert_error_envelope(await client.post("/control/backup"), 503, "backup_failed")
