"""Environment → REST/WebSocket roots, and exchangeInfo's weight limit."""

from __future__ import annotations

import pytest

from v7d.binance.hosts import resolve_urls
from v7d.binance.rest import BinanceRest, request_weight_limit
from v7d.errors import ConfigError


class TestHosts:
    def test_live_and_testnet(self) -> None:
        """live and testnet have fixed roots; the stream path is added by the client."""
        assert resolve_urls("live") == ("https://fapi.binance.com", "wss://fstream.binance.com")
        assert resolve_urls("testnet")[0] == "https://demo-fapi.binance.com"

    def test_custom_takes_the_given_urls(self) -> None:
        """custom uses rest_url and ws_url as given, without a trailing slash."""
        urls = resolve_urls("custom", "http://127.0.0.1:9900/", "ws://127.0.0.1:9900")
        assert urls == ("http://127.0.0.1:9900", "ws://127.0.0.1:9900")

    @pytest.mark.parametrize(
        ("env", "rest", "ws", "key"),
        [
            ("mainnet", "", "", "environment"),
            ("custom", "ftp://x", "ws://x", "rest_url"),
            ("custom", "http://x", "http://x", "ws_url"),
        ],
    )
    def test_bad_values_name_the_key(self, env: str, rest: str, ws: str, key: str) -> None:
        """A bad environment or URL is refused with the key's name."""
        with pytest.raises(ConfigError, match=key):
            resolve_urls(env, rest, ws)


class TestWeightLimit:
    def test_request_weight_per_minute(self) -> None:
        """The REQUEST_WEIGHT per-1-minute rule is the limit; other rules are ignored."""
        info = {
            "rateLimits": [
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                },
            ]
        }
        assert request_weight_limit(info) == 2400
        assert request_weight_limit({}) is None

    def test_weights_follow_the_reference(self) -> None:
        """Endpoint weights match shared/reference/binance-usdm.md §4."""
        w = BinanceRest.WEIGHTS
        assert (w["userTrades"], w["allOrders"], w["income"], w["allAlgoOrders"]) == (5, 5, 30, 5)
        assert (w["openOrders"], w["openOrdersAll"], w["listenKey"], w["exchangeInfo"]) == (
            1,
            40,
            1,
            1,
        )
