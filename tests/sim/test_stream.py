"""User-data stream: listenKey life, routed URLs, event filter, expiry, age, pings, live mode."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle, running_sim


def _key(sim: SimHandle) -> str:
    with SignedClient(sim.rest_url, sim.api_key, sim.secret) as c:
        r = c.request("POST", "/fapi/v1/listenKey", signed=False)
    return str(r.json()["listenKey"])


def _drain(ws: ClientConnection, timeout: float = 0.5, max_s: float = 10.0) -> list[dict[str, Any]]:
    """Messages until none comes for ``timeout`` seconds (or ``max_s`` passed)."""
    out = []
    deadline = time.monotonic() + max_s
    try:
        while time.monotonic() < deadline:
            out.append(json.loads(ws.recv(timeout=timeout)))
    except TimeoutError:
        pass
    return out


def _closed_within(ws: ClientConnection, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except TimeoutError:
        return False
    except ConnectionClosed:
        return True
    return False


class TestListenKey:
    """POST/PUT/DELETE /fapi/v1/listenKey."""

    def test_post_returns_the_active_key(self, sim: SimHandle) -> None:
        """A second POST while a key is active returns the same key."""
        assert _key(sim) == _key(sim)

    def test_delete_then_connect_refused(self) -> None:
        """After DELETE, connecting with the old key is refused."""
        with running_sim(days=1, symbols_active=1) as s:
            key = _key(s)
            with SignedClient(s.rest_url, s.api_key, s.secret) as c:
                assert c.request("DELETE", "/fapi/v1/listenKey", signed=False).json() == {}
            with pytest.raises(InvalidStatus):
                connect(f"{s.ws_url}/private/ws/{key}")

    def test_delete_closes_quietly(self) -> None:
        """DELETE closes the key's connections without a listenKeyExpired event."""
        with running_sim(days=1, symbols_active=1) as s:
            key = _key(s)
            with connect(f"{s.ws_url}/private/ws/{key}") as ws:
                with SignedClient(s.rest_url, s.api_key, s.secret) as c:
                    c.request("DELETE", "/fapi/v1/listenKey", signed=False)
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=2)
            assert "listenKeyExpired" not in s.stats()["stream"]["messages_sent"]

    def test_unknown_key_refused(self, sim: SimHandle) -> None:
        """A made-up listenKey is refused at the handshake."""
        with pytest.raises(InvalidStatus):
            connect(f"{sim.ws_url}/private/ws/{'x' * 64}")

    def test_keepalive_extends_then_expiry(self) -> None:
        """PUT keeps a 1-second key alive; without it, listenKeyExpired comes and the socket closes."""
        with running_sim(days=1, symbols_active=1, time_scale=3600) as s:
            key = _key(s)
            with (
                SignedClient(s.rest_url, s.api_key, s.secret) as c,
                connect(f"{s.ws_url}/private/ws/{key}") as ws,
            ):
                for _ in range(6):
                    time.sleep(0.3)
                    assert c.request("PUT", "/fapi/v1/listenKey", signed=False).status_code == 200
                msg = json.loads(ws.recv(timeout=3))
                assert msg["e"] == "listenKeyExpired"
                assert _closed_within(ws, 2)
                assert c.request("PUT", "/fapi/v1/listenKey", signed=False).json()["code"] == -1125
                assert _key(s) != key


