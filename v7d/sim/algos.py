"""Algo (TP/SL/trailing conditional) orders: state and the allAlgoOrders row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from v7d.sim.numbers import fmt
from v7d.sim.orders import OrderState
from v7d.sim.symbols import SymbolSpec

__all__ = ["ALGO_FINAL", "AlgoState"]

ALGO_FINAL = frozenset({"CANCELED", "FINISHED", "REJECTED", "EXPIRED"})


@dataclass
class AlgoState:
    """A conditional order waiting in the algo book until it triggers."""

    spec: SymbolSpec
    algo_id: int
    client_id: str
    order_type: str
    side: str
    position_side: str
    qty: int
    trigger_price: int
    price: int
    create_time: int
    reduce_only: bool = False
    status: str = "NEW"
    update_time: int = 0
    trigger_time: int = 0
    actual: OrderState | None = None
    bucket_pos: int = -1

    def __post_init__(self) -> None:
        if not self.update_time:
            self.update_time = self.create_time

    @property
    def hidden_after_3d(self) -> bool:
        """Ended without an order ever executing: REST forgets it after 3 days."""
        return self.status in ("CANCELED", "EXPIRED", "REJECTED") and self.actual is None

    def row(self) -> dict[str, Any]:
        """The allAlgoOrders item."""
        s = self.spec
        ps = s.price_scale
        actual_price = self.actual.avg_price() if self.actual else fmt(0, ps + 3)
        return {
            "algoId": self.algo_id,
            "clientAlgoId": self.client_id,
            "algoType": "CONDITIONAL",
            "orderType": self.order_type,
            "symbol": s.name,
            "side": self.side,
            "positionSide": self.position_side,
            "timeInForce": "GTC",
            "quantity": fmt(self.qty, s.qty_scale),
            "algoStatus": self.status,
            "actualOrderId": str(self.actual.order_id) if self.actual else "",
            "actualPrice": actual_price,
            "triggerPrice": fmt(self.trigger_price, ps),
            "price": fmt(self.price, ps),
            "icebergQuantity": None,
            "tpTriggerPrice": fmt(0, ps),
            "tpPrice": fmt(0, ps),
            "slTriggerPrice": fmt(0, ps),
            "slPrice": fmt(0, ps),
            "tpOrderType": "",
            "selfTradePreventionMode": "NONE",
            "workingType": "CONTRACT_PRICE",
            "priceMatch": "NONE",
            "closePosition": False,
            "priceProtect": False,
            "reduceOnly": self.reduce_only,
            "createTime": self.create_time,
            "updateTime": self.update_time,
            "triggerTime": self.trigger_time,
            "goodTillDate": 0,
        }
