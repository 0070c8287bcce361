"""Ground truth: every row the account has, in final state, with ``retrievable`` flags.

Items have DESIGN.md's snake_case fields, built from the very bytes REST serves, so money
strings are identical. ``retrievable`` says whether Binance's REST would still return the
row now (userTrades 6 months; income 3 months; orders and algo orders 90 days, canceled or
expired without fill 3 days; all divided by ``time_scale``). Range: start inclusive, end
exclusive, on ``time`` (algo orders: ``create_time``).
"""

from __future__ import annotations

from typing import Any

import orjson

from v7d.sim.account import SimAccount
from v7d.sim.clock import DAY_MS
from v7d.sim.rows import algo_truth, income_truth, order_truth, trade_truth

__all__ = ["truth"]


def truth(
    acct: SimAccount, start_ms: int | None = None, end_ms: int | None = None
) -> dict[str, Any]:
    """The complete truth for [start_ms, end_ms) (default: all history up to now)."""
    clock = acct.clock
    now = clock.now_ms()
    lo = acct.history_start() if start_ms is None else start_ms
    hi = (now + 1 if end_ms is None else end_ms) - 1  # inclusive bound for the buckets
    keep_trades = now - clock.scaled_ms(180 * DAY_MS)
    keep_income = now - clock.scaled_ms(90 * DAY_MS)
    keep_orders = now - clock.scaled_ms(90 * DAY_MS)
    keep_unfilled = now - clock.scaled_ms(3 * DAY_MS)
    trades: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    income: list[dict[str, Any]] = []
    algos: list[dict[str, Any]] = []
    if hi >= lo:
        for sym in acct.history_symbols():
            for b in acct.buckets(sym, lo, hi):
                for i in b.trade_range(lo, hi):
                    t = trade_truth(orjson.loads(b.trades[i]))
                    t["retrievable"] = t["time"] >= keep_trades
                    trades.append(t)
                for i in b.order_range(lo, hi):
                    o = order_truth(orjson.loads(b.orders[i]))
                    gone = o["time"] < keep_orders or (b.o_hide3[i] and o["time"] < keep_unfilled)
                    o["retrievable"] = not gone
                    orders.append(o)
                for i in b.income_range(lo, hi):
                    r = income_truth(orjson.loads(b.income[i]))
                    r["retrievable"] = r["time"] >= keep_income
                    income.append(r)
                for i in b.algo_range(lo, hi):
                    a = algo_truth(orjson.loads(b.algos[i]))
                    gone = a["create_time"] < keep_orders or (
                        b.a_hide3[i] and a["create_time"] < keep_unfilled
                    )
                    a["retrievable"] = not gone
                    algos.append(a)
    trades.sort(key=lambda r: (r["time"], r["symbol"], r["id"]))
    orders.sort(key=lambda r: (r["time"], r["symbol"], r["order_id"]))
    income.sort(key=lambda r: (r["time"], r["symbol"], r["income_type"], r["tran_id"]))
    algos.sort(key=lambda r: (r["create_time"], r["algo_id"]))
    return {"orders": orders, "trades": trades, "income": income, "algo_orders": algos}
