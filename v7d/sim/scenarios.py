"""Order scenarios of the history generator: what one order does during its day.

Each scenario takes a :class:`Ctx` (symbol, RNG, creation time, end of the day, mark
price, an order factory) and returns a :class:`Plan`: the order plus its timed events
(``fill`` with a Fill, ``final`` with a status). Nothing here touches positions or ids:
the generator replays all plans of a day in time order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from v7d.sim.algos import AlgoState
from v7d.sim.clock import HOUR_MS
from v7d.sim.orders import Fill, OrderState
from v7d.sim.prices import mark_price
from v7d.sim.symbols import SymbolSpec

__all__ = ["SCENARIOS", "Ctx", "Plan", "ri"]

Event = tuple[int, str, Any]  # (time, "fill" | "final", Fill | status)


def ri(rng: random.Random, a: int, b: int) -> int:
    """``rng.randint(a, b)``, about four times faster (one float draw)."""
    return a + int(rng.random() * (b - a + 1))


@dataclass
class Plan:
    """An order and what happens to it."""

    order: OrderState
    events: list[Event]
    resolve: bool = False  # liquidation/ADL: side and size set when it fills
    algo: AlgoState | None = None


@dataclass
class Ctx:
    """What a scenario needs to plan one order created at ``t``."""

    spec: SymbolSpec
    rng: random.Random
    t: int
    hi: int  # events stay before this (end of the day or the anchor)
    mark: int
    make: Callable[..., OrderState]  # make(type_=..., tif=..., prefix=...)

    def later(self, t0: int, long: bool = False) -> int:
        """A time after ``t0``: seconds to an hour later, or 1-5 hours when ``long``."""
        rng = self.rng
        d = rng.choice((ri(rng, 20, 5_000), ri(rng, 60_000, HOUR_MS)))
        if long:
            d = ri(rng, HOUR_MS, 5 * HOUR_MS)
        return min(t0 + d, self.hi - 1)


def _sgn(o: OrderState) -> int:
    return 1 if o.side == "BUY" else -1


def market(c: Ctx) -> Plan:
    """A market order swept by 1-5 fills in one millisecond."""
    o = c.make(type_="MARKET")
    k = c.rng.choice((1, 1, 1, 2, 3, 5))
    parts = [ri(c.rng, 1, c.spec.lot) for _ in range(k)]
    o.qty = sum(parts)
    fills: list[Event] = [
        (c.t, "fill", Fill(o, q, max(1, c.mark + _sgn(o) * i), c.t, False))
        for i, q in enumerate(parts)
    ]
    return Plan(o, fills)


def _limit(c: Ctx, kind: str) -> Plan:
    o = c.make(type_="LIMIT")
    o.price = max(1, c.mark - _sgn(o) * ri(c.rng, 0, 5))
    k = ri(c.rng, 1, 3)
    parts = [ri(c.rng, 1, c.spec.lot) for _ in range(k)]
    o.qty = sum(parts) + (ri(c.rng, 1, c.spec.lot) if kind != "limit_fill" else 0)
    ev: list[Event] = []
    tf = c.t
    for i, q in enumerate(parts):
        tf = c.later(tf, long=(i == k - 1 and c.rng.random() < 0.3))
        ev.append((tf, "fill", Fill(o, q, o.price, tf, True)))
    if kind == "partial_cancel":
        ev.append((c.later(tf), "final", "CANCELED"))
    return Plan(o, ev)


def limit_fill(c: Ctx) -> Plan:
    """A limit order filled in 1-3 parts, the last one possibly hours later."""
    return _limit(c, "limit_fill")


def partial_cancel(c: Ctx) -> Plan:
    """A limit order partly filled, then canceled."""
    return _limit(c, "partial_cancel")


def cancel(c: Ctx) -> Plan:
    """A limit order canceled without any fill (REST forgets it after 3 days)."""
    o = c.make(type_="LIMIT")
    o.price = max(1, c.mark - _sgn(o) * ri(c.rng, 5, 200))
    return Plan(o, [(c.later(c.t, long=c.rng.random() < 0.3), "final", "CANCELED")])


def ioc(c: Ctx) -> Plan:
    """An IOC order: half filled then expired, or expired at once."""
    o = c.make(type_="LIMIT", tif="IOC")
    o.price = max(1, c.mark + _sgn(o) * 2)
    ev: list[Event] = []
    if c.rng.random() < 0.5:
        ev.append((c.t, "fill", Fill(o, max(1, o.qty // 2), c.mark, c.t, False)))
    ev.append((c.t, "final", "EXPIRED"))
    return Plan(o, ev)


def gtx(c: Ctx) -> Plan:
    """A post-only order that would have taken: expired."""
    o = c.make(type_="LIMIT", tif="GTX")
    o.price = c.mark
    return Plan(o, [(c.t, "final", "EXPIRED")])


def stop(c: Ctx) -> Plan:
    """A STOP_MARKET order: triggered and filled later, or canceled."""
    o = c.make(type_="STOP_MARKET")
    o.stop_price = max(1, c.mark + _sgn(o) * ri(c.rng, 10, 100))
    if c.rng.random() < 0.3:
        return Plan(o, [(c.later(c.t), "final", "CANCELED")])
    tf = c.later(c.t, long=c.rng.random() < 0.5)
    return Plan(o, [(tf, "fill", Fill(o, o.qty, mark_price(c.spec, tf), tf, False))])


def trailing(c: Ctx) -> Plan:
    """A TRAILING_STOP_MARKET order (activatePrice, priceRate): filled hours later or canceled."""
    o = c.make(type_="TRAILING_STOP_MARKET")
    o.activate_price = max(1, c.mark - _sgn(o) * ri(c.rng, 5, 50))
    o.stop_price = max(1, o.activate_price + _sgn(o) * ri(c.rng, 1, 20))
    o.price_rate = c.rng.choice(("0.3", "1.0", "2.5"))
    if c.rng.random() < 0.4:
        return Plan(o, [(c.later(c.t), "final", "CANCELED")])
    tf = c.later(c.t, long=True)
    return Plan(o, [(tf, "fill", Fill(o, o.qty, mark_price(c.spec, tf), tf, False))])


def _forced(c: Ctx, kind: str) -> Plan:
    prefix = f"autoclose-{c.t}" if kind == "liquidation" else "adl_autoclose"
    o = c.make(type_="LIMIT", tif="IOC", prefix=prefix)
    o.client_id = prefix if kind == "adl" else f"{prefix}{ri(c.rng, 100, 999)}"
    o.reduce_only = True
    px = max(1, c.mark - ri(c.rng, 1, 30))
    return Plan(o, [(c.t, "fill", Fill(o, o.qty, px, c.t, False))], resolve=True)


def liquidation(c: Ctx) -> Plan:
    """A liquidation (``autoclose-…``) closing the biggest position."""
    return _forced(c, "liquidation")


def adl(c: Ctx) -> Plan:
    """An auto-deleveraging order (``adl_autoclose``)."""
    return _forced(c, "adl")


def open_order(c: Ctx) -> Plan:
    """An order still open at the anchor: NEW far from the price, or PARTIALLY_FILLED."""
    if c.rng.random() < 0.3:
        plan = _limit(c, "open_partial")
        _t0, _k, f = plan.events[0]
        f.time = min(c.t + 5, c.hi - 1)
        plan.events = [(f.time, "fill", f)]
        plan.order.qty = max(plan.order.qty, f.qty + 1)
        return plan
    o = c.make(type_="LIMIT")
    o.price = max(1, c.mark - _sgn(o) * max(1, c.mark // 10))
    return Plan(o, [])


SCENARIOS: dict[str, Callable[[Ctx], Plan]] = {
    "market": market,
    "limit_fill": limit_fill,
    "partial_cancel": partial_cancel,
    "cancel": cancel,
    "ioc": ioc,
    "gtx": gtx,
    "stop": stop,
    "trailing": trailing,
    "liquidation": liquidation,
    "adl": adl,
    "open": open_order,
}
