"""One incremental pass (and its gap-repair form): bring every cursor up to now.

Order of a pass, cheapest discovery first:

1. ``income`` account-wide from its cursor (minus ``overlap_ms``): its rows name the
   symbols that had fills, PnL or funding;
2. positions and balances snapshot (positionRisk v3 + account v3): positionRisk also names
   the symbols with a position or open orders;
3. the symbol set of the universe (:mod:`v7d.sync.discovery`);
4. ``userTrades``, ``allOrders`` and ``allAlgoOrders`` per symbol from each cursor; the
   order endpoints reach back to the oldest order whose stored version came from the
   stream only (REST must confirm it) or, for algo orders, is not final yet;
5. every order the store still holds as non-final is re-fetched until it is final.

A gap repair is the same pass at ``Priority.GAP_REPAIR`` whose ranges reach back to the
start of the stream gap. Errors of one step are recorded and the pass goes on with the
next step; an :class:`~v7d.errors.AuthError` stops the pass (the engine stops the account).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from v7d.binance.errors import OrderGone
from v7d.errors import AuthError, ExchangeError
from v7d.store.records import MetaItem, Position, Record, SymbolInfo, WriteBatch
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
    PER_SYMBOL_ENDPOINTS,
    RETENTION_SAFETY_MS,
    UNFILLED_CANCEL_RETENTION_MS,
    Window,
    plan_windows,
)
from v7d.sync.report import PassReport, Tally, changed_rows

__all__ = ["ALGO_OPEN_STATUSES", "IncrementalPass", "last_alive_key"]

log = structlog.get_logger(__name__)

#: Algo order statuses that can still change (re-fetched until they leave this set).
ALGO_OPEN_STATUSES = ("NEW", "TRIGGERING", "TRIGGERED")


def last_alive_key(account: str) -> str:
    """Meta key of the last time a pass of ``account`` completed (restart-gap detection)."""
    return f"sync.last_alive_ms.{account}"


class IncrementalPass:
    """One pass over every endpoint and symbol of an account (see the module docstring)."""

    def __init__(self, ctx: SyncContext, *, priority: Any, since_ms: int | None = None) -> None:
        self.ctx = ctx
        self.priority = priority
        self.since_ms = since_ms
        self.tally = Tally()
        self.pager = ctx.pager(self.tally)
        self.discovered: set[str] = set()

    async def run(self) -> PassReport:
        """Run the pass; returns its report. Raises AuthError (nothing else)."""
        ctx = self.ctx
        started = ctx.now_ms()
        # Ranges end just after this millisecond: a row booked in the very ms the pass
        # starts is included (the next pass's overlap catches anything REST adds later).
        now = started + 1
        await self._step("income", self._sync("income", "", now))
        await self._step("positions", self._snapshot())
        symbols = await self._symbols()
        for symbol in symbols:
            for endpoint in PER_SYMBOL_ENDPOINTS:
                await self._step(f"{endpoint} {symbol}", self._sync(endpoint, symbol, now))
        await self._step("open orders", self._refresh_open_orders())
        finished = ctx.now_ms()
        await ctx.writer.submit(
            WriteBatch(
                records=[
                    *self._registry(symbols, finished),
                    MetaItem(last_alive_key(ctx.account), str(started)),
                ]
            )
        )
        return PassReport.from_tally(
            self.tally, started_ms=started, finished_ms=finished, symbols=len(symbols)
        )

    async def _step(self, what: str, coro: Any) -> None:
        try:
            await coro
        except AuthError:
            raise
        except ExchangeError as exc:
            self.tally.error(f"{what}: {type(exc).__name__}: {exc}")
            log.warning("sync_step_failed", account=self.ctx.account, step=what, error=str(exc))

    # -- ranges --------------------------------------------------------------------------

    def range_start(self, endpoint: str, symbol: str, now_ms: int) -> int:
        """Where this pass starts ``endpoint``/``symbol``: the cursor minus the overlap (or
        the account's horizon when it never synced), reaching back to a gap's start."""
        ctx = self.ctx
        cur = ctx.reader.cursor(ctx.account, endpoint, symbol)
        overlap = int(ctx.config.overlap_ms)
        start = cur.position_ms - overlap if cur is not None else ctx.horizon_ms
        if self.since_ms is not None:
            start = min(start, self.since_ms - overlap)
        oldest = self._oldest_unconfirmed(endpoint, symbol, now_ms)
        if oldest is not None:
            start = min(start, oldest)
        return max(start, ctx.retention_start(endpoint, now_ms))

    async def _sync(self, endpoint: str, symbol: str, now_ms: int) -> None:
        start = self.range_start(endpoint, symbol, now_ms)
        for w in plan_windows(endpoint, symbol, start, now_ms):
            await self.pager.run_window(w, priority=self.priority, hook=self._collect_symbols)

    def _collect_symbols(
        self, _w: Window, _pos: dict[str, Any], _done: bool, page: Page
    ) -> Sequence[Record]:
        # Income names the active symbols; any fetched row keeps its symbol active.
        self.discovered |= symbols_from_income(page.records)
        return activity_registry(self.ctx.account, page.records)

    def _oldest_unconfirmed(self, endpoint: str, symbol: str, now_ms: int) -> int | None:
        """Creation time of the oldest order REST has yet to confirm, for reaching back.

        allOrders and allAlgoOrders select by creation time, so an order REST saw as NEW
        and the stream then finalised lies behind every later window: its stored version
        is the stream's (``source = ws``) until a window over its creation time fetches
        REST's. Algo orders not yet final are re-fetched the same way (there is no
        one-algo-order endpoint). Only orders REST still returns (3 days for unfilled
        cancels) are reached for, so a vanished one cannot make every pass reach back.
        """
        floor = now_ms - UNFILLED_CANCEL_RETENTION_MS + RETENTION_SAFETY_MS
        if endpoint == "allOrders":
            rows = self.ctx.query(
                "SELECT min(time) FROM orders WHERE account=? AND symbol=? AND source='ws' "
                "AND time >= ?",
                (self.ctx.account, symbol, floor),
            )
        elif endpoint == "allAlgoOrders":
            marks = ",".join("?" * len(ALGO_OPEN_STATUSES))
            rows = self.ctx.query(
                "SELECT min(time) FROM algo_orders WHERE account=? AND symbol=? AND time >= ? "
                f"AND (source='ws' OR status IN ({marks}))",
                (self.ctx.account, symbol, floor, *ALGO_OPEN_STATUSES),
            )
        else:
            return None
        return rows[0][0] if rows and rows[0][0] is not None else None

    # -- symbols ---------------------------------------------------------------------------

    async def _symbols(self) -> list[str]:
        ctx = self.ctx
        cfg = ctx.config
        registry = ctx.reader.symbols(ctx.account)
        known = {s.symbol for s in registry if s.active_ms > 0}
        known |= {sym for sym, _id, _t in ctx.reader.open_orders(ctx.account)}
        known |= self.discovered | ctx.stream_symbols
        listed: set[str] = set()
        if cfg.universe == "all":
            listed = listed_perpetuals(registry)
        return universe_symbols(cfg.universe, extras=cfg.symbols, known_active=known, listed=listed)

    def _registry(self, symbols: list[str], now_ms: int) -> list[SymbolInfo]:
        """Registry rows for the symbols activity showed in this pass (active_ms = now)."""
        active = self.discovered | self.ctx.stream_symbols
        return [SymbolInfo(self.ctx.account, s, active_ms=now_ms) for s in symbols if s in active]

    # -- snapshots -------------------------------------------------------------------------

    async def _snapshot(self) -> None:
        from v7d.binance import parse

        ctx = self.ctx
        rest = ctx.rest
        positions = await ctx.call(lambda: rest.position_risk(priority=self.priority))
        self.tally.request(rest.WEIGHTS.get("positionRisk", 5))
        account = await ctx.call(lambda: rest.account_info(priority=self.priority))
        self.tally.request(rest.WEIGHTS.get("account", 5))
        self.discovered |= active_symbols_from_positions(positions)
        records: list[Record] = []
        seen: set[tuple[str, str]] = set()
        for d in positions:
            try:
                p = parse.position_from_rest(ctx.account, d)
            except Exception as exc:
                ctx.parse_error("positionRisk", d, exc)
                continue
            seen.add((p.symbol, p.position_side))
            records.append(p)
        for d in account.get("assets", []):
            try:
                records.append(parse.balance_from_rest(ctx.account, d))
            except Exception as exc:
                ctx.parse_error("account.assets", d, exc)
        records += self._closed_positions(seen)
        result = await ctx.writer.submit(WriteBatch(records=records))
        self.tally.add_rows(changed_rows(result))

    def _closed_positions(self, seen: set[tuple[str, str]]) -> list[Position]:
        """Zero rows for stored non-zero positions that positionRisk v3 no longer lists
        (it lists only symbols with a position or open orders: absent means flat)."""
        ctx = self.ctx
        now = ctx.now_ms()
        out = []
        for symbol, side, amt in ctx.query(
            "SELECT symbol, position_side, position_amt FROM positions WHERE account=?",
            (ctx.account,),
        ):
            if (symbol, side) in seen or _is_zero(amt):
                continue
            # Not an exchange payload: says why v7d wrote a flat position.
            raw = json.dumps(
                {"symbol": symbol, "positionSide": side, "absentFrom": "positionRisk"},
                separators=(",", ":"),
            )
            out.append(
                Position(
                    ctx.account, symbol, side, "0", "0", "0", "0", "0", "0", "0", "", now, "rest",
                    raw,
                )
            )  # fmt: skip
        return out

    # -- non-final orders --------------------------------------------------------------------

    async def _refresh_open_orders(self) -> None:
        """Re-fetch every order the store holds as non-final until the exchange says final."""
        from v7d.binance import parse

        ctx = self.ctx
        rest = ctx.rest
        by_symbol: dict[str, list[int]] = {}
        for symbol, order_id, _t in ctx.reader.open_orders(ctx.account):
            by_symbol.setdefault(symbol, []).append(order_id)
        for symbol, ids in by_symbol.items():
            payloads: list[dict[str, Any]] = []
            still_open: set[int] = set()
            if len(ids) > 1:
                # One openOrders call (weight 1) answers for every order still open.
                rows: list[dict[str, Any]] = await ctx.call(
                    functools.partial(rest.open_orders, symbol, priority=self.priority)
                )
                self.tally.request(1)
                payloads += rows
                still_open = {int(d.get("orderId", 0)) for d in rows}
            for order_id in ids:
                if order_id in still_open or (symbol, order_id) in ctx.gone_orders:
                    continue
                try:
                    d: dict[str, Any] = await ctx.call(
                        functools.partial(rest.order, symbol, order_id, priority=self.priority)
                    )
                except OrderGone:
                    # Past REST retention (or never existed): nothing more to learn; do not
                    # ask again in this process.
                    ctx.gone_orders.add((symbol, order_id))
                    log.info("order_gone", account=ctx.account, symbol=symbol, order_id=order_id)
                    continue
                finally:
                    self.tally.request(1)
                payloads.append(d)
            records: list[Record] = []
            for d in payloads:
                try:
                    records.append(parse.order_from_rest(ctx.account, d))
                except Exception as exc:
                    ctx.parse_error("order", d, exc)
            if records:
                result = await ctx.writer.submit(WriteBatch(records=records))
                self.tally.add_rows(changed_rows(result))


def _is_zero(amount: str) -> bool:
    try:
        return Decimal(amount) == 0
    except (InvalidOperation, TypeError):
        return False
