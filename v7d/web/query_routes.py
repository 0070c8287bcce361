"""The query app's routes: lists, order events, statistics, export, metrics, schema.

Every route reads only the parameters :data:`v7d.web.q_openapi.ENDPOINTS` declares for it
(anything else is 400 ``unknown_parameter``, a repeated one 400 ``repeated_parameter``)
and hands the raw values to :class:`~v7d.query.api.HistoryQueryAPI`, where validation
lives once for HTTP and in-process callers alike; a
:class:`~v7d.query.errors.QueryError` becomes the error envelope. SQLite work runs in
Starlette's thread pool with one read-only connection per worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from v7d.errors import StoreError
from v7d.query.api import HistoryQueryAPI
from v7d.query.errors import QueryError
from v7d.web.errors import ApiError
from v7d.web.params import reject_unknown, str_param
from v7d.web.q_export import EXPORTS, export_response
from v7d.web.q_metrics import RequestMetrics, render
from v7d.web.q_openapi import ENDPOINTS, Endpoint, openapi_document

__all__ = ["build_query_routes"]

Handler = Callable[[Request], Awaitable[Response]]

# Endpoint name -> HistoryQueryAPI method for the routes that map one to one.
_LISTS = {
    "orders": "orders_page",
    "trades": "trades_page",
    "algo_orders": "algo_orders_page",
    "income": "income_page",
    "stats_summary": "summary",
    "stats_series": "series",
    "stats_compare": "compare",
    "stats_symbols": "symbols_answer",
}
# Routes whose API method returns a plain list: wrapped as {"items", "next_cursor": null}.
_WRAPPED = {
    "positions": "positions",
    "balances": "balances",
    "sync_coverage": "coverage",
}


def _api_error(exc: QueryError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, extra=exc.extra)


class _QueryContext:
    """What the handlers share: the store path, per-thread APIs and request metrics."""

    def __init__(
        self,
        db_path: str,
        timeout_ms: int,
        sync_status: Callable[[], Awaitable[dict[str, Any]]] | None,
        metrics: Callable[[], str] | None,
    ) -> None:
        self.db_path = db_path
        self.timeout_ms = timeout_ms
        self.sync_status = sync_status
        self.metrics = metrics
        self.requests = RequestMetrics()
        self._local = threading.local()

    def api(self) -> HistoryQueryAPI:
        """This worker thread's API (one read-only connection per thread)."""
        api = getattr(self._local, "api", None)
        if api is None:
            try:
                api = HistoryQueryAPI(self.db_path, timeout_ms=self.timeout_ms)
            except StoreError as exc:
                raise ApiError(
                    503, "store_unavailable", f"the store cannot be read: {exc}"
                ) from None
            self._local.api = api
        return api

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``HistoryQueryAPI.<method>(...)`` in the thread pool, errors as the envelope."""

        def run() -> Any:
            try:
                return getattr(self.api(), method)(*args, **kwargs)
            except QueryError as exc:
                raise _api_error(exc) from None

        return await run_in_threadpool(run)


def _args(request: Request, endpoint: Endpoint) -> dict[str, str]:
    """The declared query parameters that are present, as raw text."""
    reject_unknown(request, endpoint.query_names)
    out = {}
    for name in endpoint.query_names:
        value = str_param(request, name, max_length=512)
        if value is not None:
            out[name] = value
    return out


def _handler(ctx: _QueryContext, endpoint: Endpoint) -> Handler:
    name = endpoint.name

    async def handle(request: Request) -> Response:
        args = _args(request, endpoint)
        if name in _LISTS:
            return JSONResponse(await ctx.call(_LISTS[name], **args))
        if name in _WRAPPED:
            items = await ctx.call(_WRAPPED[name], **args)
            return JSONResponse({"items": items, "next_cursor": None})
        if name == "order_events":
            order_id = request.path_params["order_id"]
            return JSONResponse(await ctx.call("events_page", order_id, **args))
        if name == "export":
            return await _export(ctx, request, args)
        if name == "sync_status":
            if ctx.sync_status is None:
                raise ApiError(503, "unavailable", "sync status: no sync engine in this process")
            return JSONResponse(await ctx.sync_status())
        if name == "metrics":
            counts = await ctx.call("table_counts")
            gauges = await ctx.call("sync_gauges")
            return PlainTextResponse(
                render(counts, ctx.requests, ctx.metrics, gauges),
                media_type="text/plain; version=0.0.4; charset=utf-8",
            )
        return JSONResponse(openapi_document())

    return handle


async def _export(ctx: _QueryContext, request: Request, args: dict[str, str]) -> Response:
    what = request.path_params["what"]
    if what not in EXPORTS:
        raise ApiError(
            404, "not_found", f"what: no export {what!r}; use one of {', '.join(EXPORTS)}"
        )
    fmt = args.pop("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise ApiError(422, "invalid_parameter", f"format: expected csv or jsonl, got {fmt!r}")
    try:
        return await export_response(ctx.db_path, ctx.timeout_ms, what, fmt, args)
    except QueryError as exc:
        raise _api_error(exc) from None
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", f"the store cannot be read: {exc}") from None


def _timed(ctx: _QueryContext, route: str, handler: Handler) -> Handler:
    async def timed(request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status_code
            return response
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            ctx.requests.observe(route, status, time.perf_counter() - started)

    return timed


def build_query_routes(
    *,
    db_path: str,
    query_timeout_ms: int,
    sync_status: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    metrics: Callable[[], str] | None = None,
) -> list[BaseRoute]:
    """Every query route of DESIGN.md's table (all but /health and /control/*).

    ``sync_status`` answers ``/sync/status``; ``metrics`` returns the daemon's own
    Prometheus lines, appended to ``/metrics``.
    """
    ctx = _QueryContext(str(db_path), query_timeout_ms, sync_status, metrics)
    return [
        Route(e.path, _timed(ctx, e.path, _handler(ctx, e)), methods=["GET"], name=e.name)
        for e in ENDPOINTS
    ]
