"""Window planner and retention arithmetic (pure functions)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from v7d.store.records import CoverageMark
from v7d.sync.pager import coverage_marks
from v7d.sync.plan import (
    DAY_MS,
    RETENTION_MS,
    RETENTION_SAFETY_MS,
    WINDOW_MS,
    Window,
    clamp_to_retention,
    plan_windows,
    request_bounds,
    split_at,
    subtract_ranges,
)

NOW = 1_780_000_000_000


class TestPlanWindows:
    """Splitting a range into windows the exchange accepts."""

    def test_fourteen_days_is_two_windows(self) -> None:
        """14 days of trades need exactly two 7-day windows."""
        ws = plan_windows("userTrades", "BTCUSDT", NOW - 14 * DAY_MS, NOW)
        assert [(w.start_ms, w.end_ms) for w in ws] == [
            (NOW - 14 * DAY_MS, NOW - 7 * DAY_MS),
            (NOW - 7 * DAY_MS, NOW),
        ]

    def test_empty_range_has_no_window(self) -> None:
        """An empty or inverted range plans nothing."""
        assert plan_windows("allOrders", "X", NOW, NOW) == []
        assert plan_windows("allOrders", "X", NOW, NOW - 1) == []

    @given(
        st.integers(0, 400 * DAY_MS),
        st.integers(1, 400 * DAY_MS),
        st.sampled_from(sorted(WINDOW_MS)),
    )
    def test_windows_tile_the_range(self, start: int, length: int, endpoint: str) -> None:
        """Windows are adjacent, ascending, cover the range exactly and respect the span."""
        ws = plan_windows(endpoint, "S", start, start + length)
        assert ws[0].start_ms == start and ws[-1].end_ms == start + length
        for a, b in itertools.pairwise(ws):
            assert a.end_ms == b.start_ms
        for w in ws:
            lo, hi = request_bounds(w.start_ms, w.end_ms)
            assert 0 <= hi - lo < WINDOW_MS[endpoint]

    def test_request_bounds_are_inclusive(self) -> None:
        """The half-open window becomes Binance's inclusive endTime."""
        assert request_bounds(10, 20) == (10, 19)
        w = Window("income", "", 5, 9)
        assert w.span_ms == 4


class TestRetention:
    """Clamping a wanted range to what the exchange still keeps."""

    def test_recent_range_is_retrievable(self) -> None:
        """A range inside retention is returned whole."""
        got = clamp_to_retention("income", NOW - DAY_MS, NOW, NOW)
        assert got == ((NOW - DAY_MS, NOW), None)

    def test_old_range_splits_at_horizon(self) -> None:
        """A 120-day income request is split at the 90-day horizon (plus safety margin)."""
        horizon = NOW - RETENTION_MS["income"] + RETENTION_SAFETY_MS
        got = clamp_to_retention("income", NOW - 120 * DAY_MS, NOW, NOW)
        assert got == ((horizon, NOW), (NOW - 120 * DAY_MS, horizon))

    def test_wholly_expired_range(self) -> None:
        """A range older than retention is all expired."""
        got = clamp_to_retention("allOrders", NOW - 200 * DAY_MS, NOW - 100 * DAY_MS, NOW)
        assert got == (None, (NOW - 200 * DAY_MS, NOW - 100 * DAY_MS))

    def test_trades_keep_six_months(self) -> None:
        """Trades 150 days back are still retrievable; orders are not."""
        assert clamp_to_retention("userTrades", NOW - 150 * DAY_MS, NOW, NOW)[1] is None
        assert clamp_to_retention("allOrders", NOW - 150 * DAY_MS, NOW, NOW)[1] is not None


class TestRanges:
    """Range splitting and subtraction used by the planner and the ledger."""

    def test_split_at(self) -> None:
        """A cut inside, before and after the range."""
        assert split_at(0, 10, 4) == ((0, 4), (4, 10))
        assert split_at(0, 10, -1) == (None, (0, 10))
        assert split_at(0, 10, 10) == ((0, 10), None)

    def test_subtract_ranges(self) -> None:
        """Held ranges are removed; overlapping and unsorted ones are handled."""
        assert subtract_ranges(0, 100, [(10, 20), (15, 30), (90, 200)]) == [(0, 10), (30, 90)]
        assert subtract_ranges(0, 100, []) == [(0, 100)]
        assert subtract_ranges(0, 100, [(-5, 150)]) == []

    @given(
        st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 200)), max_size=8),
        st.integers(0, 1000),
        st.integers(1, 1000),
    )
    def test_subtract_is_exact(self, held: list[tuple[int, int]], start: int, n: int) -> None:
        """Every point of the range is in exactly one of (held, missing)."""
        ranges = [(lo, lo + ln) for lo, ln in held]
        missing = subtract_ranges(start, start + n, ranges)
        for x in range(start, start + n):
            in_held = any(lo <= x < hi for lo, hi in ranges)
            in_missing = any(lo <= x < hi for lo, hi in missing)
            assert in_held != in_missing


class TestCoverageMarks:
    """What a completed window writes to the coverage ledger."""

    def test_trades_window_is_complete(self) -> None:
        """A trades window is held completely."""
        w = Window("userTrades", "BTCUSDT", NOW - 7 * DAY_MS, NOW)
        assert coverage_marks("a", w, NOW) == [
            CoverageMark("a", "userTrades", "BTCUSDT", NOW - 7 * DAY_MS, NOW, "complete")
        ]

    def test_orders_older_than_three_days_are_expired(self) -> None:
        """Unfilled cancels older than 3 days are gone: that part is marked expired."""
        w = Window("allOrders", "BTCUSDT", NOW - 7 * DAY_MS, NOW)
        assert coverage_marks("a", w, NOW) == [
            CoverageMark(
                "a", "allOrders", "BTCUSDT", NOW - 7 * DAY_MS, NOW - 3 * DAY_MS, "expired"
            ),
            CoverageMark("a", "allOrders", "BTCUSDT", NOW - 3 * DAY_MS, NOW, "complete"),
        ]


class TestLegalStart:
    """Reading the retention edge out of a -1100 answer."""

    def test_parses_the_legal_range(self) -> None:
        """The first bound of "legal range is 'A - B'" is the oldest allowed start."""
        from v7d.errors import BadRequest
        from v7d.sync.pager import legal_start

        msg = (
            "GET /fapi/v1/income: -1100 Illegal characters found in parameter 'startTime'; "
            "legal range is '1700000000000 - 1715552000000'."
        )
        assert legal_start(BadRequest(msg, status=400, code=-1100)) == 1_700_000_000_000
        assert legal_start(BadRequest("other", status=400, code=-1100)) is None
        assert legal_start(BadRequest(msg, status=400, code=-1121)) is None
