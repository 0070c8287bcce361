"""What the daemon's HTTP side asks of the running parts: health, /sync/status, control.

:class:`DaemonServices` is the one object the apps hold. It implements the control
routes' :class:`~v7d.web.control.ControlBackend`, the ``/health`` source and the
``/sync/status`` answer, by asking the writer, the store reader and the sync runner.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from v7d import __version__
from v7d.config import Config, diff_for_reload, load_config
from v7d.supervise.status_line import StatusFacts
from v7d.supervise.sync_runner import SyncRunner
from v7d.web.errors import ApiError
from v7d.web.health import StoreHealth

__all__ = ["DaemonServices"]

log = structlog.get_logger(__name__)

_COUNT_EVERY_S = 5.0
_ENGINE_START_WAIT_S = 20.0


class DaemonServices:
    """The daemon's parts as seen by its HTTP apps and its status line."""

    def __init__(
        self,
        *,
        config: Config,
        config_path: str | None,
        writer: Any,
        reader: Any,
        sync: SyncRunner,
        apply_log_config: Callable[[Config], None],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.config = config
        self.config_path = config_path
        self.db_path = Path(config.storage.path)
        self._store_health = StoreHealth(self.db_path)
        self.writer = writer
        self.reader = reader
        self.sync = sync
        self.test_hooks = env.get("V7D_TEST_HOOKS") == "1"
        self._apply_log_config = apply_log_config
        self._environ = env
        self._started_ms = int(time.time() * 1000)
        self._supervisor: Any = None
        self._trades: int | None = None
        self._trades_at = 0.0
        self.last_reload: dict[str, Any] | None = None

    def attach(self, supervisor: Any) -> None:
        """Give the services the supervisor (reload, phase, counters)."""
        self._supervisor = supervisor

    @property
    def supervisor(self) -> Any:
        """The attached supervisor, or None before :meth:`attach`."""
        return self._supervisor

    # -- control backend ---------------------------------------------------------------

    async def engine(self, account: str | None) -> Any:
        """The running engine of ``account``; 404 for an unknown one, 503 when not running."""
        await self.sync.wait_started(account, _ENGINE_START_WAIT_S)
        try:
            engine = self.sync.engine(account)
        except KeyError:
            names = ", ".join(self.sync.accounts)
            raise ApiError(
                404, "unknown_account", f"account {account!r} is not configured ({names})"
            ) from None
        if engine is None:
            name = account or next(iter(self.sync.accounts))
            run = self.sync.accounts[name]
            why = run.detail or run.last_error or run.state
            raise ApiError(503, "sync_unavailable", f"account {name!r} is not syncing: {why}")
        return engine

    def jobs(self, state: str | None = None) -> list[Any]:
        """Every persisted job."""
        return list(self.reader.jobs(state))

    def job(self, job_id: str) -> Any | None:
        """One persisted job or None."""
        return self.reader.job(job_id)

    def hang_writer(self) -> None:
        """Wedge the writer (only reachable with V7D_TEST_HOOKS=1)."""
        log.warning("writer_hang_requested")
        self.writer.hang_for_tests()

    async def reload(self) -> dict[str, Any]:
        """Re-read the config as SIGHUP does (through the supervisor when attached)."""
        if self._supervisor is not None:
            return dict(await self._supervisor.reload())
        return await self.apply_reload()

    async def apply_reload(self) -> dict[str, Any]:
        """Load the file again; apply [sync] and [log]; report what needs a restart."""
        new = await asyncio.to_thread(load_config, self.config_path, environ=self._environ)
        applied, needs_restart = diff_for_reload(self.config, new)
        self.config = applied
        self._apply_log_config(applied)
        self.sync.reconfigure(applied.sync)
        for key in needs_restart:
            log.warning("config_needs_restart", key=key)
        self.last_reload = {
            "at_ms": int(time.time() * 1000),
            "source": applied.source,
            "needs_restart": needs_restart,
        }
        return {"reloaded": True, "needs_restart": needs_restart}

    # -- health ----------------------------------------------------------------------

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """503 reasons: store unreadable, writer wedged, every account stopped."""
        store_ok, store = await self._store_health.health()
        reasons: list[str] = [] if store_ok else list(store.get("reasons", ["store_unreadable"]))
        degraded: list[str] = []
        if not self.writer.healthy:
            reasons.append("writer_wedged")
        if self.sync.all_stopped:
            reasons.append("all_accounts_stopped")
        for name, entry in self.sync.status().items():
            stream = _stream_state(entry.get("engine"))
            if entry["state"] != "running":
                why = f" ({entry['detail']})" if entry.get("detail") else ""
                degraded.append(f"account {name}: {entry['state']}{why}")
            elif stream not in (None, "live"):
                degraded.append(f"account {name}: stream {stream}")
        return not reasons, {"reasons": reasons, "degraded": degraded}

    # -- /sync/status ------------------------------------------------------------------

    async def sync_status(self) -> dict[str, Any]:
        """The ``/sync/status`` answer: daemon, writer, budget and every account."""
        sup = self._supervisor
        budget = self.sync.budget.snapshot() if self.sync.budget is not None else None
        return {
            "daemon": {
                "version": __version__,
                "pid": os.getpid(),
                "phase": sup.phase if sup else "running",
                "started_ms": self._started_ms,
                "uptime_s": round(time.time() - self._started_ms / 1000, 1),
                "reloads": sup.reloads if sup else 0,
                "reload_failures": sup.reload_failures if sup else 0,
                "last_reload": self.last_reload,
                "config": self.config.source,
                "database": str(self.db_path),
            },
            "writer": {
                "healthy": self.writer.healthy,
                "queue_depth": self.writer.queue_depth,
            },
            "budget": budget,
            "accounts": self.sync.status(),
        }

    # -- status line -----------------------------------------------------------------

    async def facts(self) -> StatusFacts:
        """Gather the STATUS= line's facts (the trade count is refreshed every few s)."""
        now = time.monotonic()
        if self._trades is None or now - self._trades_at > _COUNT_EVERY_S:
            self._trades_at = now
            try:
                counts = await asyncio.to_thread(self.reader.counts)
                self._trades = int(counts.get("trades", 0))
            except Exception:
                self._trades = None
        statuses = self.sync.status()
        engines = [e.get("engine") or {} for e in statuses.values()]
        streams = [_stream_state(e) for e in engines]
        lags = [float(e["lag_ms"]) for e in engines if isinstance(e.get("lag_ms"), int | float)]
        return StatusFacts(
            phase=self._supervisor.phase if self._supervisor else "running",
            streams_live=sum(1 for s in streams if s == "live"),
            streams_total=sum(1 for s in streams if s is not None),
            symbols=sum(_symbol_count(e) for e in engines),
            lag_ms=max(lags) if lags else None,
            trades=self._trades,
            backfill_pct=await asyncio.to_thread(self._backfill_pct),
            paused=any(bool(e.get("paused")) for e in engines),
            stopped_accounts=tuple(n for n, e in statuses.items() if e["state"] == "stopped"),
        )

    def _backfill_pct(self) -> float | None:
        try:
            running = self.reader.jobs("running")
        except Exception:
            return None
        done = total = 0
        for job in running:
            progress = _json(job.progress)
            done += int(progress.get("windows_done", 0) or 0)
            total += int(progress.get("windows_total", 0) or 0)
        if not running:
            return None
        return 100.0 * done / total if total else 0.0


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _stream_state(engine_status: Any) -> str | None:
    if not isinstance(engine_status, dict):
        return None
    stream = engine_status.get("stream")
    if isinstance(stream, dict):
        state = stream.get("state")
        return str(state) if state is not None else None
    if isinstance(stream, str):
        return stream
    return None


def _symbol_count(engine_status: dict[str, Any]) -> int:
    """Distinct symbols the engine keeps cursors for (its synced universe)."""
    cursors = engine_status.get("cursors")
    if not isinstance(cursors, list):
        return 0
    return len({c.get("symbol") for c in cursors if isinstance(c, dict) and c.get("symbol")})
