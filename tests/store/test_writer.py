"""The single writer: idempotent upserts, order monotonicity, exact sums, rollups, ledger."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.store.factories import event, income, order, trade
from v7d.errors import StoreError
from v7d.store import CoverageMark, CursorMove, StoreReader, WriteBatch, Writer
from v7d.store.exact import from_e8
from v7d.store.order_stats import SPAN_KEY
from v7d.store.records import MetaItem, StreamEvent

DUMP_TABLES = ("trades", "orders", "order_events", "income", "sync_cursors", "coverage",
               "stream_events", "trade_hourly", "income_hourly", "meta")  # fmt: skip


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the history tables, sorted, for equality checks."""
    conn = sqlite3.connect(path)
    try:
        # The idle writer's statistics rebuild keeps a derived bound in meta whenever it
        # runs; it is not history, and replaying must not change history.
        return {
            t: sorted(
                conn.execute(
                    f"SELECT * FROM {t}" + (f" WHERE key != '{SPAN_KEY}'" if t == "meta" else "")
                ).fetchall(),
                key=repr,
            )
            for t in DUMP_TABLES
        }
    finally:
        conn.close()


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[Writer]:
    w = Writer(tmp_path / "h.db")
    await w.start()
    yield w
    await w.close()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


class TestIdempotence:
    async def test_replaying_a_batch_changes_nothing(self, writer: Writer) -> None:
        """The same batch committed three times leaves the database as after the first."""
        batch = WriteBatch(
            records=[*(trade(i) for i in range(50)), order(1), order(2, status="FILLED", update_time=3),
                     income(7), event(1, "NEW", "0", et="NEW"),
                     StreamEvent("default", "ORDER_TRADE_UPDATE", 5, 6, '{"e":"x"}'),
                     MetaItem("paused", "0")],
            cursors=[CursorMove("default", "userTrades", "BTCUSDT", 1_700_000_000_490, 49)],
            coverage=[CoverageMark("default", "userTrades", "BTCUSDT", 0, 1_700_000_000_500)],
        )  # fmt: skip
        first = await writer.submit(batch)
        assert first.inserted["trades"] == 50
        before = dump(Path(writer.path))
        for _ in range(2):
            again = await writer.submit(batch)
            assert again.changed == 0, again
        assert dump(Path(writer.path)) == before

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(ids=st.lists(st.integers(0, 200), min_size=1, max_size=60), repeat=st.integers(2, 3))
    def test_any_trade_batch_replays_cleanly(
        self, tmp_path_factory: pytest.TempPathFactory, ids: list[int], repeat: int
    ) -> None:
        """Random trade batches with duplicates, replayed, keep one row per id."""
        path = tmp_path_factory.mktemp("idem") / "h.db"

        async def go() -> None:
            w = Writer(path)
            await w.start()
            for _ in range(repeat):
                await w.submit(WriteBatch(records=[trade(i) for i in ids]))
            await w.close()

        run(go())
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM trades").fetchone()[0] == len(set(ids))


