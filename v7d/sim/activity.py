"""Activity happening now: orders placed over REST, ``/_sim/activity``, and live mode.

Every change is written to the account (REST and truth see it at once) and published on
the stream at that moment, in Binance's order: ORDER_TRADE_UPDATE, then TRADE_LITE, then
ACCOUNT_UPDATE for a fill.
"""

from __future__ import annotations

import random
from typing import Any

from v7d.sim import ids
from v7d.sim.account import SimAccount
from v7d.sim.algos import AlgoState
from v7d.sim.binance_errors import BinanceError, invalid_symbol, mandatory
from v7d.sim.book import DayBucket
from v7d.sim.events import account_update, algo_update, order_trade_update, trade_lite
from v7d.sim.generator import client_id
from v7d.sim.numbers import MONEY_SCALE, POW, fmt_money, rescale
from v7d.sim.orders import Fill, OrderState, fill_rows
from v7d.sim.prices import mark_price
from v7d.sim.rows import income_row
from v7d.sim.stream import StreamHub
from v7d.sim.symbols import SymbolSpec

__all__ = ["Activity"]

KINDS = (
    "fill",
    "limit",
    "fill_open",
    "partial_cancel",
    "cancel",
    "expire",
    "liquidation",
    "funding",
    "algo",
    "algo_cancel",
)


