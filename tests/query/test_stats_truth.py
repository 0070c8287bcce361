"""Every statistic, recomputed from the truth rows in plain Decimal, equals the answer.

The cuts cover both summation paths (hourly rollups for hour-aligned windows, rows for
the rest), the Decimal fallback for values with more than 8 decimals (day 1 of the test
history), and every filter: symbol, side, position side, order type, status, client-id
prefix and time window.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.query import checks
from tests.query.reference import RefCut, Reference
from tests.query.truth import DAY, HOUR, T0, Truth
from v7d.query.api import HistoryQueryAPI

CUTS = [
    RefCut(),
    RefCut(symbol="BTCUSDT"),
    RefCut(symbol="SOLUSDC"),
    RefCut(start_ms=T0 + 2 * HOUR, end_ms=T0 + 20 * HOUR),
    RefCut(start_ms=T0 + 3 * HOUR, end_ms=T0 + DAY + 5 * HOUR),
    RefCut(start_ms=T0 + DAY, end_ms=T0 + 2 * DAY),
    RefCut(start_ms=T0 + 1_234_567, end_ms=T0 + DAY + 7_654_321),
    RefCut(start_ms=T0 + 2 * DAY + 1),
    RefCut(start_ms=T0 + 2 * DAY - 1_234_567, end_ms=T0 + 3 * DAY - 1),
    RefCut(start_ms=T0 + 5 * HOUR + 10, end_ms=T0 + 5 * HOUR + 20),
    RefCut(symbol="BTCUSDT", start_ms=T0 + 30 * HOUR + 5, end_ms=T0 + 31 * HOUR + 5),
    RefCut(end_ms=T0 + DAY - 1),
    RefCut(side="BUY"),
    RefCut(side="SELL", symbol="ETHUSDT"),
    RefCut(position_side="BOTH", start_ms=T0 + HOUR),
    RefCut(prefix="alpha-"),
    RefCut(prefix="beta-", start_ms=T0 + 5 * HOUR, end_ms=T0 + 2 * DAY),
    RefCut(status="FILLED"),
    RefCut(status="CANCELED", symbol="SOLUSDC"),
    RefCut(order_type="LIMIT"),
    RefCut(order_type="STOP_MARKET", side="BUY"),
    RefCut(symbol="ETHUSDT", start_ms=T0, end_ms=T0 + 1),
]


def _id(cut: RefCut) -> str:
    return ",".join(f"{k}={v}" for k, v in cut.args().items()) or "all"


@pytest.fixture(scope="module")
def ref(truth: Truth) -> Reference:
    """The reference implementation over the same truth."""
    return Reference(truth)


@pytest.fixture(scope="module")
def summaries(store_path: Path) -> dict[RefCut, dict[str, Any]]:
    """The summary of every cut, computed once."""
    with HistoryQueryAPI(store_path) as api:
        return {c: api.summary(**c.args()) for c in CUTS}


BY_CUT = pytest.mark.parametrize("cut", CUTS, ids=_id)


class TestSummaryAgainstTruth:
    """Each statistic of /stats/summary equals the plain-Decimal reference, cut by cut."""

    @pytest.mark.parametrize("check", checks.SUMMARY_CHECKS, ids=lambda c: c.__name__[6:])
    @BY_CUT
    def test_statistic(
        self, check: Any, cut: RefCut, ref: Reference, summaries: dict[RefCut, Any]
    ) -> None:
        """The figure matches the reference exactly."""
        check(cut, ref, summaries[cut])


@BY_CUT
class TestSymbolsAndSeries:
    """Per-symbol rows and per-bucket series add up to the same truth."""

    def test_symbols(self, cut: RefCut, ref: Reference, store_path: Path) -> None:
        """Each symbol row equals the figures over that symbol's trades (and funding)."""
        checks.check_symbols(cut, ref, store_path)

    @pytest.mark.parametrize("bucket", ["1h", "1d"])
    def test_series(self, cut: RefCut, ref: Reference, store_path: Path, bucket: str) -> None:
        """Per-bucket net PnL and its running sum equal the truth's, per asset."""
        checks.check_series(cut, ref, store_path, bucket)


def test_fallback_exercised(store_path: Path) -> None:
    """The test history holds values with no exact e8 twin, so the Decimal path runs."""
    with sqlite3.connect(store_path) as conn:
        n = conn.execute("SELECT count(*) FROM trades WHERE realized_pnl_e8 IS NULL").fetchone()
    assert n[0] > 0
