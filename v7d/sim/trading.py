"""REST trading: ``POST /fapi/v1/order`` and ``DELETE /fapi/v1/order`` with simple matching.

MARKET orders fill at once at the mark price; LIMIT orders fill at once when marketable
(GTX post-only orders expire instead), expire when IOC/FOK and not marketable, and
otherwise rest until the price path crosses them (v7d.sim.activity.Activity.match).
Conditional types belong to the algo API on Binance and are refused here (-4120).
"""

from __future__ import annotations

from typing import Any

from v7d.sim.activity import Activity
from v7d.sim.binance_errors import BinanceError, invalid_symbol, mandatory
from v7d.sim.numbers import POW
from v7d.sim.orders import OrderState
from v7d.sim.prices import mark_price
from v7d.sim.symbols import SymbolSpec

__all__ = ["Trading"]


class Trading:
    """Order entry over REST, on top of :class:`Activity`."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity
        self.acct = activity.acct
        self.clock = activity.clock

    def place(self, p: dict[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/order (MARKET and LIMIT; conditional types live in the algo API)."""
        spec = self._spec(p)
        if not spec.listed or spec.status != "TRADING":
            raise BinanceError(-4140, "Invalid symbol status for opening position.")
        side = p.get("side", "")
        if side not in ("BUY", "SELL"):
            raise mandatory("side")
        type_ = p.get("type", "")
        if not type_:
            raise mandatory("type")
        if type_ in (
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ):
            raise BinanceError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if type_ not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        qty = _decimal_units(p.get("quantity"), spec.qty_scale, "quantity")
        ps = p.get("positionSide", "BOTH")
        hedge = self.acct.opts.hedge_mode
        if (hedge and ps not in ("LONG", "SHORT")) or (not hedge and ps != "BOTH"):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        cid = p.get("newClientOrderId") or None
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        mark = mark_price(spec, self.clock.now_ms())
        if type_ == "MARKET":
            o = self.activity.new_order(
                spec,
                side=side,
                type_="MARKET",
                qty=qty,
                cid=cid,
                position_side=ps,
                reduce_only=reduce_only,
            )
            self.activity.fill(o, qty, mark, maker=False)
            return _response(o)
        tif = p.get("timeInForce", "")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise mandatory("timeInForce")
        price = _decimal_units(p.get("price"), spec.price_scale, "price")
        o = self.activity.new_order(
            spec,
            side=side,
            type_="LIMIT",
            qty=qty,
            price=price,
            tif=tif,
            cid=cid,
            position_side=ps,
            reduce_only=reduce_only,
        )
        marketable = (side == "BUY" and price >= mark) or (side == "SELL" and price <= mark)
        if marketable and tif == "GTX":
            self.activity.end(o, "EXPIRED", er="6")
        elif marketable:
            self.activity.fill(o, qty, mark, maker=False)
        elif tif in ("IOC", "FOK"):
            self.activity.end(o, "EXPIRED", er="2")
        return _response(o)

    def cancel(self, p: dict[str, str]) -> dict[str, Any]:
        """DELETE /fapi/v1/order."""
        spec = self._spec(p)
        oid = p.get("orderId")
        cid = p.get("origClientOrderId")
        if not oid and not cid:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        self.acct.load_open()
        for (name, order_id), o in list(self.acct.open_orders.items()):
            if name == spec.name and (
                (oid and oid.isdigit() and int(oid) == order_id) or (cid and o.client_id == cid)
            ):
                self.activity.end(o)
                return _response(o)
        raise BinanceError(-2011, "Unknown order sent.")

    def _spec(self, p: dict[str, str]) -> SymbolSpec:
        name = p.get("symbol")
        if not name:
            raise mandatory("symbol")
        spec = self.acct.specs.get(name)
        if spec is None:
            raise invalid_symbol()
        return spec


def _decimal_units(raw: str | None, scale: int, name: str) -> int:
    if not raw:
        raise mandatory(name)
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise mandatory(name)
    if len(frac) > scale:
        raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    units = int(whole) * POW[scale] + (int(frac.ljust(scale, "0")) if frac else 0)
    if units <= 0:
        raise BinanceError(
            -4003,
            "Quantity less than or equal to zero."
            if name == "quantity"
            else "Price less than or equal to zero.",
        )
    return units


def _response(o: OrderState) -> dict[str, Any]:
    row = o.row()
    f = o.fields()
    return {
        "clientOrderId": row["clientOrderId"],
        "cumQty": f["executedQty"],
        "cumQuote": row["cumQuote"],
        "executedQty": row["executedQty"],
        "orderId": row["orderId"],
        "avgPrice": row["avgPrice"],
        "origQty": row["origQty"],
        "price": row["price"],
        "reduceOnly": row["reduceOnly"],
        "side": row["side"],
        "positionSide": row["positionSide"],
        "status": row["status"],
        "stopPrice": row["stopPrice"],
        "closePosition": False,
        "symbol": row["symbol"],
        "timeInForce": row["timeInForce"],
        "type": row["type"],
        "origType": row["origType"],
        "updateTime": row["updateTime"],
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
    }
