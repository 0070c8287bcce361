"""The user-data stream: one WebSocket per account on ``{ws_url}/private/ws/{listenKey}``.

:meth:`UserStream.run` loops until cancelled:

1. create (or extend) the listenKey — ``POST /fapi/v1/listenKey`` through the budget;
2. connect; call ``on_gap(from_ms, to_ms)`` for the range the stream was not delivering
   (after a reconnect: since the last message, or since the last connect if the stream
   stayed quiet; on the first connect: since ``resume_from_ms`` if the caller knows the
   last event it stored, else no gap);
3. hand every message to ``on_message(message, received_ms)``, in order;
4. every ``keepalive_s`` extend the key (Binance: 60-minute keys, PUT about every 30 min);
5. reconnect when the server closes, when ``listenKeyExpired`` arrives or a keep-alive
   answers -1125 (with a new key), before the exchange's 24-hour cut (``max_age_s``), and
   when nothing arrived for ``silent_timeout_s`` (an open but silent stream — a quiet
   account costs one cheap reconnect and gap check per period, which is the price of
   noticing a stream that stopped delivering).

Pings are answered by websockets itself; it also pings the server so a dead TCP
connection is noticed. Failed connects back off exponentially with full jitter.
An :class:`~v7d.errors.AuthError` (key rejected) ends :meth:`run`: the account stops.

The listenKey is a secret (it is the stream URL): it is logged as its first 4 characters
and an ellipsis, and websockets' own debug logging (which prints request lines) is kept
below the level at which it would be emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import structlog

from v7d.binance.errors import ListenKeyGone, redact
from v7d.binance.rest import BinanceRest
from v7d.binance.retry import backoff_delay
from v7d.credentials import mask
from v7d.errors import AuthError, ConfigError, ExchangeError

__all__ = ["UserStream", "mask_key"]

log = structlog.get_logger(__name__)

# websockets logs request lines (with the listenKey in the path) at DEBUG: keep it quiet.
_WS_LOGGER = logging.getLogger("v7d.binance.stream.websockets")
_WS_LOGGER.setLevel(logging.WARNING)

#: A connection that lived this long resets the connect backoff.
_STABLE_S = 60.0
#: A planned reconnect (expiry, age, silence) sooner than this after the last one backs off.
_PLANNED_MIN_S = 1.0
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def mask_key(key: str | None) -> str:
    """A listenKey as it may appear in logs and status: :func:`~v7d.credentials.mask`
    (its first 4 characters and "…"), or "" when there is none."""
    return mask(key) if key else ""


class _Reconnect(Exception):
    """Leave the current connection (planned: expiry, age, silence, server close)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UserStream:
    """One account's user-data stream (see the module docstring).

    Attributes read by status: ``state`` ("connecting" | "live" | "down"),
    ``last_event_ms`` (receipt time of the last message), ``reconnects``,
    ``connected_since`` (ms, None while not connected), ``last_error``.
    """

    def __init__(
        self,
        *,
        rest: BinanceRest,
        ws_url: str,
        account: str,
        on_message: Callable[[dict[str, Any], int], Awaitable[None]],
        on_gap: Callable[[int, int], Awaitable[None]],
        keepalive_s: float = 1800,
        silent_timeout_s: float = 600,
        max_age_s: float = 23.5 * 3600,
        clock: Callable[[], float] = time.time,
        resume_from_ms: int | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        open_timeout_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
    ) -> None:
        if not ws_url.startswith(("ws://", "wss://")):
            raise ConfigError(f"[exchange].ws_url: expected a ws(s) URL, got {ws_url!r}")
        self.rest = rest
        self.ws_url = ws_url.rstrip("/")
        self.account = account
        self._on_message = on_message
        self._on_gap = on_gap
        self.keepalive_s = keepalive_s
        self.silent_timeout_s = silent_timeout_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._open_timeout_s = open_timeout_s
        self._ping_interval_s = ping_interval_s
        self._gap_from: int | None = resume_from_ms
        self._key: str | None = None
        self.state = "down"
        self.last_event_ms: int | None = None
        self.connected_since: int | None = None
        self.reconnects = 0
        self.connects = 0
        self.messages = 0
        self.keepalives = 0
        self.keys_created = 0  # listenKey POSTs (one per connect)
        self.key_changes = 0  # POSTs that returned a different key than the last one
        self.bad_frames = 0
        self.callback_errors = 0
        self.last_error: str | None = None
        self.last_reason: str | None = None

    def status(self) -> dict[str, Any]:
        """The stream's state for status answers (the key shown masked)."""
        return {
            "state": self.state,
            "connected_since": self.connected_since,
            "last_event_ms": self.last_event_ms,
            "reconnects": self.reconnects,
            "messages": self.messages,
            "keepalives": self.keepalives,
            "keys_created": self.keys_created,
            "key_changes": self.key_changes,
            "bad_frames": self.bad_frames,
            "callback_errors": self.callback_errors,
            "listen_key": mask_key(self._key),
            "last_reason": self.last_reason,
            "last_error": self.last_error,
        }

    async def run(self) -> None:
        """Keep the stream connected until cancelled; AuthError ends it (account stops)."""
        failures = 0
        try:
            while True:
                self.state = "connecting"
                started = asyncio.get_running_loop().time()
                try:
                    # POST before every connect: it returns the active key (extended) or a
                    # new one, so a key that died while we were away is never reused.
                    fresh = await self.rest.listen_key_create()
                    self.keys_created += 1
                    if self._key is not None and fresh != self._key:
                        self.key_changes += 1
                    self._key = fresh
                    await self._connection(fresh)
                except _Reconnect as planned:
                    self._note_down(planned.reason, None)
                    if asyncio.get_running_loop().time() - started >= _PLANNED_MIN_S:
                        failures = 0
                        continue
                except AuthError:
                    self._note_down("auth", None)
                    raise
                except (ExchangeError, OSError, TimeoutError, _ws_errors()) as exc:
                    self._note_down("error", exc)
                lived = asyncio.get_running_loop().time() - started
                failures = 1 if lived >= _STABLE_S else failures + 1
                delay = backoff_delay(failures, base=self._backoff_base_s, cap=self._backoff_cap_s)
                await asyncio.sleep(delay)
        finally:
            self.state = "down"
            self.connected_since = None

    # -- one connection ------------------------------------------------------------------

    async def _connection(self, key: str) -> None:
        from websockets.asyncio.client import connect

        url = f"{self.ws_url}/private/ws/{key}"
        host = urlsplit(self.ws_url).hostname or ""
        async with connect(
            url,
            open_timeout=self._open_timeout_s,
            ping_interval=self._ping_interval_s,
            ping_timeout=self._ping_interval_s,
            close_timeout=2,
            max_size=2**23,
            max_queue=1024,
            proxy=None if host in _LOCAL_HOSTS else True,
            logger=_WS_LOGGER,
        ) as ws:
            now = self._now_ms()
            self.state = "live"
            self.connected_since = now
            self.connects += 1
            if self.connects > 1:
                self.reconnects += 1
            log.info(
                "stream_connected",
                account=self.account,
                listen_key=mask_key(key),
                reconnects=self.reconnects,
            )
            gap_from, self._gap_from = self._gap_from, None
            if gap_from is not None and gap_from < now:
                await self._gap(gap_from, now)
            await self._session(ws, key)

    async def _session(self, ws: Any, key: str) -> None:
        """Read until a reason to reconnect; keep-alives run beside the reader, so a
        keep-alive waiting for the rate budget never stops the stream from being read."""
        reader = asyncio.create_task(self._read(ws))
        keeper = asyncio.create_task(self._keep(key))
        try:
            done, _ = await asyncio.wait({reader, keeper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises the reason (_Reconnect, AuthError, ...)
        finally:
            for task in (reader, keeper):
                task.cancel()
            await asyncio.gather(reader, keeper, return_exceptions=True)

    async def _read(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        loop = asyncio.get_running_loop()
        age_at = loop.time() + self.max_age_s
        heard = loop.time()
        while True:
            now = loop.time()
            if now >= age_at:
                raise _Reconnect("max_age")
            if now - heard >= self.silent_timeout_s:
                raise _Reconnect("silent")
            timeout = min(age_at, heard + self.silent_timeout_s) - now
            try:
                frame = await asyncio.wait_for(ws.recv(), max(timeout, 0.001))
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else "no close frame"
                raise _Reconnect(f"closed ({code})") from None
            heard = loop.time()
            if await self._deliver(frame):
                raise _Reconnect("listenKeyExpired")

    async def _keep(self, key: str) -> None:
        delay = self.keepalive_s
        while True:
            await asyncio.sleep(delay)
            delay = await self._keepalive(key)

    async def _keepalive(self, key: str) -> float:
        """Extend the key; seconds until the next keep-alive."""
        try:
            await self.rest.listen_key_keepalive(key)
        except ListenKeyGone:
            raise _Reconnect("listenKey gone (-1125)") from None
        except AuthError:
            raise
        except ExchangeError as exc:
            # The key lives 60 minutes: try again soon rather than give up the connection.
            self.last_error = str(exc)
            log.warning("stream_keepalive_failed", account=self.account, error=str(exc))
            return min(self.keepalive_s, 60.0)
        self.keepalives += 1
        return self.keepalive_s

    async def _deliver(self, frame: str | bytes) -> bool:
        """Hand one frame to the caller; True when it says the listenKey expired."""
        received_ms = self._now_ms()
        self.last_event_ms = received_ms
        try:
            message = json.loads(frame)
        except (ValueError, UnicodeDecodeError):
            message = None
        if not isinstance(message, dict):
            self.bad_frames += 1
            shown = frame[:200] if isinstance(frame, str) else repr(frame[:200])
            log.error("stream_bad_frame", account=self.account, frame=redact(shown))
            return False
        self.messages += 1
        try:
            await self._on_message(message, received_ms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the caller's bug or a wedged writer: repair later
            self.callback_errors += 1
            self.last_error = f"on_message: {type(exc).__name__}: {exc}"
            log.exception("stream_message_not_taken", account=self.account)
            await self._gap(_event_ms(message, received_ms), received_ms + 1)
        return message.get("e") == "listenKeyExpired"

    async def _gap(self, from_ms: int, to_ms: int) -> None:
        try:
            await self._on_gap(from_ms, to_ms)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.callback_errors += 1
            log.exception("stream_gap_not_taken", account=self.account, from_ms=from_ms)

    # -- bookkeeping ---------------------------------------------------------------------

    def _note_down(self, reason: str, exc: BaseException | None) -> None:
        # The stream was known to deliver until its last message (or until it connected,
        # if it stayed quiet): the gap to repair starts there.
        known = max(self.last_event_ms or 0, self.connected_since or 0)
        if known:
            self._gap_from = known if self._gap_from is None else min(self._gap_from, known)
        self.state = "down"
        self.connected_since = None
        self.last_reason = reason
        if exc is not None:
            self.last_error = redact(f"{type(exc).__name__}: {exc}")
            log.warning("stream_down", account=self.account, reason=reason, error=self.last_error)
        else:
            log.info("stream_reconnect", account=self.account, reason=reason)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _event_ms(message: dict[str, Any], default: int) -> int:
    with contextlib.suppress(TypeError, ValueError):
        return int(message.get("E") or default)
    return default


def _ws_errors() -> type[Exception]:
    from websockets.exceptions import WebSocketException

    return WebSocketException
