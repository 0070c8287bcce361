"""Turn a TOML document (already decoded to a dict) into a validated :class:`Config`.

Every refusal is one :class:`~v7d.errors.ConfigError` whose message names the key and the
bad value, in one shape: ``[sync].poll_interval: expected a number > 0, got "fast"``.
Unknown sections and keys are refused too (with a "did you mean" when one is close), so a
typo never silently falls back to a default.

Relative paths are resolved against ``base_dir`` (``load_config`` passes the directory of
the config file), so a file can point at ``credentials`` next to itself.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from v7d.config.model import (
    DEFAULT_ACCOUNT,
    AccountConfig,
    ApiConfig,
    Config,
    DaemonConfig,
    ExchangeConfig,
    LogConfig,
    StorageConfig,
    SyncConfig,
)
from v7d.errors import ConfigError

__all__ = ["ACCOUNT_NAME_RE", "SYMBOL_RE", "is_loopback", "parse_config", "show_value"]

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9_-]{1,32}$")

ENVIRONMENTS = ("live", "testnet", "custom")
UNIVERSES = ("active", "all", "list")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "journal", "console", "json")

# sun_path is 108 bytes on Linux including the terminating NUL.
_MAX_UNIX_SOCKET_PATH = 107

_SECTIONS: dict[str, type] = {
    "storage": StorageConfig,
    "exchange": ExchangeConfig,
    "sync": SyncConfig,
    "api": ApiConfig,
    "daemon": DaemonConfig,
    "log": LogConfig,
}
_ACCOUNT_KEYS = ("name", "credentials")


def show_value(value: Any) -> str:
    """Render a TOML value for an error message: strings quoted, tables summarised."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # TOML spells these nan / inf / -inf, as Python's str() does
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def _valid_host(host: str) -> bool:
    """An IP literal (IPv6 without brackets, as bind() wants) or a DNS name; no URL, no port."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME_RE.match(host))


class _Section:
    """Reads typed values out of one TOML table, naming ``[section].key`` on refusal."""

    def __init__(self, label: str, table: Mapping[str, Any], base_dir: Path | None) -> None:
        self.label = label
        self.table = table
        self.base_dir = base_dir

    def fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.label}.{key}: expected {expected}, got {show_value(value)}")

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, default: Any) -> Any:
        return self.table.get(key, default)

    def string(self, key: str, default: str, *, choices: tuple[str, ...] = ()) -> str:
        value = self.get(key, default)
        if choices:
            if not isinstance(value, str) or value not in choices:
                raise self.fail(key, "one of " + ", ".join(f'"{c}"' for c in choices), value)
        elif not isinstance(value, str):
            raise self.fail(key, "a string", value)
        return value

    def number(self, key: str, default: float, *, maximum: float | None = None) -> float:
        """A finite number > 0 (and <= ``maximum`` when given); integers are accepted."""
        value = self.get(key, default)
        expected = "a number > 0" + (f" and <= {maximum:g}" if maximum is not None else "")
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
            and (maximum is None or value <= maximum)
        )
        if not ok:
            raise self.fail(key, expected, value)
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key, default)
        if maximum is None:
            expected = f"an integer >= {minimum}"
        else:
            expected = f"an integer from {minimum} to {maximum}"
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value >= minimum
            and (maximum is None or value <= maximum)
        )
        if not ok:
            raise self.fail(key, expected, value)
        return int(value)

    def _resolve(self, raw: str) -> Path:
        path = Path(raw).expanduser() if raw.startswith("~") else Path(raw)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def optional_path(self, key: str, default: Path | None) -> Path | None:
        """A path or ``""`` (None); relative paths are anchored at ``base_dir``."""
        raw = self.get(key, "" if default is None else str(default))
        if not isinstance(raw, str) or "\0" in raw:
            raise self.fail(key, 'a path or ""', raw)
        return self._resolve(raw) if raw else None

    def path(self, key: str, default: Path | None) -> Path:
        """A required, non-empty path; relative paths are anchored at ``base_dir``."""
        raw = self.get(key, "" if default is None else str(default))
        if not isinstance(raw, str) or not raw or "\0" in raw:
            raise self.fail(key, "a path", raw)
        return self._resolve(raw)

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.table:
            if key not in known:
                hint = difflib.get_close_matches(key, known, n=1)
                tip = f' (did you mean "{hint[0]}"?)' if hint else ""
                raise ConfigError(
                    f"{self.label}.{key}: unknown key{tip}; known keys: {', '.join(known)}"
                )


def _known(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _url(section: _Section, key: str, schemes: tuple[str, ...], environment: str) -> str:
    value = section.string(key, "")
    if environment != "custom":
        if value:
            raise ConfigError(
                f'{section.label}.{key}: only used when environment = "custom" '
                f'(environment is "{environment}"), got {show_value(value)}'
            )
        return value
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise section.fail(key, f'a {wanted} URL (required when environment = "custom")', value)
    return value.rstrip("/")


def _storage(s: _Section) -> StorageConfig:
    d = StorageConfig()
    return StorageConfig(path=s.path("path", d.path))


def _exchange(s: _Section) -> ExchangeConfig:
    d = ExchangeConfig()
    env = s.string("environment", d.environment, choices=ENVIRONMENTS)
    return ExchangeConfig(
        environment=env,
        rest_url=_url(s, "rest_url", ("http", "https"), env),
        ws_url=_url(s, "ws_url", ("ws", "wss"), env),
        credentials=s.path("credentials", d.credentials),
    )


def _symbols(s: _Section) -> tuple[str, ...]:
    raw = s.get("symbols", [])
    if not isinstance(raw, list):
        raise s.fail("symbols", "a list of symbols", raw)
    seen: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not SYMBOL_RE.match(item):
            raise s.fail("symbols", 'upper-case symbols like "BTCUSDT"', item)
        if item in seen:
            raise ConfigError(f"{s.label}.symbols: {show_value(item)} is listed twice")
        seen.append(item)
    return tuple(seen)


def _sync(s: _Section) -> SyncConfig:
    d = SyncConfig()
    universe = s.string("universe", d.universe, choices=UNIVERSES)
    symbols = _symbols(s)
    if universe == "list" and not symbols:
        raise ConfigError(f'{s.label}.symbols: universe = "list" needs at least one symbol, got []')
    return SyncConfig(
        universe=universe,
        symbols=symbols,
        poll_interval=s.number("poll_interval", d.poll_interval),
        reconcile_interval=s.number("reconcile_interval", d.reconcile_interval),
        overlap_ms=s.integer("overlap_ms", d.overlap_ms, minimum=0),
        request_rate_per_sec=s.number("request_rate_per_sec", d.request_rate_per_sec),
        request_burst=s.integer("request_burst", d.request_burst, minimum=1),
        max_weight_share=s.number("max_weight_share", d.max_weight_share, maximum=1.0),
    )


def _api(s: _Section) -> ApiConfig:
    d = ApiConfig()
    host = s.string("tcp_host", d.tcp_host)
    if not _valid_host(host):
        raise s.fail("tcp_host", "a host name or IP address", host)
    port = s.integer("tcp_port", d.tcp_port, minimum=0, maximum=65535)
    token_file = s.optional_path("token_file", d.token_file)
    if port != 0 and token_file is None and not is_loopback(host):
        raise ConfigError(
            f"{s.label}.token_file: required when tcp_host is not loopback "
            f"(tcp_host is {show_value(host)}: anyone who can reach it could read the "
            'history); set token_file, bind 127.0.0.1, or set tcp_port = 0, got ""'
        )
    socket = s.path("control_socket", d.control_socket)
    if len(str(socket).encode()) > _MAX_UNIX_SOCKET_PATH:
        raise s.fail(
            "control_socket", f"a path of at most {_MAX_UNIX_SOCKET_PATH} bytes", str(socket)
        )
    return ApiConfig(
        tcp_host=host,
        tcp_port=port,
        token_file=token_file,
        control_socket=socket,
        query_timeout_ms=s.integer("query_timeout_ms", d.query_timeout_ms, minimum=1),
    )


def _daemon(s: _Section) -> DaemonConfig:
    return DaemonConfig(drain_timeout=s.number("drain_timeout", DaemonConfig().drain_timeout))


def _log(s: _Section) -> LogConfig:
    d = LogConfig()
    return LogConfig(
        level=s.string("level", d.level, choices=LOG_LEVELS),
        format=s.string("format", d.format, choices=LOG_FORMATS),
    )


_BUILDERS: dict[str, Callable[[_Section], Any]] = {
    "storage": _storage,
    "exchange": _exchange,
    "sync": _sync,
    "api": _api,
    "daemon": _daemon,
    "log": _log,
}


def _accounts(raw: Any, base_dir: Path | None) -> tuple[AccountConfig, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(
            f"[[accounts]]: expected one or more [[accounts]] tables, got {show_value(raw)}"
        )
    accounts: list[AccountConfig] = []
    for number, table in enumerate(raw, start=1):
        s = _Section(f"[[accounts]] #{number}", table, base_dir)
        s.check_keys(_ACCOUNT_KEYS)
        if not s.has("name"):
            raise ConfigError(f"{s.label}.name: required, got nothing")
        name = s.string("name", "")
        if not ACCOUNT_NAME_RE.match(name):
            raise s.fail("name", "1-32 of a-z, 0-9, _ and -", name)
        if any(a.name == name for a in accounts):
            raise ConfigError(f"{s.label}.name: {show_value(name)} is used by another account")
        if not s.has("credentials"):
            raise ConfigError(f"{s.label}.credentials: required, got nothing")
        accounts.append(AccountConfig(name, s.path("credentials", None)))
    return tuple(accounts)


def parse_config(
    data: Mapping[str, Any], source: str = "<string>", *, base_dir: Path | None = None
) -> Config:
    """Validate a decoded TOML document and build the :class:`Config`.

    ``source`` is kept on the result for messages; ``base_dir`` anchors relative paths
    (``None`` leaves them relative). Raises :class:`ConfigError` on the first problem.
    """
    for name, value in data.items():
        if name == "accounts":
            continue
        if name not in _SECTIONS:
            hint = difflib.get_close_matches(name, list(_SECTIONS), n=1)
            tip = f' (did you mean "[{hint[0]}]"?)' if hint else ""
            known = ", ".join(f"[{s}]" for s in (*_SECTIONS, "[accounts]"))
            raise ConfigError(f"[{name}]: unknown section{tip}; known sections: {known}")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}]: expected a table, got {show_value(value)}")
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = _Section(f"[{name}]", data.get(name, {}), base_dir)
        section.check_keys(_known(cls))
        sections[name] = _BUILDERS[name](section)
    exchange: ExchangeConfig = sections["exchange"]
    if "accounts" in data:
        if "credentials" in data.get("exchange", {}):
            raise ConfigError(
                "[exchange].credentials: not allowed together with [[accounts]] (each "
                "account names its own credentials file); remove one of them, got "
                f"{show_value(data['exchange']['credentials'])}"
            )
        accounts = _accounts(data["accounts"], base_dir)
    else:
        accounts = (AccountConfig(DEFAULT_ACCOUNT, exchange.credentials),)
    return Config(**sections, accounts=accounts, multi_account="accounts" in data, source=source)
