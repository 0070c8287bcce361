"""Whole UTC days come from the daily rollups, whole hours from the hourly ones, partial
hours from the rows: every split gives the sums the rows alone give."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.query.truth import DAY, HOUR, T0
from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import make_cut
from v7d.query.sums import income_sums, spans, trade_groups, trade_groups_mode

# Windows with whole days, whole hours around them and partial hours at the ends; days 0
# and 2 of the test history hold only exact rows, day 1 some without e8 twins.
WINDOWS = [
    (None, None),
    (T0, T0 + DAY),
    (T0 + 2 * DAY, T0 + 3 * DAY),
    (T0 + 2 * DAY - 3 * HOUR, T0 + 3 * DAY),
    (T0 + 2 * DAY - 3 * HOUR - 17, T0 + 3 * DAY + 5),
    (T0 - 5 * HOUR + 1, T0 + DAY + 2 * HOUR - 1),
    (T0 + 7, T0 + 3 * DAY - 7),
    (T0 + 2 * DAY, None),
    (None, T0 + DAY + HOUR),
]


def _cut(window: tuple[int | None, int | None], **kw: str) -> object:
    return make_cut(account="default", start_ms=window[0], end_ms=window[1], **kw)


class TestSpans:
    """How a window is split between the daily rollups, the hourly rollups and the rows."""

    def test_days_hours_and_row_edges(self) -> None:
        """Whole days, whole hours around them, partial hours at the ends; disjoint."""
        sp = spans(make_cut(start_ms=T0 - 2 * HOUR - 5, end_ms=T0 + DAY + HOUR + 9))
        assert sp.days is not None and (sp.days.start_ms, sp.days.end_ms) == (T0, T0 + DAY)
        assert [(c.start_ms, c.end_ms) for c in sp.hours] == [
            (T0 - 2 * HOUR, T0), (T0 + DAY, T0 + DAY + HOUR)
        ]  # fmt: skip
        assert [(c.start_ms, c.end_ms) for c in sp.rows] == [
            (T0 - 2 * HOUR - 5, T0 - 2 * HOUR), (T0 + DAY + HOUR, T0 + DAY + HOUR + 9)
        ]  # fmt: skip

    def test_open_window_is_all_days(self) -> None:
        """All history is one daily-rollup part and nothing else."""
        sp = spans(make_cut())
        assert sp.days == make_cut() and sp.hours == [] and sp.rows == []

    def test_short_window_has_no_days(self) -> None:
        """A window shorter than a day goes to the hourly rollup and the rows only."""
        sp = spans(make_cut(start_ms=T0 + 5, end_ms=T0 + 3 * HOUR))
        assert sp.days is None
        assert [(c.start_ms, c.end_ms) for c in sp.hours] == [(T0 + HOUR, T0 + 3 * HOUR)]
        assert [(c.start_ms, c.end_ms) for c in sp.rows] == [(T0 + 5, T0 + HOUR)]


@pytest.fixture
def conn(api: HistoryQueryAPI) -> sqlite3.Connection:
    """The API's read-only connection (DSUM registered)."""
    return api._conn


class TestDailyEqualsRows:
    """Rollup answers equal the Decimal sums over the rows for days, hours and edges."""

    @pytest.mark.parametrize("window", WINDOWS)
    @pytest.mark.parametrize("by", [("side",), ("account", "symbol"), ()])
    def test_trade_groups(
        self, conn: sqlite3.Connection, window: tuple[int | None, int | None], by: tuple[str, ...]
    ) -> None:
        """Trade sums through the rollups equal those from the rows alone."""
        cut = _cut(window)
        assert trade_groups(conn, cut, by) == trade_groups(conn, cut, by, mode="dec")  # type: ignore[arg-type]

    @pytest.mark.parametrize("window", WINDOWS)
    @pytest.mark.parametrize("bucket_ms", [HOUR, DAY, 6 * HOUR])
    def test_buckets(
        self, conn: sqlite3.Connection, window: tuple[int | None, int | None], bucket_ms: int
    ) -> None:
        """Series buckets of hours, days and six hours are the same from either source."""
        cut = _cut(window, symbol="BTCUSDT")
        got = trade_groups(conn, cut, ("bucket",), bucket_ms)  # type: ignore[arg-type]
        assert got == trade_groups(conn, cut, ("bucket",), bucket_ms, mode="dec")  # type: ignore[arg-type]
        inc = income_sums(conn, cut, ("bucket",), bucket_ms)  # type: ignore[arg-type]
        assert inc == income_sums(conn, cut, ("bucket",), bucket_ms, mode="dec")  # type: ignore[arg-type]

    @pytest.mark.parametrize("window", WINDOWS)
    def test_income(self, conn: sqlite3.Connection, window: tuple[int | None, int | None]) -> None:
        """Income sums through the rollups equal those from the rows alone."""
        cut = _cut(window)
        for by in ((), ("account", "symbol")):
            assert income_sums(conn, cut, by) == income_sums(conn, cut, by, mode="dec")  # type: ignore[arg-type]

    def test_exact_days_use_the_rollup(self, conn: sqlite3.Connection) -> None:
        """A window of exact whole days is answered in e8 mode (the rollup path)."""
        _, mode = trade_groups_mode(conn, _cut((T0 + 2 * DAY, T0 + 3 * DAY)))  # type: ignore[arg-type]
        assert mode == "e8"
        _, mode = trade_groups_mode(conn, _cut((T0 + DAY, T0 + 2 * DAY)))  # type: ignore[arg-type]
        assert mode == "dec"


class TestStore:
    """The store the statistics read."""

    def test_daily_rollup_holds_every_trade(self, store_path: Path) -> None:
        """The test store has the daily rollups, and they count every trade."""
        raw = sqlite3.connect(store_path)
        try:
            daily = raw.execute("SELECT SUM(n) FROM trade_daily").fetchone()[0]
            assert daily == raw.execute("SELECT COUNT(*) FROM trades").fetchone()[0]
        finally:
            raw.close()
