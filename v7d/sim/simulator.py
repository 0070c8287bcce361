"""The Simulator: wires clock, account, rules, stream, faults and activity into one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import string
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from v7d.sim.account import SimAccount
from v7d.sim.activity import Activity
from v7d.sim.clock import HOUR_MS, SimClock
from v7d.sim.control import control_routes
from v7d.sim.exchange_info import exchange_info, symbols_json
from v7d.sim.faults import FaultInjector
from v7d.sim.options import SimOptions
from v7d.sim.queries import Queries
from v7d.sim.rest import handle_fapi
from v7d.sim.snapshots import Snapshots
from v7d.sim.stream import ListenKeys, StreamHub
from v7d.sim.trading import Trading
from v7d.sim.weights import WeightLimiter

__all__ = ["SimStats", "Simulator", "random_credentials"]

_ALNUM = string.ascii_letters + string.digits


def random_credentials() -> tuple[str, str]:
    """A fresh (api_key, secret) pair in Binance's 64-character format."""
    return (
        "".join(secrets.choice(_ALNUM) for _ in range(64)),
        "".join(secrets.choice(_ALNUM) for _ in range(64)),
    )


@dataclass
class SimStats:
    """Counters behind /_sim/stats."""

    requests: Counter[str] = field(default_factory=Counter)
    weight: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    faults_served: Counter[str] = field(default_factory=Counter)
    served_429: int = 0
    served_418: int = 0
    trading_requests: int = 0

    def count_request(self, name: str) -> None:
        """One request to endpoint ``name`` ("GET /fapi/v1/userTrades")."""
        self.requests[name] += 1

    def add_weight(self, name: str, weight: int) -> None:
        """Weight charged to endpoint ``name``."""
        self.weight[name] += weight


