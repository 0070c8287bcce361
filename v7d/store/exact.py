"""Exact numeric columns for aggregation.

Money and quantities are stored twice: as the exchange's decimal string (the truth, never
altered) and as an integer scaled by 10^8 (``*_e8`` columns) so that SQLite can add them
exactly with integer arithmetic. Binance prices and quantities have at most 8 decimal
places, and |value| < 92,233,720,368 fits a signed 64-bit integer after scaling.

Fallback: a value with more than 8 decimal places, or too large to fit, gets NULL in its
``*_e8`` column. Aggregations add the integer column with SUM() and then add the rows whose
``*_e8`` is NULL with :class:`decimal.Decimal` over the string column (see
``v7d.query``), so a sum is exact either way; the fast path just stops being the only path.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["E8", "from_e8", "to_e8"]

E8 = 10**8
_INT64_MAX = 2**63 - 1


def to_e8(value: str | None) -> int | None:
    """The exact integer ``value * 10**8``, or None if that is not exact or does not fit."""
    if value is None or value == "":
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    scaled = d.scaleb(8)
    if scaled != scaled.to_integral_value():
        return None
    n = int(scaled)
    if -_INT64_MAX <= n <= _INT64_MAX:
        return n
    return None


def from_e8(n: int) -> Decimal:
    """The Decimal that an ``*_e8`` integer stands for."""
    return Decimal(n).scaleb(-8)