class TestRoutes:
    """Both routed URL forms and the events allow-list."""

    def test_query_form_with_events_filter(self, sim: SimHandle) -> None:
        """/private/ws?listenKey=..&events=ORDER_TRADE_UPDATE sends only that event type."""
        key = _key(sim)
        url = f"{sim.ws_url}/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE/listenKeyExpired"
        with connect(url) as ws:
            sim.add_activity(kind="fill", symbol="BTCUSDT", fills=2)
            msgs = _drain(ws)
        assert [m["e"] for m in msgs] == ["ORDER_TRADE_UPDATE"] * 3
        assert [m["o"]["x"] for m in msgs] == ["NEW", "TRADE", "TRADE"]

    def test_path_form_sends_everything(self, sim: SimHandle) -> None:
        """/private/ws/<key> sends every event type, E never going backwards."""
        key = _key(sim)
        with connect(f"{sim.ws_url}/private/ws/{key}") as ws:
            sim.add_activity(kind="partial_cancel", symbol="ETHUSDT", fills=2)
            msgs = _drain(ws)
        kinds = [m["e"] for m in msgs]
        assert kinds.count("ORDER_TRADE_UPDATE") == 4 and kinds.count("TRADE_LITE") == 2
        assert msgs[-1]["o"]["X"] == "CANCELED"
        es = [int(m["E"]) for m in msgs]
        assert es == sorted(es)

    def test_drop_connections(self, sim: SimHandle) -> None:
        """drop_connections() closes open stream connections."""
        key = _key(sim)
        with connect(f"{sim.ws_url}/private/ws/{key}") as ws:
            time.sleep(0.1)
            assert sim.drop_connections() >= 1
            assert _closed_within(ws, 2)


class TestConnectionLimits:
    """24-hour connection age and ping/pong, divided by time_scale."""

    def test_max_connection_age(self) -> None:
        """A connection is closed after 24 h (2 s at time_scale 43200) even with a live key."""
        with running_sim(days=1, symbols_active=1, time_scale=43_200) as s:
            key = _key(s)
            s.sim.keys.expires_at = 2**62  # keep the key alive; only the age limit applies
            with connect(f"{s.ws_url}/private/ws/{key}") as ws:
                t0 = time.monotonic()
                assert _closed_within(ws, 5)
                assert 1.5 < time.monotonic() - t0 < 4.5

    def test_client_without_pong_is_dropped(self) -> None:
        """The server pings; a client that never answers is dropped, one that does stays."""
        with running_sim(days=1, symbols_active=1, time_scale=600) as s:
            key = _key(s)
            s.sim.keys.expires_at = 2**62
            port = int(s.rest_url.rsplit(":", 1)[1])
            raw = socket.create_connection(("127.0.0.1", port))
            nonce = base64.b64encode(os.urandom(16)).decode()
            raw.sendall(
                f"GET /private/ws/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            with connect(f"{s.ws_url}/private/ws/{key}") as polite:
                raw.settimeout(6)
                data = b""
                t0 = time.monotonic()
                while chunk := raw.recv(4096):
                    data += chunk
                elapsed = time.monotonic() - t0
                assert b"101 Switching Protocols" in data
                assert b"\x89" in data  # a ping frame reached the silent client
                assert elapsed < 5
                assert not _closed_within(polite, 0.5)
            raw.close()


class TestLiveMode:
    """Live activity goes to the stream at once and to REST and truth."""

    def test_live_events(self) -> None:
        """With live_rate, events stream in and their orders are in REST and truth."""
        with running_sim(days=1, symbols_active=3, live_rate=40) as s:
            key = _key(s)
            with connect(f"{s.ws_url}/private/ws/{key}") as ws:
                msgs = _drain(ws, timeout=1.0, max_s=2.0)
            updates = [m for m in msgs if m["e"] == "ORDER_TRADE_UPDATE"]
            assert len(updates) >= 10
            truth = s.truth()
            with SignedClient(s.rest_url, s.api_key, s.secret) as c:
                last = updates[-1]["o"]
                r = c.get("/fapi/v1/order", {"symbol": last["s"], "orderId": last["i"]})
                assert r.status_code == 200
            ids = {(o["symbol"], o["order_id"]) for o in truth["orders"]}
            assert all((m["o"]["s"], m["o"]["i"]) in ids for m in updates)
            trade_ids = {(t["symbol"], t["id"]) for t in truth["trades"]}
            fills = [m["o"] for m in updates if m["o"]["x"] in ("TRADE", "CALCULATED")]
            assert fills and all((f["s"], f["t"]) in trade_ids for f in fills)
            assert s.stats()["stream"]["messages_sent_total"] >= len(msgs)
