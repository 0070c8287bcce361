"""Order state, fills, positions and the trade/income rows every fill produces.

Shared by the history generator and by live activity (stream, POST /fapi/v1/order), so a
fill made at any time yields the same shapes: one userTrades row, a COMMISSION income row
and, when it closes a position, a REALIZED_PNL row with the same ``tranId``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v7d.sim import ids
from v7d.sim.numbers import MONEY_SCALE, fmt, fmt_money, rescale
from v7d.sim.rows import income_row, order_row, trade_row
from v7d.sim.symbols import SymbolSpec

__all__ = ["FINAL", "Fill", "OrderState", "Positions", "fill_rows"]

FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"})
BNB_PRICE_CENTS = 60000  # BNB at 600.00 USDT for BNB-paid commissions


@dataclass
class OrderState:
    """An order as the exchange holds it; quantities in steps, prices in ticks."""

    spec: SymbolSpec
    order_id: int
    client_id: str
    side: str
    position_side: str
    type: str
    orig_type: str
    tif: str
    qty: int
    price: int  # 0 for market orders
    time: int
    stop_price: int = 0
    reduce_only: bool = False
    activate_price: int = 0
    price_rate: str = ""
    status: str = "NEW"
    executed: int = 0
    cum_quote: int = 0  # in units of 10**-(price_scale + qty_scale)
    update_time: int = 0
    bucket_pos: int = -1  # index in its day bucket's order list

    def __post_init__(self) -> None:
        if not self.update_time:
            self.update_time = self.time

    @property
    def final(self) -> bool:
        """True once the order can no longer change."""
        return self.status in FINAL

    @property
    def hidden_after_3d(self) -> bool:
        """Canceled/expired without any fill: REST forgets it after 3 days."""
        return self.status in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH") and self.executed == 0

    def avg_price(self) -> str:
        """Average fill price with three more decimals than the tick (Binance style)."""
        s = self.spec
        if self.executed == 0:
            return fmt(0, s.price_scale + 3)
        return fmt(self.cum_quote * 1000 // self.executed, s.price_scale + 3)

    def fields(self) -> dict[str, Any]:
        """The REST fields of this order."""
        s = self.spec
        zero = "0"
        return {
            "avgPrice": self.avg_price(),
            "clientOrderId": self.client_id,
            "cumQuote": fmt(self.cum_quote, s.price_scale + s.qty_scale)
            if self.cum_quote
            else zero,
            "executedQty": fmt(self.executed, s.qty_scale) if self.executed else zero,
            "orderId": self.order_id,
            "origQty": fmt(self.qty, s.qty_scale),
            "origType": self.orig_type,
            "price": fmt(self.price, s.price_scale) if self.price else zero,
            "reduceOnly": self.reduce_only,
            "side": self.side,
            "positionSide": self.position_side,
            "status": self.status,
            "stopPrice": fmt(self.stop_price, s.price_scale) if self.stop_price else zero,
            "closePosition": False,
            "symbol": s.name,
            "time": self.time,
            "timeInForce": self.tif,
            "type": self.type,
            "activatePrice": fmt(self.activate_price, s.price_scale),
            "priceRate": self.price_rate,
            "updateTime": self.update_time,
        }

    def row(self) -> dict[str, Any]:
        """The allOrders item."""
        return order_row(self.fields())


@dataclass
class Fill:
    """One execution of an order."""

    order: OrderState
    qty: int
    price: int
    time: int
    maker: bool


@dataclass
class Positions:
    """Positions of one symbol: {positionSide: [qty in steps (signed), entry price ticks]}."""

    spec: SymbolSpec
    hedge: bool
    book: dict[str, list[int]] = field(default_factory=dict)
    update_time: int = 0

    def get(self, ps: str) -> list[int]:
        """The mutable [qty, entry] pair of a position side."""
        return self.book.setdefault(ps, [0, 0])

    def apply(self, ps: str, side: str, qty: int, price: int, t: int) -> int:
        """Apply a fill; return the realized PnL in 1e-8 units of the margin asset."""
        pos = self.get(ps)
        self.update_time = t
        sign = 1 if side == "BUY" else -1
        amt, entry = pos
        if self.hedge:
            # LONG only grows with BUY, SHORT only with SELL; the other side closes
            opening = (ps == "LONG") == (sign > 0)
            size = abs(amt)
            if opening:
                new = size + qty
                pos[1] = (entry * size + price * qty) // new
                pos[0] = new if ps == "LONG" else -new
                return 0
            close = min(qty, size)
            diff = (price - entry) if ps == "LONG" else (entry - price)
            rest = size - close
            pos[0] = rest if ps == "LONG" else -rest
            if rest == 0:
                pos[1] = 0
            return self._money(diff * close)
        if amt == 0 or (amt > 0) == (sign > 0):
            size = abs(amt) + qty
            pos[1] = (entry * abs(amt) + price * qty) // size
            pos[0] = amt + sign * qty
            return 0
        close = min(qty, abs(amt))
        diff = (price - entry) if amt > 0 else (entry - price)
        pos[0] = amt + sign * qty
        if pos[0] == 0:
            pos[1] = 0
        elif (pos[0] > 0) != (amt > 0):
            pos[1] = price
        return self._money(diff * close)

    def _money(self, units: int) -> int:
        s = self.spec
        return rescale(units, s.price_scale + s.qty_scale, MONEY_SCALE)

    def copy(self) -> Positions:
        """An independent copy."""
        return Positions(
            self.spec, self.hedge, {k: list(v) for k, v in self.book.items()}, self.update_time
        )


def fill_rows(
    fill: Fill,
    positions: Positions,
    *,
    day: int,
    n: int,
    global_ids: bool,
    bnb_fees: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Apply a fill to its order and the positions; return (trade, income rows, trade id)."""
    o = fill.order
    s = o.spec
    tid = ids.trade_id(day, s.index, n, global_ids=global_ids)
    quote = fill.qty * fill.price
    o.executed += fill.qty
    o.cum_quote += quote
    o.update_time = fill.time
    o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"
    realized = positions.apply(o.position_side, o.side, fill.qty, fill.price, fill.time)
    rate_e6 = 200 if fill.maker else 500
    fee = max(1, rescale(quote * rate_e6, s.price_scale + s.qty_scale + 6, MONEY_SCALE))
    fee_asset = s.margin_asset
    if bnb_fees and s.margin_asset == "USDT":
        fee = max(1, fee * 90 // BNB_PRICE_CENTS)
        fee_asset = "BNB"
    trade = trade_row(
        symbol=s.name,
        tid=tid,
        oid=o.order_id,
        side=o.side,
        position_side=o.position_side,
        price=fmt(fill.price, s.price_scale),
        qty=fmt(fill.qty, s.qty_scale),
        quote_qty=fmt(quote, s.price_scale + s.qty_scale),
        realized_pnl=fmt_money(realized) if realized else "0",
        commission=fmt_money(fee),
        commission_asset=fee_asset,
        maker=fill.maker,
        time=fill.time,
    )
    tran = ids.trade_tran_id(day, s.index, n)
    income = [
        income_row(
            symbol=s.name,
            income_type="COMMISSION",
            income=fmt_money(-fee),
            asset=fee_asset,
            time=fill.time,
            tran_id=tran,
            trade_id=str(tid),
        )
    ]
    if realized:
        income.append(
            income_row(
                symbol=s.name,
                income_type="REALIZED_PNL",
                income=fmt_money(realized),
                asset=s.margin_asset,
                time=fill.time,
                tran_id=tran,
                trade_id=str(tid),
            )
        )
    return trade, income, realized
