"""Page one window of one history endpoint to exhaustion, committing every page.

Paging per endpoint (shared/reference/binance-usdm.md §4):

* ``userTrades``: ``startTime``/``endTime`` for the window's first page; when a page is
  full, continue with ``fromId = max id + 1`` (``fromId`` cannot be combined with times,
  and thousands of trades can share one millisecond, so time-based paging could loop or
  skip). The window is done when a page is short or reaches past the window's end.
* ``allOrders``: the same with ``orderId`` (returns ids ≥ it).
* ``income`` and ``allAlgoOrders``: ``page`` = 1, 2, … over the same fixed window until a
  page is short. More than 1,000 income rows can share one millisecond (funding), so
  re-querying from the last time would never get past them; pages of a fixed, closed
  window are stable because rows are appended at the end in time order.

Every page becomes ONE :class:`~v7d.store.records.WriteBatch`: its records, the cursor
move it justifies, the coverage mark when it completes the window, and whatever the
caller adds (a job's progress), so a crash can never leave a cursor or a job ahead of its
data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from v7d.errors import BadRequest
from v7d.store.records import CoverageMark, CursorMove, Record, WriteBatch
from v7d.sync.plan import UNFILLED_CANCEL_RETENTION_MS, Window, request_bounds, split_at
from v7d.sync.report import Tally, changed_rows

__all__ = ["PAGE_LIMIT", "Page", "PageHook", "WindowPager", "coverage_marks", "legal_start"]

#: Rows per request; the maximum every paged endpoint accepts.
PAGE_LIMIT = 1000

#: Called with (window, next page position, window done, page) before the page commits;
#: returns extra records for the same transaction (a job's progress row).
PageHook = Callable[[Window, dict[str, Any], bool, "Page"], Sequence[Record]]


class _Writer(Protocol):
    async def submit(self, batch: WriteBatch) -> Any: ...


#: Step past the exchange's retention edge when it refused a start time: its edge moves
#: forward while we retry (a second refusal moves again). Small, so that rows still
#: retrievable just after the edge are not given up.
RETENTION_EDGE_MS = 1_000

_LEGAL_RANGE = re.compile(r"legal range is '?(\d{12,14})\s*-\s*(\d{12,14})")


def legal_start(exc: BadRequest) -> int | None:
    """The oldest time a -1100 "legal range is 'A - B'" answer allows (A), else None."""
    if exc.code != -1100:
        return None
    m = _LEGAL_RANGE.search(str(exc))
    return int(m.group(1)) if m else None


@dataclass
class Page:
    """One fetched page: the parsed records and where the window stands after it."""

    records: list[Record]
    rows: int
    done: bool
    next_position: dict[str, Any]
    last_ms: int | None
    last_id: int | None
    fetched: dict[str, int] = field(default_factory=dict)


def coverage_marks(account: str, window: Window, fetched_at_ms: int) -> list[CoverageMark]:
    """The ledger marks a completed window earns.

    ``allOrders`` never returns canceled/expired orders without a fill once they are 3
    days old, so the part of an orders window older than that at fetch time is recorded
    as ``expired`` (what the exchange provably no longer keeps), not ``complete``.
    """
    w = window
    if w.endpoint != "allOrders":
        return [CoverageMark(account, w.endpoint, w.symbol, w.start_ms, w.end_ms, "complete")]
    old, fresh = split_at(w.start_ms, w.end_ms, fetched_at_ms - UNFILLED_CANCEL_RETENTION_MS)
    marks = []
    if old:
        marks.append(CoverageMark(account, w.endpoint, w.symbol, old[0], old[1], "expired"))
    if fresh:
        marks.append(CoverageMark(account, w.endpoint, w.symbol, fresh[0], fresh[1], "complete"))
    return marks


class WindowPager:
    """Fetches windows of history for one account through the client, writes each page.

    ``parse_error`` is called with (what, raw row, error) for every row the parsers refuse;
    the row is logged and counted there, never dropped silently.
    """

    def __init__(
        self,
        *,
        account: str,
        rest: Any,
        writer: _Writer,
        tally: Tally,
        parse_error: Callable[[str, Any, Exception], None],
        clock: Callable[[], float],
        call: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]] | None = None,
        limit: int = PAGE_LIMIT,
    ) -> None:
        self.account = account
        self.rest = rest
        self.writer = writer
        self.tally = tally
        self.parse_error = parse_error
        self.clock = clock
        self.limit = limit
        self.call = call
        #: Ranges the exchange refused as past its retention (-1100), marked ``expired``.
        self.expired: list[CoverageMark] = []

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def run_window(
        self,
        window: Window,
        *,
        priority: Any,
        position: dict[str, Any] | None = None,
        advance_cursor: bool = True,
        hook: PageHook | None = None,
    ) -> int:
        """Fetch ``window`` from ``position`` (a previous run's paging position) to its end.

        Returns the number of rows fetched. Raises the client's errors unchanged; pages
        committed before the error stay committed.
        """
        pos = dict(position or {})
        rows = 0
        refusals = 0
        while True:
            try:
                page = await self.fetch_page(window, pos, priority=priority)
            except BadRequest as exc:
                cut = legal_start(exc) if not pos and refusals < 5 else None
                if cut is None or cut <= window.start_ms:
                    raise
                refusals += 1
                window = await self._expire_head(window, cut)
                if window.start_ms >= window.end_ms:
                    return rows
                continue
            rows += page.rows
            await self._commit(window, page, advance_cursor=advance_cursor, hook=hook)
            if page.done:
                return rows
            pos = page.next_position

    async def _expire_head(self, window: Window, cut: int) -> Window:
        """The exchange said the window's start is past its retention: record the head as
        expired and go on with the part it still keeps."""
        cut = min(cut + RETENTION_EDGE_MS, window.end_ms)
        mark = CoverageMark(
            self.account, window.endpoint, window.symbol, window.start_ms, cut, "expired"
        )
        await self.writer.submit(WriteBatch(coverage=[mark]))
        self.expired.append(mark)
        return Window(window.endpoint, window.symbol, cut, window.end_ms)

    async def _commit(
        self, window: Window, page: Page, *, advance_cursor: bool, hook: PageHook | None
    ) -> None:
        cursors: list[CursorMove] = []
        if advance_cursor and (page.done or page.last_ms is not None):
            position_ms = window.end_ms if page.done else min(page.last_ms or 0, window.end_ms)
            cursors.append(
                CursorMove(
                    self.account,
                    window.endpoint,
                    window.symbol,
                    position_ms,
                    page.last_id,
                    json.dumps(page.next_position) if not page.done else None,
                )
            )
        coverage = coverage_marks(self.account, window, self._now_ms()) if page.done else []
        extra = list(hook(window, page.next_position, page.done, page)) if hook else []
        batch = WriteBatch(records=[*page.records, *extra], cursors=cursors, coverage=coverage)
        result = await self.writer.submit(batch)
        self.tally.add_rows(changed_rows(result))

    async def fetch_page(self, window: Window, pos: dict[str, Any], *, priority: Any) -> Page:
        """Fetch and parse the next page of ``window`` from paging position ``pos``."""
        fetch = _FETCHERS[window.endpoint]
        if self.call is None:
            raw_rows = await fetch(self, window, pos, priority)
        else:
            raw_rows = await self.call(lambda: fetch(self, window, pos, priority))
        self.tally.request(self.rest.WEIGHTS.get(window.endpoint, 1))
        return self._page(window, pos, raw_rows)

    def _page(self, window: Window, pos: dict[str, Any], raw_rows: list[dict[str, Any]]) -> Page:
        from v7d.binance import parse

        spec = _SPECS[window.endpoint]
        records: list[Record] = []
        times: list[int] = []
        ids: list[int] = []
        for d in raw_rows:
            try:
                rec = getattr(parse, spec.parser)(self.account, d)
            except Exception as exc:  # ParseError or a shape we did not foresee
                self.parse_error(window.endpoint, d, exc)
                continue
            records.append(rec)
            times.append(int(getattr(rec, spec.time_attr)))
            if spec.id_attr:
                ids.append(int(getattr(rec, spec.id_attr)))
        full = len(raw_rows) >= self.limit
        last_ms = max(times) if times else None
        last_id = max(ids) if ids else None
        if spec.paging == "id":
            done = not full or (last_ms is not None and last_ms >= window.end_ms)
            nxt = {"from_id": last_id + 1} if last_id is not None else {}
        else:
            done = not full
            nxt = {"page": int(pos.get("page", 1)) + 1}
        if full and not done and not records:
            # A full page none of which parsed: the position cannot move by id. Stop the
            # window here (the errors are already counted and logged) instead of looping.
            done = True
        return Page(records, len(raw_rows), done, nxt, last_ms, last_id)


@dataclass(frozen=True)
class _Spec:
    parser: str
    time_attr: str
    id_attr: str | None
    paging: str  # "id" or "page"


_SPECS: dict[str, _Spec] = {
    "userTrades": _Spec("trade_from_rest", "time", "id", "id"),
    "allOrders": _Spec("order_from_rest", "time", "order_id", "id"),
    "income": _Spec("income_from_rest", "time", None, "page"),
    "allAlgoOrders": _Spec("algo_order_from_rest", "time", None, "page"),
}


async def _by_id_or_window(
    fetch: Callable[..., Awaitable[list[Any]]],
    id_kw: str,
    p: WindowPager,
    w: Window,
    pos: dict[str, Any],
    prio: Any,
) -> list[Any]:
    """One page of a per-symbol endpoint: by id once ``pos`` holds one, else by time window."""
    if "from_id" in pos:
        return await fetch(w.symbol, **{id_kw: pos["from_id"]}, limit=p.limit, priority=prio)
    start, end = request_bounds(w.start_ms, w.end_ms)
    return await fetch(w.symbol, start_ms=start, end_ms=end, limit=p.limit, priority=prio)


async def _by_page(
    fetch: Callable[..., Awaitable[list[Any]]],
    p: WindowPager,
    w: Window,
    pos: dict[str, Any],
    prio: Any,
) -> list[Any]:
    """One numbered page of an endpoint whose symbol is optional (empty = all symbols)."""
    start, end = request_bounds(w.start_ms, w.end_ms)
    return await fetch(
        symbol=w.symbol or None,
        start_ms=start,
        end_ms=end,
        page=int(pos.get("page", 1)),
        limit=p.limit,
        priority=prio,
    )


async def _trades(p: WindowPager, w: Window, pos: dict[str, Any], prio: Any) -> list[Any]:
    return await _by_id_or_window(p.rest.user_trades, "from_id", p, w, pos, prio)


async def _orders(p: WindowPager, w: Window, pos: dict[str, Any], prio: Any) -> list[Any]:
    return await _by_id_or_window(p.rest.all_orders, "order_id", p, w, pos, prio)


async def _income(p: WindowPager, w: Window, pos: dict[str, Any], prio: Any) -> list[Any]:
    return await _by_page(p.rest.income, p, w, pos, prio)


async def _algo(p: WindowPager, w: Window, pos: dict[str, Any], prio: Any) -> list[Any]:
    return await _by_page(p.rest.all_algo_orders, p, w, pos, prio)


_FETCHERS: dict[str, Callable[[WindowPager, Window, dict[str, Any], Any], Awaitable[list[Any]]]] = {
    "userTrades": _trades,
    "allOrders": _orders,
    "income": _income,
    "allAlgoOrders": _algo,
}
