"""Hourly curve blocks: the block arithmetic, the walk that steps over blocks, the dirty
marks kept by triggers and the writer's idle rebuild."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.factories import income, trade
from v7d.query.drawdown import Walk, drawdown
from v7d.store.curve import HOUR_MS, block_of
from v7d.store.db import open_database
from v7d.store.records import WriteBatch
from v7d.store.refresh import Pacer, refresh_stats
from v7d.store.upserts import MarginAssets
from v7d.store.writer import Writer, apply_batch

H0 = 1_700_002_800_000 // HOUR_MS * HOUR_MS


class TestBlockOf:
    def test_fields_of_a_small_curve(self) -> None:
        """Prefixes 5, 2, 7, 3, 7, 1: highest 7 first at t=30 and last at t=50, lowest 1,
        deepest fall 6 (7 → 1), longest record gap 30 → 50 with water between."""
        pts = [(10, 5), (20, -3), (30, 5), (40, -4), (50, 4), (60, -6)]
        b = block_of(0, pts)
        assert (b.points, b.first_ms, b.last_ms, b.total_e8) == (6, 10, 60, 1)
        assert (b.max_e8, b.max_first_ms, b.max_last_ms) == (7, 30, 50)
        assert (b.min_e8, b.min_first_ms) == (1, 60)
        assert (b.dd_e8, b.gap_ms) == (6, 20)

    def test_adjacent_records_are_no_gap(self) -> None:
        """A curve that only rises has records at every point: no gap, no fall."""
        b = block_of(0, [(1, 1), (2, 0), (5, 3)])
        assert (b.dd_e8, b.gap_ms, b.max_last_ms, b.min_e8) == (0, 0, 5, 1)


# Points of a few hours, one per millisecond at most, changes small so that ties and
# recoveries to exactly the peak happen often.
_changes = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, HOUR_MS - 1), st.integers(-5, 5)),
    min_size=1,
    max_size=60,
)


def _points(raw: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    by_t: dict[int, int] = {}
    for hour, offset, change in raw:
        t = hour * HOUR_MS + offset
        by_t[t] = by_t.get(t, 0) + change
    return sorted(by_t.items())


class TestWalkOverBlocks:
    @settings(max_examples=400, deadline=None)
    @given(_changes, st.lists(st.booleans(), min_size=6, max_size=6))
    def test_blocks_give_the_point_walk(
        self, raw: list[tuple[int, int, int]], use: list[bool]
    ) -> None:
        """Stepping over any mix of hour blocks (feeding an hour when step refuses, or when
        chosen) gives exactly the drawdowns of walking every point."""
        pts = _points(raw)
        walk = Walk()
        for hour in range(6):
            mine = [p for p in pts if p[0] // HOUR_MS == hour]
            if not mine:
                continue
            if not (use[hour] and walk.step(block_of(hour * HOUR_MS, mine))):
                walk.feed(mine)
        assert walk.result() == drawdown(pts)

    def test_step_refuses_when_an_hour_could_deepen_the_drawdown(self) -> None:
        """After a fall of 2, an hour falling 5 under its own high cannot be stepped over;
        an hour that never gets back to the peak can, and adds its lowest point."""
        walk = Walk()
        walk.feed([(0, 10), (1, -2)])
        deep = block_of(HOUR_MS, [(HOUR_MS, 8), (HOUR_MS + 1, -5)])
        assert walk.step(deep) is False
        under = block_of(HOUR_MS, [(HOUR_MS, -1), (HOUR_MS + 1, 2)])  # 8 → 7 → 9: < 10
        assert walk.step(under) is True
        assert walk.result().max_drawdown == 3 and walk.result().trough_ms == HOUR_MS


def _dirty(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return conn.execute("SELECT account, hour_ms FROM stats_dirty ORDER BY 1, 2").fetchall()


class TestDirtyMarks:
    def test_rows_mark_their_hours_and_rebuild_clears_them(self, tmp_path: Path) -> None:
        """Trades and funding mark their hour; other income does not; an update marks the
        old and the new hour; the rebuild writes a block equal to block_of over the rows."""
        conn = open_database(tmp_path / "h.db")
        ma = MarginAssets()
        rows = [trade(1, time=H0 + 5, pnl="2", commission="0.5"),
                trade(2, time=H0 + 9, pnl="-4", commission="0.5"),
                income(1, amount="1.25", time=H0 + 2 * HOUR_MS + 1),
                income(2, income_type="TRANSFER", amount="100", time=H0 + 5 * HOUR_MS)]  # fmt: skip
        apply_batch(conn, WriteBatch(records=rows), ma)
        assert _dirty(conn) == [("default", H0), ("default", H0 + 2 * HOUR_MS)]
        assert refresh_stats(conn) == (2, False) and _dirty(conn) == []
        got = conn.execute(
            "SELECT symbol, exact, total_e8, max_e8, min_e8, dd_e8 FROM curve_hourly "
            "WHERE hour_ms = ? ORDER BY symbol",
            (H0,),
        ).fetchall()
        want = block_of(H0, [(H0 + 5, 150_000_000), (H0 + 9, -450_000_000)])
        row = ("", 1, want.total_e8, want.max_e8, want.min_e8, want.dd_e8)
        assert got == [row, ("BTCUSDT", *row[1:])]
        conn.execute(
            "UPDATE trades SET time = ? WHERE id = 2", (H0 + 3 * HOUR_MS,)
        )  # a moved row: both hours
        assert _dirty(conn) == [("default", H0), ("default", H0 + 3 * HOUR_MS)]
        conn.close()

    def test_rows_without_e8_twins_make_an_inexact_block(self, tmp_path: Path) -> None:
        """An hour holding a row the integers cannot carry gets exact = 0 (read its rows)."""
        conn = open_database(tmp_path / "h.db")
        apply_batch(
            conn, WriteBatch(records=[trade(1, time=H0, pnl="0.000000001")]), MarginAssets()
        )
        refresh_stats(conn)
        assert conn.execute("SELECT DISTINCT exact FROM curve_hourly").fetchall() == [(0,)]
        conn.close()


class TestWriterRebuild:
    async def test_idle_writer_rebuilds_dirty_hours(self, tmp_path: Path) -> None:
        """Batches leave hours dirty; the idle writer rebuilds all of them soon after."""
        w = Writer(tmp_path / "h.db")
        await w.start()
        try:
            rows = [trade(i, time=H0 + i * HOUR_MS // 3) for i in range(60)]
            for k in range(0, 60, 20):
                await w.submit(WriteBatch(records=rows[k : k + 20]))
            conn = sqlite3.connect(w.path)
            for _ in range(100):
                if not _dirty(conn) and w.stats_hours_rebuilt >= 20:
                    break
                await asyncio.sleep(0.05)
            assert _dirty(conn) == []
            hours = conn.execute("SELECT COUNT(*) FROM curve_hourly WHERE symbol = ''").fetchone()
            assert hours == (20,)
            conn.close()
        finally:
            await w.close()


class TestPacer:
    """When the writer rebuilds, and which hours."""

    def test_catch_up_takes_half_the_time_while_batches_keep_coming(self) -> None:
        """Old hours are rebuilt between batches, each slice followed by as long a pause;
        the current hour waits for an idle writer."""
        p = Pacer(idle_s=0.5, force_s=30.0, last_batch=100.0, last_slice=99.0)
        assert p.plan(100.01) == (0.0, False)  # old hours, not the current one
        p.sliced(100.01, 100.03, rebuilt=2, more=True, every=False)
        wait, every = p.plan(100.04)
        assert not every and abs(wait - 0.01) < 1e-9  # until 100.05: a 50% duty cycle
        p.batch(100.04)
        assert p.plan(100.05) == (0.0, False)

    def test_current_hour_waits_for_idle_or_force(self) -> None:
        """No old hour left: wait until the writer has been idle idle_s, or force_s after
        the last slice while batches keep coming."""
        p = Pacer(idle_s=0.5, force_s=30.0, last_batch=100.0, last_slice=99.0)
        p.sliced(100.0, 100.01, rebuilt=0, more=True, every=False)  # nothing old was dirty
        wait, every = p.plan(100.1)
        assert not every and abs(wait - 0.4) < 1e-9
        assert p.plan(100.5) == (0.0, True)
        for k in range(300):  # a batch every 0.1 s for 30 s
            p.last_batch = 100.01 + k * 0.1
            p.old_left = False
        assert p.plan(130.005)[1] is False and p.plan(130.02) == (0.0, True)

    def test_a_failed_slice_waits(self) -> None:
        """After a failure nothing runs for force_s."""
        p = Pacer(idle_s=0.5, force_s=30.0)
        p.failed(10.0)
        assert p.plan(11.0) == (29.0, False) and p.plan(40.0) == (0.0, True)
