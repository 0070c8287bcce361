"""ccxt's binanceusdm, pointed at the simulator, signs and parses like against Binance."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from v7d.sim.testing import SimHandle

ccxt = pytest.importorskip("ccxt.async_support")


@pytest_asyncio.fixture
async def exchange(sim: SimHandle) -> AsyncIterator[Any]:
    """A binanceusdm instance whose fapi* URLs point at the simulator."""
    ex = ccxt.binanceusdm({"apiKey": sim.api_key, "secret": sim.secret, "enableRateLimit": False})
    for name, url in list(ex.urls["api"].items()):
        if name.startswith("fapi"):
            ex.urls["api"][name] = url.replace("https://fapi.binance.com", sim.rest_url)
    try:
        yield ex
    finally:
        await ex.close()


class TestCcxt:
    """Raw fapi methods of ccxt work unchanged against the simulator."""

    async def test_fetch_history(self, exchange: Any) -> None:
        """userTrades, allOrders, income and allAlgoOrders come back as Binance JSON."""
        trades = await exchange.fapiPrivateGetUserTrades({"symbol": "BTCUSDT", "limit": 50})
        assert len(trades) == 50 and {"id", "orderId", "commission"} <= set(trades[0])
        orders = await exchange.fapiPrivateGetAllOrders({"symbol": "BTCUSDT", "limit": 20})
        assert len(orders) == 20 and "clientOrderId" in orders[0]
        income = await exchange.fapiPrivateGetIncome({"limit": 30, "page": 2})
        assert len(income) == 30 and "tranId" in income[0]
        algos = await exchange.fapiPrivateGetAllAlgoOrders({"symbol": "ETHUSDT"})
        assert isinstance(algos, list)
        risk = await exchange.fapiPrivateV3GetPositionRisk()
        account = await exchange.fapiPrivateV3GetAccount()
        assert risk and "assets" in account

    async def test_time_and_listen_key(self, exchange: Any) -> None:
        """Public time and the listenKey calls work through ccxt."""
        t = await exchange.fapiPublicGetTime()
        assert abs(int(t["serverTime"]) - time.time() * 1000) < 5000
        key = await exchange.fapiPrivatePostListenKey()
        assert len(key["listenKey"]) == 64
        again = await exchange.fapiPrivatePutListenKey()
        assert again["listenKey"] == key["listenKey"]

    async def test_place_and_cancel(self, exchange: Any) -> None:
        """An order placed and canceled through ccxt's raw methods (body-signed POST)."""
        placed = await exchange.fapiPrivatePostOrder(
            {
                "symbol": "ETHUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
                "price": "100.00",
                "newClientOrderId": "ccxt-test-1",
            }
        )
        assert placed["status"] == "NEW"
        canceled = await exchange.fapiPrivateDeleteOrder(
            {"symbol": "ETHUSDT", "orderId": placed["orderId"]}
        )
        assert canceled["status"] == "CANCELED"
        got = await exchange.fapiPrivateGetOrder(
            {"symbol": "ETHUSDT", "origClientOrderId": "ccxt-test-1"}
        )
        assert got["status"] == "CANCELED"

    async def test_errors_map_to_ccxt_classes(self, exchange: Any, sim: SimHandle) -> None:
        """Binance error codes from the sim raise the ccxt classes Binance's would."""
        with pytest.raises(ccxt.BadSymbol):
            await exchange.fapiPrivateGetUserTrades({"symbol": "NOPE"})
        with pytest.raises(ccxt.OrderNotFound):
            await exchange.fapiPrivateGetOrder({"symbol": "BTCUSDT", "orderId": 1})
        exchange.secret = "0" * 64
        with pytest.raises(ccxt.AuthenticationError):
            await exchange.fapiPrivateGetUserTrades({"symbol": "BTCUSDT"})


class TestCcxtUnified:
    """ccxt's unified methods parse the simulator's exchangeInfo and answers."""

    async def test_unified(self, exchange: Any) -> None:
        """load_markets, fetch_my_trades, fetch_orders, create/cancel, funding history."""
        exchange.options["fetchCurrencies"] = False
        markets = await exchange.load_markets()
        assert "BTC/USDT:USDT" in markets and "BTC/USDC:USDC" in markets
        trades = await exchange.fetch_my_trades("BTC/USDT:USDT", limit=5)
        assert len(trades) == 5 and trades[0]["fee"]["currency"] in ("USDT", "BNB")
        orders = await exchange.fetch_orders("ETH/USDT:USDT", limit=5)
        assert {o["status"] for o in orders} <= {"open", "closed", "canceled", "expired"}
        placed = await exchange.create_order("ETH/USDT:USDT", "limit", "buy", 0.01, 100)
        assert placed["status"] == "open"
        canceled = await exchange.cancel_order(placed["id"], "ETH/USDT:USDT")
        assert canceled["status"] == "canceled"
        funding = await exchange.fetch_funding_history("SOL/USDT:USDT", limit=3)
        assert len(funding) == 3
