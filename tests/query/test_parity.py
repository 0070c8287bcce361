"""HistoryQueryAPI and HTTP give identical answers (the HTTP JSON of the same call)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.query.truth import DAY, HOUR, T0
from v7d.query.api import HistoryQueryAPI

W = {"start_ms": T0 + HOUR, "end_ms": T0 + 2 * DAY + 7}

CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("/trades", "trades_page", {"symbol": "BTCUSDT", "limit": 50}),
    ("/trades", "trades_page", {**W, "client_order_id_prefix": "alpha-"}),
    ("/orders", "orders_page", {"status": "FILLED", "side": "BUY", "limit": 20}),
    ("/income", "income_page", {"type": "FUNDING_FEE"}),
    ("/algo-orders", "algo_orders_page", {}),
    ("/stats/summary", "summary", {}),
    ("/stats/summary", "summary", {**W, "symbol": "ETHUSDT", "side": "SELL"}),
    ("/stats/series", "series", {"bucket": "1h", "symbol": "SOLUSDC"}),
    ("/stats/compare", "compare", {"a_prefix": "alpha-", "b_prefix": "beta-"}),
    ("/stats/compare", "compare", {"a_start_ms": T0, "a_end_ms": T0 + DAY,
                                   "b_start_ms": T0 + DAY, "b_end_ms": T0 + 2 * DAY}),
    ("/stats/symbols", "symbols_answer", {"start_ms": T0 + DAY}),
]  # fmt: skip

WRAPPED: list[tuple[str, str, dict[str, Any]]] = [
    ("/positions", "positions", {}),
    ("/balances", "balances", {}),
    ("/sync/coverage", "coverage", {"endpoint": "userTrades"}),
]


class TestParity:
    """The in-process answer equals the HTTP answer, call for call."""

    @pytest.mark.parametrize(("path", "method", "args"), CALLS)
    async def test_same_answer(
        self, client: httpx.AsyncClient, api: HistoryQueryAPI, path: str, method: str,
        args: dict[str, Any],
    ) -> None:  # fmt: skip
        """The method's dict equals the route's JSON body."""
        resp = await client.get(path, params=args)
        assert resp.status_code == 200, resp.text
        # The coverage window of an open end is "now": freeze it by comparing the rest.
        want, got = _strip_now(getattr(api, method)(**args)), _strip_now(resp.json())
        assert got == want

    @pytest.mark.parametrize(("path", "method", "args"), WRAPPED)
    async def test_lists(
        self, client: httpx.AsyncClient, api: HistoryQueryAPI, path: str, method: str,
        args: dict[str, Any],
    ) -> None:  # fmt: skip
        """Plain-list methods equal the route's items (next_cursor null)."""
        body = (await client.get(path, params=args)).json()
        assert body == {"items": getattr(api, method)(**args), "next_cursor": None}

    async def test_get_list_equals_items(
        self, client: httpx.AsyncClient, api: HistoryQueryAPI
    ) -> None:
        """get_trades() is the items of /trades; order_events() the items of the route."""
        body = (await client.get("/trades", params={"limit": 10})).json()
        assert api.get_trades(limit=10) == body["items"]
        events = (await client.get("/orders/1000/events")).json()["items"]
        assert api.order_events(1000) == events

    async def test_same_errors(self, client: httpx.AsyncClient, api: HistoryQueryAPI) -> None:
        """A bad argument gives the same code and message in both."""
        resp = await client.get("/orders", params={"status": "DONE"})
        with pytest.raises(Exception) as err:
            api.get_orders(status="DONE")
        assert resp.json()["error"]["message"] == str(err.value)


def _strip_now(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_now(v) for k, v in value.items() if k not in ("window", "missing_ranges")}
    if isinstance(value, list):
        return [_strip_now(v) for v in value]
    return value
