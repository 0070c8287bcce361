"""The supervisor: starts components in phases, answers signals, keeps systemd informed.

Phases (STYLE.md §8)::

    start components in order  ──►  READY=1  ──►  start after-READY components
         (writer, servers)                         (sync: ccxt stays off the READY path)
    loop: SIGHUP → RELOADING=1 … READY=1;  SIGTERM/SIGINT → leave the loop
    STOPPING=1, stop components in reverse order (sync, servers, then the writer drains)

Components plug in through :class:`Component`; the supervisor knows nothing else about
them. WATCHDOG=1 is sent only while every component says it is healthy — the watchdog
task itself running proves the event loop is not stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog

from v7d.errors import ConfigError
from v7d.supervise.notify import Notifier
from v7d.supervise.signals import SignalInbox
from v7d.supervise.status_line import StatusFacts, status_line

__all__ = ["Component", "Supervisor"]

log = structlog.get_logger(__name__)


class Component(Protocol):
    """A part the supervisor starts, watches and stops."""

    name: str

    async def start(self) -> None:
        """Start; return once the part is usable (raise if it cannot start)."""

    async def stop(self) -> None:
        """Stop gracefully; the supervisor bounds nothing here, each part bounds itself."""

    @property
    def healthy(self) -> bool:
        """False when the part is wedged or dead (stops the watchdog pings)."""


class Supervisor:
    """Runs the daemon's lifecycle; :meth:`run` returns the process exit code."""

    def __init__(
        self,
        *,
        notifier: Notifier,
        inbox: SignalInbox,
        components: Sequence[Component],
        after_ready: Sequence[Component],
        reload: Callable[[], Awaitable[dict[str, Any]]],
        facts: Callable[[], Awaitable[StatusFacts]],
        watchdog_every: float | None,
        status_every: float = 2.0,
    ) -> None:
        self._notifier = notifier
        self._inbox = inbox
        self._components = list(components)
        self._after_ready = list(after_ready)
        self._reload = reload
        self._facts = facts
        self._watchdog_every = watchdog_every
        self._status_every = status_every
        self._reload_lock = asyncio.Lock()
        self._started: list[Component] = []
        self.phase = "starting"
        self.reloads = 0
        self.reload_failures = 0
        self.watchdog_pings = 0

    @property
    def healthy(self) -> bool:
        """Every started component is healthy."""
        return all(c.healthy for c in self._started)

    def unhealthy(self) -> list[str]:
        """Names of the started components that say they are not healthy."""
        return [c.name for c in self._started if not c.healthy]

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, stop; 0 on a clean stop, 1 if start failed."""
        self._inbox.install()
        self._notifier.status("starting")
        background: list[asyncio.Task[None]] = []
        try:
            if not await self._start_all(self._components):
                return 1
            self.phase = "running"
            self._notifier.ready(status_line(await self._facts()))
            log.info("daemon_ready")
            if not await self._start_all(self._after_ready):
                return 1
            background = [
                asyncio.create_task(self._watchdog_loop(), name="watchdog"),
                asyncio.create_task(self._status_loop(), name="status"),
            ]
            await self._serve_signals()
            return 0
        finally:
            for task in background:
                task.cancel()
            await self._stop_all()
            self._inbox.uninstall()

    async def reload(self) -> dict[str, Any]:
        """RELOADING=1, re-read the config (a bad file raises ConfigError), READY=1."""
        async with self._reload_lock:
            self.phase = "reloading"
            self._notifier.reloading()
            try:
                result = await self._reload()
            except ConfigError as exc:
                self.reload_failures += 1
                log.error("reload_refused", error=str(exc))
                raise
            else:
                self.reloads += 1
                log.info("config_reloaded", reloads=self.reloads, **result)
                return result
            finally:
                self.phase = "running"
                self._notifier.ready(status_line(await self._facts()))

    async def _serve_signals(self) -> None:
        while True:
            sig = await self._inbox.next()
            if sig != signal.SIGHUP:
                log.info("stop_requested", signal=sig.name)
                return
            with contextlib.suppress(ConfigError):
                await self.reload()

    async def _start_all(self, components: Sequence[Component]) -> bool:
        for component in components:
            try:
                await component.start()
            except Exception as exc:
                log.error("component_start_failed", component=component.name, error=str(exc))
                return False
            self._started.append(component)
        return True

    async def _stop_all(self) -> None:
        self.phase = "stopping"
        self._notifier.stopping()
        log.info("daemon_stopping")
        for component in reversed(self._started):
            try:
                await component.stop()
            except Exception as exc:
                log.error("component_stop_failed", component=component.name, error=str(exc))
        self._started.clear()
        await _cancel_stragglers()
        log.info("daemon_stopped")

    async def _watchdog_loop(self) -> None:
        if not self._watchdog_every:
            return
        while True:
            bad = self.unhealthy()
            if bad:
                # No ping: if this lasts, systemd's WatchdogSec= restarts the service.
                log.warning("watchdog_withheld", unhealthy=bad)
            else:
                self._notifier.watchdog()
                self.watchdog_pings += 1
            await asyncio.sleep(self._watchdog_every)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self._status_every)
            try:
                self._notifier.status(status_line(await self._facts()))
            except Exception as exc:  # a status line is never worth dying for
                log.warning("status_line_failed", error=f"{type(exc).__name__}: {exc}")


async def _cancel_stragglers() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if not tasks:
        return
    log.warning("cancelling_stragglers", count=len(tasks))
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=2.0)
