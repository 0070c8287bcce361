"""UserStream against the real simulator: events, drops, key expiry, silence, gaps, secrecy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from structlog.testing import capture_logs

from v7d.binance.parse import order_from_rest, records_from_ws, trade_from_rest
from v7d.binance.rest import BinanceRest
from v7d.binance.stream import UserStream
from v7d.sim.testing import SimHandle
from v7d.store.records import AlgoOrder, Order, Trade

from .conftest import TRADE_FIELDS, client, until


class Recorder:
    """Collects what the stream hands to its callbacks."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], int]] = []
        self.gaps: list[tuple[int, int]] = []

    async def on_message(self, message: dict[str, Any], received_ms: int) -> None:
        self.messages.append((message, received_ms))

    async def on_gap(self, from_ms: int, to_ms: int) -> None:
        self.gaps.append((from_ms, to_ms))

    def types(self) -> list[str]:
        return [m["e"] for m, _ in self.messages]


@asynccontextmanager
async def streaming(
    sim: SimHandle, rec: Recorder, **options: Any
) -> AsyncIterator[tuple[UserStream, BinanceRest]]:
    """A running UserStream on ``sim``; cancelled and checked on exit."""
    options.setdefault("backoff_base_s", 0.05)
    options.setdefault("backoff_cap_s", 0.2)
    async with client(sim) as rest:
        stream = UserStream(
            rest=rest,
            ws_url=sim.ws_url,
            account="default",
            on_message=rec.on_message,
            on_gap=rec.on_gap,
            **options,
        )
        task = asyncio.create_task(stream.run())
        try:
            await until(lambda: stream.state == "live", what="the stream to connect")
            yield stream, rest
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert stream.state == "down"


def now_ms() -> int:
    return int(time.time() * 1000)


class TestEvents:
    async def test_activity_arrives_and_parses(self, sim: SimHandle) -> None:
        """Fills made on the exchange arrive in order and parse into the same trades."""
        rec = Recorder()
        async with streaming(sim, rec) as (stream, _):
            made = sim.add_activity(kind="fill", symbol="BTCUSDT", fills=3)
            await until(lambda: "ACCOUNT_UPDATE" in rec.types(), what="the fill's events")
            await asyncio.sleep(0.1)
        assert rec.gaps == []
        trades = [
            r
            for message, received in rec.messages
            for r in records_from_ws("default", message, received)
            if isinstance(r, Trade)
        ]
        assert sorted(t.id for t in trades) == sorted(made["trades"])
        assert stream.messages == len(rec.messages) == sim.stats()["stream"]["messages_sent_total"]
        assert stream.reconnects == 0

    async def test_resume_from_reports_the_gap_on_first_connect(self, sim: SimHandle) -> None:
        """A daemon that restarts passes the last event it stored; the gap starts there."""
        rec = Recorder()
        resume = now_ms() - 60_000
        async with streaming(sim, rec, resume_from_ms=resume):
            await until(lambda: bool(rec.gaps), what="the gap")
        [(start, end)] = rec.gaps
        assert start == resume and 0 <= now_ms() - end < 5_000


