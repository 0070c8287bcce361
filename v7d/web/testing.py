"""Test helpers for v7d's HTTP surfaces, importable from any test directory."""

from __future__ import annotations

from typing import Any

__all__ = ["assert_error_envelope"]


def assert_error_envelope(resp: Any, status: int, code: str) -> dict[str, Any]:
    """Assert ``resp`` (an httpx.Response) is the error envelope with ``status`` and ``code``.

    Checks DESIGN.md's shape exactly: JSON ``{"error": {"code": str, "message": str}}``
    with a non-empty message (extra fields inside ``error`` are allowed), and that no 500
    sneaks through. Returns the ``error`` object for further checks on the message.
    """
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict), body
    assert error.get("code") == code, body
    assert isinstance(error.get("message"), str) and error["message"], body
    return error
