"""Retention bites: rows Binance forgets are gone from REST and flagged in truth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle, running_sim

DAY = 86_400_000


@pytest.fixture(scope="module")
def old() -> Iterator[SimHandle]:
    """60 days of history at time_scale 4: trades kept 45 d, income/orders 22.5 d, unfilled
    cancels 18 h."""
    with running_sim(seed=21, days=60, symbols_active=3, trades_per_day=60, time_scale=4) as s:
        yield s


@pytest.fixture(scope="module")
def old_truth(old: SimHandle) -> dict[str, Any]:
    """Truth of ``old``."""
    return old.truth()


class TestRetention:
    """userTrades 6 months, income 3 months, orders 90 days / 3 days, scaled."""

    def test_truth_flags(self, old: SimHandle, old_truth: dict[str, Any]) -> None:
        """Truth marks exactly the rows past each retention as not retrievable."""
        now = old.info()["now_ms"]
        for t in old_truth["trades"]:
            assert (
                t["retrievable"] == (t["time"] >= now - 45 * DAY + 5000)
                or abs(t["time"] - (now - 45 * DAY)) < 10_000
            )
        assert any(not t["retrievable"] for t in old_truth["trades"])
        assert any(not i["retrievable"] for i in old_truth["income"])
        unfilled_gone = [
            o for o in old_truth["orders"] if not o["retrievable"] and o["time"] > now - 22 * DAY
        ]
        assert unfilled_gone and all(
            o["status"] in ("CANCELED", "EXPIRED") and o["executed_qty"] == "0"
            for o in unfilled_gone
        )

    def test_old_start_time_refused(self, old: SimHandle) -> None:
        """startTime older than retention gives -1100 (userTrades and income)."""
        now = old.info()["now_ms"]
        with SignedClient(old.rest_url, old.api_key, old.secret) as c:
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "startTime": now - 50 * DAY})
            assert r.status_code == 400 and r.json()["code"] == -1100
            assert "legal range" in r.json()["msg"]
            assert (
                c.get(
                    "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "startTime": now - 40 * DAY}
                ).status_code
                == 200
            )
            assert c.get("/fapi/v1/income", {"startTime": now - 30 * DAY}).json()["code"] == -1100

    def test_forgotten_orders(self, old: SimHandle, old_truth: dict[str, Any]) -> None:
        """GET /order answers -2013 for forgotten orders and finds retrievable ones."""
        gone = [o for o in old_truth["orders"] if not o["retrievable"]]
        kept = [o for o in old_truth["orders"] if o["retrievable"]]
        now = old.info()["now_ms"]
        recent_unfilled = [o for o in gone if o["time"] > now - 20 * DAY]
        with SignedClient(old.rest_url, old.api_key, old.secret) as c:
            for o in gone[:5] + recent_unfilled[:5]:
                r = c.get("/fapi/v1/order", {"symbol": o["symbol"], "orderId": o["order_id"]})
                assert r.json()["code"] == -2013
            for o in kept[-5:]:
                r = c.get("/fapi/v1/order", {"symbol": o["symbol"], "orderId": o["order_id"]})
                assert r.json()["orderId"] == o["order_id"]

    def test_all_orders_hides_them(self, old: SimHandle, old_truth: dict[str, Any]) -> None:
        """allOrders paged from orderId 0 returns only retrievable orders."""
        want = [
            o["order_id"]
            for o in old_truth["orders"]
            if o["retrievable"] and o["symbol"] == "ETHUSDT"
        ]
        got: list[int] = []
        with SignedClient(old.rest_url, old.api_key, old.secret) as c:
            oid = 0
            while True:
                rows = c.get(
                    "/fapi/v1/allOrders", {"symbol": "ETHUSDT", "orderId": oid, "limit": 1000}
                ).json()
                got.extend(r["orderId"] for r in rows)
                if len(rows) < 1000:
                    break
                oid = rows[-1]["orderId"] + 1
        assert got == want

    def test_from_id_skips_expired_trades(self, old: SimHandle, old_truth: dict[str, Any]) -> None:
        """fromId 0 starts at the oldest trade still kept."""
        first_kept = next(
            t for t in old_truth["trades"] if t["retrievable"] and t["symbol"] == "BTCUSDT"
        )
        with SignedClient(old.rest_url, old.api_key, old.secret) as c:
            rows = c.get(
                "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": 0, "limit": 1}
            ).json()
        assert rows[0]["id"] == first_kept["id"]
