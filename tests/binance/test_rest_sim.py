"""BinanceRest against the real simulator: signing, headers to the budget, errors, retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from v7d.binance import parse
from v7d.binance.budget import Priority
from v7d.binance.errors import OrderGone
from v7d.errors import AuthError, BadRequest, RateLimited, TransientError
from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle

from .conftest import TRADE_FIELDS, away_from_minute_end, budget_for, client

DAY_MS = 86_400_000


class TestSignedCalls:
    async def test_every_read_endpoint_answers_and_parses(self, sim: SimHandle) -> None:
        """Each endpoint answers a signed request, and every row parses without error."""
        async with client(sim) as rest:
            now = await rest.server_time()
            assert abs(now - time.time() * 1000) < 5_000
            info = await rest.exchange_info()
            assert rest.budget.snapshot()["limit"] == 2400
            assert parse.symbols_from_exchange_info("a", info)
            start = now - 3 * DAY_MS
            trades = await rest.user_trades("ETHUSDT", start_ms=start, end_ms=now)
            orders = await rest.all_orders("ETHUSDT", start_ms=start, end_ms=now)
            income = await rest.income(start_ms=start, end_ms=now)
            algos = await rest.all_algo_orders(symbol="SRMUSDT", start_ms=start, end_ms=now)
            positions = await rest.position_risk()
            account = await rest.account_info()
            assert isinstance(await rest.open_orders(), list)
            assert isinstance(await rest.open_orders("ETHUSDT"), list)
            assert trades and orders and income
            for row in trades:
                parse.trade_from_rest("a", row)
            for row in orders:
                parse.order_from_rest("a", row)
            for row in income:
                parse.income_from_rest("a", row)
            for row in algos:
                parse.algo_order_from_rest("a", row)
            for row in positions:
                parse.position_from_rest("a", row)
            assert parse.balances_from_account("a", account)
            order = await rest.order("ETHUSDT", orders[0]["orderId"])
            assert order["orderId"] == orders[0]["orderId"]

    async def test_trades_equal_truth(self, sim: SimHandle) -> None:
        """Paging userTrades by fromId yields exactly the simulator's trades, field for field."""
        truth = {t["id"]: t for t in sim.truth()["trades"] if t["symbol"] == "ETHUSDT"}
        got: dict[int, Any] = {}
        async with client(sim) as rest:
            from_id = 0
            while True:
                page = await rest.user_trades("ETHUSDT", from_id=from_id, limit=100)
                for row in page:
                    got[row["id"]] = parse.trade_from_rest("default", row)
                if len(page) < 100:
                    break
                from_id = page[-1]["id"] + 1
        assert set(got) == set(truth)
        for trade_id, trade in got.items():
            for field in TRADE_FIELDS:
                assert getattr(trade, field) == truth[trade_id][field], (trade_id, field)

    async def test_secrets_never_reach_logs(
        self, sim: SimHandle, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Even at DEBUG, no log record carries the secret, the key, a signature or a listenKey."""
        caplog.set_level(logging.DEBUG)
        with capture_logs() as events:
            async with client(sim, secret=sim.secret) as rest:
                await rest.user_trades("ETHUSDT")
                key = await rest.listen_key_create()
                with pytest.raises(BadRequest):
                    await rest.user_trades("NOPEUSDT")
        text = "\n".join(r.getMessage() for r in caplog.records) + repr(events)
        for secret in (sim.secret, sim.api_key, key, "signature="):
            assert secret not in text

    async def test_listen_key_life_cycle(self, sim: SimHandle) -> None:
        """A listenKey can be created, kept alive and deleted; POST again gives the same key."""
        async with client(sim) as rest:
            key = await rest.listen_key_create()
            assert len(key) >= 16
            await rest.listen_key_keepalive(key)
            assert await rest.listen_key_create() == key
            await rest.listen_key_delete(key)


class TestBudgetWithSim:
    async def test_used_weight_header_reaches_the_budget(self, sim: SimHandle) -> None:
        """Each answer's X-MBX-USED-WEIGHT-1M is what the budget reports as used."""
        await away_from_minute_end()
        async with client(sim) as rest:
            await rest.user_trades("ETHUSDT")
            await rest.income()
            snap = rest.budget.snapshot()
        assert snap["weight_header_1m"] == sim.stats()["weight_total"] == 35
        assert snap["weight_used_1m"] == 35
        assert snap["requests"] == 2

    async def test_low_limit_never_draws_a_429(self, make_sim: Callable[..., SimHandle]) -> None:
        """With a 100-weight limit and a 0.5 share, v7d stops at 50 and waits; no 429."""
        sim = make_sim(weight_limit=100)
        await away_from_minute_end()
        async with client(sim) as rest:
            await rest.exchange_info()  # learns the limit: 100
            tasks = [
                asyncio.create_task(rest.user_trades("ETHUSDT", priority=Priority.BACKFILL))
                for _ in range(15)
            ]
            await asyncio.sleep(1.0)
            done = sum(t.done() for t in tasks)
            waiting = rest.budget.snapshot()["waiting"]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        stats = sim.stats()
        assert stats["served_429"] == 0
        assert done == 9  # 1 (exchangeInfo) + 9 × 5 = 46; a 10th would pass 50
        assert waiting == 6
        assert stats["weight_total"] == 46

    async def test_weight_spent_by_other_programs_is_respected(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """Weight another program spent on the same IP (seen in the header) shrinks v7d's share."""
        sim = make_sim(weight_limit=100)
        await away_from_minute_end()
        with SignedClient(sim.rest_url, sim.api_key, sim.secret) as other:
            for _ in range(8):
                assert other.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}).status_code == 200
        budget = budget_for()
        budget.set_weight_limit(100)
        async with client(sim, budget=budget) as rest:
            await rest.user_trades("ETHUSDT")  # sees 45 used
            await rest.user_trades("ETHUSDT")  # 45 + 5 = 50: still within the share
            third = asyncio.create_task(rest.user_trades("ETHUSDT"))
            await asyncio.sleep(0.5)
            assert not third.done()
            assert budget.snapshot()["weight_used_1m"] == 50
            third.cancel()
            await asyncio.gather(third, return_exceptions=True)
        assert sim.stats()["served_429"] == 0


