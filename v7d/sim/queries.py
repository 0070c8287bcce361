"""The read endpoints' rules: parameters, default windows, limits, retention, paging.

Every function takes the request's parameters and answers the JSON body as bytes, or
raises BinanceError with Binance's code. Rules (see shared/reference/binance-usdm.md):

- userTrades / allOrders / allAlgoOrders: no times -> the last 7 days; only startTime ->
  [startTime, startTime + 7 d]; only endTime -> [endTime - 7 d, endTime]; a window longer
  than 7 days -> -1127 (or -1100, the ``window_error`` switch). Times are inclusive.
  With startTime given the page starts at startTime; otherwise it is the most recent
  ``limit`` rows of the window. ``fromId`` (trades) / ``orderId`` (orders) / ``algoId``
  page by id and ignore the default window; fromId with a time -> -1128.
- userTrades: only the last 6 months exist; a startTime before that -> -1100 legal range.
- allOrders / order / allAlgoOrders: an order created more than 90 days ago is gone; a
  CANCELED/EXPIRED one without fills is gone after 3 days.
- income: default limit 100; no times -> last 7 days; only startTime -> [startTime, now];
  only endTime -> [endTime - 7 d, endTime]; max window none (or 7 days, a switch); only
  the last 3 months exist (older startTime -> -1100); ``page`` pages by offset.
All retention periods are divided by ``time_scale``.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence

from v7d.sim import ids
from v7d.sim.account import SimAccount
from v7d.sim.binance_errors import BinanceError, bad_param, illegal_range, invalid_symbol, mandatory
from v7d.sim.book import INCOME_RANK, DayBucket
from v7d.sim.clock import DAY_MS
from v7d.sim.orders import OrderState

__all__ = ["Queries"]

WEEK_MS = 7 * DAY_MS
INCOME_TYPES = frozenset(
    [
        "TRANSFER",
        "WELCOME_BONUS",
        "REALIZED_PNL",
        "FUNDING_FEE",
        "COMMISSION",
        "INSURANCE_CLEAR",
        "REFERRAL_KICKBACK",
        "COMMISSION_REBATE",
        "API_REBATE",
        "CONTEST_REWARD",
        "CROSS_COLLATERAL_TRANSFER",
        "OPTIONS_PREMIUM_FEE",
        "OPTIONS_SETTLE_PROFIT",
        "INTERNAL_TRANSFER",
        "AUTO_EXCHANGE",
        "DELIVERED_SETTELMENT",
        "COIN_SWAP_DEPOSIT",
        "COIN_SWAP_WITHDRAW",
        "POSITION_LIMIT_INCREASE_FEE",
        "STRATEGY_UMFUTURES_TRANSFER",
        "FEE_RETURN",
        "BFUSD_REWARD",
    ]
)

Params = Mapping[str, str]


def _join(rows: list[bytes]) -> bytes:
    return b"[" + b",".join(rows) + b"]"


def int_param(p: Params, name: str) -> int | None:
    """An optional integer parameter (-1102 when present but not an integer)."""
    v = p.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise mandatory(name) from None


def limit_param(p: Params, default: int, maximum: int) -> int:
    """``limit`` with its default; outside 1..maximum -> -1130."""
    v = int_param(p, "limit")
    if v is None:
        return default
    if not 1 <= v <= maximum:
        raise bad_param("limit")
    return v


class Queries:
    """Endpoint rules over one SimAccount."""

    def __init__(self, account: SimAccount, lag_ms: Callable[[], int] = lambda: 0) -> None:
        self.acct = account
        self.opts = account.opts
        self.clock = account.clock
        self.lag_ms = lag_ms  # the rest_lag_ms fault: REST does not see the newest rows yet

    def cutoff(self) -> int:
        """Rows newer than this are not visible to REST yet (far future without lag)."""
        lag = self.lag_ms()
        return self.clock.now_ms() - lag if lag else 2**62

    # --- shared rules --------------------------------------------------------------------
    def symbol(self, p: Params, *, required: bool = True) -> str | None:
        """The ``symbol`` parameter: -1102 when missing, -1121 when unknown."""
        s = p.get("symbol")
        if not s:
            if required:
                raise mandatory("symbol")
            return None
        if s not in self.acct.specs:
            raise invalid_symbol()
        return s

    def _retention(self, days: int) -> int:
        return self.clock.now_ms() - self.clock.scaled_ms(days * DAY_MS)

    def window(
        self, p: Params, *, max_ms: int | None = WEEK_MS, end_default_now: bool = False
    ) -> tuple[int, int, bool]:
        """(start, end, start_given) with the default-window rules; checks the length."""
        start, end = int_param(p, "startTime"), int_param(p, "endTime")
        now = self.clock.now_ms()
        given = start is not None
        if start is None and end is None:
            start, end = now - WEEK_MS, now
        elif start is None:
            assert end is not None
            start = end - WEEK_MS
        elif end is None:
            end = now if end_default_now else start + WEEK_MS
        if start > end:
            raise bad_param("startTime")
        if max_ms is not None and end - start > max_ms:
            raise self._window_error(max_ms)
        return start, end, given

    def _window_error(self, max_ms: int) -> BinanceError:
        if self.opts.window_error == "-1127":
            return BinanceError(
                -1127, f"More than {max_ms // 3_600_000} hours between startTime and endTime."
            )
        return illegal_range("endTime", f"endTime - startTime <= {max_ms}")

    def _no_ids_with_times(self, p: Params, id_name: str) -> None:
        if p.get(id_name) and (p.get("startTime") or p.get("endTime")):
            raise BinanceError(-1128, "Combination of optional parameters invalid.")

    # --- userTrades ----------------------------------------------------------------------
    def user_trades(self, p: Params) -> bytes:
        """GET /fapi/v1/userTrades."""
        symbol = self.symbol(p)
        assert symbol is not None
        limit = limit_param(p, 500, 1000)
        self._no_ids_with_times(p, "fromId")
        from_id, order_id = int_param(p, "fromId"), int_param(p, "orderId")
        keep = self._retention(180)
        cut = self.cutoff()
        st = int_param(p, "startTime")
        if st is not None and st < keep:
            raise illegal_range("startTime", f"{keep} - {self.clock.now_ms()}")
        gid = self.opts.trade_ids == "global"
        if order_id is not None:
            # an order's fills live in the buckets of the days they happened (from its own day)
            rows: list[bytes] = []
            if self._order_day_ok(order_id):
                for day in range(ids.day_of_order_id(order_id), self.acct.last_day() + 1):
                    b = self.acct.bucket(symbol, day)
                    rows.extend(
                        b.trades[i]
                        for i in range(len(b.trades))
                        if b.t_oid[i] == order_id and keep <= b.t_time[i] <= cut
                    )
            return _join(rows[:limit])
        if from_id is not None:
            rows = []
            first = max(self.acct.first_day, ids.day_of_trade_id(max(0, from_id), global_ids=gid))
            for day in range(first, self.acct.last_day() + 1):
                b = self.acct.bucket(symbol, day)
                for i in range(_bisect_ge(b.t_id, from_id), len(b.trades)):
                    if b.t_time[i] > cut:
                        return _join(rows)
                    if b.t_time[i] >= keep:
                        rows.append(b.trades[i])
                        if len(rows) == limit:
                            return _join(rows)
            return _join(rows)
        start, end, given = self.window(p)
        start = max(start, keep)
        return _join(self._windowed(symbol, start, end, given, limit, "trade", None))

    def _order_day_ok(self, order_id: int) -> bool:
        d = ids.day_of_order_id(order_id)
        return self.acct.first_day <= d <= self.acct.last_day()

    def _windowed(
        self,
        symbol: str,
        start: int,
        end: int,
        from_start: bool,
        limit: int,
        kind: str,
        visible: tuple[int, int, int] | None,
    ) -> list[bytes]:
        """Rows of one symbol in [start, end]: the first ``limit`` or the last ``limit``."""
        out: list[bytes] = []
        end = min(end, self.cutoff())
        if start > end:
            return out
        for b in self.acct.buckets(symbol, start, end, reverse=not from_start):
            idx = _indexes(b, kind, start, end, visible)
            if not from_start:
                idx = list(reversed(idx))
            for i in idx:
                out.append(_rows(b, kind)[i])
                if len(out) == limit:
                    return out if from_start else out[::-1]
        return out if from_start else out[::-1]

    # --- orders --------------------------------------------------------------------------
    def _order_visibility(self) -> tuple[int, int, int]:
        """(oldest creation time visible at all, oldest visible when canceled without fill)."""
        return self._retention(90), self._retention(3), self.cutoff()

    def all_orders(self, p: Params) -> bytes:
        """GET /fapi/v1/allOrders."""
        symbol = self.symbol(p)
        assert symbol is not None
        limit = limit_param(p, 500, 1000)
        vis = self._order_visibility()
        oid = int_param(p, "orderId")
        if oid is not None and not (p.get("startTime") or p.get("endTime")):
            out: list[bytes] = []
            first = max(self.acct.first_day, ids.day_of_order_id(oid) if oid > 0 else 0)
            for day in range(first, self.acct.last_day() + 1):
                b = self.acct.bucket(symbol, day)
                for i in range(_bisect_ge(b.o_id, oid), len(b.orders)):
                    if _visible(b.o_time[i], b.o_hide3[i], vis):
                        out.append(b.orders[i])
                        if len(out) == limit:
                            return _join(out)
            return _join(out)
        start, end, given = self.window(p)
        if oid is not None:
            rows = self._windowed(symbol, start, end, True, 10**9, "order", vis)
            sel = [r for r in rows if _row_id(r, b'"orderId":') >= oid]
            return _join(sel[:limit])
        return _join(self._windowed(symbol, start, end, given, limit, "order", vis))

    def find_order(self, symbol: str, p: Params) -> tuple[DayBucket, int]:
        """(bucket, index) of the order named by orderId / origClientOrderId, or -2013."""
        oid, cid = int_param(p, "orderId"), p.get("origClientOrderId")
        if oid is None and not cid:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        vis = self._order_visibility()
        if oid is not None:
            if self._order_day_ok(oid):
                b = self.acct.bucket(symbol, ids.day_of_order_id(oid))
                i = b.order_index(oid)
                if i >= 0 and _visible(b.o_time[i], b.o_hide3[i], vis):
                    return b, i
        else:
            for b in self.acct.buckets(symbol, vis[0], self.clock.now_ms(), reverse=True):
                for i in range(len(b.o_client) - 1, -1, -1):
                    if b.o_client[i] == cid and _visible(b.o_time[i], b.o_hide3[i], vis):
                        return b, i
        raise BinanceError(-2013, "Order does not exist.")

    def order(self, p: Params) -> bytes:
        """GET /fapi/v1/order."""
        symbol = self.symbol(p)
        assert symbol is not None
        b, i = self.find_order(symbol, p)
        return b.orders[i]

    def open_orders(self, p: Params) -> bytes:
        """GET /fapi/v1/openOrders (all symbols when none is given)."""
        symbol = self.symbol(p, required=False)
        self.acct.load_open()
        cut = self.cutoff()
        ordered = sorted(self.acct.open_orders.items(), key=lambda kv: (kv[1].time, kv[0]))
        rows = [o for (s, _), o in ordered if (symbol is None or s == symbol) and o.time <= cut]
        return _join([self._order_bytes(o) for o in rows])

    def _order_bytes(self, o: OrderState) -> bytes:
        return self.acct.bucket(o.spec.name, ids.day_of_order_id(o.order_id)).orders[o.bucket_pos]

    # --- algo orders ---------------------------------------------------------------------
    def all_algo_orders(self, p: Params) -> bytes:
        """GET /fapi/v1/allAlgoOrders."""
        symbol = self.symbol(p)
        assert symbol is not None
        limit = limit_param(p, 500, 1000)
        page = int_param(p, "page") or 1
        if page < 1:
            raise bad_param("page")
        vis = self._order_visibility()
        aid = int_param(p, "algoId")
        if aid is not None and not (p.get("startTime") or p.get("endTime")):
            start, end, given = self.acct.history_start(), self.clock.now_ms(), True
        else:
            start, end, given = self.window(p)
        rows = self._windowed(symbol, start, end, True, 10**9, "algo", vis)
        if aid is not None:
            rows = [r for r in rows if _row_id(r, b'"algoId":') >= aid]
        del given  # algo pages go forward from the window start, by ``page``
        off = (page - 1) * limit
        return _join(rows[off : off + limit])

    # --- income --------------------------------------------------------------------------
    def income(self, p: Params) -> bytes:
        """GET /fapi/v1/income."""
        symbol = self.symbol(p, required=False)
        limit = limit_param(p, 100, 1000)
        page = int_param(p, "page") or 1
        if page < 1:
            raise bad_param("page")
        itype = p.get("incomeType") or None
        if itype is not None and itype not in INCOME_TYPES:
            raise illegal_range("incomeType", "|".join(sorted(INCOME_TYPES)))
        keep = self._retention(90)
        st = int_param(p, "startTime")
        if st is not None and st < keep:
            raise illegal_range("startTime", f"{keep} - {self.clock.now_ms()}")
        max_days = self.opts.income_max_window_days
        start, end, _ = self.window(
            p, max_ms=max_days * DAY_MS if max_days else None, end_default_now=True
        )
        start, end = max(start, keep), min(end, self.cutoff())
        rank = INCOME_RANK.get(itype, 9) if itype else None
        skip = (page - 1) * limit
        out: list[bytes] = []
        for _t, _tran, r, row in self._income_iter(symbol, start, end):
            if rank is not None and r != rank:
                continue
            if skip:
                skip -= 1
                continue
            out.append(row)
            if len(out) == limit:
                break
        return _join(out)

    def _income_iter(
        self, symbol: str | None, start: int, end: int
    ) -> Iterator[tuple[int, int, int, bytes]]:
        symbols = [symbol] if symbol is not None else self.acct.history_symbols()
        streams = []
        for s in symbols:
            streams.append(
                _chain(b.iter_income(start, end) for b in self.acct.buckets(s, start, end))
            )
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=lambda x: (x[0], x[1], x[2]))


def _chain(
    its: Iterator[Iterator[tuple[int, int, int, bytes]]],
) -> Iterator[tuple[int, int, int, bytes]]:
    for it in its:
        yield from it


def _bisect_ge(arr: Sequence[int], value: int) -> int:
    return bisect.bisect_left(arr, value)


def _visible(t: int, hide3: int, vis: tuple[int, int, int]) -> bool:
    return vis[0] <= t <= vis[2] and (not hide3 or t >= vis[1])


def _indexes(
    b: DayBucket, kind: str, lo: int, hi: int, vis: tuple[int, int, int] | None
) -> list[int]:
    if kind == "trade":
        return list(b.trade_range(lo, hi))
    if kind == "order":
        assert vis is not None
        return [i for i in b.order_range(lo, hi) if _visible(b.o_time[i], b.o_hide3[i], vis)]
    assert vis is not None
    return [i for i in b.algo_range(lo, hi) if _visible(b.a_time[i], b.a_hide3[i], vis)]


def _rows(b: DayBucket, kind: str) -> list[bytes]:
    return b.trades if kind == "trade" else b.orders if kind == "order" else b.algos


def _row_id(row: bytes, key: bytes) -> int:
    i = row.index(key) + len(key)
    j = i
    while row[j : j + 1].isdigit():
        j += 1
    return int(row[i:j])
