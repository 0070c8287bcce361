"""The one mapping from HTTP status, Binance code and exceptions to v7d's error classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ccxt.base import errors as ccxt_errors

from v7d.binance.errors import ListenKeyGone, OrderGone, error_code, map_exchange_error, redact
from v7d.errors import (
    AuthError,
    BadRequest,
    ClockSkew,
    ExchangeError,
    RateLimited,
    TransientError,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"


def body(name: str) -> str:
    return (PAYLOADS / f"error_{name}.json").read_text()


class TestStatusAndCode:
    @pytest.mark.parametrize(
        ("status", "name", "cls", "code"),
        [
            (401, "invalid_key", AuthError, -2015),
            (400, "key_format", AuthError, -2014),
            (400, "bad_signature", AuthError, -1022),
            (400, "timestamp_recv_window", ClockSkew, -1021),
            (400, "listen_key_missing", ListenKeyGone, -1125),
            (400, "order_not_found", OrderGone, -2013),
            (400, "illegal_range", BadRequest, -1100),
            (400, "mandatory_param", BadRequest, -1102),
            (400, "invalid_symbol", BadRequest, -1121),
            (400, "window_too_long", BadRequest, -1127),
            (400, "invalid_limit", BadRequest, -1130),
            (503, "service_unavailable", TransientError, -1001),
            (429, "rate_limit", RateLimited, -1003),
            (418, "ip_banned", RateLimited, -1003),
        ],
    )
    def test_recorded_error_bodies(
        self, status: int, name: str, cls: type[ExchangeError], code: int
    ) -> None:
        """Each recorded error body maps to the class that says what to do, code kept."""
        err = map_exchange_error(status, body(name), what="GET /fapi/v1/userTrades")
        assert type(err) is cls
        assert err.code == code
        assert err.status == status
        assert str(code) in str(err)
        assert "/fapi/v1/userTrades" in str(err)

    def test_bad_request_keeps_the_exchange_message(self) -> None:
        """A refused request keeps Binance's own message for the bug report."""
        err = map_exchange_error(400, body("invalid_symbol"))
        assert "Invalid symbol." in str(err)

    @pytest.mark.parametrize("status", [403, 408, 500, 502, 503, 504])
    def test_waf_timeouts_and_5xx_are_transient(self, status: int) -> None:
        """403 (WAF), 408 and 5xx without a Binance body are transient."""
        err = map_exchange_error(status, "<html>oops</html>")
        assert isinstance(err, TransientError)
        assert err.status == status

    def test_418_is_told_apart_from_429(self) -> None:
        """Both are RateLimited, but the status says which, with a longer default for 418."""
        banned = map_exchange_error(418, "")
        limited = map_exchange_error(429, "")
        assert isinstance(banned, RateLimited) and banned.status == 418
        assert isinstance(limited, RateLimited) and limited.status == 429
        assert banned.retry_after > limited.retry_after

    def test_retry_after_header_wins(self) -> None:
        """The Retry-After the answer carried is the one the error reports."""
        err = map_exchange_error(429, body("rate_limit"), retry_after=7.0)
        assert isinstance(err, RateLimited)
        assert err.retry_after == 7.0

    def test_error_code_in_a_200_body(self) -> None:
        """A Binance error code with HTTP 200 is still an error."""
        assert isinstance(map_exchange_error(200, '{"code":-1121,"msg":"x"}'), BadRequest)

    def test_error_code_parsing(self) -> None:
        """error_code reads text, bytes and dicts, and says None for anything else."""
        assert error_code('{"code":-1021,"msg":"m"}') == (-1021, "m")
        assert error_code(b'{"code":"-1003"}') == (-1003, "")
        assert error_code({"code": -1, "msg": "x"}) == (-1, "x")
        assert error_code("not json") == (None, "")
        assert error_code([1, 2]) == (None, "")


class TestExceptions:
    @pytest.mark.parametrize(
        ("exc", "cls"),
        [
            (ccxt_errors.RequestTimeout("binanceusdm GET http://h/x"), TransientError),
            (ccxt_errors.ExchangeNotAvailable("binanceusdm GET http://h/x"), TransientError),
            (ccxt_errors.InvalidNonce("binanceusdm -1021"), ClockSkew),
            (ccxt_errors.DDoSProtection("binanceusdm 429"), RateLimited),
            (ccxt_errors.AuthenticationError("binanceusdm -2015"), AuthError),
            (ccxt_errors.BadSymbol("binanceusdm -1121"), BadRequest),
            (ccxt_errors.ExchangeError("binanceusdm GET http://h/x"), TransientError),
            (TimeoutError(), TransientError),
            (ConnectionResetError("reset"), TransientError),
        ],
    )
    def test_exception_classes(self, exc: BaseException, cls: type[ExchangeError]) -> None:
        """ccxt's and Python's exceptions map to the class that says what to do."""
        assert type(map_exchange_error(exc)) is cls

    def test_v7d_errors_pass_through(self) -> None:
        """An error that is already a v7d error is returned unchanged."""
        err = AuthError("x")
        assert map_exchange_error(err) is err


class TestRedaction:
    def test_signature_never_in_message(self) -> None:
        """The query string (timestamp, signature) never reaches an error message."""
        url = "http://127.0.0.1:9/fapi/v1/userTrades?symbol=BTCUSDT&timestamp=1&signature=abcdef"
        err = map_exchange_error(ccxt_errors.RequestTimeout(f"binanceusdm GET {url}"))
        assert "signature" not in str(err)
        assert "abcdef" not in str(err)
        assert "/fapi/v1/userTrades" in str(err)

    def test_listen_key_is_cut_to_four_chars(self) -> None:
        """A listenKey in a stream URL or a parameter shows only its first 4 characters."""
        key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
        text = redact(f"connect ws://h/private/ws/{key} failed; listenKey={key}")
        assert key not in text
        assert "/private/ws/pqia…" in text
        assert "listenKey=…" in text

    def test_json_body_round_trip(self) -> None:
        """Binance's msg text appears in the message as sent."""
        msg = json.loads(body("window_too_long"))["msg"]
        assert msg in str(map_exchange_error(400, body("window_too_long")))
