"""The error envelope: every failure is ``{"error":{"code","message"}}``, never a bare 500.

DESIGN.md "HTTP (contract)": bad input gets 400/404/409/422 with
``{"error":{"code":"...","message":"..."}}``; unexpected exceptions are logged and
answered 500 ``internal`` with the same envelope.
"""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from v7d.web.testing import assert_error_envelope


class TestEnvelope:
    """Each error source renders the envelope."""

    async def test_unknown_route(self, client: httpx.AsyncClient) -> None:
        """An unknown path is 404 not_found naming the path."""
        error = assert_error_envelope(await client.get("/nope"), 404, "not_found")
        assert error["message"] == "no such endpoint: GET /nope"

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        """A wrong method is 405 method_not_allowed listing the allowed ones."""
        resp = await client.get("/post-only")
        error = assert_error_envelope(resp, 405, "method_not_allowed")
        assert "allowed: POST" in error["message"]
        assert resp.headers["allow"] == "POST"

    async def test_health_is_get_only(self, client: httpx.AsyncClient) -> None:
        """POST /health is 405 too."""
        assert_error_envelope(await client.post("/health"), 405, "method_not_allowed")

    async def test_api_error_422(self, client: httpx.AsyncClient) -> None:
        """An ApiError from a helper renders its status, code and message."""
        error = assert_error_envelope(await client.get("/echo?n=x"), 422, "invalid_parameter")
        assert error["message"] == 'n: expected an integer from 0 to 100, got "x"'

    async def test_api_error_400(self, client: httpx.AsyncClient) -> None:
        """A 400 from reject_unknown renders as the envelope."""
        assert_error_envelope(await client.get("/echo?lmit=5"), 400, "unknown_parameter")

    async def test_api_error_extra_fields(self, client: httpx.AsyncClient) -> None:
        """Extra fields sit beside code and message inside error."""
        resp = await client.get("/conflict")
        assert resp.status_code == 409
        assert resp.json() == {
            "error": {
                "code": "ambiguous_order",
                "message": "order 1 exists under 2 symbols",
                "symbols": ["A1", "B2"],
            }
        }

    async def test_unexpected_exception(self, client: httpx.AsyncClient) -> None:
        """A bug becomes a logged 500 internal with the envelope, not a traceback page."""
        with capture_logs() as logs:
            resp = await client.get("/boom")
        error = assert_error_envelope(resp, 500, "internal")
        assert "RuntimeError" in error["message"]
        assert "bug in a route" not in resp.text  # internals stay in the log
        (event,) = [e for e in logs if e["event"] == "unhandled_exception"]
        assert event["route"] == "/boom"
        assert event["method"] == "GET"
        assert event["log_level"] == "error"
        assert event["exc_info"] is True

    async def test_exception_after_response_started(self, client: httpx.AsyncClient) -> None:
        """A stream failing midway is logged; the exception propagates to drop the connection."""
        with capture_logs() as logs, pytest.raises(RuntimeError, match="export broke"):
            await client.get("/boom-midstream")
        (event,) = [e for e in logs if e["event"] == "unhandled_exception"]
        assert event["response_started"] is True
        assert event["route"] == "/boom-midstream"


class TestAssertHelper:
    """assert_error_envelope itself refuses answers that are not the envelope."""

    async def test_rejects_wrong_shape(self, client: httpx.AsyncClient) -> None:
        """A 200 JSON answer does not pass as an error envelope."""
        resp = await client.get("/echo")
        with pytest.raises(AssertionError):
            assert_error_envelope(resp, 200, "x")

    async def test_rejects_wrong_code(self, client: httpx.AsyncClient) -> None:
        """The code must match exactly."""
        resp = await client.get("/nope")
        with pytest.raises(AssertionError):
            assert_error_envelope(resp, 404, "missing")
