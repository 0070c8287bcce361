"""/health: 200 ok (possibly degraded) or 503 unavailable with reasons; StoreHealth.

DESIGN.md: /health is 503 only when the store is unreadable, the writer is wedged, or
every account is stopped; a stream that is down gives 200 with ``"degraded": [...]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from v7d.web.app import create_app
from v7d.web.health import CombinedHealth, StoreHealth
from v7d.web.testing import assert_error_envelope

from .conftest import ROUTES, FixedHealth


def make_db(path: Path) -> Path:
    """Create a small WAL database at ``path``."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    return path


class TestHealthRoute:
    """The route renders what the source says."""

    async def test_ok(self, client: httpx.AsyncClient) -> None:
        """A healthy source gives 200 status ok with an empty degraded list."""
        resp = await client.get("/health")
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok", "degraded": []}

    async def test_degraded_is_still_200(
        self, client: httpx.AsyncClient, health: FixedHealth
    ) -> None:
        """Degraded (e.g. stream down) answers 200 listing what is degraded."""
        health.details = {"degraded": ["main: stream down"], "accounts": 1}
        resp = await client.get("/health")
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok", "degraded": ["main: stream down"], "accounts": 1}

    async def test_unavailable(self, client: httpx.AsyncClient, health: FixedHealth) -> None:
        """A failed source answers 503 with its reasons."""
        health.ok = False
        health.details = {"reasons": ["writer wedged"]}
        resp = await client.get("/health")
        assert resp.status_code == 503
        assert resp.json() == {
            "status": "unavailable",
            "reasons": ["writer wedged"],
            "degraded": [],
        }

    async def test_unavailable_without_reason(
        self, client: httpx.AsyncClient, health: FixedHealth
    ) -> None:
        """A source that gives no reason still yields a non-empty reasons list."""
        health.ok = False
        resp = await client.get("/health")
        assert resp.status_code == 503 and resp.json()["reasons"] == ["unavailable"]

    async def test_head(self, client: httpx.AsyncClient) -> None:
        """HEAD /health works for simple probes."""
        assert (await client.head("/health")).status_code == 200


class TestStoreHealth:
    """StoreHealth opens the database read-only and queries it."""

    async def test_readable(self, tmp_path: Path) -> None:
        """A real database is healthy."""
        assert await StoreHealth(make_db(tmp_path / "h.db")).health() == (True, {})

    async def test_missing_file_not_created(self, tmp_path: Path) -> None:
        """A missing database is unhealthy, and the probe does not create it."""
        path = tmp_path / "missing.db"
        ok, details = await StoreHealth(path).health()
        assert not ok
        assert details["reasons"][0].startswith("store unreadable:")
        assert not path.exists()

    async def test_not_a_database(self, tmp_path: Path) -> None:
        """A file that is not SQLite is unhealthy."""
        path = tmp_path / "junk.db"
        path.write_bytes(b"this is not a database at all" * 200)
        ok, details = await StoreHealth(path).health()
        assert not ok and "not a database" in details["reasons"][0]

    async def test_path_needing_quoting(self, tmp_path: Path) -> None:
        """Paths with spaces, '?' and '#' are quoted correctly in the URI."""
        odd = tmp_path / "a dir?#x"
        odd.mkdir()
        assert (await StoreHealth(make_db(odd / "h.db")).health())[0]

    async def test_does_not_write(self, tmp_path: Path) -> None:
        """The probe leaves the database file byte-for-byte unchanged."""
        path = make_db(tmp_path / "h.db")
        before = path.read_bytes()
        await StoreHealth(path).health()
        assert path.read_bytes() == before

    async def test_via_route(self, tmp_path: Path) -> None:
        """create_app with StoreHealth answers 503 for a missing store."""
        app = create_app(routes=[], health=StoreHealth(tmp_path / "none.db"))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            resp = await c.get("/health")
        assert resp.status_code == 503
        assert resp.json()["status"] == "unavailable"


class TestCombinedHealth:
    """Several sources combine into one answer."""

    async def test_all_ok(self) -> None:
        """All ok: ok, degraded lists joined, other fields merged."""
        combined = CombinedHealth(
            FixedHealth(True, {"degraded": ["a"], "x": 1}), FixedHealth(True, {"degraded": ["b"]})
        )
        assert await combined.health() == (True, {"x": 1, "reasons": [], "degraded": ["a", "b"]})

    async def test_one_fails(self) -> None:
        """One failing source makes the whole unavailable, with its reason."""
        combined = CombinedHealth(FixedHealth(True), FixedHealth(False, {"reasons": ["no store"]}))
        ok, details = await combined.health()
        assert not ok and details["reasons"] == ["no store"]


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers (the daemon owns signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing."""
        yield


@pytest.fixture
async def uds_server(short_tmp: Path, tmp_path: Path) -> AsyncIterator[Path]:
    """The demo app served by a real uvicorn on a Unix socket under a short temp dir."""
    path = short_tmp / "q.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o660)
    app = create_app(routes=ROUTES, health=StoreHealth(make_db(tmp_path / "h.db")))
    server = _QuietServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
        assert not task.done(), task
    yield path
    server.should_exit = True
    await task
    sock.close()


class TestOverUnixSocket:
    """The same envelope and health through a real server on a Unix socket."""

    async def test_health_and_errors(self, uds_server: Path) -> None:
        """/health is 200, unknown routes 404 and bugs 500 with the envelope."""
        transport = httpx.AsyncHTTPTransport(uds=str(uds_server))
        async with httpx.AsyncClient(transport=transport, base_url="http://v7d") as c:
            health = await c.get("/health")
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            assert_error_envelope(await c.get("/nope"), 404, "not_found")
            assert_error_envelope(await c.get("/echo?limit=0"), 422, "invalid_parameter")
            assert_error_envelope(await c.get("/boom"), 500, "internal")
            assert (await c.get("/echo?symbol=BTCUSDT")).json()["symbol"] == "BTCUSDT"
