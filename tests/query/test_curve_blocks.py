"""Drawdowns read over the writer's curve blocks equal the point-by-point walk, whether
the blocks are fresh, dirty (rows read instead) or absent, on any window."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.query.truth import DAY, DAYS, HOUR, T0
from v7d.query import drawdown as drawdown_mod
from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import Cut, make_cut
from v7d.query.drawdown import Drawdown, drawdown
from v7d.query.outcomes import curve_points
from v7d.query.summary import _drawdowns
from v7d.query.sums import summary_mode


def _cuts() -> list[Cut]:
    rng = random.Random(7)
    cuts = [make_cut(account="default"), make_cut(account="default", symbol="SOLUSDC")]
    for _ in range(12):
        start = T0 + rng.randint(0, DAYS * DAY - HOUR)
        end = start + rng.choice([HOUR // 2, 5 * HOUR + 17, DAY, 2 * DAY])
        symbol = rng.choice([None, "BTCUSDT"])
        cuts.append(make_cut(account="default", symbol=symbol, start_ms=start, end_ms=end))
    cuts.append(make_cut(account="default", start_ms=T0 + 2 * DAY))  # aligned, open end
    cuts.append(make_cut(account="default", end_ms=T0 + DAY + 3 * HOUR + 1))
    return cuts


def _point_walk(conn: sqlite3.Connection, cut: Cut) -> dict[str, Drawdown]:
    curves = curve_points(conn, cut, True, summary_mode(conn, cut))
    return {a: drawdown(p) for a, p in curves.items()}


def _assets(conn: sqlite3.Connection, cut: Cut) -> set[str]:
    return set(curve_points(conn, cut, True, summary_mode(conn, cut)))


@pytest.mark.parametrize("cut", _cuts(), ids=lambda c: f"{c.symbol}-{c.start_ms}-{c.end_ms}")
def test_blocks_equal_point_walk(api: HistoryQueryAPI, cut: Cut) -> None:
    """The summary's drawdowns (blocks where exact) equal walking every point."""
    conn = api._conn
    want = _point_walk(conn, cut)
    got = _drawdowns(conn, cut, summary_mode(conn, cut), _assets(conn, cut))
    assert got == want


def test_blocks_are_stepped_over(api: HistoryQueryAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the exact day (day 3) whole hours are stepped over, not read: the fast path runs."""
    stepped: list[bool] = []
    real = drawdown_mod.Walk.step

    def spy(self: drawdown_mod.Walk, b: object) -> bool:
        stepped.append(real(self, b))  # type: ignore[arg-type]
        return stepped[-1]

    monkeypatch.setattr(drawdown_mod.Walk, "step", spy)
    api.summary(start_ms=T0 + 2 * DAY)
    assert any(stepped) and len(stepped) >= 12


def test_dirty_hours_read_rows(store_path: Path, tmp_path: Path) -> None:
    """With every hour marked dirty (blocks stale or missing) the answers are unchanged."""
    copy = tmp_path / "dirty.db"
    shutil.copy(store_path, copy)
    raw = sqlite3.connect(copy)
    raw.execute("UPDATE curve_hourly SET total_e8 = total_e8 + 12345, max_e8 = 0, dd_e8 = 0")
    raw.execute(
        "INSERT OR IGNORE INTO stats_dirty SELECT DISTINCT account, hour_ms FROM curve_hourly"
    )
    raw.commit()
    raw.close()
    kws = [{}, {"start_ms": T0 + 2 * DAY + 7}, {"symbol": "ETHUSDT", "start_ms": T0 + 2 * DAY}]
    with HistoryQueryAPI(store_path) as fresh, HistoryQueryAPI(copy) as dirty:
        for kw in kws:
            assert dirty.summary(**kw)["drawdown"] == fresh.summary(**kw)["drawdown"], kw
