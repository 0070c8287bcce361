"""The query API's HTTP contract (DESIGN.md "HTTP (contract)"), enforced on every endpoint.

Every list answer is ``{"items": [...], "next_cursor": str | null}`` and takes ``limit``
(default 500, max 1000) and ``cursor``. Times are epoch milliseconds; ``start_ms`` is
inclusive, ``end_ms`` exclusive; lists ascend by (time, id). Money and quantities are
the exchange's exact decimal strings.

Bad input gets 400/404/409/422 with exactly ``{"error": {"code": str, "message": str}}``
(extra machine fields allowed inside ``error``), the message naming the parameter;
never a 500. Codes: ``unknown_parameter`` / ``repeated_parameter`` /
``missing_parameter`` / ``invalid_cursor`` (400), ``not_found`` (404),
``ambiguous_order_id`` (409), ``invalid_parameter`` / ``invalid_range`` (422).

Item fields:

- trade: account, symbol, id, order_id, side, position_side, price, qty, quote_qty,
  realized_pnl, commission, commission_asset, maker, time
- order: account, symbol, order_id, client_order_id, side, position_side, type,
  orig_type, status, time_in_force, price, avg_price, stop_price, orig_qty, executed_qty,
  cum_quote, reduce_only, time, update_time
- event: event_time, transaction_time, execution_type, status, last_qty, last_price,
  cum_qty, trade_id, source
- income: account, symbol, income_type, income, asset, info, time, tran_id, trade_id
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.query import truth as truth_mod
from tests.query.rig import fill_store, make_app
from v7d.web.q_openapi import ENDPOINTS, Endpoint, Param
from v7d.web.testing import assert_error_envelope

TRADE_FIELDS = (
    "account, symbol, id, order_id, side, position_side, price, qty, quote_qty, "
    "realized_pnl, commission, commission_asset, maker, time"
)
ORDER_FIELDS = (
    "account, symbol, order_id, client_order_id, side, position_side, type, orig_type, "
    "status, time_in_force, price, avg_price, stop_price, orig_qty, executed_qty, cum_quote, "
    "reduce_only, time, update_time"
)
EVENT_FIELDS = (
    "event_time, transaction_time, execution_type, status, last_qty, last_price, cum_qty, "
    "trade_id, source"
)
INCOME_FIELDS = "account, symbol, income_type, income, asset, info, time, tran_id, trade_id"


def _fields(text: str) -> list[str]:
    return [f.strip() for f in text.split(",")]


def concrete(path: str) -> str:
    """A path with its path parameters filled with values that exist."""
    return path.replace("{order_id}", "1000").replace("{what}", "trades")


def _bad_values(p: Param) -> list[tuple[str, int, str]]:
    """(bad value, status, code) cases derived from the parameter's schema."""
    s = p.schema
    if p.name == "cursor":
        return [("not-a-cursor", 400, "invalid_cursor"), ("eyJrIjoib3RoZXIifQ", 400,
                                                          "invalid_cursor")]  # fmt: skip
    if s.get("type") == "integer":
        cases = [("12x", 422, "invalid_parameter"), ("1e3", 422, "invalid_parameter")]
        if "minimum" in s:
            cases.append((str(s["minimum"] - 1), 422, "invalid_parameter"))
        if "maximum" in s:
            cases.append((str(s["maximum"] + 1), 422, "invalid_parameter"))
        return cases
    if "enum" in s:
        return [("NOT_A_VALUE", 422, "invalid_parameter"), (s["enum"][0].lower() + "x", 422,
                                                             "invalid_parameter")]  # fmt: skip
    if "pattern" in s:
        return [("bad value!", 422, "invalid_parameter")]
    if "maxLength" in s:
        return [("x" * (s["maxLength"] + 1), 422, "invalid_parameter")]
    return []


def _cases() -> Iterator[Any]:
    for e in ENDPOINTS:
        for p in e.params:
            if p.location != "query":
                continue
            for value, status, code in _bad_values(p):
                yield pytest.param(e, p.name, value, status, code, id=f"{e.name}-{p.name}-{value}")


def _with_compare_baseline(e: Endpoint, params: dict[str, str]) -> dict[str, str]:
    # /stats/compare needs one A/B parameter to be a valid request at all.
    if e.name == "stats_compare" and not any(k.startswith(("a_", "b_")) for k in params):
        return {"a_prefix": "alpha-", "b_prefix": "beta-", **params}
    return params


