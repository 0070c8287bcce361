"""Fixtures for the query tests: stores filled from truth rows through the real Writer."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.query import truth as truth_mod
from v7d.query.api import HistoryQueryAPI
from v7d.store.writer import Writer


async def fill_store(path: Path, t: truth_mod.Truth) -> None:
    """Submit the truth through the single writer, as sync would."""
    writer = Writer(path)
    await writer.start()
    try:
        for batch in truth_mod.records(t):
            await writer.submit(batch)
    finally:
        await writer.close()


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
