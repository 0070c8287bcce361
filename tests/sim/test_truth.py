"""Ground truth: deterministic per seed, and equal to what REST returns when paged fully."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from v7d.sim.client import SignedClient
from v7d.sim.rows import algo_truth, income_truth, order_truth, trade_truth
from v7d.sim.testing import SimHandle, running_sim

DAY = 86_400_000


@pytest.fixture(scope="module")
def tsim() -> Iterator[SimHandle]:
    """A simulator of its own (no other test adds activity to it)."""
    with running_sim(seed=5, days=12, trades_per_day=300, symbols_active=7) as s:
        yield s


@pytest.fixture(scope="module")
def truth(tsim: SimHandle) -> dict[str, Any]:
    """The full truth of ``tsim``."""
    return tsim.truth()


def _strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k != "retrievable"} for i in items if i["retrievable"]]


def _page_trades(c: SignedClient, symbol: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    from_id = 0
    while True:
        rows = c.get(
            "/fapi/v1/userTrades", {"symbol": symbol, "fromId": from_id, "limit": 1000}
        ).json()
        out.extend(rows)
        if len(rows) < 1000:
            return out
        from_id = rows[-1]["id"] + 1


def _page_orders(c: SignedClient, symbol: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    oid = 0
    while True:
        rows = c.get("/fapi/v1/allOrders", {"symbol": symbol, "orderId": oid, "limit": 1000}).json()
        out.extend(rows)
        if len(rows) < 1000:
            return out
        oid = rows[-1]["orderId"] + 1


def _page_windows(
    c: SignedClient, path: str, start: int, end: int, **extra: Any
) -> list[dict[str, Any]]:
    """Walk [start, end] in 7-day windows, paging each by ``page``."""
    out: list[dict[str, Any]] = []
    lo = start
    while lo <= end:
        hi = min(lo + 7 * DAY, end)
        page = 1
        while True:
            rows = c.get(
                path, {**extra, "startTime": lo, "endTime": hi, "page": page, "limit": 1000}
            ).json()
            out.extend(rows)
            if len(rows) < 1000:
                break
            page += 1
        lo = hi + 1
    return out


class TestDeterminism:
    """Same seed, same history; another seed, another history."""

    def test_same_seed_byte_identical(self) -> None:
        """Two simulators with the same seed and anchor serve byte-identical truth."""
        anchor = 1_790_000_000_000
        with (
            running_sim(seed=3, days=5, anchor_ms=anchor) as a,
            running_sim(seed=3, days=5, anchor_ms=anchor) as b,
        ):
            ta, tb = a.truth_bytes(end_ms=anchor), b.truth_bytes(end_ms=anchor)
        assert ta == tb
        assert len(ta) > 100_000

    def test_other_seed_differs(self) -> None:
        """A different seed gives different history."""
        anchor = 1_790_000_000_000
        with (
            running_sim(seed=3, days=2, anchor_ms=anchor) as a,
            running_sim(seed=4, days=2, anchor_ms=anchor) as b,
        ):
            assert a.truth_bytes(end_ms=anchor) != b.truth_bytes(end_ms=anchor)

    def test_access_order_does_not_matter(self) -> None:
        """Generating days in another order (a REST query first) gives the same truth."""
        anchor = 1_790_000_000_000
        with (
            running_sim(seed=8, days=4, anchor_ms=anchor) as a,
            running_sim(seed=8, days=4, anchor_ms=anchor) as b,
        ):
            with SignedClient(b.rest_url, b.api_key, b.secret) as c:
                c.get("/fapi/v1/income", {"startTime": anchor - DAY, "endTime": anchor})
            assert a.truth_bytes(end_ms=anchor) == b.truth_bytes(end_ms=anchor)


class TestTruthMatchesRest:
    """Truth equals REST paged completely, row for row and string for string."""

    def test_trades(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """userTrades paged by fromId gives exactly the truth's trades, per symbol."""
        symbols = sorted({t["symbol"] for t in truth["trades"]})
        assert len(symbols) >= 5
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            for s in symbols:
                rest = [trade_truth(r) for r in _page_trades(c, s)]
                want = [t for t in _strip(truth["trades"]) if t["symbol"] == s]
                assert rest == want, s

    def test_orders(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """allOrders paged by orderId gives exactly the retrievable orders, per symbol."""
        symbols = sorted({t["symbol"] for t in truth["orders"]})
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            for s in symbols:
                rest = [order_truth(r) for r in _page_orders(c, s)]
                want = [t for t in _strip(truth["orders"]) if t["symbol"] == s]
                assert rest == want, s

    def test_income(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """income walked in 7-day windows with ``page`` gives exactly the truth's income."""
        info = tsim.info()
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            rows = _page_windows(c, "/fapi/v1/income", info["history_start_ms"], info["anchor_ms"])
        key = lambda r: (r["income_type"], r["tran_id"])  # noqa: E731
        rest = sorted((income_truth(r) for r in rows), key=key)
        want = sorted(_strip(truth["income"]), key=key)
        assert len(rest) == len(want)
        assert rest == want

    def test_algo_orders(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """allAlgoOrders walked in windows gives the truth's algo orders."""
        info = tsim.info()
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            for s in sorted({a["symbol"] for a in truth["algo_orders"]}):
                rows = _page_windows(
                    c,
                    "/fapi/v1/allAlgoOrders",
                    info["history_start_ms"],
                    info["anchor_ms"],
                    symbol=s,
                )
                want = [a for a in _strip(truth["algo_orders"]) if a["symbol"] == s]
                assert [algo_truth(r) for r in rows] == want

    def test_range_is_half_open(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """truth?start_ms&end_ms keeps start <= time < end."""
        t0 = truth["trades"][100]["time"]
        t1 = truth["trades"][200]["time"]
        part = tsim.truth(start_ms=t0, end_ms=t1)
        assert part["trades"] == [t for t in truth["trades"] if t0 <= t["time"] < t1]
        assert all(t0 <= i["time"] < t1 for i in part["income"])

    def test_truth_fields(self, truth: dict[str, Any]) -> None:
        """Truth items carry DESIGN.md's fields plus ``retrievable``."""
        assert set(truth["trades"][0]) == {
            "account",
            "symbol",
            "id",
            "order_id",
            "side",
            "position_side",
            "price",
            "qty",
            "quote_qty",
            "realized_pnl",
            "commission",
            "commission_asset",
            "maker",
            "time",
            "retrievable",
        }
        assert set(truth["orders"][0]) == {
            "account",
            "symbol",
            "order_id",
            "client_order_id",
            "side",
            "position_side",
            "type",
            "orig_type",
            "status",
            "time_in_force",
            "price",
            "avg_price",
            "stop_price",
            "orig_qty",
            "executed_qty",
            "cum_quote",
            "reduce_only",
            "time",
            "update_time",
            "retrievable",
        }
        assert set(truth["income"][0]) == {
            "account",
            "symbol",
            "income_type",
            "income",
            "asset",
            "info",
            "time",
            "tran_id",
            "trade_id",
            "retrievable",
        }
        assert {t["account"] for t in truth["trades"]} == {"default"}


class TestHardCases:
    """The cases real accounts have are all present in a default history."""

    def test_sweep_in_one_millisecond(self, truth: dict[str, Any]) -> None:
        """More than 1,000 trades share one millisecond (one order swept by many fills)."""
        per_ms = Counter((t["symbol"], t["time"]) for t in truth["trades"])
        (_sym, _t), n = per_ms.most_common(1)[0]
        assert n > 1000
        orders = {t["order_id"] for t in truth["trades"] if (t["symbol"], t["time"]) == (_sym, _t)}
        assert len(orders) == 1

    def test_income_sharing_one_time(self, truth: dict[str, Any]) -> None:
        """More than 1,000 income rows share one timestamp; tranId repeats across types only."""
        per_ms = Counter(i["time"] for i in truth["income"])
        assert per_ms.most_common(1)[0][1] > 1000
        keys = Counter((i["income_type"], i["tran_id"]) for i in truth["income"])
        assert keys.most_common(1)[0][1] == 1
        assert len({i["tran_id"] for i in truth["income"]}) < len(truth["income"])

    def test_thousands_of_trades_in_a_week(self, truth: dict[str, Any]) -> None:
        """One symbol has thousands of trades in one 7-day window."""
        last = truth["trades"][-1]["time"]
        week = [
            t for t in truth["trades"] if t["symbol"] == "BTCUSDT" and t["time"] > last - 7 * DAY
        ]
        assert len(week) >= 2000

    def test_order_life_cycles(self, truth: dict[str, Any]) -> None:
        """Partial fill then cancel, expiries, late fills, liquidation and ADL orders exist."""
        orders = truth["orders"]
        assert any(o["status"] == "CANCELED" and o["executed_qty"] != "0" for o in orders)
        assert any(o["status"] == "CANCELED" and o["executed_qty"] == "0" for o in orders)
        assert any(o["status"] == "EXPIRED" for o in orders)
        assert any(
            o["status"] == "FILLED" and o["update_time"] - o["time"] > 3_600_000 for o in orders
        )
        assert any(o["client_order_id"].startswith("autoclose-") for o in orders)
        assert any(o["client_order_id"] == "adl_autoclose" for o in orders)
        assert any(o["orig_type"] == "TRAILING_STOP_MARKET" for o in orders)
        assert any(o["status"] in ("NEW", "PARTIALLY_FILLED") for o in orders)

    def test_assets_and_symbols(self, tsim: SimHandle, truth: dict[str, Any]) -> None:
        """USDC margin, BNB commission, a delisted symbol and a funding-only symbol exist."""
        assert any(t["commission_asset"] == "BNB" for t in truth["trades"])
        assert any(i["asset"] == "USDC" for i in truth["income"])
        traded = {t["symbol"] for t in truth["trades"]}
        funded = {i["symbol"] for i in truth["income"] if i["income_type"] == "FUNDING_FEE"}
        assert funded - traded  # e.g. SOLUSDT: a position, no trades
        delisted = tsim.info()["delisted_symbols"]
        assert delisted and delisted[0] in traded
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            listed = {
                s["symbol"] for s in c.get("/fapi/v1/exchangeInfo", signed=False).json()["symbols"]
            }
        assert delisted[0] not in listed
        assert any(i["symbol"] == "" and i["income_type"] == "TRANSFER" for i in truth["income"])

    def test_decimals(self, truth: dict[str, Any]) -> None:
        """Tiny prices and huge quantities are exact decimal strings."""
        pepe = [t for t in truth["trades"] if t["symbol"] == "1000PEPEUSDT"]
        assert pepe
        assert all(t["price"].startswith("0.0") and len(t["price"]) == 9 for t in pepe)
        assert max(int(t["qty"]) for t in pepe) >= 1_000_000
        assert all(isinstance(t["commission"], str) for t in truth["trades"])

    def test_exchange_info(self, tsim: SimHandle) -> None:
        """exchangeInfo lists hundreds of symbols of several kinds and the sim's limits."""
        with SignedClient(tsim.rest_url, tsim.api_key, tsim.secret) as c:
            info = c.get("/fapi/v1/exchangeInfo", signed=False).json()
        syms = info["symbols"]
        assert len(syms) >= 250
        assert {s["contractType"] for s in syms} >= {"PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER"}
        assert {s["marginAsset"] for s in syms} >= {"USDT", "USDC"}
        assert any(s["status"] != "TRADING" for s in syms)
        limits = {(r["rateLimitType"], r["interval"]): r["limit"] for r in info["rateLimits"]}
        assert limits[("REQUEST_WEIGHT", "MINUTE")] == 2400
