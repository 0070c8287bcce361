"""v7d's exception tree: each class says what the caller does next.

::

    V7dError                      base; never raised directly
    ├── ConfigError               refuse to start (or refuse a reload); message names the key
    ├── CredentialsError          (ConfigError) refuse to start that account; never shows the secret
    ├── StoreError                the database cannot be used as asked
    │   └── SchemaTooNewError     the file was written by a newer v7d: refuse to open it
    └── ExchangeError             something the exchange said or did
        ├── AuthError             stop this account, show it in status; do not retry
        ├── RateLimited           stop ALL requests until ``retry_after`` (429 / 418)
        ├── ClockSkew             resynchronise the clock, then retry once
        ├── TransientError        back off exponentially with jitter, then retry
        └── BadRequest            a bug (ours or a changed API): log the request, never retry blindly

One function (in ``v7d.binance``) maps HTTP status plus Binance code to these classes,
and the retry policy lives in one place, so no caller invents its own.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BadRequest",
    "ClockSkew",
    "ConfigError",
    "CredentialsError",
    "ExchangeError",
    "RateLimited",
    "SchemaTooNewError",
    "StoreError",
    "TransientError",
    "V7dError",
]


class V7dError(Exception):
    """Base of every error v7d raises on purpose."""


class ConfigError(V7dError):
    """The configuration is unusable: refuse to start (or keep the old one on reload).

    The message always names the key, e.g. ``[sync].poll_interval: expected a number > 0,
    got "fast"``.
    """


class CredentialsError(ConfigError):
    """Credentials are missing, unreadable or malformed. The message never holds a secret."""


class StoreError(V7dError):
    """The database cannot be used as asked (bad path, not a v7d database, ...)."""


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer v7d than this one: refuse to touch it."""


class ExchangeError(V7dError):
    """Something the exchange answered (or failed to answer).

    ``status`` is the HTTP status (0 when no answer came), ``code`` Binance's error code
    when the body had one.
    """

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(ExchangeError):
    """Key rejected, IP not allowed or permission missing: stop this account, show it."""


class RateLimited(ExchangeError):
    """429 or 418: stop every request of the process until ``retry_after`` seconds pass."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int = 429,
        code: int | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ClockSkew(ExchangeError):
    """-1021: the request's timestamp was outside recvWindow; resync the clock and retry."""


class TransientError(ExchangeError):
    """5xx, timeouts, dropped connections: back off exponentially with jitter and retry."""


class BadRequest(ExchangeError):
    """The exchange refused the request as malformed: log it as a bug, do not retry blindly."""
