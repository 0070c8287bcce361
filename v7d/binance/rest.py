"""Signed REST calls to Binance USDⓈ-M through ccxt's raw endpoint methods.

ccxt does the signing (HMAC-SHA256 over the query, ``timestamp``, ``recvWindow``), the
HTTP session and the URL building; its raw methods (``fapiPrivateGetUserTrades`` …)
return Binance's own JSON. v7d changes four things in a subclass of
``ccxt.async_support.binanceusdm`` (:mod:`v7d.binance.ccxt_client`; verified against
ccxt 4.5.90's source):

- ``enableRateLimit=False``: the process-wide :class:`~v7d.binance.budget.RateBudget` is
  the only throttle (ccxt's own knows nothing of other programs on the IP).
- every ``fapi*`` URL points at ``rest_url`` (live, testnet, or the simulator).
- ``on_rest_response`` — called by ``fetch()`` once per response, with *that* response's
  headers — hands the status, ``X-MBX-USED-WEIGHT-1M`` and ``Retry-After`` to the budget.
  ``last_response_headers`` is one shared attribute, wrong under concurrency.
- ``handle_errors`` raises v7d's errors via :func:`~v7d.binance.errors.map_exchange_error`
  from the status it was given (ccxt raises ``DDoSProtection`` for both 418 and 429, and
  picks its code tables by host name, which the simulator's host does not match).

ccxt's own ``loadMarkets``/time fetching never runs: only raw methods are called, and
``adjustForTimeDifference`` stays False. :meth:`BinanceRest.resync_clock` measures the
offset through the budget (ccxt's ``load_time_difference`` would bypass it) and sets the
same ``options["timeDifference"]`` that ccxt's ``nonce()`` subtracts.

``import ccxt.async_support`` costs about 0.9 s and 100 MB, so it happens in
:meth:`BinanceRest.open`, not at import time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar, Protocol, cast

import structlog

from v7d.binance.budget import Priority, RateBudget
from v7d.binance.ccxt_client import client_class, point_at
from v7d.binance.errors import (
    ListenKeyGone,
    OrderGone,
    map_exchange_error,
)
from v7d.binance.retry import OnRetry, call_with_retry
from v7d.errors import BadRequest, ExchangeError, TransientError

__all__ = ["BinanceRest", "Credentials"]

log = structlog.get_logger(__name__)

_CCXT_LOGGER = logging.getLogger("v7d.binance.ccxt")
_CCXT_LOGGER.setLevel(logging.WARNING)

P = Priority.INCREMENTAL


class Credentials(Protocol):
    """What BinanceRest needs of a credentials object (:class:`v7d.credentials.Credentials`).

    Read-only properties, so that frozen dataclasses satisfy it.
    """

    @property
    def api_key(self) -> str: ...

    @property
    def secret(self) -> str: ...


class BinanceRest:
    """One account's REST client. Every method: ``budget.acquire`` → ccxt raw call →
    headers to the budget; errors are v7d errors, retried by :func:`call_with_retry`.

    ``retry_attempts`` = 1 turns retries of transient faults and 429s off (the caller then
    owns them); a -1021 is always answered with one clock resync and one retry.
    """

    #: Request weight per endpoint (shared/reference/binance-usdm.md §4).
    WEIGHTS: ClassVar[dict[str, int]] = {
        "time": 1,
        "exchangeInfo": 1,
        "userTrades": 5,
        "allOrders": 5,
        "order": 1,
        "openOrders": 1,
        "openOrdersAll": 40,
        "income": 30,
        "allAlgoOrders": 5,
        "positionRisk": 5,
        "account": 5,
        "listenKey": 1,
    }

    def __init__(
        self,
        *,
        rest_url: str,
        credentials: Credentials,
        budget: RateBudget,
        account: str = "default",
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        retry_attempts: int = 4,
        retry_base_s: float = 0.5,
        retry_cap_s: float = 30.0,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.account = account
        self.budget = budget
        self._credentials = credentials
        self._recv_window_ms = recv_window_ms
        self._timeout_s = timeout_s
        self._retry_attempts = retry_attempts
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._on_retry = on_retry
        self._ex: Any = None
        self._network_errors: tuple[type[BaseException], ...] = ()
        self._resync_lock = asyncio.Lock()
        self._resynced_at = 0.0
        self.time_offset_ms = 0
        self.last_error: str | None = None

    # -- life cycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Create the ccxt client (imports ccxt) and its HTTP session settings."""
        if self._ex is not None:
            return
        import aiohttp
        import ccxt.async_support as ccxt_async
        from ccxt.base.errors import BaseError

        self._network_errors = (BaseError, aiohttp.ClientError, OSError, TimeoutError)
        klass = client_class(ccxt_async.binanceusdm)
        self._ex = klass(
            {
                "apiKey": self._credentials.api_key,
                "secret": self._credentials.secret,
                "enableRateLimit": False,
                "timeout": int(self._timeout_s * 1000),
                # ccxt logs every signed URL and the key header at DEBUG: never let it.
                "logger": _CCXT_LOGGER,
                "options": {
                    "recvWindow": self._recv_window_ms,
                    "adjustForTimeDifference": False,
                    "timeDifference": 0,
                },
            }
        )
        self._ex.v7d_budget = self.budget
        point_at(self._ex, self.rest_url)

    async def close(self) -> None:
        """Close the HTTP session; the client can be opened again."""
        ex, self._ex = self._ex, None
        if ex is not None:
            await ex.close()

    async def __aenter__(self) -> BinanceRest:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- endpoints -----------------------------------------------------------------------

    async def server_time(self, *, priority: Priority = P) -> int:
        """``GET /fapi/v1/time`` → server time (ms). Weight 1.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Check-Server-Time
        """
        answer = await self._call("time", "fapiPublicGetTime", {}, priority, dict)
        return int(answer["serverTime"])

    async def exchange_info(self, *, priority: Priority = P) -> dict[str, Any]:
        """``GET /fapi/v1/exchangeInfo``; also sets the budget's REQUEST_WEIGHT limit. Weight 1.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information
        """
        info: dict[str, Any] = await self._call(
            "exchangeInfo", "fapiPublicGetExchangeInfo", {}, priority, dict
        )
        limit = request_weight_limit(info)
        if limit is not None:
            self.budget.set_weight_limit(limit)
        return info

    async def user_trades(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
        limit: int = 1000,
        priority: Priority = P,
    ) -> list[dict[str, Any]]:
        """``GET /fapi/v1/userTrades``: ≤ 7-day window, or ``fromId`` alone. Weight 5.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Account-Trade-List
        """
        params = _params(
            symbol=symbol, startTime=start_ms, endTime=end_ms, fromId=from_id, limit=limit
        )
        return await self._rows("userTrades", "fapiPrivateGetUserTrades", params, priority)

    async def all_orders(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        order_id: int | None = None,
        limit: int = 1000,
        priority: Priority = P,
    ) -> list[dict[str, Any]]:
        """``GET /fapi/v1/allOrders``: ≤ 7-day window, ``orderId`` = ids ≥ it. Weight 5.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/All-Orders
        """
        params = _params(
            symbol=symbol, startTime=start_ms, endTime=end_ms, orderId=order_id, limit=limit
        )
        return await self._rows("allOrders", "fapiPrivateGetAllOrders", params, priority)

    async def order(self, symbol: str, order_id: int, *, priority: Priority = P) -> dict[str, Any]:
        """``GET /fapi/v1/order``; an order past retention raises ``OrderGone``. Weight 1.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Query-Order
        """
        params = _params(symbol=symbol, orderId=order_id)
        return await self._object("order", "fapiPrivateGetOrder", params, priority)

    async def open_orders(
        self, symbol: str | None = None, *, priority: Priority = P
    ) -> list[dict[str, Any]]:
        """``GET /fapi/v1/openOrders``: weight 1 with a symbol, 40 without.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Current-All-Open-Orders
        """
        key = "openOrders" if symbol else "openOrdersAll"
        params = _params(symbol=symbol)
        return await self._rows(
            key, "fapiPrivateGetOpenOrders", params, priority, path="openOrders"
        )

    async def income(
        self,
        *,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        page: int | None = None,
        limit: int = 1000,
        priority: Priority = P,
    ) -> list[dict[str, Any]]:
        """``GET /fapi/v1/income`` (last 3 months; ``page`` for rows sharing a time). Weight 30.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History
        """
        params = _params(
            symbol=symbol,
            incomeType=income_type,
            startTime=start_ms,
            endTime=end_ms,
            page=page,
            limit=limit,
        )
        return await self._rows("income", "fapiPrivateGetIncome", params, priority)

    async def all_algo_orders(
        self,
        *,
        symbol: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        page: int | None = None,
        limit: int = 1000,
        priority: Priority = P,
    ) -> list[dict[str, Any]]:
        """``GET /fapi/v1/allAlgoOrders``: TP/SL/trailing orders. Weight 5.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Query-All-Algo-Orders
        """
        params = _params(symbol=symbol, startTime=start_ms, endTime=end_ms, page=page, limit=limit)
        return await self._rows("allAlgoOrders", "fapiPrivateGetAllAlgoOrders", params, priority)

    async def position_risk(self, *, priority: Priority = P) -> list[dict[str, Any]]:
        """``GET /fapi/v3/positionRisk``: symbols with a position or open orders. Weight 5.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3
        """
        return await self._rows("positionRisk", "fapiPrivateV3GetPositionRisk", {}, priority)

    async def account_info(self, *, priority: Priority = P) -> dict[str, Any]:
        """``GET /fapi/v3/account``: balances (``assets``) and positions. Weight 5.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Information-V3
        """
        return await self._object("account", "fapiPrivateV3GetAccount", {}, priority)

    async def listen_key_create(self, *, priority: Priority = Priority.GAP_REPAIR) -> str:
        """``POST /fapi/v1/listenKey``: a 60-minute key (the active one, extended). Weight 1.

        https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Start-User-Data-Stream
        """
        answer = await self._call(
            "listenKey", "fapiPrivatePostListenKey", {}, priority, dict, method="POST"
        )
        key = answer.get("listenKey")
        if not isinstance(key, str) or not key:
            raise TransientError("POST /fapi/v1/listenKey: answer without a listenKey")
        return key

    async def listen_key_keepalive(
        self, key: str, *, priority: Priority = Priority.GAP_REPAIR
    ) -> None:
        """``PUT /fapi/v1/listenKey``: extend the key 60 minutes; -1125 → ``ListenKeyGone``.

        USDⓈ-M takes no parameter here: the key belongs to the API key (``key`` is accepted
        for the interface and for logs, never sent).
        """
        await self._call("listenKey", "fapiPrivatePutListenKey", {}, priority, dict, method="PUT")

    async def listen_key_delete(
        self, key: str, *, priority: Priority = Priority.GAP_REPAIR
    ) -> None:
        """``DELETE /fapi/v1/listenKey``: close the API key's stream key (no parameter)."""
        await self._call(
            "listenKey", "fapiPrivateDeleteListenKey", {}, priority, dict, method="DELETE"
        )

    # -- clock ---------------------------------------------------------------------------

    async def resync_clock(self) -> int:
        """Measure the offset to the server's clock and sign with it; returns it (ms).

        Concurrent callers that hit -1021 together share one measurement.
        """
        requested = time.monotonic()
        async with self._resync_lock:
            if self._resynced_at > requested:
                return self.time_offset_ms
            before = time.time() * 1000
            server = await self._call_once(
                "time", "fapiPublicGetTime", {}, Priority.GAP_REPAIR, dict, "GET", None
            )
            after = time.time() * 1000
            offset = round((before + after) / 2 - int(server["serverTime"]))
            self._require_open().options["timeDifference"] = offset
            self.time_offset_ms = offset
            self.budget.set_server_offset(offset / 1000)
            self._resynced_at = time.monotonic()
            log.info("exchange_clock_resync", account=self.account, offset_ms=offset)
            return offset

    # -- the one call path ---------------------------------------------------------------

    async def _rows(
        self,
        key: str,
        method_name: str,
        params: dict[str, Any],
        priority: Priority,
        *,
        path: str | None = None,
    ) -> list[dict[str, Any]]:
        """``_call`` for a GET answering a JSON array of objects."""
        answer = await self._call(key, method_name, params, priority, list, path=path)
        return cast(list[dict[str, Any]], answer)

    async def _object(
        self, key: str, method_name: str, params: dict[str, Any], priority: Priority
    ) -> dict[str, Any]:
        """``_call`` for a GET answering one JSON object."""
        return cast(dict[str, Any], await self._call(key, method_name, params, priority, dict))

    async def _call(
        self,
        key: str,
        method_name: str,
        params: dict[str, Any],
        priority: Priority,
        expect: type,
        *,
        method: str = "GET",
        path: str | None = None,
    ) -> Any:
        async def once() -> Any:
            return await self._call_once(key, method_name, params, priority, expect, method, path)

        try:
            return await call_with_retry(
                once,
                attempts=self._retry_attempts,
                base=self._retry_base_s,
                cap=self._retry_cap_s,
                on_retry=self._retried,
                resync=self.resync_clock,
            )
        except (OrderGone, ListenKeyGone):
            raise  # expected answers (retention, expiry): the caller acts on them
        except BadRequest as exc:
            # Never retried: a bug of ours or a changed API. Say exactly what was asked.
            log.error(
                "exchange_bad_request",
                account=self.account,
                request=f"{method} {_PATHS.get(path or key, key)}",
                params=params,
                code=exc.code,
                status=exc.status,
                error=str(exc),
            )
            raise

    async def _call_once(
        self,
        key: str,
        method_name: str,
        params: dict[str, Any],
        priority: Priority,
        expect: type,
        method: str,
        path: str | None,
    ) -> Any:
        ex = self._require_open()
        what = f"{method} {_PATHS.get(path or key, '/' + (path or key))}"
        await self.budget.acquire(self.WEIGHTS[key], priority)
        try:
            answer = await getattr(ex, method_name)(params)
        except ExchangeError as exc:
            self.last_error = str(exc)
            raise
        except self._network_errors as exc:
            err = map_exchange_error(exc, what=what)
            self.last_error = str(err)
            # "from None": ccxt's message carries the signed URL; keep it out of tracebacks.
            raise err from None
        if not isinstance(answer, expect):
            raise TransientError(f"{what}: unexpected answer type {type(answer).__name__}")
        return answer

    def _retried(self, exc: Exception, attempt: int, delay: float) -> None:
        log.warning(
            "exchange_retry",
            account=self.account,
            error=type(exc).__name__,
            detail=str(exc),
            attempt=attempt,
            delay_s=round(delay, 3),
        )
        if self._on_retry is not None:
            self._on_retry(exc, attempt, delay)

    def _require_open(self) -> Any:
        if self._ex is None:
            raise RuntimeError("BinanceRest is not open: await rest.open() first")
        return self._ex


