"""The one mapping from what the exchange did to :mod:`v7d.errors`.

:func:`map_exchange_error` takes either an HTTP status (with the body Binance sent) or an
exception raised on the way (ccxt's classes, asyncio/aiohttp network errors) and returns
the v7d error that says what the caller does next:

=====================================================  ===============================
what happened                                          v7d error
=====================================================  ===============================
-2014 / -2015 / -1022 / -2008, HTTP 401                AuthError (stop this account)
HTTP 429 / 418, -1003                                  RateLimited(retry_after)
-1021 (timestamp outside recvWindow), InvalidNonce     ClockSkew (resync, retry once)
-1125 (listenKey does not exist)                       ListenKeyGone (re-create the key)
-2013 (order does not exist)                           OrderGone (a BadRequest)
HTTP 403 (WAF), 408, 5xx, -1000/-1001/-1006/-1007/     TransientError (backoff + jitter)
-1008, timeouts, dropped connections, bad JSON
-1100 / -1102 / -1121 / -1127 / -1130, other 4xx       BadRequest (code and msg kept)
=====================================================  ===============================

Binance's futures hosts do not send ``Retry-After`` reliably (it is documented for spot
only), so without one a :class:`~v7d.errors.RateLimited` carries a conservative default;
the :class:`~v7d.binance.budget.RateBudget` has already blocked until the right moment.

Nothing secret reaches a message: :func:`redact` strips query strings (``signature``,
``timestamp``), ``listenKey`` values and the key in a stream URL's path.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from v7d.errors import (
    AuthError,
    BadRequest,
    ClockSkew,
    ExchangeError,
    RateLimited,
    TransientError,
)

__all__ = ["ListenKeyGone", "OrderGone", "error_code", "map_exchange_error", "redact"]

AUTH_CODES = frozenset({-2014, -2015, -1022, -2008})
TRANSIENT_CODES = frozenset({-1000, -1001, -1006, -1007, -1008, -1016})
RATE_LIMIT_CODES = frozenset({-1003})
CLOCK_CODES = frozenset({-1021})
LISTEN_KEY_GONE = -1125
ORDER_GONE = -2013

#: Retry-After defaults (seconds) when the answer carried none.
DEFAULT_RETRY_AFTER_429 = 60.0
DEFAULT_RETRY_AFTER_418 = 120.0

_QUERY = re.compile(r"(\b(?:https?|wss?)://[^\s?#'\"]*)\?[^\s'\"]*")
_SECRET_PARAM = re.compile(r"\b(signature|listenKey|timestamp)=[^&\s'\"]*", re.IGNORECASE)
_WS_KEY_PATH = re.compile(r"(/ws/)([A-Za-z0-9]{4})[A-Za-z0-9]{8,}")


class ListenKeyGone(BadRequest):
    """-1125: the listenKey no longer exists; the stream client creates a new one."""


class OrderGone(BadRequest):
    """-2013: the order does not exist (never did, or is past Binance's REST retention)."""


def redact(text: str) -> str:
    """``text`` without query strings, signatures or listenKeys (first 4 chars kept)."""
    text = _QUERY.sub(r"\1", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=…", text)
    return _WS_KEY_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)


def error_code(body: Any) -> tuple[int | None, str]:
    """Binance's ``(code, msg)`` from an error body (text or parsed); ``(None, "")`` if none."""
    parsed = body
    if isinstance(body, bytes | str):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None, ""
    if isinstance(parsed, dict):
        code = parsed.get("code")
        msg = parsed.get("msg")
        if isinstance(code, int | str) and not isinstance(code, bool):
            try:
                number = int(code)
            except ValueError:
                return None, ""
            return number, str(msg) if msg is not None else ""
    return None, ""


def map_exchange_error(
    exc_or_status: BaseException | int,
    body: Any = None,
    *,
    retry_after: float | None = None,
    what: str = "",
) -> ExchangeError:
    """The v7d error for an HTTP ``status`` + ``body``, or for an exception raised on the way.

    ``what`` names the request (e.g. ``"GET /fapi/v1/userTrades"``) for the message; it is
    redacted like everything else. ``retry_after`` is the answer's Retry-After header.
    """
    prefix = f"{redact(what)}: " if what else ""
    if isinstance(exc_or_status, ExchangeError):
        return exc_or_status
    if isinstance(exc_or_status, BaseException):
        return _from_exception(exc_or_status, prefix)
    return _from_status(int(exc_or_status), body, retry_after, prefix)


def _from_status(status: int, body: Any, retry_after: float | None, prefix: str) -> ExchangeError:
    code, msg = error_code(body)
    shown = f"HTTP {status}" + (f" code {code}: {redact(msg)}" if code is not None else "")
    if status == 418 or status == 429 or code in RATE_LIMIT_CODES:
        limited = 418 if status == 418 else 429
        default = DEFAULT_RETRY_AFTER_418 if limited == 418 else DEFAULT_RETRY_AFTER_429
        wait = retry_after if retry_after is not None else default
        text = f"{prefix}rate limited ({shown}); retry after {wait:g} s"
        return RateLimited(text, retry_after=wait, status=limited, code=code)
    if code in AUTH_CODES or status == 401:
        return AuthError(f"{prefix}API key rejected ({shown})", status=status, code=code)
    if code in CLOCK_CODES:
        return ClockSkew(f"{prefix}clock skew ({shown})", status=status, code=code)
    if code == LISTEN_KEY_GONE:
        return ListenKeyGone(f"{prefix}listenKey gone ({shown})", status=status, code=code)
    if code == ORDER_GONE:
        return OrderGone(f"{prefix}order does not exist ({shown})", status=status, code=code)
    if status in (403, 408) or status >= 500 or code in TRANSIENT_CODES:
        what = "blocked by the web application firewall" if status == 403 else "exchange error"
        return TransientError(f"{prefix}{what} ({shown})", status=status, code=code)
    if status >= 400 or code is not None:
        return BadRequest(f"{prefix}request refused ({shown})", status=status, code=code)
    return TransientError(f"{prefix}unexpected answer (HTTP {status})", status=status)


def _ccxt_names(exc: BaseException) -> set[str]:
    """Names of ccxt's exception classes ``exc`` is an instance of (ccxt is not imported)."""
    return {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("ccxt.")}


def _from_exception(exc: BaseException, prefix: str) -> ExchangeError:
    names = _ccxt_names(exc)
    detail = redact(str(exc)) or type(exc).__name__
    if names:
        if "InvalidNonce" in names:
            return ClockSkew(f"{prefix}clock skew ({detail})")
        if "DDoSProtection" in names or "RateLimitExceeded" in names:
            return RateLimited(
                f"{prefix}rate limited ({detail})", retry_after=DEFAULT_RETRY_AFTER_429
            )
        if "AuthenticationError" in names:
            return AuthError(f"{prefix}API key rejected ({detail})")
        if "NetworkError" in names or "OperationFailed" in names:
            return TransientError(f"{prefix}network error ({detail})")
        if "BadRequest" in names or "InvalidOrder" in names or "NotSupported" in names:
            return BadRequest(f"{prefix}request refused ({detail})")
        # ccxt wraps any other aiohttp.ClientError in a bare ExchangeError.
        return TransientError(f"{prefix}exchange error ({detail})")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return TransientError(f"{prefix}timed out")
    if isinstance(exc, OSError | EOFError | ConnectionError):
        return TransientError(f"{prefix}network error ({type(exc).__name__}: {detail})")
    if isinstance(exc, ValueError):
        return TransientError(f"{prefix}unreadable answer ({detail})")
    return TransientError(f"{prefix}unexpected failure ({type(exc).__name__}: {detail})")
