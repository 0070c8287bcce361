"""Every signing and parameter rule answers with Binance's HTTP status, code and message."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from tests.sim.conftest import payload
from v7d.sim.client import SignedClient, sign
from v7d.sim.testing import SimHandle, running_sim


def _now() -> int:
    return int(time.time() * 1000)


class TestSigning:
    """Key, timestamp, recvWindow and signature checks."""

    def test_valid_signature_accepted(self, client: SignedClient) -> None:
        """A correctly signed request succeeds."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 5})
        assert r.status_code == 200 and len(r.json()) == 5

    def test_bad_signature(self, sim: SimHandle) -> None:
        """A signature made with the wrong secret gives -1022."""
        with SignedClient(sim.rest_url, sim.api_key, "x" * 64) as c:
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        assert r.status_code == 400
        assert r.json() == payload("error_bad_signature")

    def test_tampered_query(self, sim: SimHandle) -> None:
        """Changing one parameter after signing gives -1022 (the exact query string is signed)."""
        qs = sign(sim.secret, {"symbol": "BTCUSDT", "limit": 5, "timestamp": _now()})
        r = httpx.get(
            f"{sim.rest_url}/fapi/v1/userTrades?{qs.replace('limit=5', 'limit=6')}",
            headers={"X-MBX-APIKEY": sim.api_key},
        )
        assert r.json()["code"] == -1022

    def test_parameter_order_is_signed(self, sim: SimHandle) -> None:
        """Reordering signed parameters breaks the signature, as on Binance."""
        ts = _now()
        signed = f"symbol=BTCUSDT&timestamp={ts}"
        sig = hmac.new(sim.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        r = httpx.get(
            f"{sim.rest_url}/fapi/v1/userTrades?timestamp={ts}&symbol=BTCUSDT&signature={sig}",
            headers={"X-MBX-APIKEY": sim.api_key},
        )
        assert r.json()["code"] == -1022

    def test_signature_in_body(self, sim: SimHandle) -> None:
        """POST parameters in a form body are signed too (query + body)."""
        body = sign(
            sim.secret,
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.001",
                "timestamp": _now(),
            },
        )
        r = httpx.post(
            f"{sim.rest_url}/fapi/v1/order",
            content=body,
            headers={
                "X-MBX-APIKEY": sim.api_key,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "FILLED"

    def test_missing_signature(self, sim: SimHandle) -> None:
        """No signature parameter gives -1102 naming 'signature'."""
        r = httpx.get(
            f"{sim.rest_url}/fapi/v1/userTrades?symbol=BTCUSDT&timestamp={_now()}",
            headers={"X-MBX-APIKEY": sim.api_key},
        )
        assert r.status_code == 400 and r.json()["code"] == -1102
        assert "'signature'" in r.json()["msg"]

    def test_missing_timestamp(self, sim: SimHandle) -> None:
        """No timestamp gives -1102 naming 'timestamp'."""
        qs = sign(sim.secret, {"symbol": "BTCUSDT"})
        r = httpx.get(
            f"{sim.rest_url}/fapi/v1/userTrades?{qs}", headers={"X-MBX-APIKEY": sim.api_key}
        )
        assert r.json()["code"] == -1102 and "'timestamp'" in r.json()["msg"]

    def test_unknown_key(self, sim: SimHandle) -> None:
        """An unknown API key gives 401 -2015."""
        with SignedClient(sim.rest_url, "A" * 64, sim.secret) as c:
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        assert r.status_code == 401 and r.json() == payload("error_invalid_key")

    def test_key_format(self, sim: SimHandle) -> None:
        """A malformed API key gives 401 -2014."""
        with SignedClient(sim.rest_url, "not a key!", sim.secret) as c:
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        assert r.status_code == 401 and r.json() == payload("error_key_format")

    def test_missing_key_header(self, sim: SimHandle) -> None:
        """No X-MBX-APIKEY on a signed endpoint gives -2015; listenKey needs it too."""
        qs = sign(sim.secret, {"symbol": "BTCUSDT", "timestamp": _now()})
        assert httpx.get(f"{sim.rest_url}/fapi/v1/userTrades?{qs}").json()["code"] == -2015
        assert httpx.post(f"{sim.rest_url}/fapi/v1/listenKey").json()["code"] == -2015

    def test_timestamp_too_old(self, client: SignedClient) -> None:
        """A timestamp older than recvWindow (5000 ms default) gives -1021."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, timestamp=_now() - 6000)
        assert r.status_code == 400 and r.json() == payload("error_timestamp_recv_window")

    def test_recv_window_widens(self, client: SignedClient) -> None:
        """recvWindow=10000 accepts a 6-second-old timestamp."""
        r = client.get(
            "/fapi/v1/userTrades",
            {"symbol": "BTCUSDT", "recvWindow": 10000},
            timestamp=_now() - 6000,
        )
        assert r.status_code == 200

    def test_timestamp_ahead(self, client: SignedClient) -> None:
        """A timestamp 1000 ms or more ahead of the server gives -1021."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, timestamp=_now() + 3000)
        assert r.json()["code"] == -1021 and "ahead" in r.json()["msg"]

    def test_bad_recv_window(self, client: SignedClient) -> None:
        """recvWindow above 60000 is refused (-1130)."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "recvWindow": 70000})
        assert r.json()["code"] == -1130

    def test_public_needs_nothing(self, sim: SimHandle) -> None:
        """ping, time and exchangeInfo need no key."""
        assert httpx.get(f"{sim.rest_url}/fapi/v1/ping").json() == {}
        assert "serverTime" in httpx.get(f"{sim.rest_url}/fapi/v1/time").json()
        assert httpx.get(f"{sim.rest_url}/fapi/v1/exchangeInfo").status_code == 200


class TestParameterRules:
    """Mandatory parameters, limits, symbols, windows, combinations."""

    @pytest.mark.parametrize(
        "path",
        ["/fapi/v1/userTrades", "/fapi/v1/allOrders", "/fapi/v1/allAlgoOrders", "/fapi/v1/order"],
    )
    def test_symbol_required(self, client: SignedClient, path: str) -> None:
        """Endpoints that need a symbol answer -1102 without one."""
        r = client.get(path, {})
        assert r.status_code == 400 and r.json()["code"] == -1102

    @pytest.mark.parametrize(
        "path",
        ["/fapi/v1/userTrades", "/fapi/v1/allOrders", "/fapi/v1/income", "/fapi/v1/openOrders"],
    )
    def test_invalid_symbol(self, client: SignedClient, path: str) -> None:
        """An unknown symbol gives -1121."""
        assert client.get(path, {"symbol": "DOESNOTEXIST"}).json()["code"] == -1121

    @pytest.mark.parametrize(
        ("path", "maximum"),
        [("/fapi/v1/userTrades", 1000), ("/fapi/v1/allOrders", 1000), ("/fapi/v1/income", 1000)],
    )
    def test_limit_above_maximum(self, client: SignedClient, path: str, maximum: int) -> None:
        """limit above the maximum gives -1130; the maximum itself is fine."""
        assert client.get(path, {"symbol": "BTCUSDT", "limit": maximum + 1}).json()["code"] == -1130
        assert client.get(path, {"symbol": "BTCUSDT", "limit": maximum}).status_code == 200

    def test_malformed_number(self, client: SignedClient) -> None:
        """A non-numeric startTime gives -1102 naming it."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "startTime": "soon"})
        assert r.json()["code"] == -1102 and "startTime" in r.json()["msg"]

    def test_window_too_long_1127(self, client: SignedClient) -> None:
        """A window over 7 days gives -1127 (default switch)."""
        now = _now()
        for path in ("/fapi/v1/userTrades", "/fapi/v1/allOrders"):
            r = client.get(
                path, {"symbol": "BTCUSDT", "startTime": now - 8 * 86_400_000, "endTime": now}
            )
            assert r.json() == payload("error_window_too_long")

    def test_window_too_long_1100(self) -> None:
        """With window_error="-1100" the same request gets -1100 with a legal range."""
        with (
            running_sim(days=3, symbols_active=2, window_error="-1100") as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            now = _now()
            r = c.get(
                "/fapi/v1/userTrades",
                {"symbol": "BTCUSDT", "startTime": now - 8 * 86_400_000, "endTime": now},
            )
        assert r.json()["code"] == -1100 and "legal range" in r.json()["msg"]

    def test_exactly_seven_days_is_fine(self, client: SignedClient) -> None:
        """A window of exactly 7 days is accepted."""
        now = _now()
        r = client.get(
            "/fapi/v1/userTrades",
            {"symbol": "BTCUSDT", "startTime": now - 7 * 86_400_000, "endTime": now},
        )
        assert r.status_code == 200

    def test_from_id_with_time(self, client: SignedClient) -> None:
        """fromId combined with startTime is refused (-1128)."""
        r = client.get(
            "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": 1, "startTime": _now() - 1000}
        )
        assert r.json()["code"] == -1128

    def test_start_after_end(self, client: SignedClient) -> None:
        """startTime after endTime is refused."""
        now = _now()
        r = client.get(
            "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "startTime": now, "endTime": now - 1000}
        )
        assert r.status_code == 400 and r.json()["code"] == -1130

    def test_order_not_found(self, client: SignedClient) -> None:
        """GET /order for an id that does not exist gives -2013."""
        r = client.get("/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 5})
        assert r.json() == payload("error_order_not_found")

    def test_order_needs_an_id(self, client: SignedClient) -> None:
        """GET /order without orderId or origClientOrderId gives -1102."""
        assert client.get("/fapi/v1/order", {"symbol": "BTCUSDT"}).json()["code"] == -1102

    def test_unknown_income_type(self, client: SignedClient) -> None:
        """An unknown incomeType is refused."""
        r = client.get("/fapi/v1/income", {"incomeType": "FREE_MONEY"})
        assert r.json()["code"] == -1100

    def test_unknown_path(self, client: SignedClient) -> None:
        """A path Binance does not have gives 404."""
        assert client.get("/fapi/v1/nothingHere").status_code == 404

    def test_listen_key_keepalive_without_key(self) -> None:
        """PUT listenKey with no active key gives -1125."""
        with (
            running_sim(days=1, symbols_active=1) as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            r = c.request("PUT", "/fapi/v1/listenKey", signed=False)
        assert r.json() == payload("error_listen_key_missing")


class TestTrading:
    """POST/DELETE /fapi/v1/order with simple matching."""

    def test_market_order_fills(self, client: SignedClient, sim: SimHandle) -> None:
        """A MARKET order fills at once and appears in allOrders and userTrades."""
        r = client.request(
            "POST",
            "/fapi/v1/order",
            {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010"},
        )
        o = r.json()
        assert o["status"] == "FILLED" and o["executedQty"] == "0.010"
        got = client.get("/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": o["orderId"]}).json()
        assert got["status"] == "FILLED"
        trades = client.get(
            "/fapi/v1/userTrades", {"symbol": "ETHUSDT", "orderId": o["orderId"]}
        ).json()
        assert len(trades) == 1 and trades[0]["qty"] == "0.010"

    def test_limit_rest_then_cancel(self, client: SignedClient) -> None:
        """A far LIMIT order rests (NEW, in openOrders) and DELETE cancels it."""
        r = client.request(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.002",
                "price": "1000.0",
                "newClientOrderId": "resting-1",
            },
        )
        assert r.json()["status"] == "NEW"
        opens = client.get("/fapi/v1/openOrders", {"symbol": "BTCUSDT"}).json()
        assert any(o["clientOrderId"] == "resting-1" for o in opens)
        c = client.request(
            "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "resting-1"}
        )
        assert c.json()["status"] == "CANCELED"
        again = client.request(
            "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "resting-1"}
        )
        assert again.json()["code"] == -2011

    def test_ioc_and_gtx(self, client: SignedClient) -> None:
        """A non-marketable IOC expires; a marketable GTX (post-only) expires."""
        ioc = client.request(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "IOC",
                "quantity": "0.002",
                "price": "1000.0",
            },
        ).json()
        assert ioc["status"] == "EXPIRED"
        gtx = client.request(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTX",
                "quantity": "0.002",
                "price": "900000.0",
            },
        ).json()
        assert gtx["status"] == "EXPIRED"

    def test_order_errors(self, client: SignedClient) -> None:
        """Precision, conditional types, position side and symbol status are checked."""
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
        assert (
            client.request("POST", "/fapi/v1/order", {**base, "quantity": "0.0001"}).json()["code"]
            == -1111
        )
        assert (
            client.request(
                "POST", "/fapi/v1/order", {**base, "type": "STOP_MARKET", "quantity": "0.001"}
            ).json()["code"]
            == -4120
        )
        assert (
            client.request(
                "POST", "/fapi/v1/order", {**base, "quantity": "0.001", "positionSide": "LONG"}
            ).json()["code"]
            == -4061
        )
        assert (
            client.request(
                "POST", "/fapi/v1/order", {**base, "symbol": "SRMUSDT", "quantity": "1"}
            ).json()["code"]
            == -4140
        )

    def test_trading_requests_counted(self, sim: SimHandle, client: SignedClient) -> None:
        """POST/DELETE /fapi/v1/order are counted as trading requests in /_sim/stats."""
        before = sim.stats()["trading_requests"]
        client.request("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 1})
        assert sim.stats()["trading_requests"] == before + 1
