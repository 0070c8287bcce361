"""The /_sim/ control surface: activity, truth arguments, stats, info."""

from __future__ import annotations

import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle, running_sim


class TestActivity:
    """POST /_sim/activity adds activity now, visible in REST and truth at once."""

    @pytest.mark.parametrize(
        ("kind", "status"),
        [
            ("fill", "FILLED"),
            ("limit", "NEW"),
            ("cancel", "CANCELED"),
            ("expire", "EXPIRED"),
            ("partial_cancel", "CANCELED"),
        ],
    )
    def test_kinds(self, sim: SimHandle, client: SignedClient, kind: str, status: str) -> None:
        """Each order kind leaves its order in the expected state in REST."""
        done = sim.add_activity(kind=kind, symbol="ETHUSDT", fills=2)
        oid = done["orders"][0]
        got = client.get("/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": oid}).json()
        assert got["status"] == status

    def test_fill_open(self, sim: SimHandle, client: SignedClient) -> None:
        """fill_open fills the oldest resting order."""
        placed = sim.add_activity(kind="limit", symbol="BNBUSDT")["orders"][0]
        done = sim.add_activity(kind="fill_open", symbol="BNBUSDT")
        oid = done["orders"][0]
        got = client.get("/fapi/v1/order", {"symbol": "BNBUSDT", "orderId": oid}).json()
        assert got["status"] == "FILLED" and oid <= placed  # the oldest open one

    def test_many_symbols(self, sim: SimHandle) -> None:
        """``symbols`` adds the activity on each symbol; truth has the new trades."""
        done = sim.add_activity(kind="fill", symbols=["BTCUSDT", "XRPUSDT"], fills=3, count=2)
        assert len(done["orders"]) == 4 and len(done["trades"]) == 12
        truth = sim.truth()
        xrp = {t["id"] for t in truth["trades"] if t["symbol"] == "XRPUSDT"}
        assert set(done["trades"][6:]) <= xrp

    def test_algo(self, sim: SimHandle, client: SignedClient) -> None:
        """algo then algo_cancel: a NEW then CANCELED algo order in allAlgoOrders."""
        aid = sim.add_activity(kind="algo", symbol="ETHUSDT")["algo_orders"][0]
        rows = client.get("/fapi/v1/allAlgoOrders", {"symbol": "ETHUSDT", "algoId": aid}).json()
        assert rows[0]["algoId"] == aid and rows[0]["algoStatus"] == "NEW"

    @pytest.mark.parametrize(
        "spec",
        [
            {"kind": "explode"},
            {"symbol": "NOPEUSDT"},
            {"symbol": "SRMUSDT"},
            {"fills": 0},
            {"count": 5001},
            {"colour": "red"},
        ],
    )
    def test_bad_specs(self, sim: SimHandle, spec: dict[str, object]) -> None:
        """Bad activity specs are refused with a message (400), adding nothing."""
        before = sim.stats()["stream"]["events_published"]
        with pytest.raises(ValueError):
            sim.add_activity(**spec)
        assert sim.stats()["stream"]["events_published"] == before


class TestControlEndpoints:
    """truth, stats, info."""

    def test_truth_bad_range(self, sim: SimHandle) -> None:
        """A non-integer start_ms is a 400 naming it."""
        r = httpx.get(f"{sim.rest_url}/_sim/truth", params={"start_ms": "yesterday"})
        assert r.status_code == 400 and "start_ms" in r.json()["error"]["message"]

    def test_stats_keys(self, sim: SimHandle) -> None:
        """stats reports requests/weight per endpoint, 429/418, stream and trading counts."""
        s = sim.stats()
        assert {
            "requests",
            "weight",
            "served_429",
            "served_418",
            "trading_requests",
            "stream",
            "faults",
        } <= set(s)
        assert "messages_sent" in s["stream"]

    def test_info(self, sim: SimHandle) -> None:
        """info gives the history range and the symbols' roles, never the secret."""
        info = sim.info()
        assert info["history_start_ms"] < info["anchor_ms"] <= info["now_ms"]
        assert "BTCUSDT" in info["active_symbols"] and info["delisted_symbols"] == ["SRMUSDT"]
        assert sim.secret not in httpx.get(f"{sim.rest_url}/_sim/info").text

    def test_usdc_perpetuals(self, client: SignedClient) -> None:
        """exchangeInfo lists several USDC-margined perpetuals."""
        syms = client.get("/fapi/v1/exchangeInfo", signed=False).json()["symbols"]
        usdc = [s for s in syms if s["marginAsset"] == "USDC" and s["contractType"] == "PERPETUAL"]
        assert len(usdc) >= 5


