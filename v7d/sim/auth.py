"""Binance request signing: API key, HMAC-SHA256 over the exact query string + body, recvWindow."""

from __future__ import annotations

import hashlib
import hmac
import re

from v7d.sim.binance_errors import BinanceError, mandatory

__all__ = ["signed_payload", "verify"]

_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")


def signed_payload(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """(the text that was signed, the signature) from the raw query string and body.

    Binance signs ``query + body`` with the ``signature`` parameter itself left out; the
    other parameters keep their exact bytes and order.
    """
    sig: str | None = None
    parts: list[str] = []
    for chunk in (raw_query, raw_body):
        kept = []
        for pair in chunk.split("&") if chunk else []:
            if pair.startswith("signature="):
                sig = pair[len("signature=") :]
            else:
                kept.append(pair)
        parts.append("&".join(kept))
    return parts[0] + parts[1], sig


def verify(
    *,
    api_key_header: str | None,
    api_key: str,
    secret: str,
    raw_query: str,
    raw_body: str,
    params: dict[str, str],
    server_ms: int,
    signed: bool,
) -> None:
    """Check key, timestamp/recvWindow and signature; raise BinanceError like Binance."""
    if not api_key_header:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if not _KEY_FORMAT.match(api_key_header):
        raise BinanceError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(api_key_header, api_key):
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if not signed:
        return
    ts_raw = params.get("timestamp")
    if not ts_raw or not ts_raw.isdigit():
        raise mandatory("timestamp")
    ts = int(ts_raw)
    rw_raw = params.get("recvWindow")
    recv_window = 5000
    if rw_raw:
        if not rw_raw.isdigit() or not 0 < int(rw_raw) <= 60000:
            raise BinanceError(-1130, "Data sent for parameter 'recvWindow' is not valid.")
        recv_window = int(rw_raw)
    if ts >= server_ms + 1000:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if server_ms - ts > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
    payload, sig = signed_payload(raw_query, raw_body)
    if not sig:
        raise mandatory("signature")
    want = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
