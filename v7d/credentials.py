"""API credentials: read a small ``name=value`` file, keep the secret out of sight.

Under systemd, ``LoadCredential=`` puts the file in ``$CREDENTIALS_DIRECTORY``: ``v7d``
for the single account, ``v7d-<name>`` when ``[[accounts]]`` lists several; that file
takes precedence over the configured path. The file format::

    # comments and blank lines are ignored
    api_key=...
    secret=...

Every error names the file and the problem, never a value from the file, and the secret
never reaches a ``repr``, a ``str``, a log line or an exception message.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from v7d.errors import CredentialsError

__all__ = ["Credentials", "credential_file", "load_credentials", "mask"]

_KEYS = ("api_key", "secret")
_SHOWABLE_NAME = re.compile(r"^[a-z_]{1,20}$")
# Bigger than any real key file: refuse to read a wrongly configured huge path into memory.
_MAX_BYTES = 64 * 1024

log = structlog.get_logger(__name__)


def mask(value: str) -> str:
    """Show at most the first 4 characters of a secret-ish value, then an ellipsis."""
    return value[:4] + "…" if len(value) > 4 else "…"


@dataclass(frozen=True)
class Credentials:
    """An API key and its secret. ``repr``/``str`` show only the key's first 4 characters."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask(self.api_key)!r}, secret='***')"

    __str__ = __repr__


def credential_file(
    account_name: str,
    configured_path: Path | str,
    environ: Mapping[str, str] | None = None,
    *,
    single: bool | None = None,
) -> Path:
    """The file to read for ``account_name``: systemd's credential if present, else the path.

    ``single`` says whether the config has one implicit account (credential ``v7d``) or
    ``[[accounts]]`` tables (credential ``v7d-<name>``); by default the account named
    ``default`` is taken as the single one.
    """
    env = os.environ if environ is None else environ
    if single is None:
        single = account_name == "default"
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    if directory:
        candidate = Path(directory) / ("v7d" if single else f"v7d-{account_name}")
        if candidate.exists():
            return candidate
    return Path(configured_path)


def _parse(text: str, path: Path) -> Credentials:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        where = f"{path}: line {number}"
        if not sep:
            raise CredentialsError(f"{where}: expected name=value (api_key=... or secret=...)")
        if name not in _KEYS:
            # Show the name only when it cannot be a pasted key (those are long, mixed case).
            shown = f" {name!r}" if _SHOWABLE_NAME.match(name) else ""
            raise CredentialsError(
                f"{where}: unknown name{shown}; expected only api_key and secret"
            )
        if name in values:
            raise CredentialsError(f"{where}: {name} is given twice")
        if not value.strip():
            raise CredentialsError(f"{where}: {name} is empty")
        values[name] = value.strip()
    missing = [k for k in _KEYS if k not in values]
    if missing:
        raise CredentialsError(f"{path}: missing {' and '.join(missing)}")
    return Credentials(values["api_key"], values["secret"])


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CredentialsError(f"{path}: not a regular file")
            data = handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise CredentialsError(f"{path}: credentials file not found") from None
    except IsADirectoryError:
        raise CredentialsError(f"{path}: is a directory, expected a credentials file") from None
    except PermissionError:
        raise CredentialsError(
            f"{path}: permission denied (the v7d user must be able to read it)"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read credentials: {exc.strerror}") from None
    if len(data) > _MAX_BYTES:
        raise CredentialsError(f"{path}: too large for a credentials file")
    if info.st_mode & stat.S_IROTH:
        # Loads anyway: refusing would take a running setup down over a chmod; say it loud.
        log.warning("credentials_world_readable", path=str(path), mode=oct(info.st_mode & 0o777))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path}: not UTF-8 text") from None


def load_credentials(
    account_name: str,
    configured_path: Path | str,
    environ: Mapping[str, str] | None = None,
    *,
    single: bool | None = None,
) -> Credentials:
    """Load the credentials of ``account_name``; raise :class:`CredentialsError` if unusable.

    ``$CREDENTIALS_DIRECTORY/v7d`` (single account) or ``.../v7d-<name>`` (several) takes
    precedence over ``configured_path``; see :func:`credential_file`.
    """
    path = credential_file(account_name, configured_path, environ, single=single)
    return _parse(_read(path), path)
