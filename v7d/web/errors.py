"""The error envelope of every v7d HTTP answer: ``{"error": {"code": ..., "message": ...}}``.

Three sources of errors, one shape (DESIGN.md "HTTP (contract)"):

* :class:`ApiError`, raised by routes and :mod:`v7d.web.params` for bad input (400, 404,
  409, 422) or a service state (503); ``code`` is snake_case, ``message`` names the
  parameter and the bad value;
* Starlette's ``HTTPException`` (unknown route → ``not_found``, wrong method →
  ``method_not_allowed``);
* anything else: logged as ``unhandled_exception`` with the route, answered 500
  ``internal``. Tests treat any 500 as a bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ApiError",
    "CatchUnhandled",
    "envelope",
    "error_response",
    "exception_handlers",
]

log = structlog.get_logger(__name__)

# Codes for HTTPExceptions that Starlette itself raises (routing, body limits, ...).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_parameter",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """A request v7d refuses, rendered as the error envelope with ``status``.

    ``extra`` adds machine-readable fields next to ``code`` and ``message`` (for example
    the candidate symbols of a 409), never replacing them.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def envelope(code: str, message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {"error": {**(extra or {}), "code": code, "message": message}}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSONResponse carrying the error envelope."""
    return JSONResponse(
        envelope(code, message, extra), status_code=status, headers=dict(headers or {})
    )


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, extra=exc.extra, headers=exc.headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        allowed = headers.get("Allow") or headers.get("allow") or ""
        message = f"method {request.method} not allowed on {request.url.path}" + (
            f"; allowed: {allowed}" if allowed else ""
        )
    else:
        message = str(exc.detail)
    return error_response(status, _HTTP_CODES.get(status, "http_error"), message, headers=headers)


def exception_handlers() -> dict[Any, Any]:
    """The handlers to give ``Starlette(exception_handlers=...)``.

    Unexpected exceptions are not in here: Starlette's handler for ``Exception`` re-raises
    after answering (so servers log twice); :class:`CatchUnhandled` answers them instead.
    """
    return {ApiError: _api_error, HTTPException: _http_exception}


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or scope.get("path", "?"))


class CatchUnhandled:
    """ASGI middleware: an unexpected exception is logged and answered 500 ``internal``.

    If the answer had already started (a streamed export), nothing can be sent any more:
    the error is logged and re-raised so the server drops the connection, which the client
    sees as a truncated body rather than a silently short one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "unhandled_exception",
                route=_route_of(scope),
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(exc).__name__,
                response_started=started,
                exc_info=True,
            )
            if started:
                raise
            response = error_response(
                500, "internal", f"internal error ({type(exc).__name__}); see the daemon's log"
            )
            await response(scope, receive, send)
