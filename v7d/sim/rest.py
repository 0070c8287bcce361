"""The Binance REST surface: endpoint table, weights, faults, auth, and the answers.

Pipeline per request (order matters and mirrors the exchange): count it, charge its
weight (429/418 when over), draw a fault, check key/timestamp/signature, run the
endpoint. Every answer carries ``X-MBX-USED-WEIGHT-1M``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from v7d.sim.auth import verify
from v7d.sim.binance_errors import BinanceError

if TYPE_CHECKING:
    from v7d.sim.simulator import Simulator

__all__ = ["ENDPOINTS", "Endpoint", "handle_fapi"]

Handler = Callable[["Simulator", dict[str, str]], Any]


@dataclass(frozen=True)
class Endpoint:
    """One Binance endpoint: weight (or weight function), security and handler."""

    weight: int
    security: str  # none | key | signed
    handler: Handler
    weight_no_symbol: int = 0  # e.g. openOrders: 40 without a symbol


def _time(sim: Simulator, p: dict[str, str]) -> Any:
    return {"serverTime": sim.clock.server_ms()}


def _delete_key(sim: Simulator, p: dict[str, str]) -> Any:
    sim.keys.delete()
    return {}


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/fapi/v1/ping"): Endpoint(1, "none", lambda sim, p: {}),
    ("GET", "/fapi/v1/time"): Endpoint(1, "none", _time),
    ("GET", "/fapi/v1/exchangeInfo"): Endpoint(1, "none", lambda sim, p: sim.exchange_info()),
    ("GET", "/fapi/v1/userTrades"): Endpoint(
        5, "signed", lambda sim, p: sim.queries.user_trades(p)
    ),
    ("GET", "/fapi/v1/allOrders"): Endpoint(5, "signed", lambda sim, p: sim.queries.all_orders(p)),
    ("GET", "/fapi/v1/order"): Endpoint(1, "signed", lambda sim, p: sim.queries.order(p)),
    ("GET", "/fapi/v1/openOrders"): Endpoint(
        1, "signed", lambda sim, p: sim.queries.open_orders(p), weight_no_symbol=40
    ),
    ("GET", "/fapi/v1/income"): Endpoint(30, "signed", lambda sim, p: sim.queries.income(p)),
    ("GET", "/fapi/v1/allAlgoOrders"): Endpoint(
        5, "signed", lambda sim, p: sim.queries.all_algo_orders(p)
    ),
    ("GET", "/fapi/v2/positionRisk"): Endpoint(
        5,
        "signed",
        lambda sim, p: sim.snapshots.position_risk_v2(sim.queries.symbol(p, required=False)),
    ),
    ("GET", "/fapi/v3/positionRisk"): Endpoint(
        5,
        "signed",
        lambda sim, p: sim.snapshots.position_risk_v3(sim.queries.symbol(p, required=False)),
    ),
    ("GET", "/fapi/v2/account"): Endpoint(5, "signed", lambda sim, p: sim.snapshots.account_v2()),
    ("GET", "/fapi/v3/account"): Endpoint(5, "signed", lambda sim, p: sim.snapshots.account_v3()),
    ("GET", "/fapi/v2/balance"): Endpoint(5, "signed", lambda sim, p: sim.snapshots.balance_v2()),
    ("POST", "/fapi/v1/order"): Endpoint(1, "signed", lambda sim, p: sim.trading.place(p)),
    ("DELETE", "/fapi/v1/order"): Endpoint(1, "signed", lambda sim, p: sim.trading.cancel(p)),
    ("POST", "/fapi/v1/listenKey"): Endpoint(
        1, "key", lambda sim, p: {"listenKey": sim.keys.create()}
    ),
    ("PUT", "/fapi/v1/listenKey"): Endpoint(
        1, "key", lambda sim, p: {"listenKey": sim.keys.keepalive()}
    ),
    ("DELETE", "/fapi/v1/listenKey"): Endpoint(1, "key", _delete_key),
}

TRADING = frozenset({("POST", "/fapi/v1/order"), ("DELETE", "/fapi/v1/order")})


def _json(body: bytes, status: int, headers: dict[str, str]) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _error(e: BinanceError, headers: dict[str, str]) -> Response:
    body = orjson.dumps({"code": e.code, "msg": e.msg})
    return _json(body, e.status, {**headers, **e.headers})


async def handle_fapi(sim: Simulator, request: Request) -> Response:
    """Serve one /fapi request like Binance would."""
    method, path = request.method, request.url.path
    name = f"{method} {path}"
    ep = ENDPOINTS.get((method, path))
    stats = sim.stats
    stats.count_request(name)
    if (method, path) in TRADING:
        stats.trading_requests += 1
    ip = request.client.host if request.client else "unknown"
    if ep is None:
        return Response(
            b"<html><body><h2>404 Not found</h2></body></html>", 404, media_type="text/html"
        )
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    raw_body = (
        (await request.body()).decode("latin-1") if method in ("POST", "PUT", "DELETE") else ""
    )
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if raw_body:
        params.update(parse_qsl(raw_body, keep_blank_values=True))
    weight = ep.weight_no_symbol if ep.weight_no_symbol and not params.get("symbol") else ep.weight
    verdict = sim.limiter.check(ip, weight)
    stats.add_weight(name, weight if verdict.status == 200 else 0)
    headers = {"X-MBX-USED-WEIGHT-1M": str(verdict.used)}
    if verdict.status != 200:
        return _limited(sim, verdict.status, verdict.retry_after_s, verdict.until_ms, ip, headers)
    decision = sim.faults.rest()
    if decision.kind == "storm":
        v = sim.limiter.storm(ip, sim.faults.rates.storm_ms)
        return _limited(sim, 429, v.retry_after_s, v.until_ms, ip, headers)
    if decision.kind in ("5xx", "timeout"):
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        stats.faults_served[decision.kind] += 1
        return Response(
            decision.body, decision.status, headers=headers, media_type=decision.content_type
        )
    if decision.kind == "slow":
        stats.faults_served["slow"] += 1
        await asyncio.sleep(decision.delay_s)
    try:
        if ep.security != "none":
            verify(
                api_key_header=request.headers.get("x-mbx-apikey"),
                api_key=sim.api_key,
                secret=sim.secret,
                raw_query=raw_query,
                raw_body=raw_body,
                params=params,
                server_ms=sim.clock.server_ms(),
                signed=ep.security == "signed",
            )
        result = ep.handler(sim, params)
    except BinanceError as e:
        stats.errors[str(e.code)] += 1
        return _error(e, headers)
    if (method, path) in TRADING:
        headers.update(sim.order_count_headers())
    body = result if isinstance(result, bytes) else orjson.dumps(result)
    return _json(body, 200, headers)


def _limited(
    sim: Simulator, status: int, wait_s: int, until_ms: int, ip: str, headers: dict[str, str]
) -> Response:
    if status == 418:
        sim.stats.served_418 += 1
        err = BinanceError(
            -1003,
            f"Way too many requests; IP({ip}) banned until {until_ms}. "
            "Please use the websocket for live updates to avoid bans.",
            418,
        )
    else:
        sim.stats.served_429 += 1
        err = BinanceError(
            -1003,
            f"Too many requests; current limit of IP({ip}) is "
            f"{sim.limiter.limit} requests per minute. Please use the "
            "websocket for live updates to avoid polling the API.",
            429,
        )
    if sim.opts.retry_after:
        headers = {**headers, "Retry-After": str(wait_s)}
    return _error(err, headers)
