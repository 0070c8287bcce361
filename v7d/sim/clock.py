"""The simulator's clock: wall time plus an offset, a fault-driven skew, and a time scale."""

from __future__ import annotations

import time

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "SimClock"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class SimClock:
    """Times of events (``now_ms``) and of the server's own clock (``server_ms``).

    ``server_ms`` adds the ``clockskew`` fault's skew: it is what ``/fapi/v1/time``
    answers and what the recvWindow check uses. ``scaled_ms`` divides an exchange
    duration by ``time_scale`` (e.g. ``scaled_ms(3 * DAY_MS)`` is 72 s at 3600).
    """

    def __init__(self, *, time_scale: float = 1.0, offset_ms: int = 0) -> None:
        self.time_scale = time_scale
        self.offset_ms = offset_ms
        self.skew_ms = 0

    def now_ms(self) -> int:
        """Wall clock plus the configured offset, in ms."""
        return int(time.time() * 1000) + self.offset_ms

    def server_ms(self) -> int:
        """The server's clock as clients see it (skewed under the clockskew fault)."""
        return self.now_ms() + self.skew_ms

    def scaled_ms(self, duration_ms: float) -> int:
        """An exchange-enforced duration divided by the time scale (at least 1 ms)."""
        return max(1, int(duration_ms / self.time_scale))

    def scaled_s(self, duration_s: float) -> float:
        """Like :meth:`scaled_ms`, in seconds."""
        return duration_s / self.time_scale
