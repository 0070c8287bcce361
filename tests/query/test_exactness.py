"""Sums stay exact past the e8 integers: values with more than 8 decimals and sums that
overflow 64-bit integers fall back to Decimal, through the rollups and the rows alike."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.query.truth import HOUR, T0, Truth, records
from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import make_cut
from v7d.query.sums import split_hours
from v7d.store.records import Trade, WriteBatch
from v7d.store.writer import Writer

BIG = "90000000000"  # 9e18 as an e8 integer: two of them overflow a signed 64-bit sum


def _trade(i: int, t: int, quote: str, pnl: str) -> Trade:
    row = {"id": i}
    return Trade("default", "BTCUSDT", i, 10 + i, "BUY", "BOTH", "1", "1", quote, pnl,
                 "0.5", "USDT", False, t, "rest", json.dumps(row))  # fmt: skip


async def test_overflow_and_fine_decimals(tmp_path: Path) -> None:
    """Turnover of two huge fills and PnL with 12 decimals are exact on every path."""
    path = tmp_path / "big.db"
    writer = Writer(path)
    await writer.start()
    rows = [
        _trade(1, T0 + 10, BIG, "1"),
        _trade(2, T0 + HOUR + 10, BIG, "2"),
        _trade(3, T0 + 2 * HOUR + 10, "1.5", "-0.499999999999"),
    ]
    try:
        for batch in records(Truth()):
            await writer.submit(batch)
        await writer.submit(WriteBatch(records=rows))
    finally:
        await writer.close()
    want_turnover = Decimal(BIG) * 2 + Decimal("1.5")
    want_pnl = Decimal("2.500000000001")
    with HistoryQueryAPI(path) as api:
        for window in ({}, {"start_ms": T0, "end_ms": T0 + 3 * HOUR},
                       {"start_ms": T0 + 1, "end_ms": T0 + 3 * HOUR - 1}):  # fmt: skip
            usdt = api.summary(**window)["assets"]["USDT"]
            assert Decimal(usdt["turnover"]) == want_turnover, window
            assert Decimal(usdt["realized_pnl"]) == want_pnl, window
            assert Decimal(usdt["net_pnl"]) == want_pnl - Decimal("1.5"), window
        # Hours 0-1 hold no inexact row: the rollups answer, overflow, and fall back.
        first = api.summary(start_ms=T0, end_ms=T0 + 2 * HOUR)["assets"]["USDT"]
        assert Decimal(first["turnover"]) == Decimal(BIG) * 2
        assert Decimal(first["net_pnl"]) == Decimal(2)
        series = api.series(bucket="1d")["items"]
        assert Decimal(series[-1]["cum_net_pnl"]) == want_pnl - Decimal("1.5")
        dd = api.summary()["drawdown"]["USDT"]
        assert Decimal(dd["max_drawdown"]) == Decimal("0.999999999999")


class TestSplitHours:
    """An unaligned window is its whole hours (from the rollup) plus partial-hour edges."""

    def test_split(self) -> None:
        """Edges before and after; open ends; a window inside one hour has no whole hours."""
        cut = make_cut(start_ms=HOUR + 5, end_ms=5 * HOUR + 7)
        inner, edges = split_hours(cut)
        assert inner is not None and (inner.start_ms, inner.end_ms) == (2 * HOUR, 5 * HOUR)
        assert [(e.start_ms, e.end_ms) for e in edges] == [(HOUR + 5, 2 * HOUR),
                                                           (5 * HOUR, 5 * HOUR + 7)]  # fmt: skip
        inner, edges = split_hours(make_cut(start_ms=HOUR + 5))
        assert inner is not None and (inner.start_ms, inner.end_ms) == (2 * HOUR, None)
        assert [(e.start_ms, e.end_ms) for e in edges] == [(HOUR + 5, 2 * HOUR)]
        assert split_hours(make_cut(start_ms=HOUR + 5, end_ms=HOUR + 9))[0] is None
        aligned = make_cut(start_ms=HOUR, end_ms=3 * HOUR)
        assert split_hours(aligned) == (aligned, [])
