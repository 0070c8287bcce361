"""A small deterministic account history for query tests, as "truth" rows.

The rows use DESIGN.md's item fields (like the simulator's ``/_sim/truth``) plus the
life-cycle events, income, algo orders, snapshots and coverage marks the query layer
reads. Cases placed on purpose: fills with realized PnL (closing orders) and without,
commission paid in BNB, a USDC-margined symbol, funding every 8 h, partial fills then
cancel, stop orders with a stop price, client-id prefixes ``alpha-``/``beta-``, many rows
sharing one millisecond, values with more than 8 decimals (no exact e8 twin) on day 2
only, and one order id under two symbols.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from v7d.store.records import (
    AlgoOrder,
    Balance,
    CoverageMark,
    Income,
    Order,
    OrderEvent,
    Position,
    Trade,
    WriteBatch,
)

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_700_006_400_000  # a UTC midnight
DAYS = 3
SYMBOLS = {"BTCUSDT": "USDT", "ETHUSDT": "USDT", "SOLUSDC": "USDC"}
PRICES = {"BTCUSDT": Decimal("37000"), "ETHUSDT": Decimal("2000"), "SOLUSDC": Decimal("55")}
PREFIXES = ("alpha-", "beta-", "x")
DUP_ORDER_ID = 777


@dataclass
class Truth:
    """Everything the test store holds, as plain dicts (item fields)."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    income: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # with account/symbol/order_id
    algo_orders: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[CoverageMark] = field(default_factory=list)


def _q(d: Decimal, places: int) -> str:
    return str(d.quantize(Decimal(1).scaleb(-places)))


