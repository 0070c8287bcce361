"""The simulator's REST answers and stream events have Binance's shapes, key for key.

The reference shapes are tests/payloads/*.json (written from the Binance docs); the sync
engine's parser tests read the same files, so the simulator cannot drift from them.
"""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

from tests.sim.conftest import payload, same_shape
from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle, running_sim


def _all(client: SignedClient, path: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(path, params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class TestRestShapes:
    """Every REST item matches its payload file."""

    def test_user_trades(self, client: SignedClient) -> None:
        """userTrades items have the fields and types of rest_user_trade.json."""
        rows = _all(client, "/fapi/v1/userTrades", symbol="BTCUSDT", limit=1000)
        assert rows
        for r in rows:
            same_shape(r, payload("rest_user_trade"))

    def test_orders(self, client: SignedClient) -> None:
        """allOrders items match the filled/canceled/trailing order files."""
        rows = _all(client, "/fapi/v1/allOrders", symbol="BTCUSDT", limit=1000)
        statuses = {r["status"] for r in rows}
        assert {"FILLED", "CANCELED"} <= statuses
        for r in rows:
            if r["origType"] == "TRAILING_STOP_MARKET":
                same_shape(r, payload("rest_order_trailing"))
            else:
                same_shape(r, payload("rest_order_filled"))
                same_shape(r, payload("rest_order_canceled"))

    def test_income(self, client: SignedClient) -> None:
        """Income items match the funding, commission and realized-pnl files."""
        rows = _all(client, "/fapi/v1/income", limit=1000)
        types = {r["incomeType"] for r in rows}
        assert {"FUNDING_FEE", "COMMISSION", "REALIZED_PNL"} <= types
        for r in rows:
            same_shape(r, payload("rest_income_funding"))

    def test_algo_orders(self, client: SignedClient) -> None:
        """allAlgoOrders items match rest_algo_order.json."""
        rows = _all(client, "/fapi/v1/allAlgoOrders", symbol="BTCUSDT", limit=1000)
        assert rows
        for r in rows:
            same_shape(r, payload("rest_algo_order"))

    def test_positions_accounts_balance(self, client: SignedClient) -> None:
        """positionRisk v2/v3, account v2/v3 and balance match their files."""
        v3 = _all(client, "/fapi/v3/positionRisk")
        assert v3 and all(r["positionAmt"] not in ("0", "0.000") for r in v3)
        for r in v3:
            same_shape(r, payload("rest_position_risk_v3"))
        for r in _all(client, "/fapi/v2/positionRisk"):
            same_shape(r, payload("rest_position_risk_v2"))
        same_shape(client.get("/fapi/v3/account").json(), payload("rest_account_v3"))
        same_shape(client.get("/fapi/v2/account").json(), payload("rest_account_v2"))
        for r in _all(client, "/fapi/v2/balance"):
            same_shape(r, payload("rest_balance_v2"))

    def test_time_and_listen_key(self, client: SignedClient) -> None:
        """/time and POST listenKey match their files."""
        same_shape(client.get("/fapi/v1/time", signed=False).json(), payload("rest_server_time"))
        r = client.request("POST", "/fapi/v1/listenKey", signed=False)
        same_shape(r.json(), payload("rest_listen_key"))


class TestStreamShapes:
    """Stream events match the ws_*.json files."""

    def test_fill_events(self, sim: SimHandle, client: SignedClient) -> None:
        """A market fill sends ORDER_TRADE_UPDATE (NEW, TRADE), TRADE_LITE, ACCOUNT_UPDATE."""
        key = client.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"]
        with connect(f"{sim.ws_url}/private/ws/{key}") as ws:
            sim.add_activity(kind="fill", symbol="ETHUSDT", fills=2)
            msgs = [json.loads(ws.recv(timeout=5)) for _ in range(7)]
        kinds = [(m["e"], m.get("o", {}).get("x")) for m in msgs]
        assert kinds[0] == ("ORDER_TRADE_UPDATE", "NEW")
        assert kinds[1:4] == [
            ("ORDER_TRADE_UPDATE", "TRADE"),
            ("TRADE_LITE", None),
            ("ACCOUNT_UPDATE", None),
        ]
        same_shape(msgs[0], payload("ws_order_trade_update_new"))
        same_shape(msgs[1], payload("ws_order_trade_update_partial_fill"))
        assert msgs[1]["o"]["X"] == "PARTIALLY_FILLED" and msgs[4]["o"]["X"] == "FILLED"
        same_shape(msgs[2], payload("ws_trade_lite"))
        same_shape(msgs[3], payload("ws_account_update"))

    def test_liquidation_expired_funding_algo(self, sim: SimHandle, client: SignedClient) -> None:
        """Liquidation, expiry, funding and algo events match their files."""
        key = client.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"]
        with connect(f"{sim.ws_url}/private/ws/{key}") as ws:
            sim.add_activity(kind="liquidation", symbol="BTCUSDT")
            liq = [json.loads(ws.recv(timeout=5)) for _ in range(4)]
            sim.add_activity(kind="expire", symbol="BTCUSDT")
            exp = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
            sim.add_activity(kind="funding", symbol="SOLUSDT")
            fund = json.loads(ws.recv(timeout=5))
            sim.add_activity(kind="algo", symbol="BTCUSDT")
            algo = json.loads(ws.recv(timeout=5))
        calc = liq[1]
        assert calc["o"]["x"] == "CALCULATED" and calc["o"]["c"].startswith("autoclose-")
        same_shape(calc, payload("ws_order_trade_update_liquidation"))
        assert exp[1]["o"]["x"] == "EXPIRED"
        same_shape(exp[1], payload("ws_order_trade_update_expired"))
        assert fund["a"]["m"] == "FUNDING_FEE"
        same_shape(fund, payload("ws_account_update_funding"))
        same_shape(algo, payload("ws_algo_update"))

    def test_listen_key_expired(self) -> None:
        """An expiring key sends listenKeyExpired shaped like its file."""
        with running_sim(days=1, symbols_active=1, time_scale=3600) as s:
            with SignedClient(s.rest_url, s.api_key, s.secret) as c:
                key = c.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"]
            with connect(f"{s.ws_url}/private/ws/{key}") as ws:
                msg = json.loads(ws.recv(timeout=5))
        same_shape(msg, payload("ws_listen_key_expired"))
        assert msg["listenKey"] == key


class TestErrorShapes:
    """Error bodies are {"code": int, "msg": str}."""

    def test_error_bodies(self, client: SignedClient) -> None:
        """Each error the sim answers has the error_*.json shape."""
        r = client.get("/fapi/v1/userTrades", {"symbol": "NOPE"})
        assert r.json() == payload("error_invalid_symbol")
        r = client.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 1001})
        assert r.json() == payload("error_invalid_limit")
        r = client.get("/fapi/v1/allOrders", {})
        assert r.json() == payload("error_mandatory_param")
