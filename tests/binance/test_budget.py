"""The process-wide rate budget: weight cap per calendar minute, token bucket, priorities."""

from __future__ import annotations

import asyncio
import math

import pytest

from v7d.binance.budget import Priority, RateBudget


class Clocks:
    """A wall clock that follows the event loop's clock, starting just before a minute ends."""

    def __init__(self, seconds_into_minute: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.base = 60 * 29_000_000 + seconds_into_minute - self.loop.time()

    def mono(self) -> float:
        return self.loop.time()

    def wall(self) -> float:
        return self.base + self.loop.time()

    def next_boundary(self) -> float:
        return (math.floor(self.wall() / 60) + 1) * 60


def make(clocks: Clocks, **kw: float) -> RateBudget:
    args = {"rate_per_sec": 1000.0, "burst": 100, "max_weight_share": 0.5, "weight_limit": 100}
    args.update(kw)
    return RateBudget(clock=clocks.mono, wall=clocks.wall, **args)  # type: ignore[arg-type]


class TestWeightCap:
    async def test_waits_for_next_minute_when_cap_reached(self) -> None:
        """The request that would pass share × limit waits for the next minute boundary."""
        clocks = Clocks(59.8)
        boundary = clocks.next_boundary()
        budget = make(clocks)
        await budget.acquire(20)
        await budget.acquire(20)
        assert clocks.wall() < boundary
        await budget.acquire(20)
        assert clocks.wall() >= boundary
        snap = budget.snapshot()
        assert snap["weight_used_1m"] == 20
        assert snap["weight_spent"] == 60
        assert snap["requests"] == 3

    async def test_header_counts_other_programs(self) -> None:
        """A used-weight header above v7d's own count is what the cap is checked against."""
        clocks = Clocks(59.85)
        boundary = clocks.next_boundary()
        budget = make(clocks)
        await budget.acquire(1)
        budget.observe(status=200, used_weight_1m=45, retry_after=None)
        assert budget.snapshot()["weight_used_1m"] == 45
        await budget.acquire(5)
        assert clocks.wall() < boundary
        await budget.acquire(6)
        assert clocks.wall() >= boundary

    async def test_header_of_previous_minute_is_forgotten(self) -> None:
        """The window is the calendar minute: last minute's header no longer blocks."""
        clocks = Clocks(59.9)
        budget = make(clocks)
        budget.observe(status=200, used_weight_1m=50, retry_after=None)
        await asyncio.sleep(0.15)
        assert budget.snapshot()["weight_used_1m"] == 0
        await asyncio.wait_for(budget.acquire(50), 0.05)

    async def test_late_answer_from_last_minute_does_not_block(self) -> None:
        """A header answering a request granted last minute describes that minute only."""
        clocks = Clocks(59.9)
        budget = make(clocks)
        await budget.acquire(5)
        await asyncio.sleep(0.15)  # the answer arrives in the next minute
        budget.observe(status=200, used_weight_1m=49, retry_after=None)
        assert budget.snapshot()["weight_header_1m"] == 0
        started = clocks.mono()
        await budget.acquire(45)  # awaited in this task, as BinanceRest does
        assert clocks.mono() - started < 0.05
        budget.observe(status=200, used_weight_1m=46, retry_after=None)
        assert budget.snapshot()["weight_header_1m"] == 46

    async def test_request_heavier_than_cap_goes_alone(self) -> None:
        """A request heavier than the whole cap is not stuck forever; it goes in an empty minute."""
        clocks = Clocks(10.0)
        budget = make(clocks)
        await asyncio.wait_for(budget.acquire(80), 0.05)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(budget.acquire(1), 0.05)
        assert budget.snapshot()["waiting"] == 0

    async def test_minute_follows_the_server_clock(self) -> None:
        """With the exchange's clock 0.3 s ahead, its minute (and the budget's) ends sooner."""
        clocks = Clocks(59.5)
        boundary = clocks.next_boundary()
        budget = make(clocks)
        budget.set_server_offset(-0.3)
        await budget.acquire(50)
        await budget.acquire(1)
        assert boundary - 0.31 <= clocks.wall() < boundary
        assert budget.snapshot()["server_offset_ms"] == -300

    async def test_set_weight_limit_raises_the_cap(self) -> None:
        """exchangeInfo's REQUEST_WEIGHT limit replaces the default."""
        clocks = Clocks(10.0)
        budget = make(clocks)
        await budget.acquire(50)
        budget.set_weight_limit(2400)
        await asyncio.wait_for(budget.acquire(500), 0.05)
        assert budget.snapshot()["weight_cap"] == 1200


class TestTokenBucket:
    async def test_requests_are_spaced_by_the_rate(self) -> None:
        """After the burst, requests go out at rate_per_sec."""
        clocks = Clocks(10.0)
        budget = make(clocks, rate_per_sec=20.0, burst=2)
        start = clocks.mono()
        for _ in range(4):
            await budget.acquire(1)
        elapsed = clocks.mono() - start
        assert 0.09 <= elapsed < 0.5

    async def test_reconfigure_applies_at_once(self) -> None:
        """A reload lowers the burst and changes the rate without losing the minute's count."""
        clocks = Clocks(10.0)
        budget = make(clocks, rate_per_sec=1.0, burst=1)
        await budget.acquire(7)
        budget.reconfigure(rate_per_sec=100.0, burst=5, max_weight_share=0.9)
        await asyncio.wait_for(budget.acquire(1), 0.1)
        snap = budget.snapshot()
        assert snap["weight_used_1m"] == 8
        assert snap["burst"] == 5 and snap["share"] == 0.9

    @pytest.mark.parametrize(
        ("kw", "name"),
        [
            ({"rate_per_sec": 0.0, "burst": 1, "max_weight_share": 0.5}, "rate_per_sec"),
            ({"rate_per_sec": 1.0, "burst": 0, "max_weight_share": 0.5}, "burst"),
            ({"rate_per_sec": 1.0, "burst": 1, "max_weight_share": 1.5}, "max_weight_share"),
        ],
    )
    async def test_bad_settings_name_the_setting(self, kw: dict[str, float], name: str) -> None:
        """Nonsense settings are refused with the setting's name in the message."""
        budget = make(Clocks(10.0))
        with pytest.raises(ValueError, match=name):
            budget.reconfigure(**kw)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="weight_limit"):
            budget.set_weight_limit(0)