class Simulator:
    """One simulated Binance USDⓈ-M account and exchange; ``app`` is its ASGI app."""

    # declared here so the endpoint table in v7d.sim.rest can be type-checked
    opts: SimOptions
    clock: SimClock
    faults: FaultInjector
    account: SimAccount
    queries: Queries
    snapshots: Snapshots
    keys: ListenKeys
    hub: StreamHub
    activity: Activity
    trading: Trading
    limiter: WeightLimiter
    stats: SimStats

    def __init__(self, options: SimOptions | None = None) -> None:
        opts = (options or SimOptions()).with_defaults()
        self.opts = opts
        if opts.api_key and opts.secret:
            self.api_key, self.secret = opts.api_key, opts.secret
        else:
            self.api_key, self.secret = random_credentials()
        self.clock = SimClock(time_scale=opts.time_scale, offset_ms=opts.time_offset_ms)
        self.faults = FaultInjector(opts.seed)
        self.account = SimAccount(opts, self.clock)
        self.queries = Queries(self.account, lambda: self.faults.rates.rest_lag_ms)
        self.snapshots = Snapshots(self.account)
        self.keys = ListenKeys(self.clock, self.faults)
        self.hub = StreamHub(self.clock, self.keys, self.faults)
        self.activity = Activity(self.account, self.hub)
        self.trading = Trading(self.activity)
        self.limiter = WeightLimiter(
            self.clock,
            opts.weight_limit,
            ban_grace_ms=opts.ban_grace_ms,
            ban_after_violations=opts.ban_after_violations,
        )
        self.stats = SimStats()
        self._orders_placed: list[int] = []
        self._exchange_info: bytes | None = None
        self.set_faults(opts.faults, **opts.fault_rates)
        self.app = self._build_app()

    # --- settings ------------------------------------------------------------------------
    def set_faults(self, profile: str, **rates: Any) -> None:
        """Switch the fault profile (rates overridable); the clock skew follows it."""
        self.faults.set(profile, **rates)
        self.clock.skew_ms = self.faults.rates.skew_ms

    def exchange_info(self) -> bytes:
        """GET /fapi/v1/exchangeInfo (built once; serverTime is fresh)."""
        if self._exchange_info is None:
            self._exchange_info = symbols_json(self.account.universe)
        return exchange_info(
            self.account.universe,
            self.opts.weight_limit,
            self.clock.server_ms(),
            self._exchange_info,
        )

    def order_count_headers(self) -> dict[str, str]:
        """X-MBX-ORDER-COUNT-10S / -1M for order requests."""
        now = self.clock.now_ms()
        self._orders_placed = [t for t in self._orders_placed if now - t < 60_000] + [now]
        ten = sum(1 for t in self._orders_placed if now - t < 10_000)
        return {
            "X-MBX-ORDER-COUNT-10S": str(ten),
            "X-MBX-ORDER-COUNT-1M": str(len(self._orders_placed)),
        }

    def stats_snapshot(self) -> dict[str, Any]:
        """The numbers behind /_sim/stats."""
        s = self.stats
        return {
            "requests": dict(s.requests),
            "requests_total": sum(s.requests.values()),
            "weight": dict(s.weight),
            "weight_total": sum(s.weight.values()),
            "errors": dict(s.errors),
            "faults_served": dict(s.faults_served),
            "served_429": s.served_429,
            "served_418": s.served_418,
            "trading_requests": s.trading_requests,
            "stream": {
                "messages_sent": dict(self.hub.sent),
                "messages_sent_total": sum(self.hub.sent.values()),
                "events_published": self.hub.published,
                "messages_swallowed": self.hub.swallowed,
                "connections_open": len(self.hub.conns),
                "connections_opened": self.hub.connections_opened,
                "connections_dropped": self.hub.connections_dropped,
            },
            "generated_days": self.account.generated_days,
            "faults": self.faults.describe(),
        }

    def info(self) -> dict[str, Any]:
        """Where history starts and ends and the options in force (no secrets)."""
        o = self.opts
        return {
            "history_start_ms": self.account.history_start(),
            "anchor_ms": self.account.anchor(),
            "now_ms": self.clock.now_ms(),
            "active_symbols": [s.name for s in self.account.universe.active],
            "delisted_symbols": [s.name for s in self.account.universe.symbols if not s.listed],
            "options": {
                "seed": o.seed,
                "days": o.days,
                "symbols_listed": o.symbols_listed,
                "symbols_active": o.symbols_active,
                "trades_per_day": o.trades_per_day,
                "live_rate": o.live_rate,
                "weight_limit": o.weight_limit,
                "time_scale": o.time_scale,
                "hedge_mode": o.hedge_mode,
                "retry_after": o.retry_after,
                "trade_ids": o.trade_ids,
                "window_error": o.window_error,
                "income_max_window_days": o.income_max_window_days,
            },
        }

    # --- app -----------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        async def fapi(request: Request) -> Response:
            return await handle_fapi(self, request)

        async def ws(websocket: WebSocket) -> None:
            await self.hub.serve(websocket)

        routes: list[Any] = [
            Route("/fapi/{rest:path}", fapi, methods=["GET", "POST", "PUT", "DELETE"]),
            WebSocketRoute("/private/ws/{listen_key}", ws),
            WebSocketRoute("/private/ws", ws),
            *control_routes(self),
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self._ticker())]
        if self.opts.live_rate > 0:
            tasks.append(asyncio.create_task(self._live()))
            tasks.append(asyncio.create_task(self._live_funding()))
        try:
            yield
        finally:
            self.hub.drop_connections()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    async def _ticker(self) -> None:
        # keys, connection ages, fault drops and resting-order matching, every 20 ms
        n = 0
        while True:
            await asyncio.sleep(0.02)
            self.hub.tick()
            n += 1
            if n % 5 == 0:
                self.activity.match()

    async def _live(self) -> None:
        period = 1.0 / self.opts.live_rate
        while True:
            await asyncio.sleep(period)
            self.activity.live_step()

    async def _live_funding(self) -> None:
        while True:
            await asyncio.sleep(self.clock.scaled_s(8 * HOUR_MS / 1000))
            self.activity.funding()
