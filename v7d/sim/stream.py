"""User-data stream: listenKeys, the WebSocket endpoint, and fan-out of events.

Routed like fstream.binance.com: ``/private/ws/<listenKey>`` and
``/private/ws?listenKey=<k>&events=A/B`` (``events`` is an allow-list, so a client that
filters must list ``listenKeyExpired`` too). A key lives 60 minutes after its last
keep-alive, a connection at most 24 hours (both divided by ``time_scale``); the server
pings and drops clients that do not pong (uvicorn's keepalive, configured in
v7d.sim.server). When a key expires, its connections get ``listenKeyExpired`` and are
closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from v7d.sim.binance_errors import BinanceError
from v7d.sim.clock import DAY_MS, SimClock
from v7d.sim.faults import FaultInjector
from v7d.sim.rows import dumps

__all__ = ["ListenKeys", "StreamHub"]

_CLOSE = b""


class ListenKeys:
    """The account's listenKey (one at a time, like Binance)."""

    def __init__(self, clock: SimClock, faults: FaultInjector) -> None:
        self.clock = clock
        self.faults = faults
        self.key: str | None = None
        self.expires_at = 0
        self.expired_announced: set[str] = set()
        self.history: dict[str, int] = {}  # every key made -> when it expires (or expired)
        self.deleted: set[str] = set()

    def ttl_ms(self) -> int:
        """60 minutes, scaled; the keyexpiry fault shortens it."""
        ttl = self.clock.scaled_ms(60 * 60_000)
        if self.faults.rates.key_expiry_s > 0:
            ttl = min(ttl, int(self.faults.rates.key_expiry_s * 1000))
        return ttl

    def active(self) -> str | None:
        """The live key, or None."""
        if self.key and self.expires_at > self.clock.now_ms():
            return self.key
        return None

    def create(self) -> str:
        """POST: the active key, extended; or a new one."""
        key = self.active() or secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:64]
        self.key = key
        self.expires_at = self.history[key] = self.clock.now_ms() + self.ttl_ms()
        return key

    def timed_out(self, key: str, now: int) -> bool:
        """True when ``key`` died of old age (not by DELETE)."""
        return key not in self.deleted and self.history.get(key, now + 1) <= now

    def keepalive(self) -> str:
        """PUT: extend the active key; -1125 when there is none."""
        key = self.active()
        if key is None:
            raise BinanceError(-1125, "This listenKey does not exist.")
        self.expires_at = self.history[key] = self.clock.now_ms() + self.ttl_ms()
        return key

    def delete(self) -> None:
        """DELETE: close the stream key."""
        if self.key:
            self.deleted.add(self.key)
        self.key = None
        self.expires_at = 0


@dataclass(eq=False)
class _Conn:
    ws: WebSocket
    key: str
    events: frozenset[str] | None
    opened_ms: int
    lifetime_ms: int | None
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    closing: bool = False


class StreamHub:
    """Open stream connections and the events pushed to them."""

    def __init__(self, clock: SimClock, keys: ListenKeys, faults: FaultInjector) -> None:
        self.clock = clock
        self.keys = keys
        self.faults = faults
        self.conns: set[_Conn] = set()
        self.sent: Counter[str] = Counter()
        self.swallowed = 0
        self.published = 0
        self.connections_opened = 0
        self.connections_dropped = 0

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every connection of the active key that allows its type."""
        self.published += 1
        data = dumps(event)
        etype = str(event.get("e"))
        active = self.keys.active()
        for c in list(self.conns):
            if c.closing or c.key != active:
                continue
            if c.events is not None and etype not in c.events:
                continue
            if self.faults.ws_swallow():
                self.swallowed += 1
                continue
            c.queue.put_nowait(data)
            self.sent[etype] += 1

    def _close(self, c: _Conn) -> None:
        if not c.closing:
            c.closing = True
            c.queue.put_nowait(_CLOSE)

    def drop_connections(self) -> int:
        """Close every stream connection now; returns how many."""
        n = 0
        for c in list(self.conns):
            if not c.closing:
                n += 1
                self.connections_dropped += 1
            self._close(c)
        return n

    def tick(self) -> None:
        """Expire keys and connections (called every few ms by the server's ticker)."""
        now = self.clock.now_ms()
        max_age = self.clock.scaled_ms(DAY_MS)
        for c in list(self.conns):
            if c.closing:
                continue
            key_dead = c.key != self.keys.key or self.keys.expires_at <= now
            # a key that timed out announces it, even if a new key was made meanwhile
            if (
                key_dead
                and c.key not in self.keys.expired_announced
                and self.keys.timed_out(c.key, now)
            ):
                self.keys.expired_announced.add(c.key)
                msg = {"e": "listenKeyExpired", "E": str(now), "listenKey": c.key}
                for other in self.conns:
                    if other.key == c.key and (
                        other.events is None or "listenKeyExpired" in other.events
                    ):
                        other.queue.put_nowait(dumps(msg))
                        self.sent["listenKeyExpired"] += 1
            if key_dead or now - c.opened_ms >= max_age:
                self._close(c)
            elif c.lifetime_ms is not None and now - c.opened_ms >= c.lifetime_ms:
                self.connections_dropped += 1
                self._close(c)

    async def serve(self, ws: WebSocket) -> None:
        """The WebSocket endpoint for both routed forms."""
        key = ws.path_params.get("listen_key") or ws.query_params.get("listenKey") or ""
        if not key or key != self.keys.active():
            await ws.close(code=1008)
            return
        events_raw = ws.query_params.get("events")
        events = frozenset(e for e in events_raw.split("/") if e) if events_raw else None
        await ws.accept()
        life = self.faults.ws_lifetime_s()
        conn = _Conn(
            ws=ws,
            key=key,
            events=events,
            opened_ms=self.clock.now_ms(),
            lifetime_ms=int(life * 1000) if life is not None else None,
        )
        self.conns.add(conn)
        self.connections_opened += 1
        try:
            sender = asyncio.create_task(self._send_loop(conn))
            receiver = asyncio.create_task(self._receive_loop(conn))
            _done, pending = await asyncio.wait(
                {sender, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        finally:
            self.conns.discard(conn)

    @staticmethod
    async def _send_loop(c: _Conn) -> None:
        while True:
            data = await c.queue.get()
            if data is _CLOSE or data == _CLOSE:
                with contextlib.suppress(Exception):
                    await c.ws.close(code=1001)
                return
            await c.ws.send_text(data.decode())

    @staticmethod
    async def _receive_loop(c: _Conn) -> None:
        # Binance ignores what clients send on the private stream; we only watch for the end.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                msg = await c.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
