"""Validated filters of each list, turned into a :class:`~v7d.query.lists.ListQuery`.

Shared by the paged list methods and the streamed export, so both accept exactly the
same filters with exactly the same errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v7d.query.cuts import ORDER_STATUSES, SIDES
from v7d.query.lists import ListQuery
from v7d.query.validate import account_arg, enum_arg, int_arg, prefix_arg, symbol_arg, time_range

__all__ = [
    "ALGO_STATUSES",
    "BUILDERS",
    "INCOME_TYPES",
    "algo_orders_query",
    "income_query",
    "orders_query",
    "trades_query",
]

INCOME_TYPES = (
    "TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION",
    "INSURANCE_CLEAR", "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE",
    "CONTEST_REWARD", "CROSS_COLLATERAL_TRANSFER", "OPTIONS_PREMIUM_FEE",
    "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER", "AUTO_EXCHANGE", "DELIVERED_SETTELMENT",
    "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW", "POSITION_LIMIT_INCREASE_FEE",
    "STRATEGY_UMFUTURES_TRANSFER", "FEE_RETURN", "BFUSD_REWARD",
)  # fmt: skip
ALGO_STATUSES = (
    "NEW", "CANCELED", "TRIGGERING", "TRIGGERED", "FINISHED", "REJECTED", "EXPIRED",
)  # fmt: skip


def _base(kind: str, f: dict[str, Any], start_ms: Any, end_ms: Any) -> ListQuery:
    start, end = time_range(start_ms, end_ms)
    q = ListQuery(kind, {**f, "start_ms": start, "end_ms": end})
    q.eq("account", f["account"])
    q.eq("symbol", f["symbol"])
    q.window("time", start, end)
    return q


def trades_query(
    *, symbol: Any = None, order_id: Any = None, start_ms: Any = None, end_ms: Any = None,
    account: Any = None, client_order_id_prefix: Any = None,
) -> ListQuery:  # fmt: skip
    """Trades by symbol, order id, window, account and client-id prefix (of their order)."""
    f = {
        "symbol": symbol_arg(symbol),
        "order_id": int_arg("order_id", order_id, minimum=0),
        "account": account_arg(account),
        "client_order_id_prefix": prefix_arg(client_order_id_prefix),
    }
    q = _base("trades", f, start_ms, end_ms)
    if f["order_id"] is not None:
        q.add("t.order_id = ?", f["order_id"])
    if (p := f["client_order_id_prefix"]) is not None:
        assert isinstance(p, str)
        q.add(
            "EXISTS (SELECT 1 FROM orders o WHERE o.account = t.account AND "
            "o.symbol = t.symbol AND o.order_id = t.order_id AND "
            "substr(o.client_order_id, 1, ?) = ?)",
            len(p),
            p,
        )
    return q


def orders_query(
    *, symbol: Any = None, status: Any = None, side: Any = None, start_ms: Any = None,
    end_ms: Any = None, account: Any = None, client_order_id_prefix: Any = None,
) -> ListQuery:  # fmt: skip
    """Orders by symbol, status, side, window (creation time), account and prefix."""
    f = {
        "symbol": symbol_arg(symbol),
        "status": enum_arg("status", status, ORDER_STATUSES),
        "side": enum_arg("side", side, SIDES),
        "account": account_arg(account),
        "client_order_id_prefix": prefix_arg(client_order_id_prefix),
    }
    q = _base("orders", f, start_ms, end_ms)
    for col in ("status", "side"):
        if f[col] is not None:
            q.add(f"t.{col} = ?", f[col])
    if (p := f["client_order_id_prefix"]) is not None:
        q.add("substr(t.client_order_id, 1, ?) = ?", len(p), p)
    return q


def income_query(
    *, symbol: Any = None, type: Any = None, start_ms: Any = None, end_ms: Any = None,
    account: Any = None,
) -> ListQuery:  # fmt: skip
    """Income rows by symbol, incomeType (``type``), window and account."""
    f = {
        "symbol": symbol_arg(symbol),
        "type": enum_arg("type", type, INCOME_TYPES),
        "account": account_arg(account),
    }
    q = _base("income", f, start_ms, end_ms)
    if f["type"] is not None:
        q.add("t.income_type = ?", f["type"])
    return q


def algo_orders_query(
    *, symbol: Any = None, status: Any = None, start_ms: Any = None, end_ms: Any = None,
    account: Any = None,
) -> ListQuery:  # fmt: skip
    """Algo orders by symbol, status, window and account."""
    f = {
        "symbol": symbol_arg(symbol),
        "status": enum_arg("status", status, ALGO_STATUSES),
        "account": account_arg(account),
    }
    q = _base("algo_orders", f, start_ms, end_ms)
    if f["status"] is not None:
        q.add("t.status = ?", f["status"])
    return q


BUILDERS: dict[str, Callable[..., ListQuery]] = {
    "trades": trades_query,
    "orders": orders_query,
    "income": income_query,
    "algo_orders": algo_orders_query,
}
