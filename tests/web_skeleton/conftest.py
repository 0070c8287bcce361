"""Fixtures for the web skeleton tests: a demo app with routes that exercise every helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from v7d.web.app import create_app
from v7d.web.errors import ApiError
from v7d.web.params import (
    bool_param,
    cursor_param,
    enum_param,
    int_param,
    limit_param,
    reject_unknown,
    str_param,
    symbol_param,
    time_range,
)


class FixedHealth:
    """A health source answering whatever the test sets."""

    def __init__(self, ok: bool = True, details: dict[str, Any] | None = None) -> None:
        self.ok = ok
        self.details = details or {}

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """The configured answer."""
        return self.ok, self.details


async def echo(request: Request) -> Response:
    """Validate every kind of parameter and echo the parsed values."""
    reject_unknown(
        request,
        {"n", "start_ms", "end_ms", "limit", "side", "symbol", "note", "maker", "cursor"},
    )
    start_ms, end_ms = time_range(request)
    return JSONResponse(
        {
            "n": int_param(request, "n", default=7, minimum=0, maximum=100),
            "start_ms": start_ms,
            "end_ms": end_ms,
            "limit": limit_param(request),
            "side": enum_param(request, "side", ("BUY", "SELL")),
            "symbol": symbol_param(request),
            "note": str_param(request, "note", max_length=10),
            "maker": bool_param(request, "maker"),
            "cursor": cursor_param(request, 2),
        }
    )


async def needs(request: Request) -> Response:
    """A route with a required parameter."""
    return JSONResponse({"symbol": symbol_param(request, required=True)})


async def conflict(_request: Request) -> Response:
    """A route refusing with a 409 carrying extra fields."""
    raise ApiError(
        409, "ambiguous_order", "order 1 exists under 2 symbols", extra={"symbols": ["A1", "B2"]}
    )


async def boom(_request: Request) -> Response:
    """A route with a bug."""
    raise RuntimeError("bug in a route")


async def boom_midstream(_request: Request) -> Response:
    """A streamed answer that fails after it started."""

    async def body() -> AsyncIterator[bytes]:
        yield b"first,line\n"
        raise RuntimeError("export broke")

    return StreamingResponse(body(), media_type="text/csv")


ROUTES = [
    Route("/echo", echo),
    Route("/needs", needs),
    Route("/conflict", conflict),
    Route("/boom", boom),
    Route("/boom-midstream", boom_midstream),
    Route("/post-only", echo, methods=["POST"]),
]


@pytest.fixture
def health() -> FixedHealth:
    """A healthy source the test may change."""
    return FixedHealth()


@pytest.fixture
async def client(health: FixedHealth) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the demo app in-process."""
    app = create_app(routes=ROUTES, health=health)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://v7d") as c:
        yield c