class _Gen:
    def __init__(self, seed: int, account: str) -> None:
        self.rng = random.Random(seed)
        self.account = account
        self.truth = Truth()
        self.next_order = 1000
        self.next_trade = 50_000
        self.next_tran = 9_000_000

    def order(self, symbol: str, t: int, *, order_id: int | None = None) -> None:
        rng = self.rng
        oid = order_id if order_id is not None else self.next_order
        self.next_order += 1
        kind = rng.choice(["LIMIT", "LIMIT", "MARKET", "STOP_MARKET", "LIMIT_PARTIAL", "CANCEL"])
        side = rng.choice(["BUY", "SELL"])
        ref = PRICES[symbol] * (1 + Decimal(rng.randint(-300, 300)) / 10_000)
        price = _q(ref, 2)
        qty = (
            Decimal(rng.randint(1, 40)) / 100
            if symbol != "SOLUSDC"
            else Decimal(rng.randint(1, 30))
        )
        otype = "LIMIT" if kind in ("LIMIT", "LIMIT_PARTIAL", "CANCEL") else kind
        fills = {"CANCEL": 0, "LIMIT_PARTIAL": 1}.get(kind, rng.randint(1, 3))
        prefix = rng.choice(PREFIXES)
        cid = prefix + f"{oid:010d}"
        stop = _q(ref * Decimal("0.999"), 2) if otype == "STOP_MARKET" else "0"
        events = [("NEW", "NEW", "0", "0", "0", 0, t)]
        executed, cum_quote = Decimal(0), Decimal(0)
        ft = t
        for i in range(fills):
            ft += rng.choice([0, 0, 5, 120, 3_000, 900_000])
            part = qty / fills if kind != "LIMIT_PARTIAL" else qty / 2
            part = Decimal(_q(part, 3 if symbol != "SOLUSDC" else 0) or "0")
            if part <= 0:
                part = Decimal("0.001") if symbol != "SOLUSDC" else Decimal(1)
            if kind != "LIMIT_PARTIAL" and i == fills - 1:
                part = qty - executed
            fp = (
                Decimal(price)
                if otype == "LIMIT"
                else ref * (1 + Decimal(rng.randint(-20, 20)) / 10_000)
            )
            fp = Decimal(_q(fp, 2))
            executed += part
            cum_quote += fp * part
            self.trade(
                symbol, oid, side, fp, part, ft, maker=otype == "LIMIT" and rng.random() < 0.6
            )
            status = "FILLED" if executed >= qty else "PARTIALLY_FILLED"
            events.append(
                ("TRADE", status, str(part), str(fp), str(executed), self.next_trade - 1, ft)
            )
        status = "FILLED" if executed >= qty and executed > 0 else "CANCELED"
        update = ft + (0 if status == "FILLED" else 60_000)
        if status == "CANCELED":
            events.append(("CANCELED", "CANCELED", "0", "0", str(executed), 0, update))
        avg = _q(cum_quote / executed, 6) if executed else "0"
        self.truth.orders.append({
            "account": self.account, "symbol": symbol, "order_id": oid,
            "client_order_id": cid, "side": side, "position_side": "BOTH", "type": otype,
            "orig_type": otype, "status": status, "time_in_force": "GTC",
            "price": price if otype == "LIMIT" else "0", "avg_price": avg,
            "stop_price": stop, "orig_qty": str(qty), "executed_qty": str(executed),
            "cum_quote": str(cum_quote), "reduce_only": False, "time": t,
            "update_time": update,
        })  # fmt: skip
        for et, st, lq, lp, cq, tid, tt in events:
            self.truth.events.append({
                "account": self.account, "symbol": symbol, "order_id": oid, "event_time": tt,
                "transaction_time": tt, "execution_type": et, "status": st, "last_qty": lq,
                "last_price": lp, "cum_qty": cq, "trade_id": tid, "source": "ws",
            })  # fmt: skip

    def trade(self, symbol: str, oid: int, side: str, price: Decimal, qty: Decimal, t: int,
              *, maker: bool) -> None:  # fmt: skip
        rng = self.rng
        margin = SYMBOLS[symbol]
        quote = price * qty
        pnl = (
            Decimal(0)
            if rng.random() < 0.4
            else _q(quote * Decimal(rng.randint(-150, 150)) / 10_000, 8)
        )
        pnl = Decimal(pnl)
        inexact = T0 + DAY <= t < T0 + 2 * DAY and rng.random() < 0.1
        if inexact:  # more than 8 decimals: no e8 twin, the Decimal fallback must add it
            pnl = pnl + Decimal("0.000000001")
        fee_asset = "BNB" if rng.random() < 0.15 else margin
        fee = quote * Decimal("0.0004") if not maker else quote * Decimal("0.0002")
        fee = Decimal(_q(fee / 300, 8)) if fee_asset == "BNB" else Decimal(_q(fee, 8))
        tid = self.next_trade
        self.next_trade += 1
        self.truth.trades.append({
            "account": self.account, "symbol": symbol, "id": tid, "order_id": oid,
            "side": side, "position_side": "BOTH", "price": str(price), "qty": str(qty),
            "quote_qty": str(quote), "realized_pnl": str(pnl), "commission": str(fee),
            "commission_asset": fee_asset, "maker": maker, "time": t,
        })  # fmt: skip
        if pnl != 0:
            self.income(symbol, "REALIZED_PNL", str(pnl), margin, t, str(tid))
        self.income(symbol, "COMMISSION", str(-fee), fee_asset, t, str(tid))

    def income(self, symbol: str, itype: str, amount: str, asset: str, t: int,
               trade_id: str = "") -> None:  # fmt: skip
        self.next_tran += 1
        self.truth.income.append({
            "account": self.account, "symbol": symbol, "income_type": itype, "income": amount,
            "asset": asset, "info": itype, "time": t, "tran_id": self.next_tran,
            "trade_id": trade_id,
        })  # fmt: skip


