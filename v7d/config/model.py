"""The configuration as frozen dataclasses: one class per TOML section, with the defaults.

These classes only hold values that :mod:`v7d.config.parse` has already validated; they
never read files or the environment. Field names are the TOML keys, so a test can walk
them and check that ``etc/v7d/v7d.toml`` ships every one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_CONFIG_PATH",
    "LIVE_REST_URL",
    "LIVE_WS_URL",
    "TESTNET_REST_URL",
    "TESTNET_WS_URL",
    "AccountConfig",
    "ApiConfig",
    "Config",
    "DaemonConfig",
    "ExchangeConfig",
    "LogConfig",
    "StorageConfig",
    "SyncConfig",
]

DEFAULT_CONFIG_PATH = Path("/etc/v7d/v7d.toml")
DEFAULT_ACCOUNT = "default"

# The exchange's real hosts (shared/reference/binance-usdm.md §1). The client adds the
# routed paths itself (/private/ws/<listenKey>), so these are roots without a path.
LIVE_REST_URL = "https://fapi.binance.com"
LIVE_WS_URL = "wss://fstream.binance.com"
TESTNET_REST_URL = "https://demo-fapi.binance.com"
TESTNET_WS_URL = "wss://fstream.binancefuture.com"


@dataclass(frozen=True)
class StorageConfig:
    """``[storage]``: where the SQLite history lives."""

    path: Path = Path("/var/lib/v7d/history.db")


@dataclass(frozen=True)
class ExchangeConfig:
    """``[exchange]``: which exchange endpoints to talk to, and the single account's key."""

    environment: str = "live"
    rest_url: str = ""
    ws_url: str = ""
    credentials: Path = Path("/etc/v7d/credentials")

    @property
    def resolved_rest_url(self) -> str:
        """The REST root to use: the real host for live/testnet, ``rest_url`` for custom."""
        return {"live": LIVE_REST_URL, "testnet": TESTNET_REST_URL}.get(
            self.environment, self.rest_url
        )

    @property
    def resolved_ws_url(self) -> str:
        """The WebSocket root to use: the real host for live/testnet, ``ws_url`` for custom."""
        return {"live": LIVE_WS_URL, "testnet": TESTNET_WS_URL}.get(self.environment, self.ws_url)


@dataclass(frozen=True)
class SyncConfig:
    """``[sync]``: what to sync and how fast; reloadable at run time (SIGHUP)."""

    universe: str = "active"
    symbols: tuple[str, ...] = ()
    poll_interval: float = 2.0
    reconcile_interval: float = 60.0
    overlap_ms: int = 60_000
    request_rate_per_sec: float = 5.0
    request_burst: int = 10
    max_weight_share: float = 0.5


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: the TCP query listener, the control socket and read-query limits."""

    tcp_host: str = "127.0.0.1"
    tcp_port: int = 8787
    token_file: Path | None = None  # "" in TOML: no bearer token
    control_socket: Path = Path("/run/v7d/control.sock")
    query_timeout_ms: int = 5000


@dataclass(frozen=True)
class DaemonConfig:
    """``[daemon]``: process supervision settings."""

    drain_timeout: float = 10.0


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: level and output format; reloadable at run time (SIGHUP)."""

    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class AccountConfig:
    """One ``[[accounts]]`` entry (or the implicit ``default`` account)."""

    name: str
    credentials: Path


def _default_accounts() -> tuple[AccountConfig, ...]:
    return (AccountConfig(DEFAULT_ACCOUNT, ExchangeConfig().credentials),)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration.

    ``accounts`` always holds at least one entry: either the ``[[accounts]]`` tables or,
    without them, one account named ``default`` using ``[exchange].credentials``.
    ``source`` is where the values came from (a file path, or ``"<defaults>"``); it is
    informational and not part of equality.
    """

    storage: StorageConfig = field(default_factory=StorageConfig)
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    log: LogConfig = field(default_factory=LogConfig)
    accounts: tuple[AccountConfig, ...] = field(default_factory=_default_accounts)
    multi_account: bool = False
    source: str = field(default="<defaults>", compare=False)

    @classmethod
    def defaults(cls) -> Config:
        """The configuration used when every key is left at its default."""
        return cls()

    def account(self, name: str) -> AccountConfig:
        """The account called ``name``; ``KeyError`` if there is none."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)
