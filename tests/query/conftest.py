"""Fixtures for the query tests: stores filled from truth rows through the real Writer."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.query import truth as truth_mod
from tests.query.rig import fill_store, make_app
from v7d.query.api import HistoryQueryAPI


@pytest.fixture(scope="session")
def truth() -> truth_mod.Truth:
    """The deterministic test history."""
    return truth_mod.build()


@pytest.fixture(scope="session")
def store_path(truth: truth_mod.Truth) -> Iterator[Path]:
    """A store holding ``truth`` (session-wide; tests only read it)."""
    with tempfile.TemporaryDirectory(prefix="v7dq-") as d:
        path = Path(d) / "history.db"
        asyncio.run(fill_store(path, truth))
        yield path


@pytest.fixture
def api(store_path: Path) -> Iterator[HistoryQueryAPI]:
    """A HistoryQueryAPI over the session store."""
    with HistoryQueryAPI(store_path) as a:
        yield a


@pytest.fixture
async def client(store_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the query app over the session store (in-process ASGI)."""

    async def status() -> dict[str, object]:
        return {"accounts": {"default": {"stream": "up"}}}

    app = make_app(store_path, sync_status=status, metrics=lambda: "v7d_test_metric 1\n")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://v7d") as c:
        yield c