class TestPriority:
    async def test_gap_repair_before_incremental_before_backfill(self) -> None:
        """Waiters are served by priority, not by arrival."""
        clocks = Clocks(10.0)
        budget = make(clocks, rate_per_sec=50.0, burst=1)
        await budget.acquire(1)
        served: list[str] = []

        async def want(name: str, priority: Priority) -> None:
            await budget.acquire(1, priority)
            served.append(name)

        tasks = [
            asyncio.create_task(want("backfill", Priority.BACKFILL)),
            asyncio.create_task(want("incremental", Priority.INCREMENTAL)),
            asyncio.create_task(want("gap", Priority.GAP_REPAIR)),
            asyncio.create_task(want("backfill2", Priority.BACKFILL)),
        ]
        await asyncio.gather(*tasks)
        assert served == ["gap", "incremental", "backfill", "backfill2"]

    async def test_cancelled_head_lets_the_next_go(self) -> None:
        """A cancelled waiter leaves the queue and does not stall the others."""
        clocks = Clocks(10.0)
        budget = make(clocks, rate_per_sec=20.0, burst=1)
        await budget.acquire(1)
        head = asyncio.create_task(budget.acquire(1, Priority.GAP_REPAIR))
        await asyncio.sleep(0)
        nxt = asyncio.create_task(budget.acquire(1, Priority.BACKFILL))
        await asyncio.sleep(0)
        head.cancel()
        await asyncio.wait_for(nxt, 0.5)
        assert budget.snapshot()["waiting"] == 0
        assert budget.snapshot()["requests"] == 2


class TestBlocking:
    async def test_429_blocks_until_retry_after(self) -> None:
        """A 429 stops every request until its Retry-After has passed."""
        clocks = Clocks(10.0)
        budget = make(clocks)
        budget.observe(status=429, used_weight_1m=10, retry_after=0.2)
        snap = budget.snapshot()
        assert snap["count_429"] == 1
        assert snap["blocked_until"] is not None
        start = clocks.mono()
        await budget.acquire(1)
        assert clocks.mono() - start >= 0.19

    async def test_429_without_retry_after_waits_for_next_minute(self) -> None:
        """Without Retry-After the block lasts until the next minute boundary."""
        clocks = Clocks(59.85)
        boundary = clocks.next_boundary()
        budget = make(clocks)
        budget.observe(status=429, used_weight_1m=None, retry_after=None)
        await budget.acquire(1)
        assert clocks.wall() >= boundary

    async def test_418_blocks_longer_and_escalates(self) -> None:
        """A 418 without Retry-After blocks for 2 minutes, then 4 for the next one in a row."""
        clocks = Clocks(10.0)
        budget = make(clocks)
        budget.observe(status=418, used_weight_1m=None, retry_after=None)
        first = budget.snapshot()["blocked_until"] / 1000 - clocks.wall()
        assert 119 <= first <= 121
        budget.observe(status=418, used_weight_1m=None, retry_after=None)
        second = budget.snapshot()["blocked_until"] / 1000 - clocks.wall()
        assert 239 <= second <= 241
        assert budget.snapshot()["count_418"] == 2
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(budget.acquire(1, Priority.GAP_REPAIR), 0.05)
        assert budget.snapshot()["waiting"] == 0

    async def test_418_honours_retry_after(self) -> None:
        """A 418 with Retry-After blocks exactly that long."""
        clocks = Clocks(10.0)
        budget = make(clocks)
        budget.observe(status=418, used_weight_1m=None, retry_after=0.1)
        start = clocks.mono()
        await budget.acquire(1)
        assert 0.09 <= clocks.mono() - start < 1.0
