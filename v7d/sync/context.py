"""What every sync task of one account shares: clients, store, clock, counters, the gate.

The :class:`SyncContext` is built once by :class:`~v7d.sync.engine.SyncEngine` and handed
to the incremental pass, the backfill jobs and the stream ingest, so they all call the
exchange the same way (one retry policy, the shared budget through the client), count
parse errors in one place and stop at the same gate when the account is paused.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from v7d.binance.retry import call_with_retry
from v7d.store.read import connect_readonly
from v7d.sync.pager import WindowPager
from v7d.sync.plan import RETENTION_MS, RETENTION_SAFETY_MS
from v7d.sync.report import Tally

__all__ = ["RetryPolicy", "SyncContext"]

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how slowly a transient failure is retried before a pass gives up."""

    attempts: int = 6
    base: float = 0.25
    cap: float = 20.0


@dataclass
class SyncContext:
    """Shared state of one account's sync (see the module docstring)."""

    account: str
    rest: Any
    writer: Any
    reader: Any
    clock: Callable[[], float]
    config: Any
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    horizon_ms: int = 0
    parse_errors: int = 0
    stream_symbols: set[str] = field(default_factory=set)
    gone_orders: set[tuple[str, int]] = field(default_factory=set)
    _resumed: asyncio.Event = field(default_factory=asyncio.Event)
    _ro: sqlite3.Connection | None = None

    def __post_init__(self) -> None:
        self._resumed.set()

    # -- time ----------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The wall clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    def retention_start(self, endpoint: str, now_ms: int) -> int:
        """The oldest time the exchange still serves for ``endpoint`` (with margin)."""
        return now_ms - RETENTION_MS[endpoint] + RETENTION_SAFETY_MS

    # -- pause gate ----------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while REST work is paused."""
        return not self._resumed.is_set()

    def set_paused(self, paused: bool) -> None:
        """Close or open the gate every REST caller waits at."""
        if paused:
            self._resumed.clear()
        else:
            self._resumed.set()

    async def gate(self) -> None:
        """Wait here while paused (called before every REST request of sync work)."""
        await self._resumed.wait()

    # -- exchange calls --------------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Call the exchange through the one retry policy, after the pause gate."""
        await self.gate()

        def on_retry(exc: Exception, attempt: int, delay: float) -> None:
            log.info(
                "sync_retry",
                account=self.account,
                error=type(exc).__name__,
                detail=str(exc)[:200],
                attempt=attempt,
                delay_s=round(delay, 2),
            )

        return await call_with_retry(
            fn,
            attempts=self.retry.attempts,
            base=self.retry.base,
            cap=self.retry.cap,
            on_retry=on_retry,
        )

    def pager(self, tally: Tally) -> WindowPager:
        """A window pager that writes through the shared writer and counts into ``tally``."""
        return WindowPager(
            account=self.account,
            rest=self.rest,
            writer=self.writer,
            tally=tally,
            parse_error=self.parse_error,
            clock=self.clock,
            call=self.call,
        )

    def parse_error(self, what: str, raw: Any, exc: Exception) -> None:
        """Log an unparseable row with its raw payload and count it: never a silent drop."""
        self.parse_errors += 1
        try:
            text = json.dumps(raw, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            text = repr(raw)
        log.error(
            "parse_error",
            account=self.account,
            what=what,
            error=f"{type(exc).__name__}: {exc}",
            raw=text[:4000],
        )

    # -- small reads the StoreReader has no helper for -----------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query on the store (own connection, lazily opened)."""
        if self._ro is None:
            self._ro = connect_readonly(self.reader.path)
        return [tuple(r) for r in self._ro.execute(sql, params).fetchall()]

    def close(self) -> None:
        """Close the read-only connection, if one was opened."""
        if self._ro is not None:
            self._ro.close()
            self._ro = None
