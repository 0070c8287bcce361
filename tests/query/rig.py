"""Helpers for query tests: fill a store from truth rows, build the query app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tests.query import truth as truth_mod
from v7d.store.db import open_database
from v7d.store.refresh import refresh_stats
from v7d.store.writer import Writer
from v7d.web.app import create_app
from v7d.web.query_routes import build_query_routes


async def fill_store(path: Path, t: truth_mod.Truth) -> None:
    """Submit the truth through the single writer, as sync would, then rebuild every
    curve block (the idle writer would, at its own pace) so that the tests read them."""
    writer = Writer(path)
    await writer.start()
    try:
        for batch in truth_mod.records(t):
            await writer.submit(batch)
    finally:
        await writer.close()
    conn = open_database(path)
    try:
        refresh_stats(conn, limit=1_000_000)
    finally:
        conn.close()


class _Healthy:
    async def health(self) -> tuple[bool, dict[str, object]]:
        return True, {}


def make_app(path: Path, *, query_timeout_ms: int = 5000, **kwargs: Any) -> Starlette:
    """The query app as the daemon builds it: create_app + build_query_routes."""
    routes = build_query_routes(db_path=str(path), query_timeout_ms=query_timeout_ms, **kwargs)
    return create_app(routes=routes, health=_Healthy())
