"""Statistics recomputed from the truth rows in plain Python and Decimal.

Deliberately written from docs/stats.md's definitions, not from the query code: every
test compares the query layer's answer with these functions exactly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tests.query.truth import SYMBOLS, Truth

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD")


def margin_of(symbol: str) -> str:
    """A symbol's margin asset: the generator's table, else its quote suffix."""
    if symbol in SYMBOLS:
        return SYMBOLS[symbol]
    base = symbol.split("_", 1)[0]
    return next((q for q in _QUOTES if base.endswith(q)), "")


Z = Decimal(0)
FINAL = {"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"}


@dataclass(frozen=True)
class RefCut:
    """The filters of a statistic, as plain values."""

    symbol: str | None = None
    side: str | None = None
    position_side: str | None = None
    order_type: str | None = None
    status: str | None = None
    prefix: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def args(self) -> dict[str, Any]:
        """The cut as HistoryQueryAPI / HTTP arguments."""
        out = {"symbol": self.symbol, "side": self.side, "position_side": self.position_side,
               "order_type": self.order_type, "status": self.status,
               "client_order_id_prefix": self.prefix, "start_ms": self.start_ms,
               "end_ms": self.end_ms}  # fmt: skip
        return {k: v for k, v in out.items() if v is not None}

    @property
    def order_level(self) -> bool:
        return any(v is not None for v in (self.order_type, self.status, self.prefix))

    @property
    def funding_ok(self) -> bool:
        return not self.order_level and self.side is None and self.position_side is None

    def in_window(self, t: int) -> bool:
        return (self.start_ms is None or t >= self.start_ms) and (
            self.end_ms is None or t < self.end_ms
        )


def q(value: Decimal, places: str) -> Decimal:
    """Round half-even to ``places`` (e.g. "1e-8")."""
    return value.quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


def ratio(n: Decimal, d: Decimal) -> Decimal | None:
    return None if d == 0 else q(n / d, "1e-8")


class Reference:
    """Reference statistics over one Truth."""

    def __init__(self, truth: Truth) -> None:
        self.t = truth
        self.orders = {(o["symbol"], o["order_id"]): o for o in truth.orders}

    def _order_ok(self, o: dict[str, Any] | None, cut: RefCut) -> bool:
        if o is None:
            return not cut.order_level
        return (
            (cut.order_type is None or o["type"] == cut.order_type)
            and (cut.status is None or o["status"] == cut.status)
            and (cut.prefix is None or o["client_order_id"].startswith(cut.prefix))
        )

    def trades(self, cut: RefCut) -> list[dict[str, Any]]:
        """The cut's trades."""
        return [
            t for t in self.t.trades
            if (cut.symbol is None or t["symbol"] == cut.symbol)
            and (cut.side is None or t["side"] == cut.side)
            and (cut.position_side is None or t["position_side"] == cut.position_side)
            and cut.in_window(t["time"])
            and self._order_ok(self.orders.get((t["symbol"], t["order_id"])), cut)
        ]  # fmt: skip

    def funding_rows(self, cut: RefCut) -> list[dict[str, Any]]:
        """The cut's FUNDING_FEE rows (none when funding cannot be attributed)."""
        if not cut.funding_ok:
            return []
        return [
            i for i in self.t.income
            if i["income_type"] == "FUNDING_FEE" and cut.in_window(i["time"])
            and (cut.symbol is None or i["symbol"] == cut.symbol)
        ]  # fmt: skip

    def assets(self, trades: list[dict[str, Any]], funding: list | None) -> dict[str, dict]:
        """Per margin asset money figures."""
        out: dict[str, dict[str, Any]] = {}
        for t in trades:
            m = margin_of(t["symbol"])
            a = out.setdefault(m, defaultdict(lambda: Z))
            qty, quote, fee = Decimal(t["qty"]), Decimal(t["quote_qty"]), Decimal(t["commission"])
            a["trades"] += 1
            a["maker_trades"] += 1 if t["maker"] else 0
            a["realized_pnl"] += Decimal(t["realized_pnl"])
            a["turnover"] += quote
            a["qty"] += qty
            a["maker_qty"] += qty if t["maker"] else Z
            if t["commission_asset"] == m:
                a["commission"] += fee
                a["maker_fee"] += fee if t["maker"] else Z
            else:
                a["other:" + t["commission_asset"]] += fee
        for i in funding or []:
            a = out.setdefault(i["asset"], defaultdict(lambda: Z))
            a["funding"] += Decimal(i["income"])
        for a in out.values():
            f = a["funding"] if funding is not None else Z
            a["net_pnl"] = a["realized_pnl"] - a["commission"] + f
            a["fee_drag"] = ratio(a["commission"], a["realized_pnl"]) if a["realized_pnl"] > 0 \
                else None  # fmt: skip
            a["fee_bps"] = q(a["commission"] / a["turnover"] * 10000, "1e-4") if a["turnover"] \
                else None  # fmt: skip
            a["maker_share_qty"] = ratio(a["maker_qty"], a["qty"])
            a["maker_share_fee"] = ratio(a["maker_fee"], a["commission"])
        return out

    def closing(self, trades: list[dict[str, Any]]) -> dict[str, list[Decimal]]:
        """Result of each closing order per margin asset."""
        per: dict[tuple, list[dict]] = defaultdict(list)
        for t in trades:
            per[(t["symbol"], t["order_id"])].append(t)
        out: dict[str, list[Decimal]] = defaultdict(list)
        for (symbol, _), fills in per.items():
            if any(Decimal(f["realized_pnl"]) != 0 for f in fills):
                m = margin_of(symbol)
                total = Z
                for f in fills:
                    total += Decimal(f["realized_pnl"])
                    if f["commission_asset"] == m:
                        total -= Decimal(f["commission"])
                out[m].append(total)
        return out

    def curve(
        self, trades: list[dict], funding: list[dict]
    ) -> dict[str, list[tuple[int, Decimal]]]:
        """(time, net change) per margin asset, one point per millisecond, in time order."""
        pts: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(lambda: Z))
        for t in trades:
            m = margin_of(t["symbol"])
            fee = Decimal(t["commission"]) if t["commission_asset"] == m else Z
            pts[m][t["time"]] += Decimal(t["realized_pnl"]) - fee
        for i in funding:
            pts[i["asset"]][i["time"]] += Decimal(i["income"])
        return {m: sorted(p.items()) for m, p in pts.items()}

    def executions(self, cut: RefCut) -> list[dict[str, Any]]:
        """The cut's orders (by creation time)."""
        return [
            o for o in self.t.orders
            if (cut.symbol is None or o["symbol"] == cut.symbol)
            and (cut.side is None or o["side"] == cut.side)
            and (cut.position_side is None or o["position_side"] == cut.position_side)
            and cut.in_window(o["time"]) and self._order_ok(o, cut)
        ]  # fmt: skip

    def fill_times(self, orders: list[dict]) -> tuple[list[int], list[int]]:
        """Time to first fill and to full fill, from the events."""
        ev: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.t.events:
            ev[(e["symbol"], e["order_id"])].append(e)
        first, full = [], []
        for o in orders:
            es = ev.get((o["symbol"], o["order_id"]), [])
            trades = [e["transaction_time"] for e in es if e["execution_type"] == "TRADE"]
            filled = [e["transaction_time"] for e in es if e["status"] == "FILLED"]
            if trades:
                first.append(min(trades) - o["time"])
            if filled:
                full.append(min(filled) - o["time"])
        return first, full