def build(seed: int = 7, account: str = "default") -> Truth:
    """The whole history: about 3 days, 3 symbols, a few hundred orders."""
    g = _Gen(seed, account)
    rng = g.rng
    for day in range(DAYS):
        for symbol in SYMBOLS:
            for _ in range(rng.randint(25, 45)):
                g.order(symbol, T0 + day * DAY + rng.randint(0, DAY - 1_000_000))
            for h in (0, 8, 16):
                amount = _q(Decimal(rng.randint(-5000, 5000)) / 1000, 8)
                g.income(symbol, "FUNDING_FEE", amount, SYMBOLS[symbol], T0 + day * DAY + h * HOUR)
    # Many rows in one millisecond (a sweep), and an order id under two symbols.
    burst = T0 + DAY // 2 + 17
    for _ in range(12):
        g.order("ETHUSDT", burst)
    g.order("BTCUSDT", T0 + 5 * HOUR + 1, order_id=DUP_ORDER_ID)
    g.order("ETHUSDT", T0 + 6 * HOUR + 1, order_id=DUP_ORDER_ID)
    g.income("", "TRANSFER", "1000", "USDT", T0 + 1)
    _snapshots(g)
    _coverage(g)
    return g.truth


def _snapshots(g: _Gen) -> None:
    a, t = g.account, T0 + DAYS * DAY
    g.truth.algo_orders = [
        {"account": a, "algo_id": 400 + i, "symbol": s, "client_algo_id": f"algo{i}",
         "algo_type": "CONDITIONAL", "order_type": "TAKE_PROFIT_MARKET", "side": "SELL",
         "position_side": "BOTH", "status": st, "quantity": "0.01", "price": "0",
         "trigger_price": "40000", "time": T0 + i * HOUR, "update_time": T0 + i * HOUR + 5}
        for i, (s, st) in enumerate([("BTCUSDT", "NEW"), ("ETHUSDT", "CANCELED"),
                                     ("BTCUSDT", "TRIGGERED")])
    ]  # fmt: skip
    g.truth.positions = [
        {"account": a, "symbol": "BTCUSDT", "position_side": "BOTH", "position_amt": "0.05",
         "entry_price": "37010.5", "break_even_price": "37020.1", "mark_price": "37100",
         "unrealized_profit": "4.475", "liquidation_price": "0", "notional": "1855",
         "margin_asset": "USDT", "update_time": t}
    ]  # fmt: skip
    g.truth.balances = [
        {"account": a, "asset": asset, "wallet_balance": w, "cross_wallet_balance": w,
         "available_balance": w, "update_time": t}
        for asset, w in (("USDT", "10234.12345678"), ("USDC", "500"), ("BNB", "1.5"))
    ]  # fmt: skip


def _coverage(g: _Gen) -> None:
    a = g.account
    for symbol in SYMBOLS:
        for ep in ("userTrades", "allOrders"):
            g.truth.coverage.append(CoverageMark(a, ep, symbol, T0, T0 + DAYS * DAY))
    # income: day 0 expired (older than the exchange keeps), days 1-2 complete, gap none.
    g.truth.coverage.append(CoverageMark(a, "income", "", T0, T0 + DAY, "expired"))
    g.truth.coverage.append(CoverageMark(a, "income", "", T0 + DAY, T0 + DAYS * DAY))


# -- records --------------------------------------------------------------------------


def _raw(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def records(truth: Truth) -> list[WriteBatch]:
    """The truth as write batches (source ``rest``; raw = JSON of the truth row)."""
    recs: list[Any] = []
    for o in truth.orders:
        recs.append(Order(**o, source="rest", raw=_raw(o)))
    for t in truth.trades:
        recs.append(Trade(**t, source="rest", raw=_raw(t)))
    for i in truth.income:
        recs.append(Income(**i, raw=_raw(i)))
    for e in truth.events:
        recs.append(OrderEvent(**e, raw=_raw(e)))
    for al in truth.algo_orders:
        recs.append(AlgoOrder(**al, source="rest", raw=_raw(al)))
    for p in truth.positions:
        recs.append(Position(**p, source="rest", raw=_raw(p)))
    for b in truth.balances:
        recs.append(Balance(**b, source="rest", raw=_raw(b)))
    size = 500
    batches = [WriteBatch(records=recs[i : i + size]) for i in range(0, len(recs), size)]
    batches.append(WriteBatch(coverage=truth.coverage))
    return batches
