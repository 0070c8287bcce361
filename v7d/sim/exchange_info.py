"""GET /fapi/v1/exchangeInfo: the listed symbols and the simulator's own rate limits."""

from __future__ import annotations

from typing import Any

import orjson

from v7d.sim.numbers import fmt
from v7d.sim.symbols import SymbolSpec, Universe

__all__ = ["exchange_info", "symbols_json"]

_ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]


def _symbol(s: SymbolSpec) -> dict[str, Any]:
    perpetual = s.contract_type == "PERPETUAL"
    return {
        "symbol": s.name,
        "pair": s.name.split("_")[0],
        "contractType": s.contract_type,
        "deliveryDate": 4133404800000 if perpetual else 1798185600000,
        "onboardDate": 1569398400000,
        "status": s.status,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": s.base,
        "quoteAsset": s.quote,
        "marginAsset": s.margin_asset,
        "pricePrecision": s.price_scale,
        "quantityPrecision": s.qty_scale,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": s.tick,
                "maxPrice": fmt(10**12, 0),
                "tickSize": s.tick,
            },
            {"filterType": "LOT_SIZE", "stepSize": s.step, "minQty": s.step, "maxQty": "100000000"},
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": s.step,
                "minQty": s.step,
                "maxQty": "100000000",
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": _ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def symbols_json(universe: Universe) -> bytes:
    """The ``symbols`` array, serialised (callers cache it: it never changes)."""
    return orjson.dumps([_symbol(s) for s in universe.listed()])


def exchange_info(universe: Universe, weight_limit: int, server_ms: int, symbols: bytes) -> bytes:
    """The exchangeInfo body around the pre-serialised ``symbols`` array."""
    assets = sorted({s.margin_asset for s in universe.listed()} | {"BNB"})
    head = {
        "timezone": "UTC",
        "serverTime": server_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "0"} for a in assets],
    }
    return orjson.dumps(head)[:-1] + b',"symbols":' + symbols + b"}"