def drawdown_ref(points: list[tuple[int, Decimal]]) -> dict[str, Any]:
    """Max drawdown and longest time under a previous peak, by brute force."""
    if not points:
        return {"max": Z, "longest": 0}
    times = [t for t, _ in points]
    cum, values = Z, []
    for _, c in points:
        cum += c
        values.append(cum)
    # Max drawdown: the largest drop from any earlier level (including the start at 0).
    best = Z
    for j, v in enumerate(values):
        peak = max([Z, *values[: j + 1]])
        best = max(best, peak - v)
    # Longest drawdown: for each point under its running peak, the time since that peak.
    longest = 0
    peak, peak_t = Z, times[0]
    for t, v in zip(times, values, strict=True):
        if v >= peak:
            peak, peak_t = v, t
        longest = max(longest, t - peak_t)
    # A recovery ends a drawdown at the recovering point, which the loop above counts as
    # a new peak: add the spans that ended in a recovery.
    peak, peak_t = Z, times[0]
    prev = Z
    for t, v in zip(times, values, strict=True):
        if v >= peak:
            if prev < peak:
                longest = max(longest, t - peak_t)
            peak, peak_t = v, t
        prev = v
    return {"max": best, "longest": longest}


def p90_ref(values: list[int]) -> int | None:
    if not values:
        return None
    s = sorted(values)
    return s[math.ceil(len(s) * 9 / 10) - 1]


def slippage_ref(o: dict[str, Any]) -> Decimal | None:
    if Decimal(o["executed_qty"]) <= 0:
        return None
    avg = Decimal(o["avg_price"])
    ref = Decimal(o["price"]) if Decimal(o["price"]) > 0 else Decimal(o["stop_price"])
    if ref <= 0 or avg <= 0:
        return None
    d = (avg - ref) if o["side"] == "BUY" else (ref - avg)
    return d / ref * 10000
