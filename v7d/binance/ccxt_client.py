"""ccxt's ``binanceusdm``, adapted for v7d (used only by :mod:`v7d.binance.rest`).

Verified against ccxt 4.5.90's source (``async_support/base/exchange.py`` ``fetch``,
``binance.py`` ``handle_errors`` and ``urls``):

- ``fetch()`` calls ``on_rest_response(status, reason, url, method, headers, body, …)``
  once per response with *that* response's headers: the override hands the status,
  ``X-MBX-USED-WEIGHT-1M`` and ``Retry-After`` to the budget. ``last_response_headers``
  is one attribute shared by concurrent requests, so it is never read.
- ``handle_errors`` raises ``DDoSProtection`` for both 418 and 429 and picks its
  Binance-code table by host name (``https://fapi.binance.com/``…), which a custom host
  such as the simulator's does not match. The override maps status + body with
  :func:`~v7d.binance.errors.map_exchange_error` itself, for every host alike.
- ``urls["api"]["fapi*"]`` entries are rewritten to the configured REST root.

ccxt is imported by the caller (lazily); this module only receives its class.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from v7d.binance.budget import RateBudget
from v7d.binance.errors import error_code, map_exchange_error, redact

__all__ = ["client_class", "point_at"]


def point_at(ex: Any, rest_url: str) -> None:
    """Rewrite every ``fapi*`` URL of ccxt's table to ``rest_url``, keeping each path."""
    for name, url in list(ex.urls["api"].items()):
        if name.startswith("fapi") and isinstance(url, str):
            ex.urls["api"][name] = rest_url + urlsplit(url).path


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.split(",")[0].strip())
    except ValueError:
        return None


def client_class(base: type) -> type:
    """ccxt's binanceusdm with v7d's per-response hook and error mapping (see module doc)."""

    class _V7dBinanceUsdm(base):  # type: ignore[misc]
        v7d_budget: RateBudget | None = None

        def on_rest_response(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            response_headers: dict[str, Any],
            response_body: str,
            request_headers: Any,
            request_body: Any,
        ) -> str:
            used = _number(_header(response_headers, "x-mbx-used-weight-1m"))
            retry_after = _number(_header(response_headers, "retry-after"))
            if self.v7d_budget is not None:
                self.v7d_budget.observe(
                    status=int(code),
                    used_weight_1m=int(used) if used is not None else None,
                    retry_after=retry_after,
                )
            return response_body.strip() if isinstance(response_body, str) else response_body

        def handle_errors(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            headers: dict[str, Any],
            body: str,
            response: Any,
            request_headers: Any,
            request_body: Any,
        ) -> None:
            binance_code, _ = error_code(response if response is not None else body)
            failed = binance_code is not None and binance_code < 0
            if int(code) >= 400 or failed:
                what = f"{method} {redact(urlsplit(url).path)}"
                retry_after = _number(_header(headers, "retry-after"))
                raise map_exchange_error(int(code), body, retry_after=retry_after, what=what)

    return _V7dBinanceUsdm
