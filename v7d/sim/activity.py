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
from v7d.sim.book import DayBucket
from v7d.sim.events import account_update, algo_update, order_trade_update, trade_lite
from v7d.sim.generator import client_id
from v7d.sim.numbers import MONEY_SCALE, POW, fmt_money, rescale
from v7d.sim.orders import Fill, OrderState
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
    "algo_trigger",
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
        trade, income, realized = b.add_fill(
            Fill(o, qty, price, t, maker), positions, global_ids=self.global_ids, bnb_fees=False
        )
        for r in income:
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

    def trigger_algo(self, a: AlgoState) -> OrderState:
        """The algo order triggers: TRIGGERING, then the order it places fills, FINISHED."""
        a.status = "TRIGGERING"
        self._save_algo(a)
        o = self.new_order(
            a.spec, side=a.side, type_=a.order_type, qty=a.qty, price=a.price,
            position_side=a.position_side, reduce_only=a.reduce_only,
        )  # fmt: skip
        a.actual = o
        a.trigger_time = o.time
        a.status = "TRIGGERED"
        self._save_algo(a)
        self.fill(o, o.qty, mark_price(a.spec, self.clock.now_ms()), maker=False)
        a.status = "FINISHED"
        self._save_algo(a)
        self.acct.open_algos.pop(a.algo_id, None)
        return o

    def _save_algo(self, a: AlgoState) -> None:
        t = self.now()
        a.update_time = t
        b = self.acct.bucket(a.spec.name, ids.day_of(a.create_time))
        b.update_algo(a.bucket_pos, a.row(), a.hidden_after_3d)
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
        side = self.rng.choice(("BUY", "SELL"))
        if kind == "funding":
            done["funding_rows"] += self.funding([spec.name])
        elif kind in ("algo", "algo_cancel", "algo_trigger"):
            self._algo(kind, spec, side, done)
        elif kind == "liquidation":
            self._liquidation(spec, done)
        elif kind == "fill_open" and self._fill_open(spec, done):
            return
        else:
            self._order_kind("fill" if kind == "fill_open" else kind, spec, side, fills, done)

    def _algo(self, kind: str, spec: SymbolSpec, side: str, done: dict[str, Any]) -> None:
        opens = [a for a in self.acct.open_algos.values() if a.spec is spec]
        if kind == "algo_cancel" and opens:
            self.end_algo(opens[0])
            done["algo_orders"].append(opens[0].algo_id)
        elif kind == "algo_trigger":
            a = opens[0] if opens else self.new_algo(spec, side, self.rng.randint(1, spec.lot))
            o = self.trigger_algo(a)
            done["algo_orders"].append(a.algo_id)
            done["orders"].append(o.order_id)
            done["trades"].append(self._last_trade_id(spec))
        else:
            qty = self.rng.randint(1, spec.lot)
            done["algo_orders"].append(self.new_algo(spec, side, qty).algo_id)

    def _last_trade_id(self, spec: SymbolSpec) -> int:
        b = self.acct.today(spec.name)
        return b.t_id[-1]

    def _fill_open(self, spec: SymbolSpec, done: dict[str, Any]) -> bool:
        """Fill the oldest resting LIMIT order of ``spec``; False when there is none."""
        opens = [o for o in self.acct.open_orders.values() if o.spec is spec and o.type == "LIMIT"]
        if not opens:
            return False
        o = min(opens, key=lambda o: o.time)
        done["orders"].append(o.order_id)
        done["trades"].append(self.fill(o, o.qty - o.executed, o.price, maker=True)["id"])
        return True

    def _liquidation(self, spec: SymbolSpec, done: dict[str, Any]) -> None:
        mark = mark_price(spec, self.clock.now_ms())
        pos = self.acct.positions(spec.name)
        ps, (amt, _e) = max(pos.book.items() or [("BOTH", [0, 0])], key=lambda kv: abs(kv[1][0]))
        amt = amt or spec.lot
        cid = f"autoclose-{self.clock.now_ms()}{self.rng.randint(100, 999)}"
        o = self.new_order(
            spec, side="SELL" if amt > 0 else "BUY", type_="LIMIT", qty=abs(amt), price=mark,
            tif="IOC", cid=cid, position_side=ps, reduce_only=True,
        )  # fmt: skip
        done["orders"].append(o.order_id)
        done["trades"].append(self.fill(o, abs(amt), mark, maker=False)["id"])

    def _order_kind(
        self, kind: str, spec: SymbolSpec, side: str, fills: int, done: dict[str, Any]
    ) -> None:
        """fill, limit, partial_cancel, cancel or expire: one order and what it does now."""
        mark = mark_price(spec, self.clock.now_ms())
        sgn = 1 if side == "BUY" else -1
        parts = [self.rng.randint(1, spec.lot) for _ in range(fills)]
        qty = sum(parts)
        far = max(1, mark - sgn * 50)
        if kind == "fill":
            o = self.new_order(spec, side=side, type_="MARKET", qty=qty)
            for i, q in enumerate(parts):
                price = max(1, mark + sgn * (i // 10))
                done["trades"].append(self.fill(o, q, price, maker=False)["id"])
        elif kind == "limit":
            price = max(1, mark - sgn * (mark // 10))
            o = self.new_order(spec, side=side, type_="LIMIT", qty=qty, price=price)
        elif kind == "partial_cancel":
            o = self.new_order(spec, side=side, type_="LIMIT", qty=qty + 1, price=mark)
            for q in parts:
                done["trades"].append(self.fill(o, q, mark, maker=True)["id"])
            self.end(o)
        elif kind == "cancel":
            o = self.new_order(spec, side=side, type_="LIMIT", qty=qty, price=far)
            self.end(o)
        else:  # expire: an IOC that cannot fill
            o = self.new_order(spec, side=side, type_="LIMIT", qty=qty, price=far, tif="IOC")
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
                "algo_trigger",
            ),
            (35, 15, 15, 10, 8, 7, 5, 3, 2),
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


def _units(s: str) -> int:
    neg = s.startswith("-")
    whole, _, frac = s.lstrip("-").partition(".")
    v = int(whole) * POW[MONEY_SCALE] + int((frac + "0" * MONEY_SCALE)[:MONEY_SCALE] or 0)
    return -v if neg else v