class TestErrorEnvelope:
    """Every bad parameter of every endpoint gets the envelope, naming the parameter."""

    @pytest.mark.parametrize(("endpoint", "name", "value", "status", "code"), list(_cases()))
    async def test_bad_value(
        self, client: httpx.AsyncClient, endpoint: Endpoint, name: str, value: str,
        status: int, code: str,
    ) -> None:  # fmt: skip
        """A malformed or out-of-range value is refused with the right status and code."""
        params = _with_compare_baseline(endpoint, {name: value})
        resp = await client.get(concrete(endpoint.path), params=params)
        error = assert_error_envelope(resp, status, code)
        assert name in error["message"]

    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
    async def test_unknown_parameter(self, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        """A parameter the endpoint does not take is refused (typos are not ignored)."""
        resp = await client.get(concrete(endpoint.path), params={"symbl": "BTCUSDT"})
        error = assert_error_envelope(resp, 400, "unknown_parameter")
        assert "symbl" in error["message"]

    @pytest.mark.parametrize(
        "endpoint", [e for e in ENDPOINTS if e.query_names], ids=lambda e: e.name
    )
    async def test_repeated_parameter(self, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        """A parameter given twice is refused instead of picking one."""
        name = endpoint.query_names[0]
        resp = await client.get(f"{concrete(endpoint.path)}?{name}=1&{name}=2")
        error = assert_error_envelope(resp, 400, "repeated_parameter")
        assert name in error["message"]

    @pytest.mark.parametrize(
        "endpoint",
        [e for e in ENDPOINTS if {"start_ms", "end_ms"} <= set(e.query_names)],
        ids=lambda e: e.name,
    )
    async def test_start_after_end(self, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        """start_ms not before end_ms is 422 invalid_range naming start_ms."""
        params = _with_compare_baseline(endpoint, {"start_ms": "2000", "end_ms": "1000"})
        resp = await client.get(concrete(endpoint.path), params=params)
        error = assert_error_envelope(resp, 422, "invalid_range")
        assert "start_ms" in error["message"]

    async def test_compare_windows_out_of_order(self, client: httpx.AsyncClient) -> None:
        """A compare window with its start after its end names that window's parameter."""
        resp = await client.get(
            "/stats/compare", params={"a_start_ms": "5", "a_end_ms": "1", "b_start_ms": "1"}
        )
        error = assert_error_envelope(resp, 422, "invalid_range")
        assert "a_start_ms" in error["message"]

    async def test_compare_needs_sides(self, client: httpx.AsyncClient) -> None:
        """/stats/compare without any A/B parameter is 400 missing_parameter."""
        assert_error_envelope(await client.get("/stats/compare"), 400, "missing_parameter")

    async def test_cursor_of_other_query(self, client: httpx.AsyncClient) -> None:
        """A cursor handed out for other filters is refused instead of skipping rows."""
        first = (await client.get("/trades", params={"limit": 2})).json()
        resp = await client.get(
            "/trades", params={"limit": 2, "symbol": "BTCUSDT", "cursor": first["next_cursor"]}
        )
        assert_error_envelope(resp, 400, "invalid_cursor")

    async def test_cursor_of_other_list(self, client: httpx.AsyncClient) -> None:
        """A trades cursor is not an orders cursor."""
        first = (await client.get("/trades", params={"limit": 2})).json()
        resp = await client.get("/orders", params={"cursor": first["next_cursor"]})
        assert_error_envelope(resp, 400, "invalid_cursor")


class TestOrderEventsErrors:
    """The order-events route's path and lookup errors."""

    async def test_non_integer_id(self, client: httpx.AsyncClient) -> None:
        """A non-integer order id is 422 naming order_id."""
        resp = await client.get("/orders/abc/events")
        assert "order_id" in assert_error_envelope(resp, 422, "invalid_parameter")["message"]

    async def test_unknown_order(self, client: httpx.AsyncClient) -> None:
        """An id no order or event has is 404 naming order_id."""
        resp = await client.get("/orders/123456789/events")
        assert "order_id" in assert_error_envelope(resp, 404, "not_found")["message"]

    async def test_unknown_under_symbol(self, client: httpx.AsyncClient) -> None:
        """An existing id asked under another symbol is 404."""
        resp = await client.get("/orders/1000/events", params={"symbol": "SOLUSDC"})
        assert_error_envelope(resp, 404, "not_found")

    async def test_ambiguous_lists_symbols(self, client: httpx.AsyncClient) -> None:
        """An id under two symbols is 409 listing both; symbol= resolves it."""
        resp = await client.get(f"/orders/{truth_mod.DUP_ORDER_ID}/events")
        error = assert_error_envelope(resp, 409, "ambiguous_order_id")
        assert error["symbols"] == ["BTCUSDT", "ETHUSDT"]
        assert "BTCUSDT" in error["message"] and "ETHUSDT" in error["message"]
        ok = await client.get(
            f"/orders/{truth_mod.DUP_ORDER_ID}/events", params={"symbol": "ETHUSDT"}
        )
        assert ok.status_code == 200 and ok.json()["items"]


class TestOtherErrors:
    """Export, routing and service errors use the same envelope."""

    async def test_unknown_export(self, client: httpx.AsyncClient) -> None:
        """An export of something that is not trades/orders/income is 404."""
        assert_error_envelope(await client.get("/export/positions"), 404, "not_found")

    async def test_unknown_route(self, client: httpx.AsyncClient) -> None:
        """An unknown path is 404 not_found."""
        assert_error_envelope(await client.get("/nope"), 404, "not_found")

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        """POST on a query route is 405."""
        assert_error_envelope(await client.post("/trades"), 405, "method_not_allowed")

    async def test_store_missing(self, short_tmp: Path) -> None:
        """A store that does not exist yet is 503 store_unavailable, not a 500."""
        app = make_app(short_tmp / "absent.db")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            assert_error_envelope(await c.get("/trades"), 503, "store_unavailable")
            assert_error_envelope(await c.get("/export/trades"), 503, "store_unavailable")

    async def test_not_a_store(self, short_tmp: Path) -> None:
        """An SQLite file without v7d's tables is 503 store_unavailable, not a 500."""
        path = short_tmp / "empty.db"
        sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.close()
        app = make_app(path)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            for route in ("/trades", "/stats/summary", "/metrics", "/export/orders"):
                assert_error_envelope(await c.get(route), 503, "store_unavailable")

    async def test_sync_status_without_engine(self, store_path: Path) -> None:
        """/sync/status without a sync engine in the process is 503 unavailable."""
        app = make_app(store_path)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            assert_error_envelope(await c.get("/sync/status"), 503, "unavailable")


@pytest.fixture(scope="module")
def two_account_store() -> Iterator[Path]:
    """A store holding two accounts' histories."""
    with tempfile.TemporaryDirectory(prefix="v7dq2-") as d:
        path = Path(d) / "history.db"

        async def fill() -> None:
            await fill_store(path, truth_mod.build(seed=1, account="main"))
            await fill_store(path, truth_mod.build(seed=2, account="hedge"))

        asyncio.run(fill())
        yield path


class TestSeveralAccounts:
    """Statistics never add accounts together; lists show every account."""

    async def test_stats_need_account(self, two_account_store: Path) -> None:
        """Without account= a stats route names the accounts and refuses."""
        app = make_app(two_account_store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            for path in ("/stats/summary", "/stats/symbols", "/stats/series"):
                error = assert_error_envelope(await c.get(path), 400, "missing_parameter")
                assert "account" in error["message"] and "hedge" in error["message"]
            ok = await c.get("/stats/summary", params={"account": "hedge"})
            assert ok.status_code == 200 and ok.json()["cut"]["account"] == "hedge"

    async def test_lists_cover_both(self, two_account_store: Path) -> None:
        """An unfiltered trade list pages through both accounts, in (time, symbol, id)."""
        app = make_app(two_account_store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://v7d"
        ) as c:
            seen: list[dict[str, Any]] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 97}
                if cursor:
                    params["cursor"] = cursor
                page = (await c.get("/trades", params=params)).json()
                seen += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        keys = [(t["time"], t["symbol"], t["id"], t["account"]) for t in seen]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert {t["account"] for t in seen} == {"main", "hedge"}


class TestShapes:
    """Answers have exactly the contract's shape and item fields."""

    @pytest.mark.parametrize(
        ("path", "fields"),
        [("/trades", TRADE_FIELDS), ("/orders", ORDER_FIELDS),
         ("/orders/1000/events", EVENT_FIELDS), ("/income", INCOME_FIELDS)],
    )  # fmt: skip
    async def test_item_fields(self, client: httpx.AsyncClient, path: str, fields: str) -> None:
        """Items carry exactly the documented fields, in order."""
        body = (await client.get(path, params={"limit": 3})).json()
        assert set(body) == {"items", "next_cursor"}
        assert body["items"]
        for item in body["items"]:
            assert list(item) == _fields(fields)

    async def test_decimal_strings(self, client: httpx.AsyncClient) -> None:
        """Money and quantities are strings, times integers, flags booleans."""
        trade = (await client.get("/trades", params={"limit": 1})).json()["items"][0]
        for f in ("price", "qty", "quote_qty", "realized_pnl", "commission"):
            assert isinstance(trade[f], str)
        assert isinstance(trade["time"], int) and isinstance(trade["maker"], bool)

    async def test_default_and_max_limit(self, client: httpx.AsyncClient) -> None:
        """limit defaults to 500 and may go up to 1000."""
        assert len((await client.get("/income")).json()["items"]) == 500
        assert len((await client.get("/income", params={"limit": 1000})).json()["items"]) > 500


class TestOpenAPI:
    """/openapi.json describes every route the app serves."""

    async def test_every_route_documented(self, client: httpx.AsyncClient) -> None:
        """Each query route (and /health) is a path in the schema, with its parameters."""
        doc = (await client.get("/openapi.json")).json()
        app = client._transport.app  # type: ignore[attr-defined]
        served = {r.path for r in app.routes}
        assert served == set(doc["paths"])
        for e in ENDPOINTS:
            names = [p["name"] for p in doc["paths"][e.path]["get"]["parameters"]]
            assert names == [p.name for p in e.params]


class TestTimeLimit:
    """A query past the time limit is 503 query_timeout, never a hung worker or a 500."""

    async def test_timeout_envelope(self, store_path: Path) -> None:
        """With a 1 ms limit a full summary is interrupted and answered 503."""
        routes_app = make_app(store_path, query_timeout_ms=1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=routes_app), base_url="http://v7d"
        ) as c:
            resp = await c.get("/stats/summary")
        assert "ms" in assert_error_envelope(resp, 503, "query_timeout")["message"]
