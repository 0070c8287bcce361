"""The query API described as data: every route, its parameters and its answer.

The routes (:mod:`v7d.web.query_routes`) read their accepted parameter names from
:data:`ENDPOINTS`, and ``/openapi.json`` is generated from the same data, so the schema
cannot drift from what the server accepts. Tests fuzz the routes from this schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v7d import __version__
from v7d.query.api import ALGO_STATUSES, BUCKETS, INCOME_TYPES
from v7d.query.cuts import ORDER_STATUSES, ORDER_TYPES, POSITION_SIDES, SIDES
from v7d.query.items import ALGO, BALANCE, EVENT, INCOME, ORDER, POSITION, TRADE, ItemShape
from v7d.query.validate import MAX_LIMIT, MAX_MS

__all__ = ["ENDPOINTS", "Endpoint", "Param", "openapi_document"]


@dataclass(frozen=True, slots=True)
class Param:
    """One query or path parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    location: str = "query"
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "description": self.description,
            "schema": self.schema,
        }


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One GET route of the query app."""

    path: str
    name: str
    summary: str
    params: tuple[Param, ...] = ()
    answer: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    media: str = "application/json"

    @property
    def query_names(self) -> tuple[str, ...]:
        """Names of the query-string parameters (what ``reject_unknown`` allows)."""
        return tuple(p.name for p in self.params if p.location == "query")


def _ms(name: str, what: str) -> Param:
    return Param(name, {"type": "integer", "minimum": 0, "maximum": MAX_MS}, what)


def _enum(name: str, values: tuple[str, ...] | list[str], what: str) -> Param:
    return Param(name, {"type": "string", "enum": list(values)}, what)


ACCOUNT = Param("account", {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}, "account name")
SYMBOL = Param("symbol", {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9_]{1,31}$"}, "e.g. BTCUSDT")
START = _ms("start_ms", "window start, inclusive (epoch ms)")
END = _ms("end_ms", "window end, exclusive (epoch ms)")
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 500},
              "page size")  # fmt: skip
CURSOR = Param("cursor", {"type": "string"}, "next_cursor of the previous page")
PREFIX = Param(
    "client_order_id_prefix", {"type": "string", "maxLength": 36}, "client order id prefix"
)
CUT = (
    ACCOUNT, SYMBOL, _enum("side", SIDES, "order side"),
    _enum("position_side", POSITION_SIDES, "position side"),
    _enum("order_type", ORDER_TYPES, "order type"),
    _enum("status", ORDER_STATUSES, "order status (current)"), PREFIX, START, END,
)  # fmt: skip


def _items(shape: ItemShape) -> dict[str, Any]:
    types = {"bool": "boolean", "int": "integer", "str": "string"}
    props = {}
    for f in shape.fields:
        kind = "bool" if f in shape.bools else "str"
        if f in (
            "id",
            "order_id",
            "time",
            "update_time",
            "event_time",
            "transaction_time",
            "trade_id",
            "tran_id",
            "algo_id",
        ) and not (shape is INCOME and f == "trade_id"):
            kind = "int"  # fmt: skip
        props[f] = {"type": types[kind]}
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": props}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _stats(*keys: str) -> dict[str, Any]:
    return {"type": "object", "required": list(keys),
            "properties": {k: {} for k in keys}}  # fmt: skip


_SUMMARY = _stats(
    "cut",
    "funding_included",
    "assets",
    "commission_by_asset",
    "income_by_type",
    "by_side",
    "closing",
    "drawdown",
    "execution",
    "coverage",
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/sync/status", "sync_status", "Sync state per account (streams, cursors, "
             "weight, last error, lag)"),
    Endpoint("/sync/coverage", "sync_coverage", "Coverage ledger per account, endpoint and "
             "symbol", (ACCOUNT, _enum("endpoint", ["userTrades", "allOrders", "income",
             "allAlgoOrders", "openOrders", "stream"], "sync endpoint"), SYMBOL),
             _stats("items", "next_cursor")),
    Endpoint("/orders", "orders", "Orders (latest version), ascending by creation time",
             (SYMBOL, _enum("status", ORDER_STATUSES, "order status"),
              _enum("side", SIDES, "order side"), START, END, ACCOUNT, PREFIX, LIMIT, CURSOR),
             _items(ORDER)),
    Endpoint("/trades", "trades", "User trades, ascending by (time, symbol, id)",
             (SYMBOL, Param("order_id", {"type": "integer", "minimum": 0}, "order id"), START,
              END, ACCOUNT, PREFIX, LIMIT, CURSOR), _items(TRADE)),
    Endpoint("/orders/{order_id}/events", "order_events", "An order's life-cycle, oldest "
             "first (409 when the id exists under several symbols)",
             (Param("order_id", {"type": "integer", "minimum": 0}, "order id", "path"),
              SYMBOL, ACCOUNT, LIMIT, CURSOR), _items(EVENT)),
    Endpoint("/algo-orders", "algo_orders", "TP/SL/trailing (algo) orders",
             (SYMBOL, _enum("status", ALGO_STATUSES, "algo status"), START, END, ACCOUNT,
              LIMIT, CURSOR), _items(ALGO)),
    Endpoint("/income", "income", "Income rows (realized PnL, commission, funding, ...)",
             (SYMBOL, _enum("type", INCOME_TYPES, "incomeType"), START, END, ACCOUNT, LIMIT,
              CURSOR), _items(INCOME)),
    Endpoint("/positions", "positions", "Current positions", (ACCOUNT, SYMBOL),
             _items(POSITION)),
    Endpoint("/balances", "balances", "Current balances", (ACCOUNT,), _items(BALANCE)),
    Endpoint("/stats/summary", "stats_summary", "PnL, fees, funding, fee drag, closing-order "
             "results, drawdown, execution quality, coverage (docs/stats.md)", CUT, _SUMMARY),
    Endpoint("/stats/symbols", "stats_symbols", "One row per symbol with the headline "
             "figures", CUT, _stats("items", "next_cursor", "coverage")),
    Endpoint("/stats/series", "stats_series", "Per-bucket and cumulative net PnL, fees, "
             "funding", (_enum("bucket", tuple(BUCKETS), "bucket length (UTC)"), *CUT),
             _stats("bucket", "cut", "funding_included", "items", "coverage")),
    Endpoint("/stats/compare", "stats_compare", "Two summaries side by side with deltas",
             (_ms("a_start_ms", "A window start"), _ms("a_end_ms", "A window end"),
              _ms("b_start_ms", "B window start"), _ms("b_end_ms", "B window end"),
              Param("a_prefix", {"type": "string", "maxLength": 36}, "A client-id prefix"),
              Param("b_prefix", {"type": "string", "maxLength": 36}, "B client-id prefix"),
              *(p for p in CUT if p.name != "client_order_id_prefix")),
             _stats("a", "b", "deltas")),
    Endpoint("/export/{what}", "export", "Streamed export (CSV or JSON lines)",
             (Param("what", {"type": "string", "enum": ["trades", "orders", "income"]},
                    "what to export", "path"),
              _enum("format", ("csv", "jsonl"), "csv (default) or jsonl"), START, END,
              SYMBOL, ACCOUNT), {"type": "string"}, "text/csv"),
    Endpoint("/metrics", "metrics", "Prometheus text exposition", (), {"type": "string"},
             "text/plain"),
    Endpoint("/openapi.json", "openapi", "This schema"),
)  # fmt: skip

_ERROR = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"],
                                 "properties": {"code": {"type": "string"},
                                                "message": {"type": "string"}}}},
    }}},
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the query app (plus ``/health``)."""
    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "Liveness and readiness", "operationId": "health",
                            "responses": {"200": {"description": "ok"}, "503": _ERROR}}}
    }  # fmt: skip
    for e in ENDPOINTS:
        paths[e.path] = {
            "get": {
                "operationId": e.name,
                "summary": e.summary,
                "parameters": [p.openapi() for p in e.params],
                "responses": {
                    "200": {"description": "ok", "content": {e.media: {"schema": e.answer}}},
                    "400": _ERROR, "404": _ERROR, "409": _ERROR, "422": _ERROR, "503": _ERROR,
                },
            }
        }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "v7d query API", "version": __version__},
        "paths": paths,
    }
