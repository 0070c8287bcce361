"""v7d's configuration: TOML in, frozen dataclasses out, every bad key refused by name.

The file comes from the ``path`` argument (the CLI's ``--config``), else ``$V7D_CONFIG``,
else ``/etc/v7d/v7d.toml``. No other module reads TOML or the configuration environment.

::

    load_config(path, environ=...)   read + decode + validate  ->  Config
    parse_config(data, source)       validate an already-decoded dict (tests, reload)
    diff_for_reload(old, new)        what a SIGHUP may apply, what needs a restart
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from v7d.config.model import (
    DEFAULT_ACCOUNT,
    DEFAULT_CONFIG_PATH,
    LIVE_REST_URL,
    LIVE_WS_URL,
    TESTNET_REST_URL,
    TESTNET_WS_URL,
    AccountConfig,
    ApiConfig,
    Config,
    DaemonConfig,
    ExchangeConfig,
    LogConfig,
    StorageConfig,
    SyncConfig,
)
from v7d.config.parse import SYMBOL_RE, is_loopback, parse_config
from v7d.config.reload import RUNTIME_RELOADABLE, diff_for_reload
from v7d.errors import ConfigError

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_CONFIG_PATH",
    "LIVE_REST_URL",
    "LIVE_WS_URL",
    "RUNTIME_RELOADABLE",
    "SYMBOL_RE",
    "TESTNET_REST_URL",
    "TESTNET_WS_URL",
    "AccountConfig",
    "ApiConfig",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "ExchangeConfig",
    "LogConfig",
    "StorageConfig",
    "SyncConfig",
    "config_path",
    "diff_for_reload",
    "is_loopback",
    "load_config",
    "parse_config",
]


def config_path(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The file to read: ``path`` if given, else ``$V7D_CONFIG``, else the default."""
    if path is not None and str(path) != "":
        return Path(path)
    env = os.environ if environ is None else environ
    from_env = env.get("V7D_CONFIG", "")
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, decode and validate the config file; raise :class:`ConfigError` if unusable.

    Relative paths inside the file are resolved against the file's own directory.
    """
    file = config_path(path, environ)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: config file not found (choose one with --config or V7D_CONFIG)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse_config(data, str(file), base_dir=file.absolute().parent)