class TestRestart:
    """restart() takes the exchange down and brings it back with the same state."""

    def test_restart_keeps_state(self) -> None:
        """After a restart the same URL serves the same history; the stream was dropped."""
        with running_sim(days=2, symbols_active=2) as s:
            before = s.truth_bytes(end_ms=s.info()["anchor_ms"])
            with SignedClient(s.rest_url, s.api_key, s.secret) as c:
                key = c.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"]
            with connect(f"{s.ws_url}/private/ws/{key}") as ws:
                t0 = time.monotonic()
                s.restart(down_s=0.3)
                assert time.monotonic() - t0 >= 0.3
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=2)
            assert s.truth_bytes(end_ms=s.info()["anchor_ms"]) == before
            with connect(f"{s.ws_url}/private/ws/{key}") as ws2:
                s.add_activity(kind="fill", symbol="BTCUSDT")
                assert "ORDER_TRADE_UPDATE" in ws2.recv(timeout=3)


class TestAlgoTrigger:
    """A triggered algo order places a real order, and both sides say so."""

    def test_trigger(self, sim: SimHandle, client: SignedClient) -> None:
        """algo_trigger: ALGO_UPDATE TRIGGERING/TRIGGERED/FINISHED, the placed order fills."""
        key = client.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"]
        with connect(f"{sim.ws_url}/private/ws/{key}") as ws:
            done = sim.add_activity(kind="algo_trigger", symbol="ETHUSDT")
            msgs = []
            while len(msgs) < 7:
                msgs.append(ws.recv(timeout=3))
        algo_states = [m for m in msgs if '"ALGO_UPDATE"' in m]
        assert [
            '"X":"TRIGGERING"' in algo_states[0],
            '"X":"TRIGGERED"' in algo_states[1],
            '"X":"FINISHED"' in algo_states[2],
        ] == [True, True, True]
        aid, oid = done["algo_orders"][0], done["orders"][0]
        row = client.get("/fapi/v1/allAlgoOrders", {"symbol": "ETHUSDT", "algoId": aid}).json()[0]
        assert row["algoStatus"] == "FINISHED" and row["actualOrderId"] == str(oid)
        order = client.get("/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": oid}).json()
        assert order["status"] == "FILLED" and order["origType"] == row["orderType"]
        fills = client.get("/fapi/v1/userTrades", {"symbol": "ETHUSDT", "orderId": oid}).json()
        assert [f["id"] for f in fills] == done["trades"]


class TestClockOptions:
    """time_offset_ms moves the simulator's clock; anchor_ms pins history's end."""

    def test_time_offset(self) -> None:
        """With a -10-day offset, /time and the history's end are 10 days back."""
        offset = -10 * 86_400_000
        with running_sim(days=2, symbols_active=2, time_offset_ms=offset) as s:
            server = httpx.get(f"{s.rest_url}/fapi/v1/time").json()["serverTime"]
            info = s.info()
        now = int(time.time() * 1000)
        assert abs(server - (now + offset)) < 5000
        assert abs(info["anchor_ms"] - (now + offset)) < 5000

    def test_anchor(self) -> None:
        """anchor_ms fixes where history ends; nothing in truth is later."""
        anchor = int(time.time() * 1000) - 3 * 86_400_000
        with running_sim(days=2, symbols_active=2, anchor_ms=anchor) as s:
            truth = s.truth()
        assert truth["trades"] and max(t["time"] for t in truth["trades"]) < anchor
        assert min(t["time"] for t in truth["trades"]) >= anchor - 2 * 86_400_000
