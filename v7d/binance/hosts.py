"""Where each environment's REST and user-data stream live.

``[exchange].environment`` picks the pair; ``custom`` takes ``rest_url``/``ws_url`` as
given (the simulator: ``http://127.0.0.1:PORT`` and ``ws://127.0.0.1:PORT``). The stream
client adds ``/private/ws/<listenKey>`` itself, as on ``wss://fstream.binance.com``
(unrouted ``/ws/<key>`` on the root host stopped delivering private data in 2026).
"""

from __future__ import annotations

from v7d.errors import ConfigError

__all__ = ["HOSTS", "resolve_urls"]

#: environment → (REST root, WebSocket root)
HOSTS: dict[str, tuple[str, str]] = {
    "live": ("https://fapi.binance.com", "wss://fstream.binance.com"),
    "testnet": ("https://demo-fapi.binance.com", "wss://fstream.binancefuture.com"),
}


def resolve_urls(environment: str, rest_url: str = "", ws_url: str = "") -> tuple[str, str]:
    """The (REST, WebSocket) roots for ``environment``; ``custom`` needs both URLs."""
    if environment in HOSTS:
        return HOSTS[environment]
    if environment != "custom":
        raise ConfigError(
            f"[exchange].environment: expected live, testnet or custom, got {environment!r}"
        )
    if not rest_url.startswith(("http://", "https://")):
        raise ConfigError(f"[exchange].rest_url: expected an http(s) URL, got {rest_url!r}")
    if not ws_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"[exchange].ws_url: expected a ws(s) URL, got {ws_url!r}")
    return rest_url.rstrip("/"), ws_url.rstrip("/")
