"""Default windows, one-sided windows, ordering, limits and id/page paging."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle

DAY = 86_400_000
WEEK = 7 * DAY


def _ok(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class TestDefaultWindows:
    """No times -> last 7 days; one time -> a 7-day window from/to it."""

    def test_no_times_is_last_week(self, client: SignedClient) -> None:
        """Without times userTrades returns the most recent rows of the last 7 days, ascending."""
        now = int(time.time() * 1000)
        rows = _ok(client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 1000}))
        assert len(rows) == 1000
        times = [r["time"] for r in rows]
        assert times == sorted(times)
        assert times[0] >= now - WEEK - 5000
        newest = _ok(client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 3}))
        assert newest == rows[-3:]

    def test_only_start_time(self, client: SignedClient) -> None:
        """Only startTime: rows from it on, the oldest first, at most 7 days after it."""
        now = int(time.time() * 1000)
        start = now - 15 * DAY
        rows = _ok(
            client.get(
                "/fapi/v1/allOrders", {"symbol": "BTCUSDT", "startTime": start, "limit": 1000}
            )
        )
        assert rows and all(start <= r["time"] <= start + WEEK for r in rows)
        first = _ok(
            client.get("/fapi/v1/allOrders", {"symbol": "BTCUSDT", "startTime": start, "limit": 2})
        )
        assert first == rows[:2]

    def test_only_end_time(self, client: SignedClient) -> None:
        """Only endTime: rows of the 7 days before it."""
        end = int(time.time() * 1000) - 10 * DAY
        rows = _ok(
            client.get("/fapi/v1/userTrades", {"symbol": "ETHUSDT", "endTime": end, "limit": 1000})
        )
        assert rows and all(end - WEEK <= r["time"] <= end for r in rows)

    def test_bounds_inclusive(self, client: SignedClient) -> None:
        """startTime and endTime are both inclusive."""
        rows = _ok(client.get("/fapi/v1/userTrades", {"symbol": "ETHUSDT", "limit": 5}))
        t = rows[2]["time"]
        same = _ok(
            client.get("/fapi/v1/userTrades", {"symbol": "ETHUSDT", "startTime": t, "endTime": t})
        )
        assert same and all(r["time"] == t for r in same)

    def test_default_limits(self, client: SignedClient) -> None:
        """userTrades/allOrders default to 500 rows, income to 100."""
        assert len(_ok(client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}))) == 500
        assert len(_ok(client.get("/fapi/v1/allOrders", {"symbol": "BTCUSDT"}))) == 500
        assert len(_ok(client.get("/fapi/v1/income", {}))) == 100

    def test_income_only_start_runs_to_now(self, client: SignedClient) -> None:
        """income with only startTime covers up to now (no 7-day cap by default)."""
        now = int(time.time() * 1000)
        start = now - 12 * DAY
        rows = _ok(
            client.get(
                "/fapi/v1/income", {"startTime": start, "incomeType": "FUNDING_FEE", "limit": 1000}
            )
        )
        assert rows[0]["time"] >= start and rows[-1]["time"] > start + WEEK


class TestPaging:
    """fromId, orderId and page paging never lose or repeat a row."""

    def test_from_id_through_a_shared_millisecond(
        self, sim: SimHandle, client: SignedClient
    ) -> None:
        """Paging by fromId crosses >1,000 trades sharing one millisecond without loss."""
        truth = sim.truth()
        per_ms = Counter((t["symbol"], t["time"]) for t in truth["trades"])
        (symbol, ms), n = per_ms.most_common(1)[0]
        assert n > 1000
        ids = [t["id"] for t in truth["trades"] if t["symbol"] == symbol and t["time"] == ms]
        got: list[int] = []
        from_id = ids[0]
        while len(got) < n:
            rows = _ok(
                client.get(
                    "/fapi/v1/userTrades", {"symbol": symbol, "fromId": from_id, "limit": 1000}
                )
            )
            got.extend(r["id"] for r in rows if r["time"] == ms)
            from_id = rows[-1]["id"] + 1
        assert got == ids

    def test_start_time_paging_can_skip(self, sim: SimHandle, client: SignedClient) -> None:
        """Advancing startTime to last time + 1 loses rows sharing the last millisecond."""
        truth = sim.truth()
        per_ms = Counter((t["symbol"], t["time"]) for t in truth["trades"])
        (symbol, ms), n = per_ms.most_common(1)[0]
        rows = _ok(
            client.get(
                "/fapi/v1/userTrades",
                {"symbol": symbol, "startTime": ms, "endTime": ms + 1000, "limit": 1000},
            )
        )
        assert len(rows) == 1000 and rows[-1]["time"] == ms
        after = _ok(
            client.get(
                "/fapi/v1/userTrades",
                {"symbol": symbol, "startTime": ms + 1, "endTime": ms + 1000, "limit": 1000},
            )
        )
        assert all(r["time"] > ms for r in after)
        assert n > 1000  # so n - 1000 rows of that millisecond were skipped

    def test_income_page(self, sim: SimHandle, client: SignedClient) -> None:
        """income ``page`` walks >1,000 rows sharing one time with no gap or repeat."""
        truth = sim.truth()
        ms, n = Counter(i["time"] for i in truth["income"]).most_common(1)[0]
        assert n > 1000
        seen: list[tuple[str, int]] = []
        page = 1
        while True:
            rows = _ok(
                client.get(
                    "/fapi/v1/income", {"startTime": ms, "endTime": ms, "page": page, "limit": 1000}
                )
            )
            seen.extend((r["incomeType"], r["tranId"]) for r in rows)
            if len(rows) < 1000:
                break
            page += 1
        assert len(seen) == len(set(seen)) == n

    def test_order_id_paging(self, client: SignedClient) -> None:
        """allOrders with orderId returns ids >= it, ascending."""
        rows = _ok(client.get("/fapi/v1/allOrders", {"symbol": "ETHUSDT", "limit": 50}))
        oid = rows[10]["orderId"]
        page = _ok(
            client.get("/fapi/v1/allOrders", {"symbol": "ETHUSDT", "orderId": oid, "limit": 20})
        )
        ids = [r["orderId"] for r in page]
        assert ids[0] == oid and ids == sorted(ids) and len(ids) == 20

    def test_trades_of_one_order(self, client: SignedClient) -> None:
        """userTrades with orderId returns exactly that order's fills."""
        rows = _ok(client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 200}))
        oid = rows[50]["orderId"]
        fills = _ok(client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "orderId": oid}))
        assert fills and {f["orderId"] for f in fills} == {oid}
        order = client.get("/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid}).json()
        total = sum(float(f["qty"]) for f in fills)
        assert abs(total - float(order["executedQty"])) < 1e-9

    def test_order_by_client_id(self, client: SignedClient) -> None:
        """GET /order finds an order by origClientOrderId."""
        o = _ok(client.get("/fapi/v1/allOrders", {"symbol": "ETHUSDT", "limit": 1}))[0]
        got = client.get(
            "/fapi/v1/order", {"symbol": "ETHUSDT", "origClientOrderId": o["clientOrderId"]}
        ).json()
        assert got == o

    def test_open_orders_weight(self, client: SignedClient) -> None:
        """openOrders costs 1 with a symbol and 40 without."""
        a = client.get("/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
        b = client.get("/fapi/v1/openOrders", {})
        wa = int(a.headers["X-MBX-USED-WEIGHT-1M"])
        wb = int(b.headers["X-MBX-USED-WEIGHT-1M"])
        assert wb - wa == 40 or wb < wa  # (a minute boundary resets the count)
        assert {o["status"] for o in b.json()} <= {"NEW", "PARTIALLY_FILLED"}
