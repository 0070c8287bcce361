"""Runs one sync engine per account, after READY, and restarts a crashed one with backoff.

The exchange client (and ccxt, which takes a second to import) is opened here, in a
background task started after READY=1, so time-to-READY does not pay for it. An account
whose credentials are refused stops with a clear state instead of retrying forever;
anything else that kills an engine is logged and retried with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from v7d.config import Config, SyncConfig
from v7d.errors import AuthError, ConfigError

__all__ = ["AccountRun", "OpenEngine", "SyncRunner"]

log = structlog.get_logger(__name__)

_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 60.0
_START_GRACE_S = 30.0
_HEAVY_MODULES = ("ccxt.async_support", "v7d.binance.rest", "v7d.sync.engine")


@dataclass
class AccountRun:
    """What the runner knows about one account's engine."""

    name: str
    state: str = "starting"  # starting | running | restarting | stopped
    detail: str = ""
    restarts: int = 0
    last_error: str = ""
    last_error_ms: int | None = None
    started_monotonic: float = 0.0
    engine: Any = None
    rest: Any = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    engine_ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


OpenEngine = Callable[[AccountRun], Awaitable[Any]]


class SyncRunner:
    """The sync supervisor component: ``start()``, ``stop()``, ``healthy``."""

    name = "sync"

    def __init__(
        self,
        *,
        config: Config,
        writer: Any,
        reader: Any,
        environ: Mapping[str, str] | None = None,
        open_engine: OpenEngine | None = None,
        backoff_base: float = _BACKOFF_BASE,
    ) -> None:
        """``open_engine(run)`` returns a ready engine for the account (default: the
        exchange client plus :class:`~v7d.sync.engine.SyncEngine`); tests inject their own
        to exercise the restart policy. ``backoff_base`` scales the restart delays."""
        self._config = config
        self._open_engine: OpenEngine = open_engine or self._open_exchange_engine
        self._backoff_base = backoff_base
        self._writer = writer
        self._reader = reader
        self._environ = dict(os.environ if environ is None else environ)
        self.accounts: dict[str, AccountRun] = {a.name: AccountRun(a.name) for a in config.accounts}
        self.budget: Any = None
        self._stopping = False

    async def start(self) -> None:
        """Start one task per account; returns at once (nothing here blocks READY)."""
        for run in self.accounts.values():
            run.task = asyncio.create_task(self._keep_running(run), name=f"sync-{run.name}")

    async def stop(self) -> None:
        """Stop taking work: cancel the engines, close the exchange clients."""
        self._stopping = True
        tasks = [r.task for r in self.accounts.values() if r.task and not r.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for run in self.accounts.values():
            await self._close_rest(run)
            run.state = "stopped" if run.state != "stopped" else run.state

    @property
    def healthy(self) -> bool:
        """Every account task is alive (or deliberately stopped) and its engine is healthy."""
        for run in self.accounts.values():
            if run.state == "stopped":
                continue
            if run.task is None or run.task.done():
                return False
            if run.state != "running" or run.engine is None or run.engine.healthy:
                continue
            # An engine loads its state before its loop beats: give it time to get going.
            if time.monotonic() - run.started_monotonic > _START_GRACE_S:
                return False
        return True

    @property
    def all_stopped(self) -> bool:
        """True when no account can sync (e.g. every key was refused)."""
        return all(self._effective(r)[0] == "stopped" for r in self.accounts.values())

    @staticmethod
    def _effective(run: AccountRun) -> tuple[str, str]:
        """(state, detail): an engine that stopped its account itself (auth) counts."""
        reason = getattr(run.engine, "stopped_reason", None) if run.engine is not None else None
        if run.state == "running" and reason:
            return "stopped", str(reason)
        return run.state, run.detail

    def reconfigure(self, sync_config: SyncConfig) -> None:
        """Apply a reloaded ``[sync]`` section to the budget and every engine."""
        self._config = _with_sync(self._config, sync_config)
        if self.budget is not None:
            self.budget.reconfigure(
                rate_per_sec=sync_config.request_rate_per_sec,
                burst=sync_config.request_burst,
                max_weight_share=sync_config.max_weight_share,
            )
        for run in self.accounts.values():
            if run.engine is not None:
                run.engine.reconfigure(sync_config)

    def engine(self, account: str | None) -> Any:
        """The engine of ``account`` (None: the first account); KeyError/LookupError."""
        name = account or self._config.accounts[0].name
        if name not in self.accounts:
            raise KeyError(name)
        return self.accounts[name].engine

    async def wait_started(self, account: str | None, wait_s: float) -> None:
        """Wait (up to ``wait_s``) for the account's first engine to exist.

        Requests that arrive just after READY, while ccxt is still being imported, wait
        for the engine instead of being refused.
        """
        name = account or self._config.accounts[0].name
        run = self.accounts.get(name)
        if run is None or run.state != "starting":
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.engine_ready.wait(), wait_s)

    def status(self) -> dict[str, Any]:
        """Per account: runner state plus the engine's own status (JSON-able)."""
        out: dict[str, Any] = {}
        for name, run in self.accounts.items():
            state, detail = self._effective(run)
            entry: dict[str, Any] = {
                "state": state,
                "detail": detail,
                "restarts": run.restarts,
                "last_error": run.last_error or None,
                "last_error_ms": run.last_error_ms,
            }
            if run.engine is not None:
                try:
                    entry["engine"] = run.engine.status()
                except Exception as exc:  # status must never take /sync/status down
                    entry["engine"] = {"error": f"status unavailable: {type(exc).__name__}"}
            out[name] = entry
        return out

    async def _keep_running(self, run: AccountRun) -> None:
        attempt = 0
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._run_account(run)
                if run.state == "stopped" or self._stopping:
                    return
                raise RuntimeError("sync engine returned unexpectedly")
            except asyncio.CancelledError:
                raise
            except (AuthError, ConfigError) as exc:
                # A refused key or unusable credentials: retrying cannot help.
                self._stop_account(run, exc)
                return
            except Exception as exc:
                if time.monotonic() - started > 5 * _BACKOFF_CAP:
                    attempt = 0  # it ran a good while: start the backoff over
                attempt += 1
                run.restarts += 1
                run.state = "restarting"
                run.last_error = f"{type(exc).__name__}: {exc}"
                run.last_error_ms = int(time.time() * 1000)
                cap = min(_BACKOFF_CAP, self._backoff_base * 2**attempt)
                delay = random.uniform(cap / 2, cap)  # jitter, but never a hot loop
                log.error(
                    "sync_engine_crashed",
                    account=run.name,
                    error=run.last_error,
                    restart_in_s=round(delay, 2),
                    restarts=run.restarts,
                )
                await self._close_rest(run)
                await asyncio.sleep(delay)

    def _stop_account(self, run: AccountRun, exc: Exception) -> None:
        run.state = "stopped"
        run.detail = f"{type(exc).__name__}: {exc}"
        run.last_error, run.last_error_ms = run.detail, int(time.time() * 1000)
        log.error("account_stopped", account=run.name, reason=run.detail)

    async def _run_account(self, run: AccountRun) -> None:
        run.engine = await self._open_engine(run)
        run.state, run.detail = "running", ""
        run.started_monotonic = time.monotonic()
        run.engine_ready.set()
        log.info("sync_engine_started", account=run.name)
        await run.engine.run()

    async def _open_exchange_engine(self, run: AccountRun) -> Any:
        """Credentials, the shared rate budget, the REST client (opened), a new engine."""
        # Imported here, not at module level: ccxt and the engine stay off the READY path.
        # The import itself takes most of a second: done in a thread so the loop (and
        # with it the watchdog pings and the API) keeps running meanwhile.
        await asyncio.to_thread(_import_heavy_modules)
        from v7d.binance.budget import RateBudget
        from v7d.binance.rest import BinanceRest
        from v7d.credentials import load_credentials
        from v7d.sync.engine import SyncEngine

        cfg = self._config
        account = cfg.account(run.name)
        credentials = load_credentials(
            account.name, account.credentials, self._environ, single=not cfg.multi_account
        )
        if self.budget is None:
            self.budget = RateBudget(
                rate_per_sec=cfg.sync.request_rate_per_sec,
                burst=cfg.sync.request_burst,
                max_weight_share=cfg.sync.max_weight_share,
            )
        run.rest = BinanceRest(
            rest_url=cfg.exchange.resolved_rest_url,
            credentials=credentials,
            budget=self.budget,
            account=run.name,
            # The sync engine's context owns the retry policy for transient faults; the
            # client only resyncs the clock, so a call is never retried attempts² times.
            retry_attempts=1,
        )
        await run.rest.open()
        # A fresh engine after each crash: everything worth keeping (cursors, jobs, the
        # paused flag) is in the store, so nothing half-broken is carried over.
        return SyncEngine(
            account=run.name,
            sync_config=cfg.sync,
            rest=run.rest,
            ws_url=cfg.exchange.resolved_ws_url or None,
            writer=self._writer,
            reader=self._reader,
        )

    async def _close_rest(self, run: AccountRun) -> None:
        rest, run.rest = run.rest, None
        if rest is not None:
            with contextlib.suppress(Exception):
                await rest.close()


def _import_heavy_modules() -> None:
    for name in _HEAVY_MODULES:
        importlib.import_module(name)


def _with_sync(config: Config, sync_config: SyncConfig) -> Config:
    from dataclasses import replace

    return replace(config, sync=sync_config)
