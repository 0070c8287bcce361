"""Exact decimal strings from scaled integers (no floats ever touch money)."""

from __future__ import annotations

__all__ = ["MONEY_SCALE", "POW", "fmt", "fmt_money", "rescale"]

MONEY_SCALE = 8  # commissions, PnL, funding, balances: 8 decimals like Binance


POW: tuple[int, ...] = tuple(10**i for i in range(40))
_POW = POW


def fmt(units: int, scale: int) -> str:
    """``fmt(12345, 2) == "123.45"``; ``fmt(-5, 3) == "-0.005"``; scale 0 gives an integer."""
    if scale == 0:
        return str(units)
    if units < 0:
        q, r = divmod(-units, _POW[scale])
        return f"-{q}.{r:0{scale}d}"
    q, r = divmod(units, _POW[scale])
    return f"{q}.{r:0{scale}d}"


def fmt_money(units_1e8: int) -> str:
    """Money held in 1e-8 units as Binance's 8-decimal string."""
    return fmt(units_1e8, MONEY_SCALE)


def rescale(units: int, from_scale: int, to_scale: int) -> int:
    """Convert scaled units between scales, truncating toward zero when shrinking."""
    if to_scale >= from_scale:
        return units * _POW[to_scale - from_scale]
    q = abs(units) // _POW[from_scale - to_scale]
    return q if units >= 0 else -q
