"""Row builders: Binance's REST item dicts (key order as Binance sends them) and truth items.

Rows are stored as the exact JSON bytes REST serves, so a page is a join of bytes and the
truth is derived from the very same strings (``truth_*`` functions rename the keys).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "ACCOUNT",
    "algo_truth",
    "dumps",
    "income_row",
    "income_truth",
    "order_row",
    "order_truth",
    "trade_row",
    "trade_truth",
]

ACCOUNT = "default"


def dumps(obj: Any) -> bytes:
    """JSON bytes (compact, key order kept).

    orjson hands back an over-allocated buffer (about 8 KiB for a 300-byte row); copying
    it into an exact-size bytes object cuts the memory of stored rows by ~25x and is
    faster overall than keeping the original.
    """
    return bytes(memoryview(orjson.dumps(obj)))


def trade_row(
    *,
    symbol: str,
    tid: int,
    oid: int,
    side: str,
    position_side: str,
    price: str,
    qty: str,
    quote_qty: str,
    realized_pnl: str,
    commission: str,
    commission_asset: str,
    maker: bool,
    time: int,
) -> dict[str, Any]:
    """A userTrades item."""
    return {
        "buyer": side == "BUY",
        "commission": commission,
        "commissionAsset": commission_asset,
        "id": tid,
        "maker": maker,
        "orderId": oid,
        "price": price,
        "qty": qty,
        "quoteQty": quote_qty,
        "realizedPnl": realized_pnl,
        "side": side,
        "positionSide": position_side,
        "symbol": symbol,
        "time": time,
    }


def order_row(o: dict[str, Any]) -> dict[str, Any]:
    """An allOrders/order item from an order state dict (see v7d.sim.orders.OrderState)."""
    row: dict[str, Any] = {
        "avgPrice": o["avgPrice"],
        "clientOrderId": o["clientOrderId"],
        "cumQuote": o["cumQuote"],
        "executedQty": o["executedQty"],
        "orderId": o["orderId"],
        "origQty": o["origQty"],
        "origType": o["origType"],
        "price": o["price"],
        "reduceOnly": o["reduceOnly"],
        "side": o["side"],
        "positionSide": o["positionSide"],
        "status": o["status"],
        "stopPrice": o["stopPrice"],
        "closePosition": o["closePosition"],
        "symbol": o["symbol"],
        "time": o["time"],
        "timeInForce": o["timeInForce"],
        "type": o["type"],
    }
    if o["origType"] == "TRAILING_STOP_MARKET":
        row["activatePrice"] = o["activatePrice"]
        row["priceRate"] = o["priceRate"]
    row["updateTime"] = o["updateTime"]
    row["workingType"] = "CONTRACT_PRICE"
    row["priceProtect"] = False
    row["priceMatch"] = "NONE"
    row["selfTradePreventionMode"] = "NONE"
    row["goodTillDate"] = 0
    return row


def income_row(
    *,
    symbol: str,
    income_type: str,
    income: str,
    asset: str,
    time: int,
    tran_id: int,
    trade_id: str = "",
    info: str | None = None,
) -> dict[str, Any]:
    """An income item (``tradeId`` is a string, "" when there is no trade)."""
    return {
        "symbol": symbol,
        "incomeType": income_type,
        "income": income,
        "asset": asset,
        "info": info if info is not None else income_type,
        "time": time,
        "tranId": tran_id,
        "tradeId": trade_id,
    }


def trade_truth(r: dict[str, Any]) -> dict[str, Any]:
    """Truth item of a userTrades row (DESIGN.md trade fields)."""
    return {
        "account": ACCOUNT,
        "symbol": r["symbol"],
        "id": r["id"],
        "order_id": r["orderId"],
        "side": r["side"],
        "position_side": r["positionSide"],
        "price": r["price"],
        "qty": r["qty"],
        "quote_qty": r["quoteQty"],
        "realized_pnl": r["realizedPnl"],
        "commission": r["commission"],
        "commission_asset": r["commissionAsset"],
        "maker": r["maker"],
        "time": r["time"],
    }


def order_truth(r: dict[str, Any]) -> dict[str, Any]:
    """Truth item of an allOrders row (DESIGN.md order fields)."""
    return {
        "account": ACCOUNT,
        "symbol": r["symbol"],
        "order_id": r["orderId"],
        "client_order_id": r["clientOrderId"],
        "side": r["side"],
        "position_side": r["positionSide"],
        "type": r["type"],
        "orig_type": r["origType"],
        "status": r["status"],
        "time_in_force": r["timeInForce"],
        "price": r["price"],
        "avg_price": r["avgPrice"],
        "stop_price": r["stopPrice"],
        "orig_qty": r["origQty"],
        "executed_qty": r["executedQty"],
        "cum_quote": r["cumQuote"],
        "reduce_only": r["reduceOnly"],
        "time": r["time"],
        "update_time": r["updateTime"],
    }


def income_truth(r: dict[str, Any]) -> dict[str, Any]:
    """Truth item of an income row (DESIGN.md income fields)."""
    return {
        "account": ACCOUNT,
        "symbol": r["symbol"],
        "income_type": r["incomeType"],
        "income": r["income"],
        "asset": r["asset"],
        "info": r["info"],
        "time": r["time"],
        "tran_id": r["tranId"],
        "trade_id": r["tradeId"],
    }


def algo_truth(r: dict[str, Any]) -> dict[str, Any]:
    """Truth item of an allAlgoOrders row (snake_case of Binance's names)."""
    return {
        "account": ACCOUNT,
        "symbol": r["symbol"],
        "algo_id": r["algoId"],
        "client_algo_id": r["clientAlgoId"],
        "algo_type": r["algoType"],
        "order_type": r["orderType"],
        "side": r["side"],
        "position_side": r["positionSide"],
        "quantity": r["quantity"],
        "algo_status": r["algoStatus"],
        "actual_order_id": r["actualOrderId"],
        "trigger_price": r["triggerPrice"],
        "price": r["price"],
        "reduce_only": r["reduceOnly"],
        "close_position": r["closePosition"],
        "create_time": r["createTime"],
        "update_time": r["updateTime"],
        "trigger_time": r["triggerTime"],
    }
