"""Fuzz every route from the OpenAPI schema: whatever the parameters, never a 500.

Values are drawn from each parameter's schema (valid values, boundary values) mixed
with junk text, so both the happy paths and the refusals run. Every answer is either a
success or the error envelope with a 4xx/503 status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.query.rig import make_app
from tests.query.truth import DAY, T0
from v7d.web.q_openapi import ENDPOINTS, Endpoint, Param

JUNK = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1e3", "nan", "null", "true", "99999999999999999999",
                     "BTCUSDT", "%00", "' OR 1=1 --", "\u00e9", "1000", "1001"]),
)  # fmt: skip


def _valid(p: Param) -> st.SearchStrategy[str]:
    s = p.schema
    if p.name == "order_id":
        return st.sampled_from(["1000", "777", "5", "0"])
    if s.get("type") == "integer":
        lo, hi = s.get("minimum", 0), s.get("maximum", 10**15)
        if p.name.endswith("_ms"):
            return st.integers(T0 - DAY, T0 + 4 * DAY).map(str)
        return st.integers(lo, min(hi, 10**6)).map(str)
    if "enum" in s:
        return st.sampled_from(s["enum"])
    if p.name == "symbol":
        return st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDC", "XRPUSDT"])
    if p.name == "account":
        return st.sampled_from(["default", "other"])
    return st.sampled_from(["alpha-", "beta-", "x", "zz"])


def _params(e: Endpoint) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    path_params = [p for p in e.params if p.location == "path"]
    query = [p for p in e.params if p.location == "query"]
    path = st.just(e.path)
    for p in path_params:
        path = st.tuples(path, st.one_of(_valid(p), JUNK)).map(
            lambda pv, name=p.name: pv[0].replace("{" + name + "}", quote(pv[1], safe="") or "x")
        )
    values = st.fixed_dictionaries(
        {}, optional={p.name: st.one_of(_valid(p), _valid(p), JUNK) for p in query}
    )
    return st.tuples(path, values)


class _SyncClient:
    """Drives an httpx.AsyncClient on the query app from synchronous hypothesis code."""

    def __init__(self, store_path: Path) -> None:
        async def status() -> dict[str, Any]:
            return {"accounts": {}}

        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=make_app(store_path, sync_status=status))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://v7d")

    def get(self, path: str, params: dict[str, str]) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(path, params=params))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def http(store_path: Path) -> Iterator[_SyncClient]:
    """A synchronous driver of the query app."""
    c = _SyncClient(store_path)
    yield c
    c.close()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_never_500(http: _SyncClient, endpoint: Endpoint) -> None:
    """Random valid and invalid parameters never produce a 500."""

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(_params(endpoint))
    def run(case: tuple[str, dict[str, str]]) -> None:
        path, params = case
        resp = http.get(path, params)
        assert resp.status_code < 500 or resp.status_code == 503, (path, params, resp.text)
        if resp.status_code >= 400:
            body = resp.json()
            assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]

    run()
