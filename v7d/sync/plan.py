"""Window planning and retention arithmetic for the exchange's history endpoints.

Pure functions, no I/O. Ranges are half-open ``[start_ms, end_ms)`` everywhere in v7d;
Binance's ``startTime``/``endTime`` are both inclusive, so a window is requested as
``startTime=start_ms, endTime=end_ms - 1`` (see :func:`request_bounds`).

The limits (shared/reference/binance-usdm.md §4):

* ``userTrades`` and ``allOrders``: at most 7 days between start and end, per symbol.
* ``allAlgoOrders``: the same 7-day window, per symbol as well.
* ``income``: account-wide; no window limit is documented for USDⓈ-M, we still use 7 days
  so that an exchange that enforces one never answers -1127.
* retention: trades 6 months, orders and algo orders 90 days (and canceled/expired orders
  without a fill only 3 days), income 3 months. Asking for older data gets -1100, so the
  planner clamps every range to what the exchange keeps and reports the rest as expired.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DAY_MS",
    "HISTORY_ENDPOINTS",
    "PER_SYMBOL_ENDPOINTS",
    "RETENTION_MS",
    "RETENTION_SAFETY_MS",
    "UNFILLED_CANCEL_RETENTION_MS",
    "WINDOW_MS",
    "Window",
    "clamp_to_retention",
    "plan_windows",
    "request_bounds",
    "split_at",
    "subtract_ranges",
]

DAY_MS = 86_400_000

#: Longest span one request may cover, per endpoint.
WINDOW_MS: dict[str, int] = {
    "userTrades": 7 * DAY_MS,
    "allOrders": 7 * DAY_MS,
    "allAlgoOrders": 7 * DAY_MS,
    "income": 7 * DAY_MS,
}

#: How far back the exchange keeps each endpoint's rows (the reference's numbers; "6
#: months" and "3 months" taken at their shortest: 180 and 90 days).
RETENTION_MS: dict[str, int] = {
    "userTrades": 180 * DAY_MS,
    "allOrders": 90 * DAY_MS,
    "allAlgoOrders": 90 * DAY_MS,
    "income": 90 * DAY_MS,
}

#: Canceled/expired orders without a fill vanish from allOrders after 3 days.
UNFILLED_CANCEL_RETENTION_MS = 3 * DAY_MS

#: Never ask right at the retention edge: the request takes time to arrive and the
#: exchange's idea of "now" may run ahead of ours. Five minutes covers both; a refusal
#: (-1100 "legal range") is still handled by moving the start to the edge it names.
RETENTION_SAFETY_MS = 300_000

#: Endpoints fetched per symbol (``symbol`` is a required parameter of each).
PER_SYMBOL_ENDPOINTS = ("userTrades", "allOrders", "allAlgoOrders")

#: Every history endpoint the sync engine pages through, in the order a pass runs them:
#: income first, because its account-wide rows also tell which symbols were active.
HISTORY_ENDPOINTS = ("income", "allAlgoOrders", "userTrades", "allOrders")


@dataclass(frozen=True, slots=True)
class Window:
    """One request window ``[start_ms, end_ms)`` of one endpoint (and symbol)."""

    endpoint: str
    symbol: str
    start_ms: int
    end_ms: int

    @property
    def span_ms(self) -> int:
        """Length of the window in milliseconds."""
        return self.end_ms - self.start_ms


def request_bounds(start_ms: int, end_ms: int) -> tuple[int, int]:
    """Binance's inclusive ``(startTime, endTime)`` for the half-open ``[start_ms, end_ms)``."""
    if end_ms <= start_ms:
        raise ValueError(f"empty window: [{start_ms}, {end_ms})")
    return start_ms, end_ms - 1


def plan_windows(
    endpoint: str, symbol: str, start_ms: int, end_ms: int, *, max_span_ms: int | None = None
) -> list[Window]:
    """Split ``[start_ms, end_ms)`` into consecutive windows the endpoint accepts.

    Windows are ascending, adjacent, cover the range exactly and never exceed the
    endpoint's span (an inclusive endTime makes the real span one millisecond shorter).
    An empty or inverted range gives no window.
    """
    span = max_span_ms if max_span_ms is not None else WINDOW_MS[endpoint]
    if span <= 0:
        raise ValueError(f"window span for {endpoint} must be > 0, got {span}")
    windows: list[Window] = []
    cursor = start_ms
    while cursor < end_ms:
        stop = min(cursor + span, end_ms)
        windows.append(Window(endpoint, symbol, cursor, stop))
        cursor = stop
    return windows


def clamp_to_retention(
    endpoint: str, start_ms: int, end_ms: int, now_ms: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """Split a wanted range into (retrievable part, expired part); either may be None.

    The expired part is what the exchange provably no longer keeps (older than its
    retention, plus a safety margin so that a request never straddles the edge).
    """
    horizon = now_ms - RETENTION_MS[endpoint] + RETENTION_SAFETY_MS
    if end_ms <= start_ms:
        return None, None
    if start_ms >= horizon:
        return (start_ms, end_ms), None
    if end_ms <= horizon:
        return None, (start_ms, end_ms)
    return (horizon, end_ms), (start_ms, horizon)


def split_at(start_ms: int, end_ms: int, cut_ms: int) -> tuple[tuple[int, int] | None, ...]:
    """``[start, end)`` split at ``cut`` into (before, after); an empty side is None."""
    if end_ms <= start_ms:
        return None, None
    if cut_ms <= start_ms:
        return None, (start_ms, end_ms)
    if cut_ms >= end_ms:
        return (start_ms, end_ms), None
    return (start_ms, cut_ms), (cut_ms, end_ms)


def subtract_ranges(
    start_ms: int, end_ms: int, held: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of ``[start_ms, end_ms)`` not covered by any range in ``held``.

    Used to skip windows the coverage ledger already vouches for.
    """
    missing: list[tuple[int, int]] = []
    cursor = start_ms
    for lo, hi in sorted(held):
        if hi <= cursor:
            continue
        if lo >= end_ms:
            break
        if lo > cursor:
            missing.append((cursor, min(lo, end_ms)))
        cursor = max(cursor, hi)
        if cursor >= end_ms:
            break
    if cursor < end_ms:
        missing.append((cursor, end_ms))
    return missing
