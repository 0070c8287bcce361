"""Query-string validation shared by every query route, and opaque page cursors.

Each helper returns a typed value or raises :class:`~v7d.web.errors.ApiError` whose
message names the parameter and the bad value (``limit: expected an integer from 1 to
1000, got "all"``). Status codes:

=====  ======================  ====================================================
400    ``unknown_parameter``   a parameter the route does not take (catches typos)
400    ``repeated_parameter``  ``?symbol=A&symbol=B``: ambiguous, never "last one wins"
400    ``missing_parameter``   a required parameter is absent or empty
400    ``invalid_cursor``      a cursor that this server did not hand out
422    ``invalid_parameter``   present but malformed or out of range
422    ``invalid_range``       ``start_ms`` not before ``end_ms``
=====  ======================  ====================================================
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import math
import re
from collections.abc import Collection, Iterable
from typing import Any

from starlette.requests import Request

from v7d.web.errors import ApiError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SYMBOL_RE",
    "bool_param",
    "cursor_param",
    "decode_cursor",
    "encode_cursor",
    "enum_param",
    "int_param",
    "limit_param",
    "reject_unknown",
    "str_param",
    "symbol_param",
    "time_range",
]

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_INT_RE = re.compile(r"^-?[0-9]{1,19}$")
_INT64 = 2**63 - 1
_MAX_CURSOR_CHARS = 1024


def _show(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + '..."'


def _invalid(name: str, expected: str, value: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"{name}: expected {expected}, got {_show(value)}")


def _raw(request: Request, name: str, *, required: bool) -> str | None:
    """The single raw value of ``name``; None when absent (or empty and optional)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(
            400, "repeated_parameter", f"{name}: given {len(values)} times, expected once"
        )
    value = values[0] if values else ""
    if value == "":
        if required:
            raise ApiError(400, "missing_parameter", f"{name}: required")
        return None
    return value


def reject_unknown(request: Request, allowed: Iterable[str]) -> None:
    """Refuse query parameters outside ``allowed`` (400 ``unknown_parameter``)."""
    known = sorted(set(allowed))
    for name in request.query_params:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            tip = f' (did you mean "{hint[0]}"?)' if hint else ""
            listing = ", ".join(known) if known else "none"
            raise ApiError(
                400,
                "unknown_parameter",
                f"{name}: unknown parameter{tip}; this endpoint takes: {listing}",
            )


def int_param(
    request: Request,
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    required: bool = False,
) -> int | None:
    """An integer in ``[minimum, maximum]`` (both inclusive), or ``default`` when absent.

    Only plain decimal digits with an optional ``-`` are accepted (no ``1e3``, ``+1``,
    ``1_000`` or spaces, which Python's ``int()`` would take), within SQLite's int64.
    """
    raw = _raw(request, name, required=required)
    if raw is None:
        return default
    lo = -_INT64 if minimum is None else minimum
    hi = _INT64 if maximum is None else maximum
    if minimum is not None and maximum is not None:
        expected = f"an integer from {lo} to {hi}"
    elif minimum is not None:
        expected = f"an integer >= {lo}"
    elif maximum is not None:
        expected = f"an integer <= {hi}"
    else:
        expected = "an integer"
    if not _INT_RE.match(raw):
        raise _invalid(name, expected, raw)
    value = int(raw)
    if not lo <= value <= hi:
        raise _invalid(name, expected, raw)
    return value


def time_range(
    request: Request, start: str = "start_ms", end: str = "end_ms"
) -> tuple[int | None, int | None]:
    """``(start_ms, end_ms)`` in epoch ms, start inclusive, end exclusive; either may be None.

    Both given and ``start >= end`` is 422 ``invalid_range``.
    """
    start_ms = int_param(request, start, minimum=0)
    end_ms = int_param(request, end, minimum=0)
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise ApiError(
            422,
            "invalid_range",
            f"{start}: must be before {end} (the range is [{start}, {end})), "
            f"got {start}={start_ms} and {end}={end_ms}",
        )
    return start_ms, end_ms


def limit_param(request: Request, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """``limit``: 1..1000, 500 when absent."""
    value = int_param(request, "limit", default=default, minimum=1, maximum=maximum)
    assert value is not None
    return value


def enum_param(
    request: Request,
    name: str,
    choices: Collection[str],
    *,
    default: str | None = None,
    required: bool = False,
) -> str | None:
    """One of ``choices`` (exact, case-sensitive), or ``default`` when absent."""
    raw = _raw(request, name, required=required)
    if raw is None:
        return default
    if raw not in choices:
        raise _invalid(name, "one of " + ", ".join(choices), raw)
    return raw


def symbol_param(request: Request, name: str = "symbol", *, required: bool = False) -> str | None:
    """A symbol name (``^[A-Z0-9]{2,30}$``, e.g. ``BTCUSDT``), or None when absent."""
    raw = _raw(request, name, required=required)
    if raw is None:
        return None
    if not SYMBOL_RE.match(raw):
        hint = " (symbols are upper-case)" if SYMBOL_RE.match(raw.upper()) else ""
        raise _invalid(name, f'a symbol like "BTCUSDT"{hint}', raw)
    return raw


def str_param(
    request: Request,
    name: str,
    *,
    default: str | None = None,
    required: bool = False,
    max_length: int = 200,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    """A free string of at most ``max_length`` characters (matching ``pattern`` if given)."""
    raw = _raw(request, name, required=required)
    if raw is None:
        return default
    if len(raw) > max_length:
        raise _invalid(name, f"at most {max_length} characters", raw)
    if pattern is not None and not pattern.fullmatch(raw):
        raise _invalid(name, f"a value matching {pattern.pattern}", raw)
    return raw


def bool_param(
    request: Request, name: str, *, default: bool | None = None, required: bool = False
) -> bool | None:
    """``true``/``false`` (also ``1``/``0``), or ``default`` when absent."""
    raw = _raw(request, name, required=required)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise _invalid(name, "true or false", raw)


# --- cursors ---------------------------------------------------------------------------


def encode_cursor(values: Iterable[Any]) -> str:
    """An opaque cursor for keyset pagination: urlsafe base64 (no padding) of a JSON list.

    Values must be JSON scalars (ints, strings, ...): typically the last row's
    ``(time, id)``.
    """
    text = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _bad_cursor(why: str) -> ApiError:
    return ApiError(
        400,
        "invalid_cursor",
        f"cursor: {why}; pass back next_cursor exactly as received, or omit it to start over",
    )


def decode_cursor(cursor: str, arity: int) -> tuple[Any, ...]:
    """The values of a cursor made by :func:`encode_cursor`; 400 ``invalid_cursor`` if not."""
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise _bad_cursor("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError too
        raise _bad_cursor("not a cursor this server made") from None
    if not isinstance(values, list) or len(values) != arity:
        raise _bad_cursor("not a cursor for this endpoint")
    if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        raise _bad_cursor("not a cursor for this endpoint")
    if not all(-_INT64 <= v <= _INT64 for v in values if isinstance(v, int)) or not all(
        math.isfinite(v) for v in values if isinstance(v, float)
    ):
        raise _bad_cursor("holds a value out of range")
    return tuple(values)


def cursor_param(request: Request, arity: int) -> tuple[Any, ...] | None:
    """The decoded ``cursor`` query parameter, or None on the first page."""
    raw = _raw(request, "cursor", required=False)
    return None if raw is None else decode_cursor(raw, arity)
