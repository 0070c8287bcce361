"""User-data stream payloads with Binance's one-letter keys (see tests/payloads/ws_*.json)."""

from __future__ import annotations

from typing import Any

from v7d.sim.algos import AlgoState
from v7d.sim.numbers import fmt, fmt_money
from v7d.sim.orders import OrderState, Positions

__all__ = ["account_update", "algo_update", "order_trade_update", "trade_lite"]


def order_trade_update(
    o: OrderState,
    *,
    x: str,
    event_ms: int,
    t_ms: int,
    last_qty: int = 0,
    last_price: int = 0,
    fee: str = "0",
    fee_asset: str | None = None,
    trade_id: int = 0,
    maker: bool = False,
    realized: int = 0,
    er: str = "0",
) -> dict[str, Any]:
    """ORDER_TRADE_UPDATE for one change of ``o`` (x: NEW, TRADE, CANCELED, EXPIRED, CALCULATED)."""
    s = o.spec
    liquidation = o.client_id.startswith("autoclose-")
    body: dict[str, Any] = {
        "s": s.name,
        "c": o.client_id,
        "S": o.side,
        "o": "LIQUIDATION" if liquidation else o.type,
        "f": o.tif,
        "q": fmt(o.qty, s.qty_scale),
        "p": fmt(o.price, s.price_scale) if o.price else "0",
        "ap": o.avg_price() if o.executed else "0",
        "sp": fmt(o.stop_price, s.price_scale) if o.stop_price else "0",
        "x": x,
        "X": o.status,
        "i": o.order_id,
        "l": fmt(last_qty, s.qty_scale) if last_qty else "0",
        "z": fmt(o.executed, s.qty_scale) if o.executed else "0",
        "L": fmt(last_price, s.price_scale) if last_price else "0",
        "N": fee_asset or s.margin_asset,
        "n": fee,
        "T": t_ms,
        "t": trade_id,
        "b": "0",
        "a": "0",
        "m": maker,
        "R": o.reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": "LIQUIDATION" if liquidation else o.orig_type,
        "ps": o.position_side,
        "cp": False,
    }
    if o.orig_type == "TRAILING_STOP_MARKET":
        body["AP"] = fmt(o.activate_price, s.price_scale)
        body["cr"] = o.price_rate
    body.update(
        {
            "rp": fmt_money(realized) if realized else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
            "er": er,
        }
    )
    return {"e": "ORDER_TRADE_UPDATE", "E": event_ms, "T": t_ms, "o": body}


def trade_lite(
    o: OrderState, *, event_ms: int, t_ms: int, qty: int, price: int, trade_id: int, maker: bool
) -> dict[str, Any]:
    """TRADE_LITE for one fill."""
    s = o.spec
    return {
        "e": "TRADE_LITE",
        "E": event_ms,
        "T": t_ms,
        "s": s.name,
        "q": fmt(o.qty, s.qty_scale),
        "p": fmt(o.price, s.price_scale) if o.price else "0",
        "m": maker,
        "c": o.client_id,
        "S": o.side,
        "L": fmt(price, s.price_scale),
        "l": fmt(qty, s.qty_scale),
        "t": trade_id,
        "i": o.order_id,
    }


def account_update(
    *,
    reason: str,
    event_ms: int,
    t_ms: int,
    balances: list[tuple[str, int, int]],
    positions: Positions | None = None,
    sides: tuple[str, ...] = (),
    mark: int = 0,
) -> dict[str, Any]:
    """ACCOUNT_UPDATE: balances (asset, wallet, change) and the changed position sides."""
    b = [
        {"a": a, "wb": fmt_money(w), "cw": fmt_money(w), "bc": fmt_money(c) if c else "0"}
        for a, w, c in balances
    ]
    p = []
    if positions is not None:
        s = positions.spec
        for ps in sides:
            amt, entry = positions.book.get(ps, [0, 0])
            upnl = (mark - entry) * amt if amt else 0
            p.append(
                {
                    "s": s.name,
                    "pa": fmt(amt, s.qty_scale) if amt else "0",
                    "ep": fmt(entry * 1000, s.price_scale + 3),
                    "bep": fmt(entry * 1000, s.price_scale + 3),
                    "cr": "0",
                    "up": fmt(upnl, s.price_scale + s.qty_scale) if upnl else "0",
                    "mt": "cross",
                    "iw": "0",
                    "ps": ps,
                }
            )
    return {"e": "ACCOUNT_UPDATE", "E": event_ms, "T": t_ms, "a": {"m": reason, "B": b, "P": p}}


def algo_update(
    a: AlgoState, *, event_ms: int, t_ms: int, reject_reason: str = ""
) -> dict[str, Any]:
    """ALGO_UPDATE for a change of ``a``."""
    s = a.spec
    ps = s.price_scale
    return {
        "e": "ALGO_UPDATE",
        "T": t_ms,
        "E": event_ms,
        "o": {
            "caid": a.client_id,
            "aid": a.algo_id,
            "at": "CONDITIONAL",
            "o": a.order_type,
            "s": s.name,
            "S": a.side,
            "ps": a.position_side,
            "f": "GTC",
            "q": fmt(a.qty, s.qty_scale),
            "X": a.status,
            "ai": str(a.actual.order_id) if a.actual else "",
            "ap": a.actual.avg_price() if a.actual else fmt(0, ps + 3),
            "aq": fmt(a.actual.executed, s.qty_scale)
            if a.actual and a.actual.executed
            else fmt(0, 5),
            "act": "0",
            "tp": fmt(a.trigger_price, ps),
            "p": fmt(a.price, ps),
            "V": "NONE",
            "wt": "CONTRACT_PRICE",
            "pm": "NONE",
            "cp": False,
            "pP": False,
            "R": a.reduce_only,
            "tt": a.trigger_time,
            "gtd": 0,
            "rm": reject_reason,
        },
    }
