"""Request validation helpers: accepted and refused cases of each, and opaque cursors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from v7d.web.errors import ApiError
from v7d.web.params import decode_cursor, encode_cursor
from v7d.web.testing import assert_error_envelope

DEFAULTS: dict[str, Any] = {
    "n": 7,
    "start_ms": None,
    "end_ms": None,
    "limit": 500,
    "side": None,
    "symbol": None,
    "note": None,
    "maker": None,
    "cursor": None,
}


async def echo(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    """GET /echo?query and return the parsed values (asserting 200)."""
    resp = await client.get(f"/echo?{query}")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


class TestAccepted:
    """Valid values are parsed to the right types; absent ones give defaults."""

    async def test_defaults(self, client: httpx.AsyncClient) -> None:
        """No parameters: every default."""
        assert await echo(client, "") == DEFAULTS

    @pytest.mark.parametrize(
        ("query", "key", "value"),
        [
            ("n=0", "n", 0),
            ("n=100", "n", 100),
            ("n=", "n", 7),
            ("start_ms=0", "start_ms", 0),
            ("start_ms=1700000000000", "start_ms", 1700000000000),
            ("end_ms=9223372036854775807", "end_ms", 2**63 - 1),
            ("limit=1", "limit", 1),
            ("limit=1000", "limit", 1000),
            ("side=SELL", "side", "SELL"),
            ("symbol=BTCUSDT", "symbol", "BTCUSDT"),
            ("symbol=1000PEPEUSDT", "symbol", "1000PEPEUSDT"),
            ("note=hello%20you", "note", "hello you"),
            ("maker=true", "maker", True),
            ("maker=0", "maker", False),
        ],
    )
    async def test_value(self, client: httpx.AsyncClient, query: str, key: str, value: Any) -> None:
        """Each accepted value parses to the expected Python value."""
        assert (await echo(client, query))[key] == value

    async def test_range(self, client: httpx.AsyncClient) -> None:
        """start < end is a valid half-open range."""
        got = await echo(client, "start_ms=10&end_ms=11")
        assert (got["start_ms"], got["end_ms"]) == (10, 11)

    async def test_cursor(self, client: httpx.AsyncClient) -> None:
        """A cursor made by encode_cursor comes back decoded."""
        got = await echo(client, f"cursor={encode_cursor((1700000000000, 'x-1'))}")
        assert got["cursor"] == [1700000000000, "x-1"]


class TestRefused:
    """Bad values are refused with a code and a message naming parameter and value."""

    @pytest.mark.parametrize(
        ("query", "status", "code", "message"),
        [
            ("n=abc", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "abc"'),
            ("n=101", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "101"'),
            ("n=-1", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "-1"'),
            ("n=1e2", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "1e2"'),
            ("n=%2B5", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "+5"'),
            ("n=1_0", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "1_0"'),
            ("n=%205", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got " 5"'),
            ("n=1.0", 422, "invalid_parameter", 'n: expected an integer from 0 to 100, got "1.0"'),
            (
                "start_ms=-5",
                422,
                "invalid_parameter",
                'start_ms: expected an integer >= 0, got "-5"',
            ),
            (
                "end_ms=9223372036854775808",
                422,
                "invalid_parameter",
                'end_ms: expected an integer >= 0, got "9223372036854775808"',
            ),
            (
                "end_ms=99999999999999999999999",
                422,
                "invalid_parameter",
                'end_ms: expected an integer >= 0, got "99999999999999999999999"',
            ),
            (
                "start_ms=5&end_ms=5",
                422,
                "invalid_range",
                "start_ms: must be before end_ms (the range is [start_ms, end_ms)), "
                "got start_ms=5 and end_ms=5",
            ),
            ("start_ms=6&end_ms=5", 422, "invalid_range", "start_ms: must be before end_ms"),
            (
                "limit=0",
                422,
                "invalid_parameter",
                'limit: expected an integer from 1 to 1000, got "0"',
            ),
            (
                "limit=1001",
                422,
                "invalid_parameter",
                'limit: expected an integer from 1 to 1000, got "1001"',
            ),
            (
                "limit=all",
                422,
                "invalid_parameter",
                'limit: expected an integer from 1 to 1000, got "all"',
            ),
            ("side=buy", 422, "invalid_parameter", 'side: expected one of BUY, SELL, got "buy"'),
            (
                "symbol=btcusdt",
                422,
                "invalid_parameter",
                'symbol: expected a symbol like "BTCUSDT" (symbols are upper-case), got "btcusdt"',
            ),
            (
                "symbol=B",
                422,
                "invalid_parameter",
                'symbol: expected a symbol like "BTCUSDT", got "B"',
            ),
            (
                "symbol=BTC-USDT",
                422,
                "invalid_parameter",
                'symbol: expected a symbol like "BTCUSDT", got "BTC-USDT"',
            ),
            ("note=" + "x" * 11, 422, "invalid_parameter", "note: expected at most 10 characters"),
            ("maker=yes", 422, "invalid_parameter", 'maker: expected true or false, got "yes"'),
            (
                "limit=5&limit=6",
                400,
                "repeated_parameter",
                "limit: given 2 times, expected once",
            ),
            (
                "lmit=5",
                400,
                "unknown_parameter",
                'lmit: unknown parameter (did you mean "limit"?); this endpoint takes: ',
            ),
            ("zzz=1", 400, "unknown_parameter", "zzz: unknown parameter; this endpoint takes: "),
            ("cursor=!!!", 400, "invalid_cursor", "cursor: not a cursor this server made"),
        ],
    )
    async def test_refused(
        self, client: httpx.AsyncClient, query: str, status: int, code: str, message: str
    ) -> None:
        """The answer is the envelope with the expected status, code and message."""
        error = assert_error_envelope(await client.get(f"/echo?{query}"), status, code)
        assert error["message"].startswith(message)

    async def test_required_missing(self, client: httpx.AsyncClient) -> None:
        """A required parameter that is absent or empty is 400 missing_parameter."""
        for query in ("", "symbol="):
            error = assert_error_envelope(
                await client.get(f"/needs?{query}"), 400, "missing_parameter"
            )
            assert error["message"] == "symbol: required"

    async def test_required_given(self, client: httpx.AsyncClient) -> None:
        """A required parameter that is given is returned."""
        assert (await client.get("/needs?symbol=ETHUSDT")).json() == {"symbol": "ETHUSDT"}

    async def test_long_value_is_shortened_in_message(self, client: httpx.AsyncClient) -> None:
        """A huge bad value is cut in the message instead of echoed whole."""
        error = assert_error_envelope(
            await client.get("/echo?symbol=" + "A" * 5000), 422, "invalid_parameter"
        )
        assert len(error["message"]) < 200


class TestCursor:
    """Opaque cursors round-trip, and anything tampered is 400 invalid_cursor."""

    @given(
        st.tuples(
            st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
            st.text(max_size=40),
        )
    )
    def test_round_trip(self, values: tuple[int, str]) -> None:
        """decode(encode(v)) == v for (int, str) keys, and the cursor is URL-safe."""
        cursor = encode_cursor(values)
        assert decode_cursor(cursor, 2) == values
        assert all(c.isalnum() or c in "-_" for c in cursor)

    @pytest.mark.parametrize(
        "cursor",
        [
            "",
            "!!!!",
            "a",
            base64.urlsafe_b64encode(b"not json").decode(),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
            encode_cursor([1]),  # wrong arity
            encode_cursor([1, 2, 3]),
            base64.urlsafe_b64encode(b'{"a":1}').decode(),  # not a list
            encode_cursor([True, 1]),
            encode_cursor([None, 1]),
            encode_cursor([[1], 2]),
            encode_cursor([2**70, 1]),
            base64.urlsafe_b64encode(b"[NaN,1]").decode(),
            "A" * 2000,
        ],
    )
    def test_tampered(self, cursor: str) -> None:
        """A cursor this server did not make is refused as 400 invalid_cursor."""
        with pytest.raises(ApiError) as info:
            decode_cursor(cursor, 2)
        assert (info.value.status, info.value.code) == (400, "invalid_cursor")
        assert info.value.message.startswith("cursor: ")

    def test_flipped_character(self) -> None:
        """Changing one character of a real cursor never yields a 500, only 400 or a tuple."""
        cursor = encode_cursor((1700000000000, 123456))
        for i in range(len(cursor)):
            for c in "A_-0z":
                tampered = cursor[:i] + c + cursor[i + 1 :]
                try:
                    values = decode_cursor(tampered, 2)
                except ApiError as exc:
                    assert exc.code == "invalid_cursor"
                else:
                    assert len(values) == 2

    async def test_tampered_over_http(self, client: httpx.AsyncClient) -> None:
        """Over HTTP a bad cursor is the 400 envelope."""
        resp = await client.get(f"/echo?cursor={encode_cursor([1])}")
        error = assert_error_envelope(resp, 400, "invalid_cursor")
        assert "next_cursor" in error["message"]
