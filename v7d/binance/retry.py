"""The one retry policy for exchange calls.

=================  ==============================================================
error              what :func:`call_with_retry` does
=================  ==============================================================
TransientError     sleep ``uniform(0, min(cap, base × 2^n))`` (full jitter), retry
RateLimited        retry at once: the shared budget already holds every request
                   until Retry-After (without a budget: sleep ``retry_after``)
ClockSkew          ``await resync()`` once, retry; a second ClockSkew is raised
AuthError          raised at once: the account stops, never retried
BadRequest         raised at once: a bug or a changed API, never retried blindly
=================  ==============================================================

``attempts`` counts calls of ``fn`` (1 = no retry). Full jitter keeps many accounts or
tasks that failed together from retrying in lock-step (AWS architecture blog, "Exponential
Backoff And Jitter").
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from v7d.errors import AuthError, BadRequest, ClockSkew, RateLimited, TransientError

__all__ = ["OnRetry", "backoff_delay", "call_with_retry"]

T = TypeVar("T")

#: ``on_retry(error, attempt_number_that_failed, delay_s)``, e.g. to log and count.
OnRetry = Callable[[Exception, int, float], None]


def backoff_delay(
    failures: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Full-jitter delay after ``failures`` consecutive failures (1 = the first)."""
    return float(rng() * min(cap, base * 2.0 ** (failures - 1)))


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base: float,
    cap: float,
    on_retry: OnRetry | None = None,
    resync: Callable[[], Awaitable[object]] | None = None,
    budget_waits: bool = True,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Call ``fn()`` until it succeeds, following the policy in the module docstring.

    ``resync`` resynchronises the clock on ClockSkew (without it ClockSkew is raised).
    ``budget_waits`` says a :class:`RateBudget` in ``fn``'s path already waits out a 429;
    set it False to sleep ``retry_after`` here instead.
    """
    if attempts < 1:
        raise ValueError(f"attempts: expected an integer >= 1, got {attempts!r}")
    resynced = False
    failures = 0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except (AuthError, BadRequest):
            raise
        except ClockSkew as exc:
            if resynced or resync is None:
                raise
            resynced = True
            if on_retry is not None:
                on_retry(exc, attempt, 0.0)
            await resync()
            # The resync retry is the one "retry once" for -1021; it does not use up an
            # attempt meant for transient faults.
            attempt -= 1
        except RateLimited as exc:
            if attempt >= attempts:
                raise
            delay = 0.0 if budget_waits else exc.retry_after
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            if delay > 0:
                await sleep(delay)
        except TransientError as exc:
            failures += 1
            if attempt >= attempts:
                raise
            delay = backoff_delay(failures, base=base, cap=cap, rng=rng)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            await sleep(delay)
