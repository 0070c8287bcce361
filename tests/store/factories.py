"""Record factories for store tests (deterministic, exact decimal strings)."""

from __future__ import annotations

import json

from v7d.store.records import Income, Order, OrderEvent, Trade


def trade(
    i: int,
    *,
    symbol: str = "BTCUSDT",
    time: int | None = None,
    source: str = "rest",
    price: str = "100.10",
    qty: str = "0.001",
    pnl: str = "0",
    commission: str = "0.00004",
    asset: str = "USDT",
    maker: bool = False,
    account: str = "default",
) -> Trade:
    """A trade with id ``i``; quote_qty is price × qty written exactly."""
    from decimal import Decimal

    t = 1_700_000_000_000 + i * 10 if time is None else time
    quote = str(Decimal(price) * Decimal(qty))
    raw = json.dumps({"id": i, "symbol": symbol, "time": t, "src": source})
    return Trade(
        account,
        symbol,
        i,
        1000 + i // 3,
        "BUY" if i % 2 else "SELL",
        "BOTH",
        price,
        qty,
        quote,
        pnl,
        commission,
        asset,
        maker,
        t,
        source,
        raw,
    )  # type: ignore[arg-type]


def order(
    order_id: int,
    *,
    status: str = "NEW",
    update_time: int = 1,
    executed: str = "0",
    source: str = "rest",
    time: int = 1_700_000_000_000,
    symbol: str = "BTCUSDT",
) -> Order:
    """An order version."""
    raw = json.dumps(
        {
            "orderId": order_id,
            "status": status,
            "updateTime": update_time,
            "executedQty": executed,
            "src": source,
        }
    )
    return Order(
        "default",
        symbol,
        order_id,
        f"cid-{order_id}",
        "BUY",
        "BOTH",
        "LIMIT",
        "LIMIT",
        status,
        "GTC",
        "100",
        "0",
        "0",
        "1",
        executed,
        "0",
        False,
        time,
        update_time,
        source,
        raw,
    )  # type: ignore[arg-type]


def income(
    tran_id: int,
    *,
    income_type: str = "FUNDING_FEE",
    amount: str = "-0.01",
    time: int = 1_700_000_000_000,
    symbol: str = "BTCUSDT",
) -> Income:
    """An income row."""
    return Income(
        "default",
        symbol,
        income_type,
        amount,
        "USDT",
        "",
        time,
        tran_id,
        "",
        json.dumps({"tranId": tran_id}),
    )


def event(order_id: int, status: str, cum: str, trade_id: int = 0, et: str = "TRADE") -> OrderEvent:
    """An order event from the stream."""
    return OrderEvent(
        "default", "BTCUSDT", order_id, 5, 5, et, status, "0", "0", cum, trade_id, "ws", "{}"
    )
