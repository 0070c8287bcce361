"""Seeded, deterministic account history, generated lazily per (symbol, UTC day).

A (symbol, day) depends only on (seed, symbol, day, anchor): its own RNG, its own starting
position, its own id blocks (v7d.sim.ids). Everything an order does happens inside its
day, so a bucket never needs another day's rows. The hard cases real accounts have are
placed on purpose: a >1,000-fill market sweep in one millisecond on the busy symbol
(whose closing fills also make >1,000 income rows share one time), orders filled hours
later, partial fills then cancel, IOC/GTX expiries, liquidation (``autoclose-``) and ADL
orders, stop and trailing orders, algo orders, funding every 8 h on open positions
(including a symbol that never trades), BNB-paid commission days, a USDC perpetual, a
delisted symbol, and open orders at the anchor.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Any

from v7d.sim import ids
from v7d.sim.algos import AlgoState
from v7d.sim.book import DayBucket
from v7d.sim.clock import DAY_MS, HOUR_MS
from v7d.sim.numbers import MONEY_SCALE, fmt_money, rescale
from v7d.sim.options import SimOptions
from v7d.sim.orders import Fill, OrderState, Positions
from v7d.sim.prices import mark_price
from v7d.sim.rows import income_row
from v7d.sim.scenarios import SCENARIOS, Ctx, Plan, ri
from v7d.sim.symbols import SymbolSpec

__all__ = ["HistoryGenerator", "client_id"]

_SCENARIOS = (
    ("market", 30.0),
    ("limit_fill", 22.0),
    ("partial_cancel", 7.0),
    ("cancel", 14.0),
    ("ioc", 5.0),
    ("gtx", 4.0),
    ("stop", 6.0),
    ("trailing", 3.0),
    ("liquidation", 1.0),
    ("adl", 0.5),
)
_NAMES = tuple(name for name, _ in _SCENARIOS)
_CUM = tuple(itertools.accumulate(w for _, w in _SCENARIOS))
FUNDING_HOURS = (0, 8, 16)


def client_id(rng: random.Random, prefix: str = "") -> str:
    """A Binance-looking client order id (22 characters unless the prefix is longer)."""
    n = max(0, 22 - len(prefix))
    return prefix + format(rng.getrandbits(4 * n), f"0{n}x")[:n] if n else prefix


class HistoryGenerator:
    """Builds the DayBucket of one (symbol, day) from the seed alone."""

    def __init__(self, opts: SimOptions) -> None:
        assert opts.anchor_ms is not None
        self.opts = opts
        self.anchor = opts.anchor_ms
        self.hist_start = self.anchor - opts.days * DAY_MS
        self.global_ids = opts.trade_ids == "global"
        first_day = ids.day_of(self.hist_start)
        self.sweep_day = max(first_day, ids.day_of(self.anchor) - 2)

    def window(self, spec: SymbolSpec | None, day: int) -> tuple[int, int]:
        """The part [lo, hi) of ``day`` that history covers for ``spec``."""
        lo = max(day * DAY_MS, self.hist_start)
        hi = min((day + 1) * DAY_MS, self.anchor)
        if spec is not None and spec.delisted_ms is not None:
            hi = min(hi, spec.delisted_ms)
        return lo, hi

    def generate(self, spec: SymbolSpec, day: int) -> DayBucket:
        """Generate (deterministically) the bucket of ``spec`` on ``day``."""
        b = DayBucket(spec.name, day)
        rng = random.Random(f"v7d-sim/{self.opts.seed}/{spec.name}/{day}")
        positions = self._start_positions(spec, day, rng)
        lo, hi = self.window(spec, day)
        if lo >= hi:
            b.positions_end = positions
            return b
        plans = self._plans(spec, day, lo, hi, rng)
        plans.sort(key=lambda p: p.order.time)
        for p in plans:
            p.order.order_id = ids.order_id(day, spec.index, b.next_order_n)
            b.next_order_n += 1
        events: list[tuple[int, int, str, Any]] = []
        seq = 0
        for h in FUNDING_HOURS:
            ft = day * DAY_MS + h * HOUR_MS
            if lo <= ft < hi:
                events.append((ft, -1, "funding", None))
        for p in plans:
            for t, kind, payload in p.events:
                events.append((t, seq, kind, (p, payload)))
                seq += 1
        events.sort(key=lambda e: (e[0], e[1]))
        bnb = spec.margin_asset == "USDT" and rng.random() < 0.3
        for t, _seq, kind, payload in events:
            if kind == "funding":
                self._funding(b, spec, day, t, positions, rng)
            elif kind == "fill":
                plan, fill = payload
                if plan.resolve and plan.order.executed == 0:
                    self._resolve(plan.order, fill, positions)
                b.add_fill(fill, positions, global_ids=self.global_ids, bnb_fees=bnb)
            else:
                plan, status = payload
                plan.order.status = status
                plan.order.update_time = t
        for p in plans:
            b.add_order(p.order)
            if not p.order.final:
                b.open_orders.append(p.order)
        self._algos(b, spec, day, lo, hi, rng, plans)
        b.sort_income()
        b.positions_end = positions
        return b

    # --- positions and funding ---------------------------------------------------------
    def _start_positions(self, spec: SymbolSpec, day: int, rng: random.Random) -> Positions:
        pos = Positions(spec, self.opts.hedge_mode)
        t0 = day * DAY_MS
        if spec.delisted_ms is not None and t0 >= spec.delisted_ms:
            return pos
        mark = mark_price(spec, t0)
        if spec.holder:
            amts = [spec.lot * 3]
        elif spec.share > 0:
            amts = [ri(rng, -3, 3) * spec.lot]
        else:
            return pos
        if spec.index == 0 and day == self.sweep_day and self.opts.sweep_fills:
            amts = [self.opts.sweep_fills * 2]
            mark -= 37
        if self.opts.hedge_mode:
            pos.book["LONG"] = [abs(amts[0]), mark if amts[0] else 0]
            pos.book["SHORT"] = [-spec.lot, mark]
        else:
            pos.book["BOTH"] = [amts[0], mark if amts[0] else 0]
        return pos

    def _funding(
        self,
        b: DayBucket,
        spec: SymbolSpec,
        day: int,
        t: int,
        positions: Positions,
        rng: random.Random,
    ) -> None:
        rate_e6 = ri(rng, -60, 150) or 100
        mark = mark_price(spec, t)
        for ps in sorted(positions.book):
            amt = positions.book[ps][0]
            if not amt:
                continue
            units = -amt * mark * rate_e6
            income = rescale(units, spec.price_scale + spec.qty_scale + 6, MONEY_SCALE)
            if not income:
                continue
            b.add_income(
                income_row(
                    symbol=spec.name,
                    income_type="FUNDING_FEE",
                    income=fmt_money(income),
                    asset=spec.margin_asset,
                    time=t,
                    tran_id=ids.funding_tran_id(day, spec.index, b.next_tran_n),
                )
            )
            b.next_tran_n += 1

    @staticmethod
    def _resolve(o: OrderState, fill: Fill, positions: Positions) -> None:
        """Liquidation/ADL: close the biggest position at the fill's price."""
        ps, (amt, _entry) = max(positions.book.items(), key=lambda kv: abs(kv[1][0]))
        if amt == 0:
            amt = o.spec.lot
        o.position_side = ps
        o.side = "SELL" if amt > 0 else "BUY"
        o.qty = abs(amt)
        fill.qty = abs(amt)
        o.price = fill.price

    # --- orders ------------------------------------------------------------------------
    def _plans(
        self, spec: SymbolSpec, day: int, lo: int, hi: int, rng: random.Random
    ) -> list[Plan]:
        plans: list[Plan] = []
        if spec.share <= 0:
            return plans
        expected = self.opts.trades_per_day * spec.share * (hi - lo) / DAY_MS
        n = int(expected / 1.4 + rng.random())  # ~1.4 fills per order on average
        for _ in range(n):
            t = lo + int(rng.random() * (hi - lo))
            kind = _NAMES[bisect.bisect_right(_CUM, rng.random() * _CUM[-1])]
            plans.append(self._plan(spec, kind, t, hi, rng))
        if hi == self.anchor:
            for _ in range(ri(rng, 1, 3)):
                t = max(lo, hi - ri(rng, 1, 6 * HOUR_MS))
                plans.append(self._plan(spec, "open", t, hi, rng))
        if spec.index == 0 and day == self.sweep_day and self.opts.sweep_fills:
            t = min(max(lo, day * DAY_MS + 10 * HOUR_MS + 123), hi - 1)
            plans.append(self._sweep(spec, t, rng))
        return plans

    def _order(
        self,
        spec: SymbolSpec,
        rng: random.Random,
        t: int,
        *,
        type_: str,
        tif: str = "GTC",
        side: str | None = None,
        qty: int = 0,
        price: int = 0,
        prefix: str = "",
    ) -> OrderState:
        side = side or rng.choice(("BUY", "SELL"))
        ps = rng.choice(("LONG", "SHORT")) if self.opts.hedge_mode else "BOTH"
        return OrderState(
            spec=spec,
            order_id=0,
            client_id=client_id(rng, prefix),
            side=side,
            position_side=ps,
            type=type_,
            orig_type=type_,
            tif=tif,
            qty=qty or ri(rng, 1, spec.lot * 2),
            price=price,
            time=t,
            reduce_only=rng.random() < 0.1,
        )

    def _plan(self, spec: SymbolSpec, kind: str, t: int, hi: int, rng: random.Random) -> Plan:
        def make(*, type_: str, tif: str = "GTC", prefix: str = "") -> OrderState:
            return self._order(spec, rng, t, type_=type_, tif=tif, prefix=prefix)

        return SCENARIOS[kind](Ctx(spec, rng, t, hi, mark_price(spec, t), make))

    def _sweep(self, spec: SymbolSpec, t: int, rng: random.Random) -> Plan:
        n = self.opts.sweep_fills
        o = self._order(spec, rng, t, type_="MARKET", side="SELL", qty=n)
        o.reduce_only = False
        if self.opts.hedge_mode:
            o.position_side = "LONG"
        mark = mark_price(spec, t)
        ev = [(t, "fill", Fill(o, 1, max(1, mark - i // 50), t, False)) for i in range(n)]
        return Plan(o, ev)

    # --- algo orders -------------------------------------------------------------------
    def _algos(
        self,
        b: DayBucket,
        spec: SymbolSpec,
        day: int,
        lo: int,
        hi: int,
        rng: random.Random,
        plans: list[Plan],
    ) -> None:
        if spec.share <= 0:
            return
        stops = [p.order for p in plans if p.order.orig_type == "STOP_MARKET" and p.order.executed]
        n = ri(rng, 0, 2) + (1 if hi == self.anchor else 0)
        made: list[AlgoState] = []
        for i in range(n):
            t = lo + int(rng.random() * (hi - lo))
            mark = mark_price(spec, t)
            side = rng.choice(("BUY", "SELL"))
            kind = rng.choice(("TAKE_PROFIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP"))
            status = rng.choice(("CANCELED", "EXPIRED", "REJECTED", "FINISHED"))
            if hi == self.anchor and i == n - 1:
                status = "NEW"
            a = AlgoState(
                spec=spec,
                algo_id=0,
                client_id=client_id(rng),
                order_type=kind,
                side=side,
                position_side=rng.choice(("LONG", "SHORT")) if self.opts.hedge_mode else "BOTH",
                qty=ri(rng, 1, spec.lot),
                trigger_price=max(1, mark + ri(rng, -90, 90)),
                price=mark if kind in ("TAKE_PROFIT", "STOP") else 0,
                create_time=t,
                reduce_only=rng.random() < 0.5,
            )
            if status == "FINISHED":
                # the order it placed when triggered: a STOP_MARKET of this day that filled
                placed = [o for o in stops if o.time > t]
                if not placed:
                    status = "CANCELED"
                else:
                    a.actual = placed[0]
                    stops.remove(placed[0])
                    a.order_type, a.side, a.qty = "STOP_MARKET", a.actual.side, a.actual.qty
                    a.position_side = a.actual.position_side
                    a.trigger_time = a.actual.time
                    a.update_time = a.actual.update_time
            a.status = status
            if status in ("CANCELED", "EXPIRED", "REJECTED"):
                a.update_time = min(t + ri(rng, 1_000, 3 * HOUR_MS), hi - 1)
            made.append(a)
        made.sort(key=lambda a: a.create_time)
        for a in made:
            a.algo_id = ids.algo_id(day, spec.index, b.next_algo_n)
            b.next_algo_n += 1
            a.bucket_pos = b.add_algo(a.row(), a.hidden_after_3d)
            if a.status == "NEW":
                b.open_algos.append({"algo": a})


def transfer_rows(opts: SimOptions, day: int) -> list[dict[str, Any]]:
    """Account-level income (symbol ""): the initial deposits on the first history day."""
    assert opts.anchor_ms is not None
    start = opts.anchor_ms - opts.days * DAY_MS
    if ids.day_of(start) != day:
        return []
    return [
        income_row(
            symbol="",
            income_type="TRANSFER",
            income=fmt_money(10_000 * 10**8),
            asset="USDT",
            time=start + 1_000,
            tran_id=ids.funding_tran_id(day, 4095, 0),
        ),
        income_row(
            symbol="",
            income_type="TRANSFER",
            income=fmt_money(5 * 10**8),
            asset="BNB",
            time=start + 2_000,
            tran_id=ids.funding_tran_id(day, 4095, 1),
        ),
    ]