_PATHS = {
    "time": "/fapi/v1/time",
    "exchangeInfo": "/fapi/v1/exchangeInfo",
    "userTrades": "/fapi/v1/userTrades",
    "allOrders": "/fapi/v1/allOrders",
    "order": "/fapi/v1/order",
    "openOrders": "/fapi/v1/openOrders",
    "income": "/fapi/v1/income",
    "allAlgoOrders": "/fapi/v1/allAlgoOrders",
    "positionRisk": "/fapi/v3/positionRisk",
    "account": "/fapi/v3/account",
    "listenKey": "/fapi/v1/listenKey",
}


def _params(**values: Any) -> dict[str, Any]:
    """Binance's parameters without the unset ones."""
    return {k: v for k, v in values.items() if v is not None}


def request_weight_limit(info: dict[str, Any]) -> int | None:
    """exchangeInfo's REQUEST_WEIGHT limit per minute, or None if it lists none."""
    for rule in info.get("rateLimits") or ():
        if not isinstance(rule, dict) or rule.get("rateLimitType") != "REQUEST_WEIGHT":
            continue
        try:
            limit, num = int(rule["limit"]), int(rule.get("intervalNum", 1))
        except (KeyError, TypeError, ValueError):
            continue
        if rule.get("interval") == "MINUTE" and num == 1 and limit > 0:
            return limit
    return None
