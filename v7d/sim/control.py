"""The ``/_sim/`` control surface (never confused with Binance paths): truth, stats,
info, faults, activity, dropping stream connections, warming the whole history."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from v7d.sim.truth import truth

if TYPE_CHECKING:
    from v7d.sim.simulator import Simulator

__all__ = ["control_routes"]


def _ok(obj: Any) -> Response:
    return Response(orjson.dumps(obj), 200, media_type="application/json")


def _bad(message: str, status: int = 400) -> Response:
    return Response(
        orjson.dumps({"error": {"code": "bad_request", "message": message}}),
        status,
        media_type="application/json",
    )


def _int_arg(request: Request, name: str) -> int | None:
    v = request.query_params.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"{name} must be an integer (epoch ms), got {v!r}") from None


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def control_routes(sim: Simulator) -> list[Route]:
    """Routes of the control surface bound to ``sim``."""

    async def get_truth(request: Request) -> Response:
        try:
            start, end = _int_arg(request, "start_ms"), _int_arg(request, "end_ms")
        except ValueError as e:
            return _bad(str(e))
        return _ok(truth(sim.account, start, end))

    async def get_stats(request: Request) -> Response:
        return _ok(sim.stats_snapshot())

    async def get_info(request: Request) -> Response:
        return _ok(sim.info())

    async def post_faults(request: Request) -> Response:
        try:
            body = await _json_body(request)
            profile = body.get("profile")
            if not isinstance(profile, str):
                raise ValueError("profile: expected a string such as 'flaky'")
            rates = body.get("rates") or {}
            if not isinstance(rates, dict):
                raise ValueError("rates: expected an object")
            sim.set_faults(profile, **rates)
        except (ValueError, TypeError) as e:
            return _bad(str(e))
        return _ok(sim.faults.describe())

    async def post_activity(request: Request) -> Response:
        try:
            body = await _json_body(request)
            return _ok(sim.activity.add(**body))
        except (ValueError, TypeError) as e:
            return _bad(str(e))

    async def post_warm(request: Request) -> Response:
        # generate the whole history now (benchmarks measure it; tests never need it)
        wall, cpu = time.perf_counter(), time.process_time()
        counts = sim.account.warm()
        return _ok(
            {
                **counts,
                "seconds": round(time.perf_counter() - wall, 3),
                "cpu_seconds": round(time.process_time() - cpu, 3),
            }
        )

    async def post_drop(request: Request) -> Response:
        return _ok({"dropped": sim.hub.drop_connections()})

    return [
        Route("/_sim/truth", get_truth, methods=["GET"]),
        Route("/_sim/stats", get_stats, methods=["GET"]),
        Route("/_sim/info", get_info, methods=["GET"]),
        Route("/_sim/faults", post_faults, methods=["POST"]),
        Route("/_sim/activity", post_activity, methods=["POST"]),
        Route("/_sim/drop_connections", post_drop, methods=["POST"]),
        Route("/_sim/warm", post_warm, methods=["POST"]),
    ]
