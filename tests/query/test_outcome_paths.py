"""The summed-in-SQL closing block equals the per-order path, and funding merges into the
trade curve in time order with same-time changes added."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.query.truth import DAY, HOUR, T0
from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import make_cut
from v7d.query.outcomes import (
    _closing_source,
    _merge_points,
    closing_block,
    closing_results,
    closing_stats,
)

CUTS = [
    {},
    {"symbol": "BTCUSDT"},
    {"side": "SELL"},
    {"start_ms": T0 + 2 * DAY, "end_ms": T0 + 3 * DAY},
    {"start_ms": T0 + 5 * HOUR + 3, "end_ms": T0 + DAY - 7},
    {"order_type": "LIMIT", "start_ms": T0 + 2 * DAY},
    {"start_ms": T0 + 2 * DAY + 3 * HOUR + 5, "end_ms": T0 + 2 * DAY + 9 * HOUR},
    {"symbol": "ETHUSDT", "start_ms": T0 + 4 * HOUR, "end_ms": T0 + 10 * HOUR - 1},
]


class TestClosingBlock:
    """Closing-order statistics agree between the SQL totals and the per-order list."""

    @pytest.mark.parametrize("kw", CUTS)
    @pytest.mark.parametrize("mode", ["e8", "dec"])
    def test_equal_to_per_order_results(
        self, api: HistoryQueryAPI, kw: dict[str, object], mode: str
    ) -> None:
        """Both modes of the block equal closing_stats over closing_results (Decimal)."""
        cut = make_cut(account="default", **kw)
        if mode == "e8" and kw in ({}, {"symbol": "BTCUSDT"}, {"side": "SELL"}):
            mode = "dec"  # day 1 holds rows without e8 twins: e8 would not be exact there
        want = {
            a: closing_stats(v)
            for a, v in sorted(closing_results(api._conn, cut, "dec").items())  # type: ignore[arg-type]
        }
        assert closing_block(api._conn, cut, mode) == want  # type: ignore[arg-type]
        assert want, kw


class TestClosingSource:
    """Which index groups a cut's fills by order."""

    def test_narrow_window_reads_the_time_index(self, api: HistoryQueryAPI) -> None:
        """A few hours of three days go through the time index (symbol's when cut by one)."""
        cut = make_cut(account="default", start_ms=T0 + 4 * HOUR, end_ms=T0 + 10 * HOUR)
        assert _closing_source(api._conn, cut)[0] == "trades t INDEXED BY trades_time"
        cut = make_cut(account="default", symbol="ETHUSDT", start_ms=T0 + 4 * HOUR,
                       end_ms=T0 + 10 * HOUR)  # fmt: skip
        assert _closing_source(api._conn, cut)[0] == "trades t INDEXED BY trades_symbol_time"

    def test_all_history_and_wide_windows_read_the_order_index(self, api: HistoryQueryAPI) -> None:
        """No window, or one holding most fills, scans the covering per-order index."""
        for kw in ({}, {"start_ms": T0 + HOUR, "end_ms": T0 + 3 * DAY - HOUR}):
            source, group_by = _closing_source(api._conn, make_cut(account="default", **kw))
            assert (source, group_by) == ("trades t", "t.account, t.symbol, t.order_id")


class TestMergePoints:
    """Linear merge of two time-ordered point lists."""

    def test_interleaved_and_equal_times(self) -> None:
        """Points keep time order; a change at a time both lists have is added."""
        a = [(1, 10), (3, 5), (4, -2), (9, 1)]
        b = [(0, 7), (3, 1), (5, 2), (12, 3)]
        assert _merge_points(a, b) == [(0, 7), (1, 10), (3, 6), (4, -2), (5, 2), (9, 1), (12, 3)]

    def test_empty_sides_and_decimals(self) -> None:
        """An empty side returns the other; Decimal changes add exactly."""
        assert _merge_points([], [(1, Decimal("0.1"))]) == [(1, Decimal("0.1"))]
        assert _merge_points([(2, Decimal("0.2"))], []) == [(2, Decimal("0.2"))]
        got = _merge_points([(2, Decimal("0.2"))], [(2, Decimal("0.1"))])
        assert got == [(2, Decimal("0.3"))]


class TestIndexChoice:
    """The narrow-index and covering-index readings of a cut give the same figures."""

    @pytest.mark.parametrize(
        "kw",
        [{"symbol": "SOLUSDC"}, {"symbol": "BTCUSDT", "start_ms": T0 + 2 * DAY + 7},
         {"start_ms": T0 + 2 * DAY + 3 * HOUR, "end_ms": T0 + 3 * DAY}],
    )  # fmt: skip
    def test_same_closing_and_drawdown(
        self, api: HistoryQueryAPI, monkeypatch: pytest.MonkeyPatch, kw: dict[str, object]
    ) -> None:
        """Forcing every cut through the narrow indexes changes no closing or drawdown key."""
        from v7d.query import outcomes

        default = api.summary(**kw)
        monkeypatch.setattr(outcomes, "_TIME_INDEX_SHARE", 0)  # every share is small
        narrow = api.summary(**kw)
        monkeypatch.setattr(outcomes, "_TIME_INDEX_SHARE", 10**6)  # no share is small
        covering = api.summary(**kw)
        for key in ("closing", "drawdown"):
            assert narrow[key] == default[key] == covering[key], key
        assert default["closing"], kw
