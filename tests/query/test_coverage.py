"""Every stats answer says how complete its history is, from the coverage ledger."""

from __future__ import annotations

from tests.query.truth import DAY, T0
from v7d.query.api import HistoryQueryAPI
from v7d.query.coverage import subtract


class TestCoverageBlock:
    """The ledger's complete, expired and missing ranges for the asked window."""

    def test_complete_window(self, api: HistoryQueryAPI) -> None:
        """A window held completely by every source is complete."""
        cov = api.summary(start_ms=T0 + DAY, end_ms=T0 + 2 * DAY)["coverage"]
        assert cov["complete"] is True and cov["endpoints_without_ledger"] == []
        assert {(s["endpoint"], s["symbol"]) for s in cov["sources"]} == {
            (ep, sym) for ep in ("userTrades", "allOrders")
            for sym in ("BTCUSDT", "ETHUSDT", "SOLUSDC")
        } | {("income", "")}  # fmt: skip

    def test_expired_part(self, api: HistoryQueryAPI) -> None:
        """Income the exchange no longer keeps makes the answer incomplete, and says where."""
        cov = api.summary(start_ms=T0, end_ms=T0 + 2 * DAY)["coverage"]
        income = next(s for s in cov["sources"] if s["endpoint"] == "income")
        assert cov["complete"] is False
        assert income["expired_ranges"] == [[T0, T0 + DAY]] and income["missing_ranges"] == []

    def test_missing_part(self, api: HistoryQueryAPI) -> None:
        """A window past what was synced lists the gap as missing."""
        cov = api.summary(symbol="BTCUSDT", start_ms=T0 + DAY, end_ms=T0 + 4 * DAY)["coverage"]
        trades = next(s for s in cov["sources"] if s["endpoint"] == "userTrades")
        assert trades["symbol"] == "BTCUSDT"
        assert trades["missing_ranges"] == [[T0 + 3 * DAY, T0 + 4 * DAY]]
        assert {s["symbol"] for s in cov["sources"]} == {"BTCUSDT", ""}
        assert cov["complete"] is False

    def test_every_stats_answer_carries_it(self, api: HistoryQueryAPI) -> None:
        """/stats/series, /stats/symbols and both sides of /stats/compare carry the block."""
        window = {"start_ms": T0 + DAY, "end_ms": T0 + 2 * DAY}
        cov = api.summary(**window)["coverage"]
        assert api.series(**window)["coverage"] == cov
        assert api.symbols_answer(**window)["coverage"] == cov
        both = api.compare(a_start_ms=T0 + DAY, a_end_ms=T0 + 2 * DAY, b_start_ms=T0)
        assert both["a"]["coverage"] == cov and both["b"]["coverage"]["complete"] is False


class TestSubtract:
    """Range arithmetic of the missing parts."""

    def test_cases(self) -> None:
        """Gaps before, between and after covered ranges; overlaps; nothing covered."""
        assert subtract((0, 10), []) == [(0, 10)]
        assert subtract((0, 10), [(2, 4), (3, 6), (8, 12)]) == [(0, 2), (6, 8)]
        assert subtract((5, 10), [(0, 20)]) == []
        assert subtract((0, 10), [(10, 20)]) == [(0, 10)]
