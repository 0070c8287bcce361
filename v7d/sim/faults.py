"""Fault injection: named profiles, rates settable, decisions drawn from a seeded RNG.

The n-th REST request (in arrival order) always gets the same decision for a given
(seed, profile, rates), so a failing property test can be replayed. Profiles (DESIGN.md):
``none``, ``flaky`` (5xx + timeouts), ``ratelimit`` (429 storms), ``slow``, ``wsdrop``,
``keyexpiry``, ``silent`` (stream open, no events), ``clockskew``, ``chaos`` (all).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["PROFILES", "Decision", "FaultInjector", "FaultRates"]


@dataclass(frozen=True)
class FaultRates:
    """Probabilities and sizes of every fault (all zero: no faults)."""

    p_5xx: float = 0.0
    p_timeout: float = 0.0
    timeout_s: float = 3.0  # a "timeout" holds the answer this long, then sends 408
    p_slow: float = 0.0
    slow_min_s: float = 0.2
    slow_max_s: float = 1.0
    p_storm: float = 0.0
    storm_ms: int = 2_000
    ws_drop_min_s: float = 0.0  # 0: no drops; else each connection lives U(min, max) s
    ws_drop_max_s: float = 0.0
    p_ws_silent: float = 0.0  # share of stream messages swallowed
    key_expiry_s: float = 0.0  # 0: normal TTL; else keys die this long after keep-alive
    skew_ms: int = 0  # the server clock runs this far ahead (negative: behind)
    rest_lag_ms: int = 0  # REST reads do not see rows younger than this (stale replicas)


PROFILES: dict[str, FaultRates] = {
    "none": FaultRates(),
    "flaky": FaultRates(p_5xx=0.10, p_timeout=0.02),
    "ratelimit": FaultRates(p_storm=0.05),
    "slow": FaultRates(p_slow=0.5),
    "wsdrop": FaultRates(ws_drop_min_s=0.5, ws_drop_max_s=3.0),
    "keyexpiry": FaultRates(key_expiry_s=2.0),
    "silent": FaultRates(p_ws_silent=1.0),
    "clockskew": FaultRates(skew_ms=7_000),
    "chaos": FaultRates(
        p_5xx=0.05,
        p_timeout=0.01,
        p_slow=0.10,
        p_storm=0.02,
        ws_drop_min_s=1.0,
        ws_drop_max_s=5.0,
        p_ws_silent=0.2,
        key_expiry_s=5.0,
        skew_ms=3_000,
    ),
}

_ERRORS_5XX: tuple[tuple[int, bytes, str], ...] = (
    (503, b'{"code":-1001,"msg":"Service Unavailable."}', "application/json"),
    (
        500,
        b'{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}',
        "application/json",
    ),
    (
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
        "text/html",
    ),
    (
        503,
        b'{"code":-1008,"msg":"Server is currently overloaded with other requests. '
        b'Please try again in a few minutes."}',
        "application/json",
    ),
)
TIMEOUT_BODY = (
    b'{"code":-1007,"msg":"Timeout waiting for response from backend server. '
    b'Send status unknown; execution status unknown."}'
)


@dataclass(frozen=True)
class Decision:
    """The fault (if any) for one REST request."""

    kind: str  # none | 5xx | timeout | slow | storm
    delay_s: float = 0.0
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


class FaultInjector:
    """Draws fault decisions deterministically from (seed, profile, rates)."""

    def __init__(self, seed: int, profile: str = "none", **overrides: Any) -> None:
        self.seed = seed
        self.set(profile, **overrides)

    def set(self, profile: str, **overrides: Any) -> None:
        """Switch to ``profile`` (rates overridable) and restart its random schedule."""
        if profile not in PROFILES:
            raise ValueError(f"unknown fault profile {profile!r}; known: {', '.join(PROFILES)}")
        fields = {f.name for f in dataclasses.fields(FaultRates)}
        bad = sorted(set(overrides) - fields)
        if bad:
            raise ValueError(
                f"unknown fault rate(s) {', '.join(bad)}; known: {', '.join(sorted(fields))}"
            )
        self.profile = profile
        self.rates = dataclasses.replace(PROFILES[profile], **overrides)
        self._rest = random.Random(f"v7d-sim/faults/{self.seed}/{profile}/rest")
        self._ws = random.Random(f"v7d-sim/faults/{self.seed}/{profile}/ws")

    def rest(self) -> Decision:
        """The decision for the next REST request."""
        r = self.rates
        x = self._rest.random()
        y = self._rest.random()
        edge = r.p_5xx
        if x < edge:
            status, body, ctype = _ERRORS_5XX[int(y * len(_ERRORS_5XX))]
            return Decision("5xx", status=status, body=body, content_type=ctype)
        edge += r.p_timeout
        if x < edge:
            return Decision("timeout", delay_s=r.timeout_s, status=408, body=TIMEOUT_BODY)
        edge += r.p_storm
        if x < edge:
            return Decision("storm")
        edge += r.p_slow
        if x < edge:
            return Decision("slow", delay_s=r.slow_min_s + y * (r.slow_max_s - r.slow_min_s))
        return Decision("none")

    def ws_lifetime_s(self) -> float | None:
        """How long a new stream connection lives before the fault drops it (None: no drop)."""
        r = self.rates
        if r.ws_drop_max_s <= 0:
            return None
        return r.ws_drop_min_s + self._ws.random() * (r.ws_drop_max_s - r.ws_drop_min_s)

    def ws_swallow(self) -> bool:
        """Whether the next stream message is silently not sent."""
        p = self.rates.p_ws_silent
        return p > 0 and (p >= 1 or self._ws.random() < p)

    def describe(self) -> dict[str, Any]:
        """The active profile and rates, for /_sim/stats."""
        return {"profile": self.profile, "rates": dataclasses.asdict(self.rates)}
