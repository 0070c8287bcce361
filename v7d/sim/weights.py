"""Request weight per IP per minute, 429 past the limit, escalating 418 bans after that.

Binance counts weight per IP in fixed one-minute windows and reports it in
``X-MBX-USED-WEIGHT-1M``. Past the limit it answers 429 (-1003). A client that keeps
sending while limited (after ``ban_grace_ms``) collects violations; after
``ban_after_violations`` of them it is banned (418) for 2 minutes, doubling with each
new ban up to 3 days (ban lengths divided by ``time_scale``). ``Retry-After`` is sent on
429/418 only when the ``retry_after`` switch is on ([?] in the reference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from v7d.sim.clock import DAY_MS, MINUTE_MS, SimClock

__all__ = ["Verdict", "WeightLimiter"]

_BAN_BASE_MS = 2 * MINUTE_MS
_BAN_MAX_MS = 3 * DAY_MS


@dataclass
class _IpState:
    window: int = -1
    used: int = 0
    limited_from: int = 0
    limited_until: int = 0
    violations: int = 0
    ban_until: int = 0
    bans: int = 0


@dataclass(frozen=True)
class Verdict:
    """What to answer: status 200 (go on), 429 or 418, the used weight and the wait."""

    status: int
    used: int
    retry_after_s: int = 0
    until_ms: int = 0


class WeightLimiter:
    """Per-IP weight accounting with Binance's 429/418 escalation."""

    def __init__(
        self, clock: SimClock, limit: int, *, ban_grace_ms: int = 500, ban_after_violations: int = 2
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.ban_grace_ms = ban_grace_ms
        self.ban_after = ban_after_violations
        self._ips: dict[str, _IpState] = {}

    def _state(self, ip: str, now: int) -> _IpState:
        st = self._ips.setdefault(ip, _IpState())
        w = now // MINUTE_MS
        if st.window != w:
            st.window, st.used = w, 0
        return st

    def used(self, ip: str) -> int:
        """Weight used by ``ip`` in the current minute."""
        return self._state(ip, self.clock.now_ms()).used

    def check(self, ip: str, weight: int) -> Verdict:
        """Account one request of ``weight``; say whether it may proceed."""
        now = self.clock.now_ms()
        st = self._state(ip, now)
        if st.ban_until > now:
            return self._verdict(418, st, st.ban_until, now)
        if st.limited_until > now:
            if now - st.limited_from >= self.ban_grace_ms:
                st.violations += 1
            if st.violations >= self.ban_after:
                st.bans += 1
                length = min(_BAN_BASE_MS * 2 ** (st.bans - 1), _BAN_MAX_MS)
                st.ban_until = now + self.clock.scaled_ms(length)
                st.violations = 0
                return self._verdict(418, st, st.ban_until, now)
            return self._verdict(429, st, st.limited_until, now)
        if st.used + weight > self.limit:
            self._limit(st, now, (st.window + 1) * MINUTE_MS)
            return self._verdict(429, st, st.limited_until, now)
        st.used += weight
        return Verdict(200, st.used)

    def storm(self, ip: str, duration_ms: int) -> Verdict:
        """A 429 storm (fault): limit ``ip`` now for ``duration_ms``, at most until the
        minute ends (as if other programs on the IP had spent the minute's weight), so a
        client that waits for the next minute, lacking Retry-After, is never punished."""
        now = self.clock.now_ms()
        st = self._state(ip, now)
        self._limit(st, now, min(now + duration_ms, (st.window + 1) * MINUTE_MS))
        return self._verdict(429, st, st.limited_until, now)

    @staticmethod
    def _limit(st: _IpState, now: int, until: int) -> None:
        if st.limited_until <= now:
            st.limited_from, st.violations = now, 0
        st.limited_until = max(st.limited_until, until)

    @staticmethod
    def _verdict(status: int, st: _IpState, until: int, now: int) -> Verdict:
        wait = max(1, math.ceil((until - now) / 1000))
        return Verdict(status, st.used, wait, until)