class TestStreamMatchesRest:
    async def test_every_activity_kind_parses_and_agrees_with_rest(self, sim: SimHandle) -> None:
        """Every kind of activity parses from the stream, and its fills and final order states
        are what REST answers (trades field for field, exact strings)."""
        kinds = (
            "fill",
            "limit",
            "fill_open",
            "partial_cancel",
            "cancel",
            "expire",
            "liquidation",
            "funding",
            "algo",
            "algo_cancel",
        )
        rec = Recorder()
        async with streaming(sim, rec) as (_, rest):
            made = [sim.add_activity(kind=kind, symbol="BTCUSDT") for kind in kinds]
            n_algos = sum(len(m["algo_orders"]) for m in made)
            await until(lambda: rec.types().count("ALGO_UPDATE") >= n_algos, what="all the events")
            records = [r for m, t in rec.messages for r in records_from_ws("default", m, t)]
            trades = [r for r in records if isinstance(r, Trade)]
            assert sorted(t.id for t in trades) == sorted(i for m in made for i in m["trades"])
            for ws_trade in trades:
                [row] = await rest.user_trades("BTCUSDT", from_id=ws_trade.id, limit=1)
                rest_trade = trade_from_rest("default", row)
                for field in TRADE_FIELDS:
                    assert getattr(ws_trade, field) == getattr(rest_trade, field), field
            last: dict[int, Order] = {}
            for r in records:
                if isinstance(r, Order):
                    last[r.order_id] = r
            assert set(last) == {i for m in made for i in m["orders"]}
            for order_id, ws_order in last.items():
                rest_order = order_from_rest("default", await rest.order("BTCUSDT", order_id))
                assert ws_order.status == rest_order.status
                assert ws_order.executed_qty == rest_order.executed_qty
                assert Decimal(ws_order.cum_quote) == Decimal(rest_order.cum_quote)
                assert ws_order.update_time == rest_order.update_time
            algos = {r.algo_id for r in records if isinstance(r, AlgoOrder)}
            assert algos == {i for m in made for i in m["algo_orders"]}


class TestReconnects:
    async def test_survives_dropped_connections_and_reports_the_gap(self, sim: SimHandle) -> None:
        """After the exchange drops the connection, the stream reconnects and names the gap."""
        rec = Recorder()
        async with streaming(sim, rec) as (stream, _):
            sim.add_activity(kind="limit", symbol="ETHUSDT")
            await until(lambda: len(rec.messages) >= 1, what="the first event")
            last_seen = rec.messages[-1][1]
            assert sim.drop_connections() == 1
            await until(lambda: stream.reconnects == 1 and stream.state == "live")
            sim.add_activity(kind="limit", symbol="ETHUSDT")
            await until(lambda: len(rec.messages) >= 2, what="an event after the reconnect")
        [(start, end)] = rec.gaps
        assert start == last_seen < end
        assert stream.keys_created == 2  # a POST per connect; it returns the same live key
        assert stream.key_changes == 0

    async def test_reconnects_before_the_connection_gets_too_old(self, sim: SimHandle) -> None:
        """A connection is replaced before the exchange's 24-hour cut (max_age_s)."""
        rec = Recorder()
        async with streaming(sim, rec, max_age_s=0.3) as (stream, _):
            await until(lambda: stream.reconnects >= 2, what="age-driven reconnects")
        assert stream.last_reason == "max_age"
        assert len(rec.gaps) >= 2

    async def test_silent_stream_is_noticed(self, make_sim: Callable[..., SimHandle]) -> None:
        """An open stream that stops delivering is replaced; the gap covers the lost events."""
        sim = make_sim(faults="silent")
        rec = Recorder()
        async with streaming(sim, rec, silent_timeout_s=0.4) as (stream, _):
            connected = stream.connected_since
            assert connected is not None
            made_at = now_ms()
            sim.add_activity(kind="fill", symbol="BTCUSDT")
            await until(lambda: bool(rec.gaps), what="the silent stream to be noticed")
        assert rec.messages == []
        assert sim.stats()["stream"]["messages_swallowed"] >= 1
        start, end = rec.gaps[0]
        assert start <= connected <= made_at < end
        assert stream.last_reason == "silent"