# An order's true life: strictly newer versions; each may arrive from ws, rest or both.
_STATUSES = ["NEW", "PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]


@st.composite
def order_histories(draw: st.DrawFn) -> tuple[list[object], object]:
    steps = draw(st.integers(1, 4))
    final = draw(st.sampled_from(["FILLED", "CANCELED", "EXPIRED"]))
    versions = []
    t = 1000
    for k in range(steps):
        status = final if k == steps - 1 else _STATUSES[min(k, 2)]
        t += draw(st.integers(0, 3))  # equal update_time is allowed: rank/qty break the tie
        executed = str(k)
        sources = draw(st.sampled_from([("ws",), ("rest",), ("ws", "rest")]))
        versions.append(
            [order(9, status=status, update_time=t, executed=executed, source=s) for s in sources]
        )
    newest = versions[-1][-1]  # rest if present (listed last), else ws
    flat = [v for group in versions for v in group]
    flat += draw(st.lists(st.sampled_from(flat), max_size=4))  # duplicates
    return draw(st.permutations(flat)), newest


class TestOrderMonotonicity:
    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(history=order_histories(), split=st.integers(1, 5))
    def test_any_interleaving_ends_at_the_newest_version(
        self,
        tmp_path_factory: pytest.TempPathFactory,
        history: tuple[list[object], object],
        split: int,
    ) -> None:
        """Versions in any order and batching leave exactly the newest one (REST wins ties)."""
        versions, newest = history
        path = tmp_path_factory.mktemp("mono") / "h.db"

        async def go() -> None:
            w = Writer(path)
            await w.start()
            for i in range(0, len(versions), split):
                await w.submit(WriteBatch(records=versions[i : i + split]))  # type: ignore[arg-type]
            await w.close()

        run(go())
        row = (
            sqlite3.connect(path)
            .execute("SELECT status, update_time, executed_qty, source, raw FROM orders")
            .fetchone()
        )
        assert row == (
            newest.status,
            newest.update_time,
            newest.executed_qty,
            newest.source,
            newest.raw,
        )  # type: ignore[attr-defined]

    async def test_final_status_is_never_left(self, writer: Writer) -> None:
        """A later-stamped NEW (stale REST) cannot reopen a CANCELED order."""
        await writer.submit(WriteBatch(records=[order(3, status="CANCELED", update_time=10)]))
        await writer.submit(WriteBatch(records=[order(3, status="NEW", update_time=99)]))
        assert StoreReader(writer.path).open_orders("default") == []

    async def test_stale_rest_still_supplies_creation_time(self, writer: Writer) -> None:
        """A stream-built order takes REST's real creation time even when REST is older."""
        await writer.submit(WriteBatch(records=[order(4, status="FILLED", update_time=50,
                                                      source="ws", time=40)]))  # fmt: skip
        await writer.submit(WriteBatch(records=[order(4, status="NEW", update_time=30, time=33)]))
        row = sqlite3.connect(writer.path).execute("SELECT status, time FROM orders").fetchone()
        assert row == ("FILLED", 33)


class TestOrderEvents:
    async def test_events_deduplicate_on_the_design_key(self, writer: Writer) -> None:
        """The same event from a replay or a reconnect is stored once; a new fill is not."""
        evs = [event(1, "PARTIALLY_FILLED", "1", 11), event(1, "PARTIALLY_FILLED", "1", 11),
               event(1, "FILLED", "2", 12)]  # fmt: skip
        res = await writer.submit(WriteBatch(records=evs))
        assert res.inserted["order_events"] == 2


class TestExactSums:
    @settings(
        max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        amounts=st.lists(
            st.decimals(
                min_value=Decimal("-99999999"),
                max_value=Decimal("99999999"),
                places=8,
                allow_nan=False,
                allow_infinity=False,
            ),
            min_size=1,
            max_size=40,
        ),
        weird=st.lists(st.sampled_from(["1e-12", "123456789012345.1", "0.000000001"]), max_size=3),
    )
    def test_integer_sums_plus_fallback_equal_decimal_sums(
        self, tmp_path_factory: pytest.TempPathFactory, amounts: list[Decimal], weird: list[str]
    ) -> None:
        """SUM(*_e8) plus Decimal over the NULL-e8 rows equals the Decimal sum of the strings."""
        path = tmp_path_factory.mktemp("sum") / "h.db"
        strings = [str(a) for a in amounts] + weird

        async def go() -> None:
            w = Writer(path)
            await w.start()
            await w.submit(WriteBatch(records=[income(i, amount=s) for i, s in enumerate(strings)]))
            await w.close()

        run(go())
        conn = sqlite3.connect(path)
        fast = conn.execute("SELECT coalesce(sum(income_e8), 0) FROM income").fetchone()[0]
        slow = sum((Decimal(r[0]) for r in conn.execute("SELECT income FROM income WHERE income_e8 IS NULL")),
                   Decimal(0))  # fmt: skip
        assert from_e8(fast) + slow == sum((Decimal(s) for s in strings), Decimal(0))
        rollup = conn.execute(
            "SELECT sum(income_e8), sum(inexact), sum(n) FROM income_hourly"
        ).fetchone()
        assert rollup == (fast, len(weird), len(strings))


class TestRollups:
    async def test_rollups_equal_group_by_after_ws_rows_are_replaced(self, writer: Writer) -> None:
        """Hourly rollups match a GROUP BY over trades after inserts and ws→rest replacements."""
        ws = [
            trade(i, source="ws", pnl="1.5", maker=i % 3 == 0, time=1_700_000_000_000 + i * 600_000)
            for i in range(40)
        ]
        rest = [trade(i, source="rest", pnl="-0.25", maker=i % 3 == 0, time=1_700_000_000_000 + i * 600_000)
                for i in range(0, 40, 2)]  # fmt: skip
        await writer.submit(WriteBatch(records=ws))
        res = await writer.submit(WriteBatch(records=rest))
        assert res.updated["trades"] == 20
        conn = sqlite3.connect(writer.path)
        expect = conn.execute(
            "SELECT symbol, (time/3600000)*3600000 h, side, count(*), sum(qty_e8), sum(realized_pnl_e8), "
            "sum(commission_e8), sum(maker) FROM trades GROUP BY 1,2,3 ORDER BY 1,2,3"
        ).fetchall()
        got = conn.execute(
            "SELECT symbol, hour_ms, side, sum(n), sum(qty_e8), sum(realized_pnl_e8), sum(commission_e8), "
            "sum(maker_n) FROM trade_hourly WHERE n != 0 GROUP BY 1,2,3 ORDER BY 1,2,3"
        ).fetchall()
        assert got == expect


class TestLedgerAndCursors:
    async def test_coverage_merges_adjacent_and_overlapping(self, writer: Writer) -> None:
        """Marks [0,10) [10,20) [15,30) and a separate [50,60) become two ranges."""
        marks = [CoverageMark("default", "userTrades", "X", a, b) for a, b in
                 [(0, 10), (10, 20), (15, 30), (50, 60)]]  # fmt: skip
        for m in marks:
            await writer.submit(WriteBatch(coverage=[m]))
        rows = StoreReader(writer.path).coverage("default")
        assert [(r.start_ms, r.end_ms) for r in rows] == [(0, 30), (50, 60)]

    async def test_cursor_moves_forward_only_unless_forced(self, writer: Writer) -> None:
        """An older cursor move is ignored; a forced one is applied."""
        await writer.submit(WriteBatch(cursors=[CursorMove("default", "income", "", 500, 3)]))
        await writer.submit(WriteBatch(cursors=[CursorMove("default", "income", "", 400, 9)]))
        reader = StoreReader(writer.path)
        assert reader.cursor("default", "income", "").position_ms == 500  # type: ignore[union-attr]
        await writer.submit(
            WriteBatch(cursors=[CursorMove("default", "income", "", 400, 9, force=True)])
        )
        assert reader.cursor("default", "income", "").position_ms == 400  # type: ignore[union-attr]


class TestWriterLifecycle:
    async def test_a_failing_batch_fails_alone(self, writer: Writer) -> None:
        """A batch with a bad record fails its own future; nothing of it is kept; the next commits."""
        bad = WriteBatch(records=[trade(1), "not a record"])  # type: ignore[list-item]
        with pytest.raises(TypeError):
            await writer.submit(bad)
        res = await writer.submit(WriteBatch(records=[trade(2)]))
        assert res.inserted == {"trades": 1}
        assert sqlite3.connect(writer.path).execute("SELECT id FROM trades").fetchall() == [(2,)]

    async def test_close_drains_queued_batches(self, tmp_path: Path) -> None:
        """Batches queued before close() are committed before the connection closes."""
        w = Writer(tmp_path / "h.db")
        await w.start()
        futs = [asyncio.ensure_future(w.submit(WriteBatch(records=[trade(i)]))) for i in range(30)]
        await asyncio.sleep(0)
        assert await w.close(drain_timeout=10) == 0
        await asyncio.gather(*futs)
        assert sqlite3.connect(w.path).execute("SELECT count(*) FROM trades").fetchone()[0] == 30
        with pytest.raises(StoreError):
            await w.submit(WriteBatch(records=[trade(99)]))

    async def test_wedged_writer_turns_unhealthy(self, tmp_path: Path) -> None:
        """The test hook wedges the writer; healthy goes False after stall_after_s."""
        w = Writer(tmp_path / "h.db", stall_after_s=0.2)
        await w.start()
        assert w.healthy
        w.hang_for_tests()
        await asyncio.sleep(0.4)
        assert not w.healthy
        assert await w.close(drain_timeout=0.2) == 0


class TestSnapshotsAndAlgo:
    async def test_stream_snapshot_keeps_fields_only_rest_has(self, writer: Writer) -> None:
        """A newer stream position with empty mark price/notional keeps REST's values."""
        from v7d.store.records import Position

        rest = Position("default", "BTCUSDT", "BOTH", "0.5", "100", "100.1", "101", "0.5",
                        "50", "50.5", "USDT", 10, "rest", "{}")  # fmt: skip
        ws = Position("default", "BTCUSDT", "BOTH", "0.7", "100.2", "100.3", "", "0.6", "",
                      "", "USDT", 20, "ws", "{}")  # fmt: skip
        await writer.submit(WriteBatch(records=[rest]))
        await writer.submit(WriteBatch(records=[ws]))
        row = (
            sqlite3.connect(writer.path)
            .execute(
                "SELECT position_amt, mark_price, notional, liquidation_price, update_time FROM positions"
            )
            .fetchone()
        )
        assert row == ("0.7", "101", "50.5", "50", 20)

    async def test_stream_algo_update_keeps_creation_time(self, writer: Writer) -> None:
        """An ALGO_UPDATE (time = its T) updates status but keeps REST's createTime."""
        from v7d.store.records import AlgoOrder

        def algo(status: str, t: int, ut: int, source: str) -> AlgoOrder:
            return AlgoOrder("default", 77, "BTCUSDT", "a1", "CONDITIONAL", "STOP_MARKET", "SELL",
                             "BOTH", status, "1", "0", "90", t, ut, source, "{}")  # type: ignore[arg-type]  # fmt: skip

        await writer.submit(WriteBatch(records=[algo("NEW", 5, 5, "rest")]))
        await writer.submit(WriteBatch(records=[algo("TRIGGERED", 9, 9, "ws")]))
        row = (
            sqlite3.connect(writer.path)
            .execute("SELECT status, time, update_time FROM algo_orders")
            .fetchone()
        )
        assert row == ("TRIGGERED", 5, 9)
