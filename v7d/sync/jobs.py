"""Backfill jobs: N days of history, resumable, with progress, at backfill priority.

A job runs in two phases over the range fixed when it was created:

``account``  the account-wide endpoint (``income``), window by window; income rows name
             the symbols that were active, so this phase is also the cheap symbol
             discovery;
``symbols``  ``userTrades``, ``allOrders`` and ``allAlgoOrders`` of every symbol.

Every page commits together with the job's progress row (the next window's index and the
paging position inside it), so a job killed at any moment resumes at the first page it
had not committed. The parts of the range the exchange no longer keeps (retention) are
not requested: they are recorded as ``expired`` in the coverage ledger and listed in the
job's progress, so the answer says plainly what is retrievable and what is not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import structlog

from v7d.errors import AuthError, BadRequest, ExchangeError
from v7d.store.records import CoverageMark, JobState, Record, WriteBatch
from v7d.sync.context import SyncContext
from v7d.sync.discovery import (
    active_symbols_from_positions,
    activity_registry,
    listed_perpetuals,
    symbols_from_income,
    universe_symbols,
)
from v7d.sync.pager import Page
from v7d.sync.plan import (
    DAY_MS,
    PER_SYMBOL_ENDPOINTS,
    Window,
    clamp_to_retention,
    plan_windows,
)
from v7d.sync.progress import JobParams, JobProgress
from v7d.sync.report import Tally

__all__ = [
    "ACCOUNT_ENDPOINTS",
    "BackfillJob",
    "new_backfill_state",
    "plan_phase",
]

log = structlog.get_logger(__name__)

#: Progress counts rows fetched under their table's name.
_TABLES = {"Trade": "trades", "Order": "orders", "Income": "income", "AlgoOrder": "algo_orders"}

#: Endpoints fetched account-wide in the first phase.
ACCOUNT_ENDPOINTS = ("income",)


def new_backfill_state(
    account: str,
    *,
    days: float,
    now_ms: int,
    symbols: Sequence[str] | None,
    all_symbols: bool,
) -> JobState:
    """The initial ``running`` row of a new backfill job over the last ``days`` days."""
    if not days > 0:
        raise ValueError(f"days: expected a number > 0, got {days!r}")
    params = JobParams(
        days=float(days),
        start_ms=now_ms - int(days * DAY_MS),
        end_ms=now_ms,
        created_ms=now_ms,
        symbols=tuple(sorted(set(symbols or ()))),
        all_symbols=all_symbols,
    )
    return JobState(
        job_id=f"bf-{uuid.uuid4().hex[:12]}",
        account=account,
        kind="backfill",
        state="running",
        params=params.to_json(),
        progress=JobProgress(started_ms=now_ms).to_json(),
        created_ms=now_ms,
        updated_ms=now_ms,
    )


def plan_phase(
    params: JobParams, phase: str, symbols: Sequence[str]
) -> tuple[list[Window], list[CoverageMark], list[dict[str, Any]]]:
    """The windows of one phase (deterministic), plus what retention puts out of reach.

    Returns (windows, expired ledger marks without account, expired notes for the job).
    """
    if phase == "account":
        keys = [(endpoint, "") for endpoint in ACCOUNT_ENDPOINTS]
    else:
        keys = [(endpoint, s) for s in symbols for endpoint in PER_SYMBOL_ENDPOINTS]
    windows: list[Window] = []
    expired: list[CoverageMark] = []
    notes: list[dict[str, Any]] = []
    for endpoint, symbol in keys:
        keep, gone = clamp_to_retention(endpoint, params.start_ms, params.end_ms, params.created_ms)
        if gone is not None:
            expired.append(CoverageMark("", endpoint, symbol, gone[0], gone[1], "expired"))
            notes.append(
                {"endpoint": endpoint, "symbol": symbol, "start_ms": gone[0], "end_ms": gone[1]}
            )
        if keep is not None:
            windows += plan_windows(endpoint, symbol, keep[0], keep[1])
    return windows, expired, notes


class BackfillJob:
    """Runs (or resumes) one backfill job to its end."""

    def __init__(self, ctx: SyncContext, state: JobState, *, priority: Any) -> None:
        self.ctx = ctx
        self.state = state
        self.priority = priority
        self.params = JobParams.from_json(state.params)
        self.progress = JobProgress.from_json(state.progress)
        self.tally = Tally()
        self.pager = ctx.pager(self.tally)
        self._active_since = ctx.now_ms()
        self._active_before = self.progress.active_ms
        # What earlier runs of this job (before a restart) already spent.
        self._req0 = self.progress.requests
        self._w0 = self.progress.weight

    @property
    def job_id(self) -> str:
        """The job's id."""
        return self.state.job_id

    async def run(self) -> JobState:
        """Run to the end; returns the final row (state ``done`` or ``failed``).

        AuthError is re-raised after the progress is saved; the job stays ``running`` so
        that it resumes once the account has a working key again (after a restart).
        """
        try:
            if self.progress.phase == "account":
                await self._phase("account")
                await self._enter_symbols_phase()
            if self.progress.phase == "symbols":
                await self._phase("symbols")
                self.progress.phase = "done"
            return await self._save("done")
        except AuthError as exc:
            self.progress.note_error(f"{type(exc).__name__}: {exc}")
            await self._save("running", error=str(exc))
            raise
        except BadRequest as exc:
            # A refused request is a bug or a changed API: stop this job, say why.
            self.progress.note_error(f"{type(exc).__name__}: {exc}")
            return await self._save("failed", error=str(exc))

    # -- phases ----------------------------------------------------------------------------

    async def _phase(self, phase: str) -> None:
        windows, expired, notes = plan_phase(self.params, phase, self.progress.symbols)
        if phase == "account" and self.progress.windows_total == 0:
            self.progress.windows_total = len(windows)
            self.progress.expired += notes
            await self._save("running", coverage=self._own(expired))
        while self.progress.next_window < len(windows):
            w = windows[self.progress.next_window]
            await self._window(w)

    async def _window(self, w: Window) -> None:
        ctx = self.ctx
        cur = ctx.reader.cursor(ctx.account, w.endpoint, w.symbol)
        # Move the incremental cursor only when this window continues it: a backfill must
        # never lift a cursor over a hole that nobody fetched.
        advance = cur is None or cur.position_ms >= w.start_ms
        while True:
            try:
                await self.pager.run_window(
                    w,
                    priority=self.priority,
                    position=self.progress.page or None,
                    advance_cursor=advance,
                    hook=self._hook,
                )
                return
            except (AuthError, BadRequest):
                raise
            except ExchangeError as exc:
                # Transient faults past the client's retries: note, wait a little, go on
                # from the committed position (the job never restarts a window from zero).
                self.progress.note_error(f"{w.endpoint} {w.symbol}: {type(exc).__name__}: {exc}")
                log.warning("backfill_window_retry", job=self.job_id, error=str(exc))
                await _sleep(1.0)

    def _hook(self, w: Window, pos: dict[str, Any], done: bool, page: Page) -> Sequence[Record]:
        p = self.progress
        p.requests = self._base_requests() + self.tally.requests
        p.weight = self._base_weight() + self.tally.weight
        for r in page.records:
            table = _TABLES.get(type(r).__name__, type(r).__name__)
            p.rows[table] = p.rows.get(table, 0) + 1
        while self.pager.expired:
            m = self.pager.expired.pop(0)
            p.expired.append(
                {
                    "endpoint": m.endpoint,
                    "symbol": m.symbol,
                    "start_ms": m.start_ms,
                    "end_ms": m.end_ms,
                }
            )
        if w.endpoint == "income":
            p.symbols = sorted(set(p.symbols) | symbols_from_income(page.records))
        if done:
            p.next_window += 1
            p.windows_done += 1
            p.page = {}
        else:
            p.page = dict(pos)
        p.update_eta(self._active_ms())
        return [*activity_registry(self.ctx.account, page.records), self._row("running")]

    async def _enter_symbols_phase(self) -> None:
        """Fix the symbol list (discovered + configured + asked), plan the second phase."""
        symbols = await self._choose_symbols()
        self.progress.phase = "symbols"
        self.progress.symbols = symbols
        self.progress.next_window = 0
        self.progress.page = {}
        windows, expired, notes = plan_phase(self.params, "symbols", symbols)
        self.progress.windows_total = self.progress.windows_done + len(windows)
        self.progress.expired += notes
        await self._save("running", coverage=self._own(expired))

    async def _choose_symbols(self) -> list[str]:
        ctx = self.ctx
        if self.params.symbols and not self.params.all_symbols:
            return sorted(self.params.symbols)
        rest = ctx.rest
        positions = await ctx.call(lambda: rest.position_risk(priority=self.priority))
        self.tally.request(rest.WEIGHTS.get("positionRisk", 5))
        known = set(self.progress.symbols) | active_symbols_from_positions(positions)
        registry = ctx.reader.symbols(ctx.account)
        known |= {s.symbol for s in registry if s.active_ms > 0}
        known |= {sym for sym, _i, _t in ctx.reader.open_orders(ctx.account)}
        known |= ctx.stream_symbols | set(self.params.symbols)
        universe = "all" if self.params.all_symbols else ctx.config.universe
        listed: set[str] = set()
        if universe == "all":
            listed = listed_perpetuals(registry)
        return universe_symbols(
            universe, extras=ctx.config.symbols, known_active=known, listed=listed
        )

    # -- persistence -------------------------------------------------------------------------

    def _own(self, marks: list[CoverageMark]) -> list[CoverageMark]:
        return [
            CoverageMark(self.ctx.account, m.endpoint, m.symbol, m.start_ms, m.end_ms, m.kind)
            for m in marks
        ]

    def _base_requests(self) -> int:
        return self._req0

    def _base_weight(self) -> int:
        return self._w0

    def _active_ms(self) -> int:
        return self._active_before + max(0, self.ctx.now_ms() - self._active_since)

    def _row(self, state: str, error: str = "") -> JobState:
        self.state = JobState(
            job_id=self.state.job_id,
            account=self.state.account,
            kind=self.state.kind,
            state=state,
            params=self.state.params,
            progress=self.progress.to_json(),
            created_ms=self.state.created_ms,
            updated_ms=self.ctx.now_ms(),
            error=error,
        )
        return self.state

    async def _save(
        self,
        state: str,
        *,
        error: str = "",
        coverage: Sequence[CoverageMark] = (),
        extra: Sequence[Record] = (),
    ) -> JobState:
        self.progress.requests = self._base_requests() + self.tally.requests
        self.progress.weight = self._base_weight() + self.tally.weight
        if state == "done":
            self.progress.eta_s = 0.0
        row = self._row(state, error)
        await self.ctx.writer.submit(WriteBatch(records=[*extra, row], coverage=list(coverage)))
        log.info(
            "backfill_job_saved",
            job=self.job_id,
            state=state,
            phase=self.progress.phase,
            windows_done=self.progress.windows_done,
            windows_total=self.progress.windows_total,
        )
        return row


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)
