"""The cut a statistic is computed over: account, symbol, side, position side, order
type, order status, client-id prefix and time window.

One :class:`Cut` yields the SQL conditions for each source table. Trades carry symbol,
side and position side themselves; order type, status and client-id prefix live on the
order, so those cuts join the trade to its order (a trade whose order is not in the
store is then left out). Income rows (funding) carry only account, symbol and time:
under a side, position-side or order-level cut they cannot be attributed, and the
statistics say so (``funding_included: false``) instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from v7d.query.validate import (
    account_arg,
    enum_arg,
    prefix_arg,
    symbol_arg,
    time_range,
)

__all__ = [
    "ORDER_STATUSES",
    "ORDER_TYPES",
    "POSITION_SIDES",
    "SIDES",
    "Cut",
    "make_cut",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SIDES = ("BUY", "SELL")
POSITION_SIDES = ("BOTH", "LONG", "SHORT")
ORDER_STATUSES = (
    "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED",
)  # fmt: skip
ORDER_TYPES = (
    "LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET", "LIQUIDATION",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cut:
    """Validated statistics filters (None: no restriction)."""

    account: str | None = None
    symbol: str | None = None
    side: str | None = None
    position_side: str | None = None
    order_type: str | None = None
    status: str | None = None
    client_order_id_prefix: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The cut as answer data (echoed in every stats answer)."""
        return asdict(self)

    @property
    def order_level(self) -> bool:
        """True when the cut needs the trade's order (type, status, prefix)."""
        return any(
            v is not None for v in (self.order_type, self.status, self.client_order_id_prefix)
        )

    @property
    def income_attributable(self) -> bool:
        """Income rows (funding) fit this cut: no side, position-side or order-level cut."""
        return not self.order_level and self.side is None and self.position_side is None

    @property
    def hour_aligned(self) -> bool:
        """Both window ends are whole UTC hours (or open): the hourly rollups answer."""
        return all(v is None or v % HOUR_MS == 0 for v in (self.start_ms, self.end_ms))

    def _order_conds(self, alias: str) -> tuple[list[str], list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        if self.order_type is not None:
            conds.append(f"{alias}.type = ?")
            params.append(self.order_type)
        if self.status is not None:
            conds.append(f"{alias}.status = ?")
            params.append(self.status)
        if self.client_order_id_prefix is not None:
            prefix = self.client_order_id_prefix
            conds.append(f"substr({alias}.client_order_id, 1, ?) = ?")
            params.extend([len(prefix), prefix])
        return conds, params

    def _common(
        self, alias: str, time_col: str, *, sides: bool = True
    ) -> tuple[list[str], list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        pairs: list[tuple[str, Any]] = [("account", self.account), ("symbol", self.symbol)]
        if sides:
            pairs += [("side", self.side), ("position_side", self.position_side)]
        for col, value in pairs:
            if value is not None:
                conds.append(f"{alias}.{col} = ?")
                params.append(value)
        if self.start_ms is not None:
            conds.append(f"{alias}.{time_col} >= ?")
            params.append(self.start_ms)
        if self.end_ms is not None:
            conds.append(f"{alias}.{time_col} < ?")
            params.append(self.end_ms)
        return conds, params

    def trade_where(self, alias: str = "t") -> tuple[str, list[Any]]:
        """WHERE text (never empty) and params selecting the cut's trades."""
        conds, params = self._common(alias, "time")
        if self.order_level:
            oc, op = self._order_conds("o")
            conds.append(
                "EXISTS (SELECT 1 FROM orders o WHERE o.account = "
                f"{alias}.account AND o.symbol = {alias}.symbol AND o.order_id = "
                f"{alias}.order_id AND {' AND '.join(oc)})"
            )
            params.extend(op)
        return " AND ".join(conds) or "1", params

    def order_where(self, alias: str = "o") -> tuple[str, list[Any]]:
        """WHERE text and params selecting the cut's orders (by creation time)."""
        conds, params = self._common(alias, "time")
        oc, op = self._order_conds(alias)
        return " AND ".join(conds + oc) or "1", params + op

    def income_where(self, alias: str = "i") -> tuple[str, list[Any]]:
        """WHERE text and params selecting the cut's income rows."""
        conds, params = self._common(alias, "time", sides=False)
        return " AND ".join(conds) or "1", params

    def hourly_where(
        self, alias: str, *, sides: bool, column: str = "hour_ms"
    ) -> tuple[str, list[Any]]:
        """WHERE over a rollup table (``hour_ms``, or ``day_ms`` of a daily one); only valid
        when the window ends are whole buckets of that table."""
        conds, params = self._common(alias, column, sides=sides)
        return " AND ".join(conds) or "1", params


def make_cut(
    *,
    account: Any = None,
    symbol: Any = None,
    side: Any = None,
    position_side: Any = None,
    order_type: Any = None,
    status: Any = None,
    client_order_id_prefix: Any = None,
    start_ms: Any = None,
    end_ms: Any = None,
    prefix_name: str = "client_order_id_prefix",
    start_name: str = "start_ms",
    end_name: str = "end_ms",
) -> Cut:
    """Validate raw arguments into a :class:`Cut` (raises QueryError naming the argument)."""
    start, end = time_range(start_ms, end_ms, start_name=start_name, end_name=end_name)
    return Cut(
        account=account_arg(account),
        symbol=symbol_arg(symbol),
        side=enum_arg("side", side, SIDES),
        position_side=enum_arg("position_side", position_side, POSITION_SIDES),
        order_type=enum_arg("order_type", order_type, ORDER_TYPES),
        status=enum_arg("status", status, ORDER_STATUSES),
        client_order_id_prefix=prefix_arg(client_order_id_prefix, prefix_name),
        start_ms=start,
        end_ms=end,
    )
