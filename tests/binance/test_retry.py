"""The one retry policy: backoff with full jitter, budget waits, one resync, no blind retry."""

from __future__ import annotations

import pytest

from v7d.binance.retry import backoff_delay, call_with_retry
from v7d.errors import AuthError, BadRequest, ClockSkew, ExchangeError, RateLimited, TransientError


class Script:
    """An async callable that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: ExchangeError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    """Records the sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class TestRetry:
    async def test_transient_backs_off_exponentially(self) -> None:
        """Transient errors are retried with delays rng × min(cap, base × 2^n)."""
        fn = Script(TransientError("a"), TransientError("b"), TransientError("c"))
        sleeps = Sleeps()
        seen: list[tuple[str, int, float]] = []
        result = await call_with_retry(
            fn,
            attempts=5,
            base=1.0,
            cap=3.0,
            on_retry=lambda e, n, d: seen.append((str(e), n, d)),
            sleep=sleeps,
            rng=lambda: 1.0,
        )
        assert result == "ok"
        assert fn.calls == 4
        assert sleeps.delays == [1.0, 2.0, 3.0]
        assert [s[1] for s in seen] == [1, 2, 3]

    async def test_transient_gives_up_after_attempts(self) -> None:
        """After the last attempt the transient error is raised."""
        fn = Script(*(TransientError(str(i)) for i in range(5)))
        with pytest.raises(TransientError, match="2"):
            await call_with_retry(fn, attempts=3, base=0.1, cap=1, sleep=Sleeps())
        assert fn.calls == 3

    @pytest.mark.parametrize("err", [AuthError("key"), BadRequest("bad")])
    async def test_auth_and_bad_request_never_retried(self, err: ExchangeError) -> None:
        """Auth errors and bad requests are raised on the first failure."""
        fn = Script(err)
        with pytest.raises(type(err)):
            await call_with_retry(fn, attempts=5, base=0.1, cap=1, sleep=Sleeps())
        assert fn.calls == 1

    async def test_clock_skew_resyncs_once(self) -> None:
        """ClockSkew triggers one resync and one retry; a second ClockSkew is raised."""
        resyncs: list[int] = []

        async def resync() -> None:
            resyncs.append(1)

        ok = Script(ClockSkew("skew"))
        assert await call_with_retry(ok, attempts=1, base=0, cap=0, resync=resync) == "ok"
        assert resyncs == [1]
        twice = Script(ClockSkew("skew"), ClockSkew("again"))
        with pytest.raises(ClockSkew, match="again"):
            await call_with_retry(twice, attempts=5, base=0, cap=0, resync=resync)
        assert resyncs == [1, 1]

    async def test_clock_skew_without_resync_is_raised(self) -> None:
        """Without a resync function ClockSkew goes to the caller."""
        with pytest.raises(ClockSkew):
            await call_with_retry(Script(ClockSkew("s")), attempts=3, base=0, cap=0)

    async def test_rate_limited_waits_through_the_budget(self) -> None:
        """With a budget in the path a 429 is retried without an extra sleep here."""
        sleeps = Sleeps()
        fn = Script(RateLimited("429", retry_after=30))
        assert await call_with_retry(fn, attempts=2, base=1, cap=1, sleep=sleeps) == "ok"
        assert sleeps.delays == []

    async def test_rate_limited_without_budget_sleeps_retry_after(self) -> None:
        """Without a budget the policy itself honours Retry-After."""
        sleeps = Sleeps()
        fn = Script(RateLimited("429", retry_after=30))
        await call_with_retry(fn, attempts=2, base=1, cap=1, budget_waits=False, sleep=sleeps)
        assert sleeps.delays == [30]

    def test_backoff_is_capped_and_jittered(self) -> None:
        """The delay never passes the cap and scales with the random draw."""
        assert backoff_delay(10, base=1, cap=5, rng=lambda: 1.0) == 5
        assert backoff_delay(1, base=2, cap=5, rng=lambda: 0.5) == 1.0

    async def test_bad_attempts_refused(self) -> None:
        """attempts < 1 is a programming error named as such."""
        with pytest.raises(ValueError, match="attempts"):
            await call_with_retry(Script(), attempts=0, base=0, cap=0)
