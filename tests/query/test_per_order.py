"""Closing-order results and fill times read from the writer's per-order rows equal the
same statistics computed from the history tables: fresh rows, orders straddling a
window's edge, and orders touching hours still marked dirty (stale rows)."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.query.truth import DAY, HOUR, T0
from v7d.query import execution, outcomes, per_order, summary
from v7d.query.api import HistoryQueryAPI
from v7d.query.cuts import make_cut
from v7d.query.numbers import p90
from v7d.store.db import open_database


def _windows() -> list[dict[str, Any]]:
    """Windows inside the days whose rows all have e8 twins (days 1 and 3)."""
    rng = random.Random(11)
    out: list[dict[str, Any]] = [{}, {"symbol": "ETHUSDT"}]
    for _ in range(16):
        day = rng.choice([0, 2])
        start = T0 + day * DAY + rng.randint(0, DAY - 2 * HOUR)
        end = start + rng.randint(HOUR // 3, T0 + (day + 1) * DAY - start)
        out.append({"start_ms": start, "end_ms": end, "symbol": rng.choice([None, "BTCUSDT"])})
    return out


def _figures(api: HistoryQueryAPI, kw: dict[str, Any]) -> tuple[Any, Any]:
    s = api.summary(**kw)
    return s["closing"], s["execution"]


def _without_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every statistic take the path over the history tables."""
    for module in (outcomes, execution, summary):
        assert module.stale_orders is per_order.stale_orders
        monkeypatch.setattr(module, "stale_orders", lambda *a: None)


@pytest.mark.parametrize("kw", _windows(), ids=repr)
def test_rows_equal_history_tables(
    api: HistoryQueryAPI, monkeypatch: pytest.MonkeyPatch, kw: dict[str, Any]
) -> None:
    """Each window's closing block and execution block (counts, fill ratio, slippage,
    fill times) are the same either way."""
    fast = _figures(api, kw)
    _without_rows(monkeypatch)
    assert fast == _figures(api, kw)


def test_windows_cut_through_orders(api: HistoryQueryAPI) -> None:
    """The windows above do cut through orders with fills on both sides of an edge, so the
    straddling path is exercised, not only whole orders."""
    found = 0
    for kw in _windows()[2:]:
        cut = make_cut(account="default", **kw)
        found += len(per_order._straddling(api._conn, cut, cut.start_ms, cut.end_ms, set()))
    assert found > 0


