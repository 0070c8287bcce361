"""Fault profiles on the real server, and reproducible fault schedules."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.sim.conftest import wait_fresh_minute
from v7d.sim.client import SignedClient
from v7d.sim.faults import PROFILES, FaultInjector
from v7d.sim.testing import SimHandle, running_sim


@pytest.fixture
def fsim() -> SimHandle:
    """A small simulator per test (faults are global to a simulator)."""
    with running_sim(days=1, symbols_active=2) as s:
        yield s  # type: ignore[misc]


def _key(s: SimHandle) -> str:
    with SignedClient(s.rest_url, s.api_key, s.secret) as c:
        return str(c.request("POST", "/fapi/v1/listenKey", signed=False).json()["listenKey"])


class TestSchedules:
    """Fault decisions are a pure function of (seed, profile, rates)."""

    @given(seed=st.integers(0, 10**6), profile=st.sampled_from(sorted(PROFILES)))
    @settings(max_examples=30, deadline=None)
    def test_same_seed_same_schedule(self, seed: int, profile: str) -> None:
        """Two injectors with the same seed and profile decide identically."""
        a, b = FaultInjector(seed, profile), FaultInjector(seed, profile)
        assert [a.rest() for _ in range(200)] == [b.rest() for _ in range(200)]
        assert [a.ws_lifetime_s() for _ in range(20)] == [b.ws_lifetime_s() for _ in range(20)]

    def test_rates_are_respected(self) -> None:
        """The share of each fault kind follows its rate."""
        inj = FaultInjector(1, "flaky", p_5xx=0.3, p_timeout=0.1)
        kinds = [inj.rest().kind for _ in range(5000)]
        assert 0.27 < kinds.count("5xx") / 5000 < 0.33
        assert 0.08 < kinds.count("timeout") / 5000 < 0.12

    def test_reset_replays(self) -> None:
        """Setting the same profile again restarts the same schedule."""
        inj = FaultInjector(9, "chaos")
        first = [inj.rest() for _ in range(50)]
        inj.set("chaos")
        assert [inj.rest() for _ in range(50)] == first

    def test_unknown_names(self) -> None:
        """Unknown profiles and rates are refused with a message naming them."""
        with pytest.raises(ValueError, match="unknown fault profile 'nope'"):
            FaultInjector(1, "nope")
        with pytest.raises(ValueError, match="p_boom"):
            FaultInjector(1, "flaky", p_boom=1)


class TestRestFaults:
    """flaky, slow, ratelimit, clockskew, chaos against the real server."""

    def test_flaky_5xx(self, fsim: SimHandle) -> None:
        """flaky with p_5xx=1 answers only 5xx; back to none, all is well."""
        fsim.set_faults("flaky", p_5xx=1.0)
        with SignedClient(fsim.rest_url, fsim.api_key, fsim.secret) as c:
            codes = {c.get("/fapi/v1/ping", signed=False).status_code for _ in range(20)}
            assert codes <= {500, 502, 503} and codes
            fsim.set_faults("none")
            assert c.get("/fapi/v1/ping", signed=False).status_code == 200
        assert sum(fsim.stats()["faults_served"].values()) == 20

    def test_timeout(self, fsim: SimHandle) -> None:
        """A timeout holds the answer, then gives 408 -1007 (execution status unknown)."""
        fsim.set_faults("flaky", p_5xx=0.0, p_timeout=1.0, timeout_s=0.3)
        t0 = time.monotonic()
        r = httpx.get(f"{fsim.rest_url}/fapi/v1/ping")
        assert time.monotonic() - t0 >= 0.3
        assert r.status_code == 408 and r.json()["code"] == -1007

    def test_slow(self, fsim: SimHandle) -> None:
        """slow delays answers but they succeed."""
        fsim.set_faults("slow", p_slow=1.0, slow_min_s=0.2, slow_max_s=0.25)
        t0 = time.monotonic()
        assert httpx.get(f"{fsim.rest_url}/fapi/v1/ping").status_code == 200
        assert time.monotonic() - t0 >= 0.2

    def test_ratelimit_storm(self) -> None:
        """ratelimit storms answer 429 with Retry-After; keeping on gets a 418."""
        with running_sim(days=1, symbols_active=1, ban_grace_ms=0) as s:
            wait_fresh_minute()  # a storm ends with the minute
            s.set_faults("ratelimit", p_storm=1.0, storm_ms=3000)
            r = httpx.get(f"{s.rest_url}/fapi/v1/ping")
            assert r.status_code == 429 and r.json()["code"] == -1003
            assert 1 <= int(r.headers["Retry-After"]) <= 3
            s.set_faults("none")
            statuses = [httpx.get(f"{s.rest_url}/fapi/v1/ping").status_code for _ in range(3)]
            assert statuses == [429, 418, 418]
            assert s.stats()["served_418"] == 2

    def test_clock_skew(self, fsim: SimHandle) -> None:
        """clockskew shifts /time and the recvWindow check; server time fixes it."""
        fsim.set_faults("clockskew", skew_ms=20_000)
        server = httpx.get(f"{fsim.rest_url}/fapi/v1/time").json()["serverTime"]
        assert abs(server - int(time.time() * 1000) - 20_000) < 2000
        with SignedClient(fsim.rest_url, fsim.api_key, fsim.secret) as c:
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
            assert r.json()["code"] == -1021
            offset = server - int(time.time() * 1000)
            ok = c.get(
                "/fapi/v1/userTrades",
                {"symbol": "BTCUSDT"},
                timestamp=int(time.time() * 1000) + offset,
            )
            assert ok.status_code == 200

    def test_chaos_mix(self, fsim: SimHandle) -> None:
        """chaos mixes faults; every answer is still an HTTP answer."""
        fsim.set_faults("chaos", p_timeout=0.0, slow_max_s=0.05, slow_min_s=0.01)
        with httpx.Client() as h:
            codes = [h.get(f"{fsim.rest_url}/fapi/v1/ping").status_code for _ in range(150)]
        assert 200 in codes and set(codes) - {200}

    def test_control_validation(self, fsim: SimHandle) -> None:
        """POST /_sim/faults refuses unknown profiles and rates with 400."""
        r = httpx.post(f"{fsim.rest_url}/_sim/faults", json={"profile": "meltdown"})
        assert r.status_code == 400 and "meltdown" in r.json()["error"]["message"]
        r = httpx.post(f"{fsim.rest_url}/_sim/faults", json={"profile": "flaky", "rates": {"x": 1}})
        assert r.status_code == 400
        r = httpx.post(f"{fsim.rest_url}/_sim/faults", content=b"{")
        assert r.status_code == 400


class TestStreamFaults:
    """wsdrop, keyexpiry and silent."""

    def test_wsdrop(self, fsim: SimHandle) -> None:
        """wsdrop closes stream connections after a short life."""
        fsim.set_faults("wsdrop", ws_drop_min_s=0.2, ws_drop_max_s=0.4)
        with (
            connect(f"{fsim.ws_url}/private/ws/{_key(fsim)}") as ws,
            pytest.raises(ConnectionClosed),
        ):
            ws.recv(timeout=3)
        assert fsim.stats()["stream"]["connections_dropped"] >= 1

    def test_keyexpiry(self, fsim: SimHandle) -> None:
        """keyexpiry kills the key despite keep-alives: listenKeyExpired, then -1125."""
        fsim.set_faults("keyexpiry", key_expiry_s=0.5)
        with connect(f"{fsim.ws_url}/private/ws/{_key(fsim)}") as ws:
            msg = json.loads(ws.recv(timeout=3))
        assert msg["e"] == "listenKeyExpired"
        with SignedClient(fsim.rest_url, fsim.api_key, fsim.secret) as c:
            assert c.request("PUT", "/fapi/v1/listenKey", signed=False).json()["code"] == -1125

    def test_silent(self, fsim: SimHandle) -> None:
        """silent keeps the stream open but sends nothing; REST still has the activity."""
        fsim.set_faults("silent")
        with connect(f"{fsim.ws_url}/private/ws/{_key(fsim)}") as ws:
            done = fsim.add_activity(kind="fill", symbol="BTCUSDT")
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)
        oid = done["orders"][0]
        with SignedClient(fsim.rest_url, fsim.api_key, fsim.secret) as c:
            assert c.get("/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid}).status_code == 200
        assert fsim.stats()["stream"]["messages_swallowed"] >= 3

    def test_start_with_profile(self) -> None:
        """running_sim(faults=...) starts with the profile active."""
        with running_sim(days=1, symbols_active=1, faults="flaky", fault_rates={"p_5xx": 1.0}) as s:
            assert httpx.get(f"{s.rest_url}/fapi/v1/ping").status_code >= 500
            assert s.stats()["faults"]["profile"] == "flaky"


class TestRestLag:
    """rest_lag_ms: REST does not see the newest rows yet (stale replicas)."""

    def test_recent_rows_hidden_then_visible(self, fsim: SimHandle) -> None:
        """A fresh order and its fill are invisible to REST until the lag passes."""
        fsim.set_faults("none", rest_lag_ms=1500)
        done = fsim.add_activity(kind="fill", symbol="BTCUSDT")
        oid, tid = done["orders"][0], done["trades"][0]
        with SignedClient(fsim.rest_url, fsim.api_key, fsim.secret) as c:
            assert (
                c.get("/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid}).json()["code"]
                == -2013
            )
            assert c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "orderId": oid}).json() == []
            assert all(
                r["id"] != tid
                for r in c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 1000}).json()
            )
            assert any(t["id"] == tid for t in fsim.truth()["trades"])  # truth is not stale
            time.sleep(1.6)
            assert (
                c.get("/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid}).json()["status"]
                == "FILLED"
            )
            got = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT", "orderId": oid}).json()
            assert [r["id"] for r in got] == [tid]
