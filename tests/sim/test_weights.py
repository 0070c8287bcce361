"""Weight per IP per minute, X-MBX-USED-WEIGHT-1M, 429 past the limit, escalating 418."""

from __future__ import annotations

import pytest

from tests.sim.conftest import payload, same_shape, wait_fresh_minute
from v7d.sim.client import SignedClient
from v7d.sim.clock import MINUTE_MS, SimClock
from v7d.sim.testing import running_sim
from v7d.sim.weights import WeightLimiter


class TestWeights:
    """Each endpoint costs the reference's weight; the header reports the minute's total."""

    def test_weights_per_endpoint(self) -> None:
        """ping 1, userTrades 5, allOrders 5, income 30, openOrders 40 without symbol."""
        with (
            running_sim(days=2, symbols_active=2) as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            wait_fresh_minute()
            steps = [
                ("/fapi/v1/ping", {}, False, 1),
                ("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, True, 5),
                ("/fapi/v1/allOrders", {"symbol": "BTCUSDT"}, True, 5),
                ("/fapi/v1/income", {}, True, 30),
                ("/fapi/v1/openOrders", {}, True, 40),
                ("/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, True, 1),
                ("/fapi/v1/allAlgoOrders", {"symbol": "BTCUSDT"}, True, 5),
                ("/fapi/v3/positionRisk", {}, True, 5),
                ("/fapi/v1/exchangeInfo", {}, False, 1),
            ]
            used = 0
            for path, params, signed, w in steps:
                r = c.get(path, params, signed=signed)
                used += w
                assert r.status_code == 200, r.text
                assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) == used, path
            stats = s.stats()
        assert stats["weight"]["GET /fapi/v1/income"] == 30
        assert stats["requests"]["GET /fapi/v1/openOrders"] == 2

    def test_errors_carry_the_header(self) -> None:
        """Error answers carry X-MBX-USED-WEIGHT-1M too."""
        with (
            running_sim(days=1, symbols_active=1) as s,
            SignedClient(s.rest_url, s.api_key, "bad" * 20) as c,
        ):
            r = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        assert r.status_code == 400 and "X-MBX-USED-WEIGHT-1M" in r.headers

    @pytest.mark.parametrize("retry_after", [True, False])
    def test_429_then_418(self, retry_after: bool) -> None:
        """Past the limit: 429 (-1003); keeping on: 418 ban; Retry-After only if switched on."""
        with (
            running_sim(
                days=1,
                symbols_active=1,
                weight_limit=20,
                retry_after=retry_after,
                ban_grace_ms=0,
                ban_after_violations=2,
            ) as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            wait_fresh_minute()
            statuses = [
                c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}).status_code for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 200]
            r429 = c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
            assert r429.status_code == 429
            same_shape(r429.json(), payload("error_rate_limit"))
            assert r429.json()["code"] == -1003
            assert ("Retry-After" in r429.headers) is retry_after
            if retry_after:
                assert 1 <= int(r429.headers["Retry-After"]) <= 60
            again = c.get("/fapi/v1/ping", signed=False)
            assert again.status_code == 429
            banned = c.get("/fapi/v1/ping", signed=False)
            assert banned.status_code == 418
            same_shape(banned.json(), payload("error_ip_banned"))
            assert ("Retry-After" in banned.headers) is retry_after
            stats = s.stats()
        assert stats["served_429"] == 2 and stats["served_418"] == 1


class _Clock(SimClock):
    """A SimClock whose wall clock is set by the test (the limiter's only input)."""

    def __init__(self, t: int) -> None:
        super().__init__()
        self.t = t

    def now_ms(self) -> int:
        return self.t


class TestLimiterRules:
    """The limiter's rules over simulated time."""

    def test_minute_window_resets(self) -> None:
        """Weight counts per calendar minute and starts over in the next one."""
        clock = _Clock(100 * MINUTE_MS + 10)
        lim = WeightLimiter(clock, 10)
        assert lim.check("ip", 10).status == 200
        assert lim.check("ip", 1).status == 429
        clock.t = 101 * MINUTE_MS
        v = lim.check("ip", 1)
        assert v.status == 200 and v.used == 1

    def test_retry_after_points_at_the_next_minute(self) -> None:
        """The 429's wait runs to the end of the minute."""
        clock = _Clock(100 * MINUTE_MS + 45_000)
        lim = WeightLimiter(clock, 1)
        lim.check("ip", 1)
        assert lim.check("ip", 1).retry_after_s == 15

    def test_ban_escalates(self) -> None:
        """Each new ban doubles, starting at 2 minutes."""
        clock = _Clock(100 * MINUTE_MS)
        lim = WeightLimiter(clock, 1, ban_grace_ms=0, ban_after_violations=1)
        lengths = []
        for _ in range(3):
            lim.check("ip", 1)
            while lim.check("ip", 1).status != 418:
                clock.t += 10
            v = lim.check("ip", 1)
            lengths.append(v.until_ms - clock.t)
            clock.t = v.until_ms + MINUTE_MS  # ban over, a fresh minute
            clock.t -= clock.t % MINUTE_MS
        assert lengths[0] == 2 * MINUTE_MS
        assert lengths[1] == 4 * MINUTE_MS and lengths[2] == 8 * MINUTE_MS

    def test_grace_for_requests_in_flight(self) -> None:
        """Requests arriving within the grace after a 429 get 429, not a ban."""
        clock = _Clock(100 * MINUTE_MS)
        lim = WeightLimiter(clock, 1, ban_grace_ms=500, ban_after_violations=1)
        lim.check("ip", 1)
        assert lim.check("ip", 1).status == 429
        clock.t += 100
        assert lim.check("ip", 1).status == 429
        clock.t += 500
        assert lim.check("ip", 1).status == 418

    def test_ips_are_separate(self) -> None:
        """Weight is counted per IP."""
        lim = WeightLimiter(_Clock(100 * MINUTE_MS), 5)
        assert lim.check("a", 5).status == 200
        assert lim.check("b", 5).status == 200
        assert lim.check("a", 1).status == 429

    def test_storm_ends_with_the_minute(self) -> None:
        """A 429 storm never outlasts the current minute."""
        clock = _Clock(100 * MINUTE_MS + 59_000)
        lim = WeightLimiter(clock, 100)
        v = lim.storm("ip", 5_000)
        assert v.status == 429 and v.until_ms == 101 * MINUTE_MS and v.retry_after_s == 1
        clock.t = 101 * MINUTE_MS
        assert lim.check("ip", 1).status == 200