def test_stale_rows_are_recomputed(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hours marked dirty with wrong per-order rows and hourly sums behind them give the
    right answer: the orders touching them are recomputed, not read."""
    copy = tmp_path / "stale.db"
    shutil.copy(store_path, copy)
    raw = sqlite3.connect(copy)
    hours = [T0 + 2 * DAY + h * HOUR for h in (1, 2, 5, 9, 13)]
    touched = 0
    for h in hours:
        raw.execute("INSERT OR IGNORE INTO stats_dirty VALUES ('default', ?)", (h,))
        touched += raw.execute(
            "UPDATE order_stats SET net_e8 = net_e8 + 123456789, ttf_first_ms = ttf_first_ms + 7, "
            "ttf_full_ms = ttf_full_ms + 7 WHERE (symbol, order_id) IN (SELECT symbol, order_id "
            "FROM trades WHERE time >= ? AND time < ?)",
            (h, h + HOUR),
        ).rowcount
        raw.execute(
            "UPDATE order_hourly SET n = n + 3, traded = traded + 1 WHERE hour_ms = ?", (h,)
        )
    raw.commit()
    raw.close()
    assert touched > 0
    kws = [{"start_ms": T0 + 2 * DAY}, {"start_ms": T0 + 2 * DAY + 5, "end_ms": T0 + 2 * DAY + 10 * HOUR},
           {"symbol": "BTCUSDT", "start_ms": T0 + 2 * DAY + HOUR}]  # fmt: skip
    with HistoryQueryAPI(copy) as api:
        fast = [_figures(api, kw) for kw in kws]
        _without_rows(monkeypatch)
        assert fast == [_figures(api, kw) for kw in kws]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 50), max_size=40),
    st.lists(st.integers(0, 50), max_size=8),
    st.integers(0, 12),
)
def test_p90_of_stored_and_recomputed_values(
    stored: list[int], extra: list[int], n_stale: int
) -> None:
    """The percentile over stored rows (some left out as stale) and recomputed values
    equals the nearest-rank p90 of the union, whatever the ranks of the extra and the
    removed values, read either way."""
    with tempfile.TemporaryDirectory() as d:
        conn = open_database(Path(d) / "h.db")
        cols = [r[1] for r in conn.execute("PRAGMA table_info(order_stats)")]
        for i, v in enumerate(stored):
            row = dict.fromkeys(cols, 0) | {"account": "a", "symbol": "X", "order_id": i,
                                            "time": 1000 + i, "executed": 1, "ttf_first_ms": v,
                                            "ratio": None, "slip": None, "status": "FILLED"}  # fmt: skip
            conn.execute(f"INSERT INTO order_stats VALUES ({', '.join('?' * len(cols))})",
                         [row[c] for c in cols])  # fmt: skip
        stale = {("X", i) for i in range(min(n_stale, len(stored)))}
        kept = [v for i, v in enumerate(stored) if ("X", i) not in stale]
        removed = [v for i, v in enumerate(stored) if ("X", i) in stale]
        union = kept + extra
        cut = make_cut(account="a")
        got = per_order.p90_column(conn, cut, "ttf_first_ms", removed, extra, len(union))
        assert removed == per_order.stored_fill_times(conn, cut, stale)["ttf_first_ms"]
        walked = per_order.p90_column(
            conn, cut, "ttf_first_ms", removed, extra, len(union), walk=True
        )
        assert got == walked
        assert got == p90(union)
        conn.close()


def test_orders_spanning_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders whose fills spread over several hours, cut by windows at every kind of
    edge: the hourly sums, the whole-order rows and the straddling orders' in-window fills
    add up to what grouping the trades gives."""
    from dataclasses import replace

    from tests.store.factories import order, trade
    from v7d.store.records import WriteBatch
    from v7d.store.refresh import refresh_stats
    from v7d.store.upserts import MarginAssets
    from v7d.store.writer import apply_batch

    rng = random.Random(5)
    h0 = T0 // HOUR * HOUR
    recs: list[object] = []
    tid = 1
    for oid in range(1, 41):
        start = h0 + rng.randint(0, 20 * HOUR)
        recs.append(order(oid, time=start, status="FILLED", executed="3"))
        for k in range(3):
            t = start + k * rng.randint(1, 2 * HOUR)
            pnl = f"{rng.choice([-1, 1]) * rng.randint(0, 500) / 100:.2f}"
            recs.append(replace(trade(tid, time=t, pnl=pnl), order_id=oid))
            tid += 1
    path = tmp_path / "span.db"
    conn = open_database(path)
    apply_batch(conn, WriteBatch(records=recs), MarginAssets())  # type: ignore[arg-type]
    refresh_stats(conn, limit=1000)
    conn.close()
    windows = [{"start_ms": h0 + rng.randint(0, 22 * HOUR), "end_ms": None} for _ in range(5)]
    for w in windows:
        w["end_ms"] = w["start_ms"] + rng.randint(HOUR // 2, 8 * HOUR)
    windows += [{"start_ms": h0 + 3 * HOUR, "end_ms": h0 + 9 * HOUR + 1}, {}]
    with HistoryQueryAPI(path) as api:
        fast = [api.summary(**w)["closing"] for w in windows]
        spans = api._conn.execute("SELECT MAX(last_fill_ms - first_fill_ms) FROM order_stats")
        assert spans.fetchone()[0] > HOUR
        _without_rows(monkeypatch)
        assert fast == [api.summary(**w)["closing"] for w in windows]
    assert any(f for f in fast)
