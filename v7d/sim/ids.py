"""Id layout: every id encodes the UTC day it was made, so lazily generated days never clash.

Binance ids are ascending in time per symbol; here a (symbol, day) owns one block of
``BLOCK`` sequence numbers, and the day (and, for global ids, the symbol index) sits above
it. That keeps ids ascending in time while each (symbol, day) is generated on its own.
"""

from __future__ import annotations

from v7d.sim.clock import DAY_MS

__all__ = [
    "BLOCK",
    "algo_id",
    "day_of",
    "day_of_order_id",
    "day_of_trade_id",
    "funding_tran_id",
    "order_id",
    "trade_id",
    "trade_tran_id",
]

BLOCK = 1_000_000
SYMBOL_SLOTS = 4096
_ORDER_BASE = 10**11
_TRADE_TRAN_BASE = 10**14
_FUNDING_TRAN_BASE = 5 * 10**10
_ALGO_BASE = 3 * 10**9


def day_of(t_ms: int) -> int:
    """The UTC day number of a timestamp."""
    return t_ms // DAY_MS


def trade_id(day: int, sym: int, n: int, *, global_ids: bool) -> int:
    """Trade id: per symbol (``day*BLOCK+n``, clashing across symbols) or globally unique."""
    if global_ids:
        return (day * SYMBOL_SLOTS + sym) * BLOCK + n
    return day * BLOCK + n


def day_of_trade_id(tid: int, *, global_ids: bool) -> int:
    """The day a trade id belongs to (inverse of :func:`trade_id`)."""
    if global_ids:
        return tid // BLOCK // SYMBOL_SLOTS
    return tid // BLOCK


def order_id(day: int, sym: int, n: int) -> int:
    """Order id, unique per symbol only.

    Each symbol's daily sequence starts at its own offset, so ids of different symbols
    mostly differ (as on Binance, where each symbol counts on its own) but can collide
    when a busy symbol's range runs into another's: clients must key orders on
    (symbol, orderId).
    """
    return _ORDER_BASE + day * BLOCK + (sym * 7919) % 500_000 + n


def day_of_order_id(oid: int) -> int:
    """The day an order id belongs to."""
    return (oid - _ORDER_BASE) // BLOCK


def trade_tran_id(day: int, sym: int, n: int) -> int:
    """tranId of the COMMISSION and REALIZED_PNL rows of one trade (shared on purpose)."""
    return _TRADE_TRAN_BASE + (day * SYMBOL_SLOTS + sym) * BLOCK + n


def funding_tran_id(day: int, sym: int, n: int) -> int:
    """tranId of a FUNDING_FEE (or other non-trade) income row."""
    return _FUNDING_TRAN_BASE + (day * SYMBOL_SLOTS + sym) * 1000 + n


def algo_id(day: int, sym: int, n: int) -> int:
    """Algo order id, unique over the account."""
    return _ALGO_BASE + (day * SYMBOL_SLOTS + sym) * 100 + n