class TestFaults:
    async def test_429_storm_blocks_everything_until_retry_after(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """A 429 raises RateLimited (no retry asked) and holds every request until Retry-After."""
        sim = make_sim(faults="ratelimit", fault_rates={"p_storm": 1.0, "storm_ms": 1000})
        async with client(sim, retry_attempts=1) as rest:
            with pytest.raises(RateLimited) as info:
                await rest.income()
            assert info.value.status == 429 and info.value.retry_after == 1
            snap = rest.budget.snapshot()
            assert snap["count_429"] == 1 and snap["blocked_until"] is not None
            sim.set_faults("none")
            started = time.monotonic()
            await rest.user_trades("ETHUSDT", priority=Priority.GAP_REPAIR)
            assert time.monotonic() - started >= 0.9
        stats = sim.stats()
        assert stats["served_429"] == 1

    @pytest.mark.slow
    async def test_429_without_retry_after_waits_for_the_next_minute(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """Without Retry-After, a 429 holds every request until the minute turns; no 418."""
        sim = make_sim(retry_after=False)
        into = time.time() % 60
        if into < 57:
            await asyncio.sleep(57 - into)  # end of a minute: a short, checkable wait
        async with client(sim, retry_attempts=1) as rest:
            sim.set_faults("ratelimit", p_storm=1.0, storm_ms=500)
            with pytest.raises(RateLimited):
                await rest.user_trades("ETHUSDT", priority=Priority.GAP_REPAIR)
            minute = int(time.time() // 60)
            sim.set_faults("none")
            await rest.user_trades("ETHUSDT")
            assert int(time.time() // 60) == minute + 1
        assert sim.stats()["served_429"] >= 1

    async def test_429_is_retried_through_the_budget(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """With retries on, a short storm costs a wait, not an error, and never a 418."""
        sim = make_sim(faults="ratelimit", fault_rates={"p_storm": 0.3, "storm_ms": 300})
        async with client(sim, retry_attempts=6) as rest:
            for _ in range(6):
                await rest.user_trades("ETHUSDT")
            assert rest.budget.snapshot()["count_429"] == sim.stats()["served_429"] >= 1

    async def test_clock_skew_resyncs_once(self, make_sim: Callable[..., SimHandle]) -> None:
        """A server clock 7 s ahead gives -1021 once; the client resyncs and succeeds."""
        sim = make_sim(faults="clockskew")
        async with client(sim) as rest:
            await rest.user_trades("ETHUSDT")
            await rest.all_orders("ETHUSDT")
            assert -7_500 <= rest.time_offset_ms <= -6_500
            assert rest.budget.snapshot()["server_offset_ms"] == rest.time_offset_ms
        assert sim.stats()["errors"].get("-1021") == 1

    async def test_flaky_answers_are_retried_with_backoff(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """5xx answers are retried (with jittered delays) until the call succeeds."""
        sim = make_sim(faults="flaky", fault_rates={"p_5xx": 0.4, "p_timeout": 0.0})
        retries: list[tuple[str, int, float]] = []
        async with client(
            sim, retry_attempts=8, on_retry=lambda e, n, d: retries.append((type(e).__name__, n, d))
        ) as rest:
            for _ in range(10):
                assert isinstance(await rest.user_trades("ETHUSDT"), list)
        served = sim.stats()["faults_served"].get("5xx", 0)
        assert served >= 1
        assert len(retries) == served
        assert {name for name, _, _ in retries} == {"TransientError"}
        assert all(0 <= d <= 0.2 for _, _, d in retries)

    async def test_timeout_is_transient_and_hides_the_signature(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """A request that times out becomes TransientError; its message has no query string."""
        sim = make_sim(faults="flaky", fault_rates={"p_5xx": 0.0, "p_timeout": 1.0, "timeout_s": 2})
        async with client(sim, retry_attempts=2, timeout_s=0.3) as rest:
            with pytest.raises(TransientError) as info:
                await rest.user_trades("ETHUSDT")
        message = str(info.value)
        assert "/fapi/v1/userTrades" in message
        assert "signature" not in message and "timestamp" not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


class TestRefusals:
    async def test_wrong_secret_is_auth_error_without_retry(self, sim: SimHandle) -> None:
        """A bad signature (-1022) is an AuthError, sent once."""
        async with client(sim, secret="not-the-secret", retry_attempts=5) as rest:
            with pytest.raises(AuthError) as info:
                await rest.user_trades("ETHUSDT")
        assert info.value.code == -1022
        assert sim.stats()["requests_total"] == 1

    async def test_unknown_key_is_auth_error(self, sim: SimHandle) -> None:
        """An unknown API key (-2015 / -2014) is an AuthError, sent once."""
        async with client(sim, api_key="unknown-key", retry_attempts=5) as rest:
            with pytest.raises(AuthError) as info:
                await rest.account_info()
        assert info.value.code in (-2014, -2015)
        assert sim.stats()["requests_total"] == 1

    async def test_bad_symbol_is_logged_once_and_not_retried(self, sim: SimHandle) -> None:
        """-1121 is a BadRequest carrying Binance's code; it is logged with the request."""
        async with client(sim, retry_attempts=5) as rest:
            with capture_logs() as logs, pytest.raises(BadRequest) as info:
                await rest.user_trades("NOPEUSDT")
        assert info.value.code == -1121
        assert sim.stats()["requests_total"] == 1
        [event] = [e for e in logs if e["event"] == "exchange_bad_request"]
        assert event["request"] == "GET /fapi/v1/userTrades"
        assert event["params"]["symbol"] == "NOPEUSDT"

    async def test_window_too_long(self, sim: SimHandle) -> None:
        """A window over 7 days is refused with Binance's code, not retried."""
        now = int(time.time() * 1000)
        async with client(sim) as rest:
            with pytest.raises(BadRequest) as info:
                await rest.user_trades("ETHUSDT", start_ms=now - 8 * DAY_MS, end_ms=now)
        assert info.value.code == -1127

    async def test_unknown_order_is_order_gone(self, sim: SimHandle) -> None:
        """-2013 is OrderGone, a BadRequest the caller expects (retention)."""
        async with client(sim) as rest:
            with capture_logs() as logs, pytest.raises(OrderGone):
                await rest.order("ETHUSDT", 1)
        assert not [e for e in logs if e["event"] == "exchange_bad_request"]