class TestListenKey:
    async def test_keepalive_keeps_the_key(self, make_sim: Callable[..., SimHandle]) -> None:
        """Keep-alives sent in time keep a short-lived key (and the connection) alive."""
        sim = make_sim(faults="keyexpiry", fault_rates={"key_expiry_s": 0.6})
        rec = Recorder()
        async with streaming(sim, rec, keepalive_s=0.2) as (stream, _):
            await asyncio.sleep(1.5)
            assert stream.keepalives >= 5
        assert stream.keys_created == 1 and stream.reconnects == 0
        assert "listenKeyExpired" not in rec.types()

    async def test_default_timings_fit_the_exchange_limits(
        self, make_sim: Callable[..., SimHandle]
    ) -> None:
        """With the exchange's clock 20,000× faster and the stream's default timings scaled the
        same, keep-alives beat the 60-minute key TTL and v7d reconnects before the 24-hour
        cut, so the exchange never has to close the connection."""
        scale = 20_000
        sim = make_sim(time_scale=scale)
        rec = Recorder()
        defaults = {"keepalive_s": 1800, "max_age_s": 23.5 * 3600, "silent_timeout_s": 600}
        scaled = {k: v / scale for k, v in defaults.items()}
        scaled["silent_timeout_s"] = 60.0  # nothing happens on this account: do not test it here
        async with streaming(sim, rec, **scaled) as (stream, _):
            await until(lambda: stream.reconnects >= 1, within=8.0, what="an age reconnect")
        assert stream.last_reason == "max_age"
        assert stream.keepalives >= 20
        assert stream.key_changes == 0
        assert "listenKeyExpired" not in rec.types()
        assert sim.stats()["stream"]["connections_dropped"] == 0

    async def test_stream_is_read_while_a_keepalive_waits_for_the_budget(
        self, sim: SimHandle
    ) -> None:
        """A keep-alive held back by a blocked budget (after a 429) does not stop delivery."""
        rec = Recorder()
        async with streaming(sim, rec, keepalive_s=0.1) as (stream, rest):
            rest.budget.observe(status=429, used_weight_1m=None, retry_after=1.5)
            await asyncio.sleep(0.3)  # the keep-alive is now waiting in the budget
            assert rest.budget.snapshot()["waiting"] == 1
            sim.add_activity(kind="limit", symbol="ETHUSDT")
            await until(lambda: bool(rec.messages), within=1.0, what="delivery during the block")
            assert stream.keepalives == 0
            await until(lambda: stream.keepalives >= 1, what="the keep-alive after the block")
        assert stream.reconnects == 0

    async def test_expired_key_is_recreated(self, make_sim: Callable[..., SimHandle]) -> None:
        """listenKeyExpired makes the stream create a new key and reconnect."""
        sim = make_sim(faults="keyexpiry", fault_rates={"key_expiry_s": 0.4})
        rec = Recorder()
        async with streaming(sim, rec) as (stream, _):
            await until(lambda: "listenKeyExpired" in rec.types(), what="the key to expire")
            sim.set_faults("none")
            await until(lambda: stream.state == "live" and stream.key_changes >= 1)
            sim.add_activity(kind="limit", symbol="ETHUSDT")
            await until(
                lambda: rec.types()[-1] == "ORDER_TRADE_UPDATE", what="events on the new key"
            )
        assert stream.reconnects >= 1 and rec.gaps

    async def test_deleted_key_is_replaced(self, sim: SimHandle) -> None:
        """A key that dies under an open connection is replaced by a new one, without errors."""
        rec = Recorder()
        async with streaming(sim, rec, keepalive_s=0.3) as (stream, rest):
            await rest.listen_key_delete("")
            await until(lambda: stream.key_changes == 1 and stream.state == "live")
        assert stream.last_reason in ("listenKey gone (-1125)", "closed (1001)")
        assert stream.last_error is None

    async def test_listen_key_never_logged_in_full(self, sim: SimHandle) -> None:
        """Logs and status show only the key's first 4 characters."""
        rec = Recorder()
        with capture_logs() as logs:
            async with streaming(sim, rec) as (stream, rest):
                key = await rest.listen_key_create()
                sim.drop_connections()
                await until(lambda: stream.reconnects == 1 and stream.state == "live")
                status = stream.status()
        assert status["listen_key"] == key[:4] + "…"
        assert key not in repr(status)
        assert logs and all(key not in repr(event) for event in logs)
        assert any(event.get("listen_key") == key[:4] + "…" for event in logs)
