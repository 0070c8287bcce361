"""Exact numbers for statistics: Decimal sums over ``*_e8`` integers or decimal text.

Sums run in SQL. The fast mode adds the ``*_e8`` integer twins with ``SUM()``; when a
window holds a row whose twin is NULL (more than 8 decimals, see
:mod:`v7d.store.exact`), or an integer sum overflows, the same SQL runs in the exact
mode, where ``DSUM()`` — a Python aggregate registered on the connection — adds the
decimal strings with :class:`~decimal.Decimal`. Either way the answer is exact.

Ratios are rounded half-even to :data:`RATIO_PLACES` decimals, basis points to
:data:`BPS_PLACES`, mean durations to :data:`MS_PLACES` (docs/stats.md).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from v7d.store.exact import from_e8

__all__ = [
    "BPS_PLACES",
    "MS_PLACES",
    "RATIO_PLACES",
    "Mode",
    "bps_str",
    "dec",
    "dec_str",
    "mean_ms",
    "mean_of",
    "num",
    "p90",
    "ratio_str",
    "register_functions",
    "sum_expr",
]

Mode = Literal["e8", "dec"]
RATIO_PLACES = Decimal("1e-8")
BPS_PLACES = Decimal("1e-4")
MS_PLACES = Decimal("1e-3")


class _DecSum:
    """SQLite aggregate ``DSUM(text)``: the exact Decimal sum, returned as text."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: Any) -> None:
        if value is not None and value != "":
            self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


def register_functions(conn: sqlite3.Connection) -> None:
    """Add ``DSUM`` to a (read-only) connection."""
    conn.create_aggregate("dsum", 1, _DecSum)  # type: ignore[arg-type]


def sum_expr(mode: Mode, column: str, when: str | None = None) -> str:
    """SQL summing ``column`` exactly in ``mode`` (only rows matching ``when``, if given)."""
    if mode == "e8":
        inner = f"{column}_e8" if when is None else f"CASE WHEN {when} THEN {column}_e8 END"
        return f"coalesce(SUM({inner}), 0)"
    inner = column if when is None else f"CASE WHEN {when} THEN {column} END"
    return f"DSUM({inner})"


def dec(value: Any) -> Decimal:
    """A sum from :func:`sum_expr` (e8 int, decimal text or Decimal) as a Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, int):
        return from_e8(value)
    if isinstance(value, Decimal):
        return value
    return Decimal(value)


def num(value: Any) -> int | Decimal:
    """A sum kept in its mode's unit for further additions: e8 ints stay ints (fast), text
    becomes Decimal. Convert to money with :func:`dec` at the end."""
    if value is None:
        return 0
    if isinstance(value, int | Decimal):
        return value
    return Decimal(value)


def dec_str(value: Decimal) -> str:
    """Canonical text of an exact decimal: no exponent, no trailing zeros ("0" for zero)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _quantized(value: Decimal, places: Decimal) -> str:
    return dec_str(value.quantize(places, rounding=ROUND_HALF_EVEN))


def ratio_str(num: Decimal, den: Decimal) -> str | None:
    """``num / den`` rounded to 8 decimals, or None when ``den`` is zero."""
    if den == 0:
        return None
    return _quantized(num / den, RATIO_PLACES)


def bps_str(value: Decimal) -> str:
    """A basis-point figure rounded to 4 decimals."""
    return _quantized(value, BPS_PLACES)


def mean_ms(values: Sequence[int]) -> str | None:
    """Mean of millisecond durations rounded to 3 decimals, None when empty."""
    return mean_of(sum(values), len(values))


def mean_of(total: int, n: int) -> str | None:
    """``total / n`` milliseconds rounded to 3 decimals, None when ``n`` is 0."""
    if not n:
        return None
    return _quantized(Decimal(total) / n, MS_PLACES)


def p90(values: Sequence[int]) -> int | None:
    """The 90th percentile by nearest rank (a value that occurred), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
