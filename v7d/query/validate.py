"""Validation of query arguments: the one place both HTTP and the in-process API use.

Every function takes the argument's public name and its raw value — a Python value from
:class:`~v7d.query.api.HistoryQueryAPI` or the query-string text from an HTTP request —
and returns the typed value or raises :class:`~v7d.query.errors.QueryError` naming the
argument and the bad value. Codes and statuses match :mod:`v7d.web.params`: 422
``invalid_parameter`` (malformed or out of range), 422 ``invalid_range`` (start not
before end), 400 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from v7d.query.errors import QueryError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_MS",
    "account_arg",
    "bool_arg",
    "decode_cursor",
    "encode_cursor",
    "enum_arg",
    "int_arg",
    "limit_arg",
    "prefix_arg",
    "symbol_arg",
    "time_range",
]

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
#: Latest accepted epoch millisecond (year 5138): larger values are typos, not times.
MAX_MS = 10**14

_INT = re.compile(r"^-?[0-9]{1,19}$")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,31}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def int_arg(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """``value`` as an int (None stays None); accepts ints and decimal-digit text."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise QueryError("invalid_parameter", f"{name}: expected an integer, got {value!r}", 422)
    if isinstance(value, str):
        text = value
        if not _INT.match(text):
            raise QueryError(
                "invalid_parameter", f"{name}: expected an integer, got {value!r}", 422
            )
        value = int(text)
    assert isinstance(value, int)
    if minimum is not None and value < minimum:
        raise QueryError("invalid_parameter", f"{name}: must be >= {minimum}, got {value}", 422)
    if maximum is not None and value > maximum:
        raise QueryError("invalid_parameter", f"{name}: must be <= {maximum}, got {value}", 422)
    return value


def time_range(
    start_ms: Any, end_ms: Any, *, start_name: str = "start_ms", end_name: str = "end_ms"
) -> tuple[int | None, int | None]:
    """A [start, end) window in epoch ms; either side may be open (None)."""
    start = int_arg(start_name, start_ms, minimum=0, maximum=MAX_MS)
    end = int_arg(end_name, end_ms, minimum=0, maximum=MAX_MS)
    if start is not None and end is not None and start >= end:
        raise QueryError(
            "invalid_range",
            f"{start_name}: must be before {end_name} (the range is [{start_name}, "
            f"{end_name})), got {start_name}={start} and {end_name}={end}",
            422,
        )
    return start, end


def limit_arg(value: Any) -> int:
    """Page size: default 500, 1..1000."""
    limit = int_arg("limit", value, minimum=1, maximum=MAX_LIMIT)
    return DEFAULT_LIMIT if limit is None else limit


def symbol_arg(value: Any, name: str = "symbol") -> str | None:
    """A futures symbol such as ``BTCUSDT`` or ``BTCUSDT_250627`` (upper case)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SYMBOL.match(value):
        hint = ""
        if isinstance(value, str) and _SYMBOL.match(value.upper()):
            hint = " (symbols are upper-case)"
        raise QueryError(
            "invalid_parameter",
            f'{name}: expected a symbol like "BTCUSDT"{hint}, got {value!r}',
            422,
        )
    return value


def account_arg(value: Any) -> str | None:
    """An account name as configured (``default`` for the single account)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise QueryError(
            "invalid_parameter",
            f"account: {value!r} is not an account name (letters, digits, _ . -; up to 64)",
            422,
        )
    return value


def enum_arg(name: str, value: Any, allowed: Iterable[str]) -> str | None:
    """One of ``allowed`` (exact, case-sensitive)."""
    if value is None or value == "":
        return None
    options = tuple(allowed)
    if isinstance(value, str) and value in options:
        return value
    raise QueryError(
        "invalid_parameter", f"{name}: expected one of {', '.join(options)}, got {value!r}", 422
    )


def prefix_arg(value: Any, name: str = "client_order_id_prefix") -> str | None:
    """A client order id prefix (1 to 36 printable characters, Binance's id length)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 36 or not value.isprintable():
        raise QueryError(
            "invalid_parameter",
            f"{name}: expected up to 36 printable characters, got {value!r}",
            422,
        )
    return value


def bool_arg(name: str, value: Any) -> bool | None:
    """true/false (also 1/0, yes/no)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise QueryError("invalid_parameter", f"{name}: expected true or false, got {value!r}", 422)


# -- cursors ---------------------------------------------------------------------------
#
# A cursor is opaque to clients: base64url of a small JSON object holding the list kind,
# the keyset position of the last item served and a digest of the filters. The digest
# makes a cursor from one query unusable with other filters, where it would silently
# skip rows.


def _digest(filters: dict[str, Any]) -> str:
    text = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def encode_cursor(kind: str, position: list[Any], filters: dict[str, Any]) -> str:
    """The opaque cursor for the page after ``position`` of list ``kind``."""
    body = json.dumps({"k": kind, "p": position, "f": _digest(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(
    value: Any, kind: str, filters: dict[str, Any], shape: tuple[type, ...]
) -> list[Any] | None:
    """The keyset position in ``value`` (None when no cursor), checked against the query."""
    if value is None or value == "":
        return None
    bad = QueryError(
        "invalid_cursor",
        "cursor: not a cursor for this list; pass back next_cursor exactly as received, "
        "or omit it to start over",
    )
    if not isinstance(value, str) or len(value) > 512:
        raise bad
    try:
        body = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(body, dict) or body.get("k") != kind:
        raise bad
    if body.get("f") != _digest(filters):
        raise QueryError(
            "invalid_cursor", "cursor: it belongs to a query with other filters; start again"
        )
    pos = body.get("p")
    if (
        not isinstance(pos, list)
        or len(pos) != len(shape)
        or not all(
            isinstance(v, t) and not (t is int and isinstance(v, bool))
            for v, t in zip(pos, shape, strict=True)
        )
    ):
        raise bad
    return pos
