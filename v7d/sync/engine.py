"""The sync engine of one account: stream ingest, gap repair, incremental loop, jobs.

:class:`SyncEngine` wires the parts together and supervises them; the work itself lives
in small modules: :mod:`~v7d.sync.passes` (one incremental pass), :mod:`~v7d.sync.jobs`
(backfill jobs), :mod:`~v7d.sync.ingest` (stream → rows), :mod:`~v7d.sync.pager` (one
window of one endpoint). Scheduling inside the one rate budget: stream-gap repair
(``Priority.GAP_REPAIR``) before incremental passes before backfill, via the client's
``priority=``.

``run()`` runs until cancelled: each sub-task (stream, ingest, pass loop, job runner) is
restarted with backoff when it fails; an :class:`~v7d.errors.AuthError` instead stops the
account (an ``AccountState`` row says why) and nothing retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from v7d.binance.budget import Priority
from v7d.errors import AuthError
from v7d.store.records import (
    AccountState,
    CoverageMark,
    MetaItem,
    SymbolInfo,
    WriteBatch,
)
from v7d.sync.context import SyncContext
from v7d.sync.ingest import StreamIngest
from v7d.sync.jobs import BackfillJob, new_backfill_state
from v7d.sync.passes import IncrementalPass, last_alive_key
from v7d.sync.plan import UNFILLED_CANCEL_RETENTION_MS
from v7d.sync.progress import JobProgress
from v7d.sync.report import PassReport

__all__ = ["SyncEngine"]

log = structlog.get_logger(__name__)


def _paused_key(account: str) -> str:
    return f"sync.paused.{account}"


def _horizon_key(account: str) -> str:
    return f"sync.horizon_ms.{account}"


class SyncEngine:
    """Keeps one account's store equal to the exchange (see the module docstring)."""

    def __init__(
        self,
        *,
        account: str,
        sync_config: Any,
        rest: Any,
        ws_url: str | None,
        writer: Any,
        reader: Any,
        clock: Callable[[], float] = time.time,
        stream_options: dict[str, Any] | None = None,
    ) -> None:
        self.account = account
        # Extra UserStream keyword arguments (timeouts, backoff), e.g. for a fast sim clock.
        self.stream_options = dict(stream_options or {})
        self.rest = rest
        self.ws_url = ws_url or None
        self.writer = writer
        self.reader = reader
        self.ctx = SyncContext(
            account=account,
            rest=rest,
            writer=writer,
            reader=reader,
            clock=clock,
            config=sync_config,
        )
        self.ingest = StreamIngest(self.ctx)
        self.stream: Any = None
        self.stopped_reason: str | None = None
        self.last_error: dict[str, Any] | None = None
        self.last_pass: PassReport | None = None
        self.retention_warning: dict[str, Any] | None = None
        self._gaps: list[int] = []
        self.gap_repairs = 0
        self._wake = asyncio.Event()
        self._jobs_wake = asyncio.Event()
        self._current_job: BackfillJob | None = None
        self._started = False
        self._exchange_info_loaded = False
        self._beat = time.monotonic()
        self._running = False
        self._pass_lock = asyncio.Lock()
        self._pending_marks: list[CoverageMark] = []
        self.stream_task: asyncio.Task[Any] | None = None

    # -- life-cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load persisted state (pause flag, horizon, restart gap). Idempotent."""
        if self._started:
            return
        self._started = True
        ctx = self.ctx
        now = ctx.now_ms()
        ctx.set_paused(self.reader.meta(_paused_key(self.account)) == "1")
        horizon = self.reader.meta(_horizon_key(self.account))
        records: list[Any] = [AccountState(self.account, "ok", "", now)]
        if horizon is None:
            ctx.horizon_ms = now - int(ctx.config.overlap_ms)
            records.append(MetaItem(_horizon_key(self.account), str(ctx.horizon_ms)))
        else:
            ctx.horizon_ms = int(horizon)
        last_alive = self.reader.meta(last_alive_key(self.account))
        if last_alive is not None:
            # The daemon was not running since then: repair that gap first.
            self._gaps.append(int(last_alive))
            down_ms = now - int(last_alive)
            if down_ms > UNFILLED_CANCEL_RETENTION_MS:
                self._warn_retention_gap(int(last_alive), now, records)
        await self.writer.submit(WriteBatch(records=records))

    def _warn_retention_gap(self, last_alive: int, now: int, records: list[Any]) -> None:
        hole_end = now - UNFILLED_CANCEL_RETENTION_MS
        self.retention_warning = {
            "down_from_ms": last_alive,
            "down_to_ms": now,
            "message": (
                "the daemon was down for more than 3 days: orders canceled or expired "
                "without a fill between down_from_ms and down_to_ms - 3 days are no longer "
                "retrievable from REST and may be missing"
            ),
        }
        log.warning("retention_gap_possible", account=self.account, **self.retention_warning)
        # The ledger shows the hole for every symbol the account has touched.
        marks = [
            CoverageMark(self.account, "allOrders", s.symbol, last_alive, hole_end, "expired")
            for s in self.reader.symbols(self.account)
            if s.active_ms > 0
        ]
        self._pending_marks = marks
        records.append(MetaItem(f"sync.retention_gap.{self.account}", f"{last_alive}-{hole_end}"))

    async def run(self) -> None:
        """Run until cancelled: stream, ingest, gap repair + incremental loop, jobs."""
        await self.start()
        if self._pending_marks:
            await self.writer.submit(WriteBatch(coverage=self._pending_marks))
            self._pending_marks = []
        self._running = True
        tasks = [
            asyncio.create_task(self._supervise("ingest", self.ingest.run)),
            asyncio.create_task(self._supervise("sync", self._sync_loop)),
            asyncio.create_task(self._supervise("jobs", self._job_loop)),
        ]
        if self.ws_url:
            tasks.append(asyncio.create_task(self._supervise("stream", self._run_stream)))
        try:
            while True:
                self._beat = time.monotonic()
                await asyncio.sleep(1.0)
        finally:
            self._running = False
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            self.ctx.close()

    @property
    def healthy(self) -> bool:
        """True while the supervisor loop of :meth:`run` is alive (for the watchdog)."""
        return self._running and time.monotonic() - self._beat < 30.0

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        # Each sub-task runs in its own task (its own context copy): bind who is logging.
        structlog.contextvars.bind_contextvars(account=self.account, task=name)
        delay = 1.0
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except AuthError as exc:
                await self._stop_account(exc)
                return
            except Exception as exc:
                self._note_error(f"{name}: {type(exc).__name__}: {exc}")
                log.exception("sync_task_failed", account=self.account, task=name)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 60.0)

    async def _stop_account(self, exc: Exception) -> None:
        """Auth failed: stop all REST work of this account, say so, retry nothing."""
        self.stopped_reason = f"auth: {exc}"
        self._note_error(self.stopped_reason)
        log.error("account_stopped", account=self.account, reason=self.stopped_reason)
        self.ctx.set_paused(True)  # every REST caller waits at the gate from now on
        await self.writer.submit(
            WriteBatch(
                records=[
                    AccountState(self.account, "stopped", self.stopped_reason, self.ctx.now_ms())
                ]
            )
        )
        if self.stream_task is not None:
            self.stream_task.cancel()

    def _note_error(self, message: str) -> None:
        self.last_error = {"message": message[:500], "at_ms": self.ctx.now_ms()}

    # -- the stream ----------------------------------------------------------------------

    async def _run_stream(self) -> None:
        from v7d.binance.stream import UserStream

        self.stream = UserStream(
            rest=self.rest,
            ws_url=self.ws_url or "",
            account=self.account,
            on_message=self.ingest.on_message,
            on_gap=self.on_gap,
            clock=self.ctx.clock,
            **self.stream_options,
        )
        self.stream_task = asyncio.current_task()
        await self.stream.run()

    async def on_gap(self, from_ms: int, to_ms: int) -> None:
        """The stream was not delivering in ``[from_ms, to_ms)``: repair that range."""
        log.info("stream_gap", account=self.account, from_ms=from_ms, to_ms=to_ms)
        self._gaps.append(int(from_ms))
        self._wake.set()

    def _stream_live(self) -> bool:
        return self.stream is not None and getattr(self.stream, "state", "") == "live"

    # -- incremental passes ----------------------------------------------------------------

    async def run_once(self) -> PassReport:
        """One incremental pass now (also repairs any pending stream gap)."""
        await self.start()
        since = min(self._gaps) if self._gaps else None
        self._gaps.clear()
        prio = Priority.GAP_REPAIR if since is not None else Priority.INCREMENTAL
        return await self._pass(prio, since)

    async def _pass(self, priority: Priority, since_ms: int | None) -> PassReport:
        if self.stopped_reason or self.ctx.paused:
            now = self.ctx.now_ms()
            why = f"account stopped: {self.stopped_reason}" if self.stopped_reason else "paused"
            return PassReport(now, now, 0, 0, {}, [why], 0)
        try:
            async with self._pass_lock:
                await self._ensure_exchange_info()
                report = await IncrementalPass(self.ctx, priority=priority, since_ms=since_ms).run()
        except AuthError as exc:
            await self._stop_account(exc)
            now = self.ctx.now_ms()
            return PassReport(now, now, 0, 0, {}, [f"account stopped: {self.stopped_reason}"], 0)
        self.last_pass = report
        if report.errors:
            self._note_error(report.errors[-1])
        log.info(
            "sync_pass_done",
            account=self.account,
            priority=priority.name,
            requests=report.requests,
            weight=report.weight,
            rows=report.rows,
            errors=len(report.errors),
            ms=report.finished_ms - report.started_ms,
        )
        return report

    async def _ensure_exchange_info(self) -> None:
        """Once per process: exchangeInfo (weight limit, symbol registry, delistings)."""
        if self._exchange_info_loaded:
            return
        from v7d.binance import parse

        info = await self.ctx.call(lambda: self.rest.exchange_info(priority=Priority.INCREMENTAL))
        infos = parse.symbols_from_exchange_info(self.account, info)
        listed = {s.symbol for s in infos}
        delisted = [
            SymbolInfo(
                s.account, s.symbol, s.status or "DELISTED", s.contract_type, s.quote_asset,
                s.margin_asset, False, s.active_ms, s.raw,
            )
            for s in self.reader.symbols(self.account)
            if s.symbol not in listed and s.listed
        ]  # fmt: skip
        await self.writer.submit(WriteBatch(records=[*infos, *delisted]))
        self._exchange_info_loaded = True

    async def _sync_loop(self) -> None:
        next_due = 0.0
        while True:
            await self.ctx.gate()
            if self._gaps:
                since = min(self._gaps)
                self._gaps.clear()
                try:
                    await self._pass(Priority.GAP_REPAIR, since)
                    self.gap_repairs += 1
                except Exception:
                    self._gaps.append(since)  # not repaired: try again
                    raise
                next_due = time.monotonic() + self._interval()
            elif time.monotonic() >= next_due:
                started = time.monotonic()
                await self._pass(Priority.INCREMENTAL, None)
                next_due = started + self._interval()
            await self._mark_stream_coverage()
            self._wake.clear()
            timeout = max(0.0, next_due - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _interval(self) -> float:
        cfg = self.ctx.config
        return float(cfg.reconcile_interval if self._stream_live() else cfg.poll_interval)

    async def _mark_stream_coverage(self) -> None:
        """While the stream is live, the ledger records the range it delivered."""
        if not self._stream_live():
            return
        since = getattr(self.stream, "connected_since", None)
        if not since:
            return
        since_ms = int(since * 1000) if since < 1e11 else int(since)
        now = self.ctx.now_ms()
        if now > since_ms:
            await self.writer.submit(
                WriteBatch(coverage=[CoverageMark(self.account, "stream", "", since_ms, now)])
            )

    # -- jobs ------------------------------------------------------------------------------

    async def start_backfill(
        self, *, days: float, symbols: list[str] | None = None, all_symbols: bool = False
    ) -> str:
        """Create a backfill job (persisted, ``running``) and return its id."""
        await self.start()
        state = new_backfill_state(
            self.account,
            days=days,
            now_ms=self.ctx.now_ms(),
            symbols=symbols,
            all_symbols=all_symbols,
        )
        await self.writer.submit(WriteBatch(records=[state]))
        log.info("backfill_job_created", account=self.account, job=state.job_id, days=days)
        self._jobs_wake.set()
        return state.job_id

    async def run_jobs(self) -> int:
        """Run every ``running`` job of this account to its end, oldest first.

        Jobs found ``running`` at start resume from their persisted progress. Returns
        how many jobs ran.
        """
        await self.start()
        ran = 0
        while True:
            pending = [j for j in self.reader.jobs("running") if j.account == self.account]
            if not pending:
                return ran
            state = min(pending, key=lambda j: j.created_ms)
            await self._ensure_exchange_info()
            job = BackfillJob(self.ctx, state, priority=Priority.BACKFILL)
            self._current_job = job
            try:
                await job.run()
            finally:
                self._current_job = None
            ran += 1

    async def _job_loop(self) -> None:
        while True:
            await self.ctx.gate()
            await self.run_jobs()
            self._jobs_wake.clear()
            await self._jobs_wake.wait()

    # -- control ---------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop all REST work and jobs (the stream keeps being ingested); persisted."""
        self.ctx.set_paused(True)
        self._persist_meta(_paused_key(self.account), "1")
        log.info("sync_paused", account=self.account)

    def resume(self) -> None:
        """Resume REST work and jobs; persisted."""
        if self.stopped_reason:
            return  # an account stopped by auth stays stopped until restarted
        self.ctx.set_paused(False)
        self._persist_meta(_paused_key(self.account), "0")
        self._wake.set()
        log.info("sync_resumed", account=self.account)

    def _persist_meta(self, key: str, value: str) -> None:
        batch = WriteBatch(records=[MetaItem(key, value)])
        task = asyncio.get_running_loop().create_task(self.writer.submit(batch))
        self._bg = task  # keep a reference until it is done

    def reconfigure(self, sync_config: Any) -> None:
        """Apply a reloaded ``[sync]`` section (SIGHUP)."""
        self.ctx.config = sync_config
        self._wake.set()
        log.info("sync_reconfigured", account=self.account)

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """JSON-able state for ``/sync/status`` and ``v7ctl status`` (no secrets)."""
        now = self.ctx.now_ms()
        state = "stopped" if self.stopped_reason else "paused" if self.ctx.paused else "running"
        return {
            "account": self.account,
            "state": state,
            "paused": self.ctx.paused and not self.stopped_reason,
            "stopped_reason": self.stopped_reason,
            "stream": self._stream_status(now),
            "cursors": self._cursor_status(now),
            "last_error": self.last_error,
            "last_pass": self.last_pass.to_dict() if self.last_pass else None,
            "jobs": self._job_status(),
            "parse_errors": self.ctx.parse_errors,
            "lag_ms": self.ingest.lag_ms,
            "retention_gap_possible": self.retention_warning,
            "pending_gaps": len(self._gaps),
            "gap_repairs": self.gap_repairs,
        }

    def _stream_status(self, now: int) -> dict[str, Any]:
        s = self.stream
        last = self.ingest.last_received_ms or None
        return {
            "enabled": bool(self.ws_url),
            "state": getattr(s, "state", "down" if self.ws_url else "disabled"),
            "reconnects": getattr(s, "reconnects", 0),
            "connected_since": getattr(s, "connected_since", None),
            "last_event_ms": last,
            "last_event_age_ms": (now - last) if last else None,
            "messages": self.ingest.messages,
            "queued": self.ingest.queued,
        }

    def _cursor_status(self, now: int) -> list[dict[str, Any]]:
        try:
            rows = self.reader.cursors(self.account)
        except Exception:  # status must answer even when the store is busy
            return []
        return [
            {
                "endpoint": c.endpoint,
                "symbol": c.symbol,
                "position_ms": c.position_ms,
                "age_ms": now - c.position_ms,
            }
            for c in rows
        ]

    def _job_status(self) -> list[dict[str, Any]]:
        try:
            jobs = [j for j in self.reader.jobs() if j.account == self.account][:20]
        except Exception:
            return []
        out = []
        for j in jobs:
            progress = JobProgress.from_json(j.progress)
            out.append(
                {
                    "job_id": j.job_id,
                    "kind": j.kind,
                    "state": j.state,
                    "error": j.error or None,
                    "created_ms": j.created_ms,
                    "updated_ms": j.updated_ms,
                    "progress": progress.summary(),
                }
            )
        return out

    # -- helpers for callers that do not run the whole engine ---------------------------

    async def repair_gap(self, from_ms: int) -> PassReport:
        """Reconcile from ``from_ms`` now, at gap-repair priority."""
        await self.start()
        return await self._pass(Priority.GAP_REPAIR, from_ms)
