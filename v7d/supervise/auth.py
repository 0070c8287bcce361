"""Bearer-token guard for the TCP listener (``[api].token_file``).

The token is compared in constant time; a missing or wrong token gets 401 in the error
envelope. The Unix socket never needs it: its file mode (0660) is the access control.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from v7d.errors import ConfigError

__all__ = ["BearerGuard", "read_token"]


def read_token(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace stripped); ConfigError if unusable."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"[api].token_file: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"[api].token_file: {path} is not UTF-8 text") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise ConfigError(f"[api].token_file: {path} must hold one token of at least 16 characters")
    return token


class BearerGuard:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await _unauthorized(send)
                return
        await self._app(scope, receive, send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps(
        {"error": {"code": "unauthorized", "message": "missing or wrong bearer token"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
