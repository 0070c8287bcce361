"""Which symbols to sync: the configured universe plus what the account touched.

``universe = "active"`` (the default) never sweeps the listed markets: a symbol is synced
when cheap account-wide sources show activity on it — income rows (every fill books a
commission, every closed position a realized PnL, every held position funding), the
symbols positionRisk v3 lists (a position or open orders), open orders seen in the store,
the user-data stream, and the symbols already in the registry. ``all`` adds every listed
USDT/USDC perpetual from exchangeInfo; ``list`` uses the configured ``symbols`` only.
The configured ``symbols`` are always included as extras.

What active discovery can miss, and how to catch it, is in docs/sync.md: a symbol whose
only activity is orders that were canceled or expired without a fill (no income, no
position) and that was not seen on the stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from v7d.store.records import Income, Record, SymbolInfo

__all__ = [
    "UNIVERSES",
    "active_symbols_from_positions",
    "activity_registry",
    "listed_perpetuals",
    "symbols_from_income",
    "universe_symbols",
]

UNIVERSES = ("active", "all", "list")

#: Quote assets of the perpetuals ``all`` sweeps.
SWEEP_QUOTES = ("USDT", "USDC")


def symbols_from_income(rows: Iterable[Any]) -> set[str]:
    """Symbols named by income rows (account-wide rows such as transfers have none)."""
    return {r.symbol for r in rows if isinstance(r, Income) and r.symbol}


def active_symbols_from_positions(payload: Iterable[dict[str, Any]]) -> set[str]:
    """Symbols positionRisk v3 lists: it only returns symbols with a position or open
    orders, so every row counts as activity."""
    return {str(d.get("symbol")) for d in payload if d.get("symbol")}


def listed_perpetuals(infos: Iterable[SymbolInfo]) -> set[str]:
    """USDT- and USDC-margined perpetuals that exchangeInfo lists (any trading status)."""
    return {
        s.symbol
        for s in infos
        if s.listed
        and s.contract_type == "PERPETUAL"
        and (s.quote_asset in SWEEP_QUOTES or s.margin_asset in SWEEP_QUOTES)
    }


def universe_symbols(
    universe: str,
    *,
    extras: Iterable[str],
    known_active: Iterable[str],
    listed: Iterable[str] = (),
) -> list[str]:
    """The sorted symbol list for a universe.

    ``known_active``: every symbol account activity has shown (registry, income, positions,
    open orders, stream); ``listed``: the sweep set for ``all``.
    """
    if universe not in UNIVERSES:
        raise ValueError(
            f"[sync].universe: expected one of {', '.join(UNIVERSES)}, got {universe!r}"
        )
    chosen = set(extras)
    if universe in ("active", "all"):
        chosen |= set(known_active)
    if universe == "all":
        chosen |= set(listed)
    return sorted(s for s in chosen if s)


def activity_registry(account: str, records: Sequence[Record]) -> list[SymbolInfo]:
    """Registry rows for the symbols these fetched rows show activity on (``active_ms`` =
    the newest row's time), so later passes keep syncing exactly the symbols that had
    activity — not every symbol an ``--all-symbols`` sweep looked at."""
    newest: dict[str, int] = {}
    for r in records:
        symbol = getattr(r, "symbol", "")
        when = int(getattr(r, "time", 0) or 0)
        if symbol and when > newest.get(symbol, 0):
            newest[symbol] = when
    return [SymbolInfo(account, s, active_ms=t) for s, t in sorted(newest.items())]
