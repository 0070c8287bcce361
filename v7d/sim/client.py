"""A minimal signed Binance client for tests and benchmarks of the simulator itself.

(v7d's real client lives in v7d.binance; this one exists so the simulator can be
exercised without it.)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = ["SignedClient", "sign"]


def sign(secret: str, params: dict[str, Any]) -> str:
    """The query string of ``params`` with ``signature`` appended (Binance's HMAC-SHA256)."""
    qs = urlencode(params)
    sig = hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
    return f"{qs}&signature={sig}"


class SignedClient:
    """Sync httpx client that signs requests like Binance expects."""

    def __init__(self, base_url: str, api_key: str, secret: str, *, timeout: float = 30.0) -> None:
        self.api_key = api_key
        self.secret = secret
        self.http = httpx.Client(
            base_url=base_url, timeout=timeout, headers={"X-MBX-APIKEY": api_key}
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> SignedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = True,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """Send ``method path`` with ``params`` signed (query string for every method)."""
        p = dict(params or {})
        if signed:
            p.setdefault(
                "timestamp", timestamp if timestamp is not None else int(time.time() * 1000)
            )
            qs = sign(self.secret, p)
        else:
            qs = urlencode(p)
        url = f"{path}?{qs}" if qs else path
        return self.http.request(method, url)

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        """Signed GET."""
        return self.request("GET", path, params, **kw)
