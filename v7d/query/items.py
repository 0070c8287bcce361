"""Item shapes of every list answer (DESIGN.md "Item fields", a contract).

Each :class:`ItemShape` names the table, the item's fields in order (the typed columns
of the same names), which fields are booleans (stored as 0/1) and which are exact
decimal strings (turned into floats only when a caller asks for ``as_float``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALGO",
    "BALANCE",
    "EVENT",
    "INCOME",
    "ORDER",
    "POSITION",
    "SHAPES",
    "TRADE",
    "ItemShape",
]


@dataclass(frozen=True, slots=True)
class ItemShape:
    """How rows of one table become answer items."""

    name: str
    table: str
    fields: tuple[str, ...]
    bools: frozenset[str] = frozenset()
    decimals: frozenset[str] = frozenset()

    def select_list(self, alias: str = "") -> str:
        """The SELECT column list producing the fields in order."""
        pre = f"{alias}." if alias else ""
        return ", ".join(pre + f for f in self.fields)

    def to_item(self, row: Sequence[Any], as_float: bool = False) -> dict[str, Any]:
        """One item from a row selected with :meth:`select_list` (extra columns ignored)."""
        item = dict(zip(self.fields, row, strict=False))
        for f in self.bools:
            item[f] = bool(item[f])
        if as_float:
            for f in self.decimals:
                v = item[f]
                item[f] = float(v) if v not in (None, "") else None
        return item


TRADE = ItemShape(
    "trade",
    "trades",
    (
        "account", "symbol", "id", "order_id", "side", "position_side", "price", "qty",
        "quote_qty", "realized_pnl", "commission", "commission_asset", "maker", "time",
    ),
    bools=frozenset({"maker"}),
    decimals=frozenset({"price", "qty", "quote_qty", "realized_pnl", "commission"}),
)  # fmt: skip

ORDER = ItemShape(
    "order",
    "orders",
    (
        "account", "symbol", "order_id", "client_order_id", "side", "position_side", "type",
        "orig_type", "status", "time_in_force", "price", "avg_price", "stop_price",
        "orig_qty", "executed_qty", "cum_quote", "reduce_only", "time", "update_time",
    ),
    bools=frozenset({"reduce_only"}),
    decimals=frozenset(
        {"price", "avg_price", "stop_price", "orig_qty", "executed_qty", "cum_quote"}
    ),
)  # fmt: skip

EVENT = ItemShape(
    "event",
    "order_events",
    (
        "event_time", "transaction_time", "execution_type", "status", "last_qty",
        "last_price", "cum_qty", "trade_id", "source",
    ),
    decimals=frozenset({"last_qty", "last_price", "cum_qty"}),
)  # fmt: skip

INCOME = ItemShape(
    "income",
    "income",
    (
        "account", "symbol", "income_type", "income", "asset", "info", "time", "tran_id",
        "trade_id",
    ),
    decimals=frozenset({"income"}),
)  # fmt: skip

ALGO = ItemShape(
    "algo_order",
    "algo_orders",
    (
        "account", "algo_id", "symbol", "client_algo_id", "algo_type", "order_type", "side",
        "position_side", "status", "quantity", "price", "trigger_price", "time",
        "update_time",
    ),
    decimals=frozenset({"quantity", "price", "trigger_price"}),
)  # fmt: skip

POSITION = ItemShape(
    "position",
    "positions",
    (
        "account", "symbol", "position_side", "position_amt", "entry_price",
        "break_even_price", "mark_price", "unrealized_profit", "liquidation_price",
        "notional", "margin_asset", "update_time",
    ),
    decimals=frozenset(
        {
            "position_amt", "entry_price", "break_even_price", "mark_price",
            "unrealized_profit", "liquidation_price", "notional",
        }
    ),
)  # fmt: skip

BALANCE = ItemShape(
    "balance",
    "balances",
    (
        "account", "asset", "wallet_balance", "cross_wallet_balance", "available_balance",
        "update_time",
    ),
    decimals=frozenset({"wallet_balance", "cross_wallet_balance", "available_balance"}),
)  # fmt: skip

SHAPES = {s.name: s for s in (TRADE, ORDER, EVENT, INCOME, ALGO, POSITION, BALANCE)}