class Activity:
    """Makes account activity at the current time and pushes it on the stream."""

    def __init__(self, account: SimAccount, hub: StreamHub) -> None:
        self.acct = account
        self.hub = hub
        self.clock = account.clock
        self.rng = random.Random(f"v7d-sim/live/{account.opts.seed}")
        self.global_ids = account.opts.trade_ids == "global"
        self.last_ms = 0

    def now(self) -> int:
        """A strictly increasing event time (two changes never share an instant by accident)."""
        t = max(self.clock.now_ms(), self.last_ms)
        self.last_ms = t
        return t

    # --- primitives ----------------------------------------------------------------------
    def new_order(
        self,
        spec: SymbolSpec,
        *,
        side: str,
        type_: str,
        qty: int,
        price: int = 0,
        tif: str = "GTC",
        cid: str | None = None,
        position_side: str | None = None,
        reduce_only: bool = False,
    ) -> OrderState:
        """Create an order now (status NEW) and publish its NEW event."""
        t = self.now()
        b = self.acct.today(spec.name)
        ps = position_side or (
            ("LONG" if side == "BUY" else "SHORT") if self.acct.opts.hedge_mode else "BOTH"
        )
        o = OrderState(
            spec=spec,
            order_id=ids.order_id(b.day, spec.index, b.next_order_n),
            client_id=cid or client_id(self.rng),
            side=side,
            position_side=ps,
            type=type_,
            orig_type=type_,
            tif=tif,
            qty=qty,
            price=price,
            time=t,
            reduce_only=reduce_only,
        )
        b.next_order_n += 1
        b.add_order(o)
        self.acct.open_orders[(spec.name, o.order_id)] = o
        self.hub.publish(order_trade_update(o, x="NEW", event_ms=self.now(), t_ms=t))
        return o

    def _bucket_of(self, o: OrderState) -> DayBucket:
        return self.acct.bucket(o.spec.name, ids.day_of_order_id(o.order_id))

    def fill(self, o: OrderState, qty: int, price: int, *, maker: bool) -> dict[str, Any]:
        """Execute ``qty`` of ``o`` at ``price`` now; returns the trade row."""
        t = self.now()
        spec = o.spec
        b = self.acct.today(spec.name)
        positions = self.acct.positions(spec.name)
        trade, income, realized = fill_rows(
            Fill(o, qty, price, t, maker),
            positions,
            day=b.day,
            n=b.next_trade_n,
            global_ids=self.global_ids,
            bnb_fees=False,
        )
        b.next_trade_n += 1
        b.add_trade(trade)
        for r in income:
            b.add_income(r)
            self.acct.balances[r["asset"]] = self.acct.balances.get(r["asset"], 0) + _units(
                r["income"]
            )
        self._bucket_of(o).update_order(o)
        if o.final:
            self.acct.open_orders.pop((spec.name, o.order_id), None)
        x = "CALCULATED" if o.client_id.startswith("autoclose-") else "TRADE"
        self.hub.publish(
            order_trade_update(
                o,
                x=x,
                event_ms=self.now(),
                t_ms=t,
                last_qty=qty,
                last_price=price,
                fee=trade["commission"],
                fee_asset=trade["commissionAsset"],
                trade_id=trade["id"],
                maker=maker,
                realized=realized,
                er="5" if x == "CALCULATED" else "0",
            )
        )
        self.hub.publish(
            trade_lite(
                o,
                event_ms=self.now(),
                t_ms=t,
                qty=qty,
                price=price,
                trade_id=trade["id"],
                maker=maker,
            )
        )
        asset = spec.margin_asset
        self.hub.publish(
            account_update(
                reason="ORDER",
                event_ms=self.now(),
                t_ms=t,
                balances=[(asset, self.acct.balances.get(asset, 0), 0)],
                positions=positions,
                sides=(o.position_side,),
                mark=mark_price(spec, t),
            )
        )
        return trade

    def end(self, o: OrderState, status: str = "CANCELED", er: str = "0") -> None:
        """Cancel or expire ``o`` now."""
        t = self.now()
        o.status = status
        o.update_time = t
        self._bucket_of(o).update_order(o)
        self.acct.open_orders.pop((o.spec.name, o.order_id), None)
        self.hub.publish(
            order_trade_update(
                o,
                x="CANCELED" if status == "CANCELED" else "EXPIRED",
                event_ms=self.now(),
                t_ms=t,
                er=er,
            )
        )

    def funding(self, symbols: list[str] | None = None) -> int:
        """Funding on every open position (of ``symbols``) now; returns rows added."""
        t = self.now()
        names = symbols or [s for s in self.acct.trading_symbols() if self.acct.specs[s].listed]
        n = 0
        changed: dict[str, int] = {}
        for name in names:
            spec = self.acct.specs[name]
            pos = self.acct.positions(name)
            b = self.acct.today(name)
            mark = mark_price(spec, t)
            rate_e6 = self.rng.randint(-60, 150) or 100
            for ps in sorted(pos.book):
                amt = pos.book[ps][0]
                units = rescale(
                    -amt * mark * rate_e6, spec.price_scale + spec.qty_scale + 6, MONEY_SCALE
                )
                if not units:
                    continue
                b.add_income(
                    income_row(
                        symbol=name,
                        income_type="FUNDING_FEE",
                        income=fmt_money(units),
                        asset=spec.margin_asset,
                        time=t,
                        tran_id=ids.funding_tran_id(b.day, spec.index, b.next_tran_n),
                    )
                )
                b.next_tran_n += 1
                n += 1
                asset = spec.margin_asset
                self.acct.balances[asset] = self.acct.balances.get(asset, 0) + units
                changed[asset] = changed.get(asset, 0) + units
        if changed:
            self.hub.publish(
                account_update(
                    reason="FUNDING_FEE",
                    event_ms=self.now(),
                    t_ms=t,
                    balances=[(a, self.acct.balances[a], c) for a, c in sorted(changed.items())],
                )
            )
        return n

    def new_algo(self, spec: SymbolSpec, side: str, qty: int) -> AlgoState:
        """Place a TAKE_PROFIT algo order now (it waits in the algo book)."""
        t = self.now()
        b = self.acct.today(spec.name)
        mark = mark_price(spec, t)
        a = AlgoState(
            spec=spec,
            algo_id=ids.algo_id(b.day, spec.index, b.next_algo_n),
            client_id=client_id(self.rng),
            order_type="TAKE_PROFIT",
            side=side,
            position_side="LONG" if self.acct.opts.hedge_mode else "BOTH",
            qty=qty,
            trigger_price=mark + (mark // 20) * (1 if side == "SELL" else -1),
            price=mark,
            create_time=t,
        )
        b.next_algo_n += 1
        a.bucket_pos = b.add_algo(a.row(), a.hidden_after_3d)
        self.acct.open_algos[a.algo_id] = a
        self.hub.publish(algo_update(a, event_ms=self.now(), t_ms=t))
        return a

    def end_algo(self, a: AlgoState, status: str = "CANCELED") -> None:
        """Cancel (or expire) an algo order now."""
        t = self.now()
        a.status, a.update_time = status, t
        b = self.acct.bucket(a.spec.name, ids.day_of(a.create_time))
        b.update_algo(a.bucket_pos, a.row(), a.hidden_after_3d)
        self.acct.open_algos.pop(a.algo_id, None)
        self.hub.publish(algo_update(a, event_ms=self.now(), t_ms=t))

    # --- matching --------------------------------------------------------------------------
    def match(self) -> int:
        """Fill resting LIMIT orders the price path has crossed; returns fills made."""
        n = 0
        t = self.clock.now_ms()
        for o in list(self.acct.open_orders.values()):
            if o.type != "LIMIT" or o.final or o.time < self.acct.anchor():
                continue
            mark = mark_price(o.spec, t)
            if (o.side == "BUY" and mark <= o.price) or (o.side == "SELL" and mark >= o.price):
                self.fill(o, o.qty - o.executed, o.price, maker=True)
                n += 1
        return n

    # --- one piece of activity -------------------------------------------------------------
    def add(
        self,
        kind: str = "fill",
        symbol: str = "BTCUSDT",
        fills: int = 1,
        count: int = 1,
        symbols: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add ``count`` pieces of activity of ``kind`` on ``symbol`` (or each of ``symbols``)
        now, pushing it on the stream (``POST /_sim/activity``); returns the ids made."""
        if kind not in KINDS:
            raise ValueError(f"activity kind {kind!r} unknown; known: {', '.join(KINDS)}")
        names = list(symbols) if symbols else [symbol]
        specs = []
        for name in names:
            spec = self.acct.specs.get(name) if isinstance(name, str) else None
            if spec is None or not spec.listed:
                raise ValueError(f"activity symbol {name!r} is not a listed symbol")
            specs.append(spec)
        if not isinstance(fills, int) or not isinstance(count, int):
            raise ValueError("activity fills and count must be integers")
        if not 1 <= fills <= 5000 or not 1 <= count <= 1000:
            raise ValueError("activity fills must be 1..5000 and count 1..1000")
        self.acct.load_open()
        done: dict[str, Any] = {"orders": [], "trades": [], "algo_orders": [], "funding_rows": 0}
        for spec in specs:
            for _ in range(count):
                self._one(kind, spec, fills, done)
        return done

    def _one(self, kind: str, spec: SymbolSpec, fills: int, done: dict[str, Any]) -> None:
        rng = self.rng
        side = rng.choice(("BUY", "SELL"))
        mark = mark_price(spec, self.clock.now_ms())
        sgn = 1 if side == "BUY" else -1
        if kind == "funding":
            done["funding_rows"] += self.funding([spec.name])
            return
        if kind in ("algo", "algo_cancel"):
            algo_opens = [a for a in self.acct.open_algos.values() if a.spec is spec]
            if kind == "algo_cancel" and algo_opens:
                self.end_algo(algo_opens[0])
                done["algo_orders"].append(algo_opens[0].algo_id)
            else:
                done["algo_orders"].append(
                    self.new_algo(spec, side, rng.randint(1, spec.lot)).algo_id
                )
            return
        if kind == "fill_open":
            opens = [
                o for o in self.acct.open_orders.values() if o.spec is spec and o.type == "LIMIT"
            ]
            if opens:
                o = min(opens, key=lambda o: o.time)
                done["orders"].append(o.order_id)
                done["trades"].append(self.fill(o, o.qty - o.executed, o.price, maker=True)["id"])
                return
            kind = "fill"
        qty_parts = [rng.randint(1, spec.lot) for _ in range(fills)]
        qty = sum(qty_parts)
        if kind == "liquidation":
            pos = self.acct.positions(spec.name)
            ps, (amt, _e) = max(
                pos.book.items() or [("BOTH", [0, 0])], key=lambda kv: abs(kv[1][0])
            )
            amt = amt or spec.lot
            o = self.new_order(
                spec,
                side="SELL" if amt > 0 else "BUY",
                type_="LIMIT",
                qty=abs(amt),
                price=mark,
                tif="IOC",
                cid=f"autoclose-{self.clock.now_ms()}{rng.randint(100, 999)}",
                position_side=ps,
                reduce_only=True,
            )
            done["orders"].append(o.order_id)
            done["trades"].append(self.fill(o, abs(amt), mark, maker=False)["id"])
            return
        if kind == "fill":
            o = self.new_order(spec, side=side, type_="MARKET", qty=qty)
            for i, q in enumerate(qty_parts):
                done["trades"].append(
                    self.fill(o, q, max(1, mark + sgn * (i // 10)), maker=False)["id"]
                )
        elif kind == "limit":
            o = self.new_order(
                spec, side=side, type_="LIMIT", qty=qty, price=max(1, mark - sgn * (mark // 10))
            )
        elif kind == "partial_cancel":
            o = self.new_order(spec, side=side, type_="LIMIT", qty=qty + 1, price=mark)
            for q in qty_parts:
                done["trades"].append(self.fill(o, q, mark, maker=True)["id"])
            self.end(o)
        elif kind == "cancel":
            o = self.new_order(
                spec, side=side, type_="LIMIT", qty=qty, price=max(1, mark - sgn * 50)
            )
            self.end(o)
        else:  # expire: an IOC that cannot fill
            o = self.new_order(
                spec, side=side, type_="LIMIT", qty=qty, price=max(1, mark - sgn * 50), tif="IOC"
            )
            self.end(o, "EXPIRED", er="2")
        done["orders"].append(o.order_id)

    def live_step(self) -> None:
        """One random piece of live activity (live mode)."""
        symbols = [s for s in self.acct.universe.active if s.listed and not s.holder]
        if not symbols:
            return
        spec = self.rng.choice(symbols)
        kind = self.rng.choices(
            (
                "fill",
                "limit",
                "fill_open",
                "cancel",
                "partial_cancel",
                "expire",
                "algo",
                "algo_cancel",
            ),
            (35, 15, 15, 10, 8, 7, 5, 5),
        )[0]
        if kind == "cancel":
            opens = [
                o
                for o in self.acct.open_orders.values()
                if o.spec is spec and o.time >= self.acct.anchor()
            ]
            if opens:
                self.end(opens[0])
                return
        self.add(kind, spec.name, fills=self.rng.choice((1, 1, 2, 3)))

    # --- REST trading ----------------------------------------------------------------------
    def place(self, p: dict[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/order (MARKET and LIMIT; conditional types live in the algo API)."""
        spec = self._spec(p)
        if not spec.listed or spec.status != "TRADING":
            raise BinanceError(-4140, "Invalid symbol status for opening position.")
        side = p.get("side", "")
        if side not in ("BUY", "SELL"):
            raise mandatory("side")
        type_ = p.get("type", "")
        if not type_:
            raise mandatory("type")
        if type_ in (
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ):
            raise BinanceError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if type_ not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        qty = _decimal_units(p.get("quantity"), spec.qty_scale, "quantity")
        ps = p.get("positionSide", "BOTH")
        hedge = self.acct.opts.hedge_mode
        if (hedge and ps not in ("LONG", "SHORT")) or (not hedge and ps != "BOTH"):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        cid = p.get("newClientOrderId") or None
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        mark = mark_price(spec, self.clock.now_ms())
        if type_ == "MARKET":
            o = self.new_order(
                spec,
                side=side,
                type_="MARKET",
                qty=qty,
                cid=cid,
                position_side=ps,
                reduce_only=reduce_only,
            )
            self.fill(o, qty, mark, maker=False)
            return _response(o)
        tif = p.get("timeInForce", "")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise mandatory("timeInForce")
        price = _decimal_units(p.get("price"), spec.price_scale, "price")
        o = self.new_order(
            spec,
            side=side,
            type_="LIMIT",
            qty=qty,
            price=price,
            tif=tif,
            cid=cid,
            position_side=ps,
            reduce_only=reduce_only,
        )
        marketable = (side == "BUY" and price >= mark) or (side == "SELL" and price <= mark)
        if marketable and tif == "GTX":
            self.end(o, "EXPIRED", er="6")
        elif marketable:
            self.fill(o, qty, mark, maker=False)
        elif tif in ("IOC", "FOK"):
            self.end(o, "EXPIRED", er="2")
        return _response(o)

    def cancel(self, p: dict[str, str]) -> dict[str, Any]:
        """DELETE /fapi/v1/order."""
        spec = self._spec(p)
        oid = p.get("orderId")
        cid = p.get("origClientOrderId")
        if not oid and not cid:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        self.acct.load_open()
        for (name, order_id), o in list(self.acct.open_orders.items()):
            if name == spec.name and (
                (oid and oid.isdigit() and int(oid) == order_id) or (cid and o.client_id == cid)
            ):
                self.end(o)
                return _response(o)
        raise BinanceError(-2011, "Unknown order sent.")

    def _spec(self, p: dict[str, str]) -> SymbolSpec:
        name = p.get("symbol")
        if not name:
            raise mandatory("symbol")
        spec = self.acct.specs.get(name)
        if spec is None:
            raise invalid_symbol()
        return spec


def _units(s: str) -> int:
    neg = s.startswith("-")
    whole, _, frac = s.lstrip("-").partition(".")
    v = int(whole) * POW[MONEY_SCALE] + int((frac + "0" * MONEY_SCALE)[:MONEY_SCALE] or 0)
    return -v if neg else v


def _decimal_units(raw: str | None, scale: int, name: str) -> int:
    if not raw:
        raise mandatory(name)
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise mandatory(name)
    if len(frac) > scale:
        raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    units = int(whole) * POW[scale] + (int(frac.ljust(scale, "0")) if frac else 0)
    if units <= 0:
        raise BinanceError(
            -4003,
            "Quantity less than or equal to zero."
            if name == "quantity"
            else "Price less than or equal to zero.",
        )
    return units


def _response(o: OrderState) -> dict[str, Any]:
    row = o.row()
    f = o.fields()
    return {
        "clientOrderId": row["clientOrderId"],
        "cumQty": f["executedQty"],
        "cumQuote": row["cumQuote"],
        "executedQty": row["executedQty"],
        "orderId": row["orderId"],
        "avgPrice": row["avgPrice"],
        "origQty": row["origQty"],
        "price": row["price"],
        "reduceOnly": row["reduceOnly"],
        "side": row["side"],
        "positionSide": row["positionSide"],
        "status": row["status"],
        "stopPrice": row["stopPrice"],
        "closePosition": False,
        "symbol": row["symbol"],
        "timeInForce": row["timeInForce"],
        "type": row["type"],
        "origType": row["origType"],
        "updateTime": row["updateTime"],
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
    }
