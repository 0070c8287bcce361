"""One request budget for the whole process: a token bucket of requests plus the weight cap.

Binance counts request weight per IP and per calendar minute, and reports the running
total in ``X-MBX-USED-WEIGHT-1M`` on every response (other programs on the same IP spend
from the same pool). v7d never sends a request when::

    max(weight v7d spent this minute, last X-MBX-USED-WEIGHT-1M) + weight
        > max_weight_share × REQUEST_WEIGHT limit

and waits for the next minute boundary instead. Independently, a token bucket of
*requests* (``rate_per_sec``, ``burst``) smooths bursts. Waiters are served strictly in
priority order (gap repair, then incremental sync, then backfill; FIFO within one
priority), so a long backfill never delays the live picture.

A 429 or 418 blocks every request until its ``Retry-After``; without one, until the next
minute boundary (a 418 for at least 2 minutes, doubling with each ban in a row). Staying
under the cap is what keeps the 429, and so the 418, from happening at all.

A used-weight header is attributed to the minute its request was granted in (a
context variable set by :meth:`RateBudget.acquire`, read by :meth:`RateBudget.observe`), so
an answer that crosses a minute boundary does not block the new minute with the old
minute's total. ``acquire`` must therefore be awaited in the task that sends the request.

Two clocks are injectable: ``clock`` (monotonic seconds; token bucket and blocks) and
``wall`` (epoch seconds; Binance's minute window). Waits are re-evaluated at least every
few seconds, so a wall clock that steps (NTP) cannot strand a waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["Priority", "RateBudget"]

#: Longest single sleep before a waiter re-checks the budget (wall-clock steps, reconfigure).
_MAX_SLEEP_S = 5.0
#: A 418 without Retry-After blocks this long, doubled for each further 418 in a row.
_BAN_BASE_S = 120.0
_BAN_MAX_S = 3 * 24 * 3600.0


# The minute in which the current task's last request was granted. The answer's
# used-weight header describes that minute: a request granted at 59.9 s whose answer comes
# back at 60.1 s reports the old minute's total, which must not block the new minute.
# (ccxt's per-response hook runs inside the caller's task, so it sees the caller's value.)
_granted_minute: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "v7d_budget_granted_minute", default=None
)


class Priority(IntEnum):
    """Who is served first when the budget is short: lower value first."""

    GAP_REPAIR = 0
    INCREMENTAL = 1
    BACKFILL = 2


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    weight: int = field(compare=False)
    wake: asyncio.Event = field(compare=False, default_factory=asyncio.Event)


class RateBudget:
    """The process-wide rate budget shared by every account (see the module docstring)."""

    def __init__(
        self,
        *,
        rate_per_sec: float,
        burst: int,
        max_weight_share: float,
        weight_limit: int = 2400,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall
        self._offset_s = 0.0  # local wall clock minus the exchange's clock
        self._rate = 1.0
        self._burst = 1
        self._share = 0.5
        self.reconfigure(rate_per_sec=rate_per_sec, burst=burst, max_weight_share=max_weight_share)
        self._limit = 1
        self.set_weight_limit(weight_limit)
        self._tokens = float(self._burst)
        self._refilled_at = clock()
        self._minute = self._minute_now()
        self._spent_minute = 0  # weight v7d granted in the current calendar minute
        self._header_used = 0  # last X-MBX-USED-WEIGHT-1M seen in the current minute
        self._blocked_until = 0.0  # monotonic
        self._ban_streak = 0
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self.count_429 = 0
        self.count_418 = 0
        self.requests = 0
        self.weight_spent = 0

    # -- configuration -------------------------------------------------------------------

    def set_weight_limit(self, limit: int) -> None:
        """Use exchangeInfo's REQUEST_WEIGHT per-minute ``limit``."""
        if limit <= 0:
            raise ValueError(f"weight_limit: expected an integer > 0, got {limit!r}")
        self._limit = int(limit)
        self._wake_head()

    def set_server_offset(self, offset_s: float) -> None:
        """Follow the exchange's clock (local minus server, seconds) for minute boundaries.

        Binance's weight window is the calendar minute *of its clock*; BinanceRest calls
        this after each clock resync.
        """
        self._offset_s = float(offset_s)
        self._roll_minute()
        self._wake_head()

    def reconfigure(self, *, rate_per_sec: float, burst: int, max_weight_share: float) -> None:
        """Apply new ``[sync]`` rate settings (SIGHUP) without losing the minute's count."""
        if not rate_per_sec > 0:
            raise ValueError(f"rate_per_sec: expected a number > 0, got {rate_per_sec!r}")
        if burst < 1:
            raise ValueError(f"burst: expected an integer >= 1, got {burst!r}")
        if not 0 < max_weight_share <= 1:
            raise ValueError(
                f"max_weight_share: expected a number in (0, 1], got {max_weight_share!r}"
            )
        if hasattr(self, "_tokens"):
            self._refill()
            self._tokens = min(self._tokens, float(burst))
        self._rate = float(rate_per_sec)
        self._burst = int(burst)
        self._share = float(max_weight_share)
        self._wake_head()

    # -- the gate ------------------------------------------------------------------------

    async def acquire(self, weight: int, priority: Priority = Priority.INCREMENTAL) -> None:
        """Wait until a request of ``weight`` may be sent, then count it as sent.

        Callers of a more urgent ``priority`` are always served before less urgent ones
        that are still waiting. Cancelling a waiter removes it from the queue.
        """
        if weight < 0:
            raise ValueError(f"weight: expected an integer >= 0, got {weight!r}")
        waiter = _Waiter(int(priority), next(self._seq), weight)
        heapq.heappush(self._queue, waiter)
        try:
            while True:
                timeout: float | None = None
                if self._queue[0] is waiter:
                    delay = self._delay_for(weight)
                    if delay <= 0:
                        heapq.heappop(self._queue)
                        self._consume(weight)
                        self._wake_head()
                        return
                    timeout = min(delay, _MAX_SLEEP_S)
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wake.wait(), timeout)
        except BaseException:
            if waiter in self._queue:
                self._queue.remove(waiter)
                heapq.heapify(self._queue)
                self._wake_head()
            raise

    def observe(
        self, *, status: int, used_weight_1m: int | None, retry_after: float | None
    ) -> None:
        """Take in one response: its status, ``X-MBX-USED-WEIGHT-1M`` and ``Retry-After``.

        A used-weight header is ignored when the task's request was granted in an earlier
        minute than now (it counts that minute, not this one).
        """
        self._roll_minute()
        granted = _granted_minute.get()
        current = granted is None or granted == self._minute
        if used_weight_1m is not None and used_weight_1m >= 0 and current:
            self._header_used = max(self._header_used, int(used_weight_1m))
        if status == 429:
            self.count_429 += 1
            self._block(retry_after if retry_after is not None else self._to_next_minute())
        elif status == 418:
            self.count_418 += 1
            self._ban_streak += 1
            if retry_after is not None:
                ban = retry_after
            else:
                ban = min(_BAN_BASE_S * 2 ** (self._ban_streak - 1), _BAN_MAX_S)
                ban = max(ban, self._to_next_minute())
            self._block(ban)
        elif 200 <= status < 400:
            self._ban_streak = 0
        self._wake_head()

    def snapshot(self) -> dict[str, Any]:
        """The budget's state for status answers and metrics (times as epoch ms)."""
        self._roll_minute()
        self._refill()
        now = self._clock()
        blocked_for = max(0.0, self._blocked_until - now)
        return {
            "weight_used_1m": self._used(),
            "weight_spent_1m": self._spent_minute,
            "weight_header_1m": self._header_used,
            "limit": self._limit,
            "share": self._share,
            "weight_cap": self._cap(),
            "rate_per_sec": self._rate,
            "burst": self._burst,
            "tokens": round(self._tokens, 3),
            "blocked_until": (
                int((self._wall_clock() + blocked_for) * 1000) if blocked_for else None
            ),
            "server_offset_ms": round(self._offset_s * 1000),
            "count_429": self.count_429,
            "count_418": self.count_418,
            "requests": self.requests,
            "weight_spent": self.weight_spent,
            "waiting": len(self._queue),
        }

    # -- internals -----------------------------------------------------------------------

    def _cap(self) -> int:
        return math.floor(self._share * self._limit)

    def _used(self) -> int:
        return max(self._spent_minute, self._header_used)

    def _wall(self) -> float:
        return self._wall_clock() - self._offset_s

    def _minute_now(self) -> int:
        return math.floor(self._wall() / 60.0)

    def _to_next_minute(self) -> float:
        wall = self._wall()
        # A hair past the boundary, so the waiter wakes inside the new minute.
        return (math.floor(wall / 60.0) + 1) * 60.0 - wall + 0.001

    def _roll_minute(self) -> None:
        minute = self._minute_now()
        if minute != self._minute:
            self._minute = minute
            self._spent_minute = 0
            self._header_used = 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
        self._refilled_at = now

    def _block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def _delay_for(self, weight: int) -> float:
        """Seconds until ``weight`` may be sent (<= 0: now)."""
        now = self._clock()
        if self._blocked_until > now:
            return self._blocked_until - now
        self._roll_minute()
        used = self._used()
        # A request heavier than the whole cap still goes, alone, at the start of a minute.
        if used + weight > self._cap() and used > 0:
            return self._to_next_minute()
        self._refill()
        if self._tokens < 1.0:
            return (1.0 - self._tokens) / self._rate
        return 0.0

    def _consume(self, weight: int) -> None:
        _granted_minute.set(self._minute)
        self._tokens -= 1.0
        self._spent_minute += weight
        self.requests += 1
        self.weight_spent += weight

    def _wake_head(self) -> None:
        if getattr(self, "_queue", None):
            self._queue[0].wake.set()
