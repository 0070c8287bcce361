"""Symbol discovery: which symbols each universe syncs (pure)."""

from __future__ import annotations

import pytest

from v7d.store.records import Income, SymbolInfo
from v7d.sync.discovery import (
    active_symbols_from_positions,
    listed_perpetuals,
    symbols_from_income,
    universe_symbols,
)


def _income(symbol: str) -> Income:
    return Income("a", symbol, "FUNDING_FEE", "-0.1", "USDT", "", 1, 1, "", "{}")


class TestDiscovery:
    """Activity sources and universes."""

    def test_income_names_symbols(self) -> None:
        """Income rows name their symbols; account-wide rows (transfers) name none."""
        rows = [_income("BTCUSDT"), _income(""), _income("ETHUSDC")]
        assert symbols_from_income(rows) == {"BTCUSDT", "ETHUSDC"}

    def test_positions_name_symbols(self) -> None:
        """Every positionRisk v3 row is activity (position or open orders)."""
        rows = [{"symbol": "BTCUSDT", "positionAmt": "0"}, {"symbol": "XRPUSDT"}, {}]
        assert active_symbols_from_positions(rows) == {"BTCUSDT", "XRPUSDT"}

    def test_listed_perpetuals(self) -> None:
        """Only listed USDT/USDC perpetuals are swept."""
        infos = [
            SymbolInfo("a", "BTCUSDT", "TRADING", "PERPETUAL", "USDT", "USDT"),
            SymbolInfo("a", "BTCUSDC", "TRADING", "PERPETUAL", "USDC", "USDC"),
            SymbolInfo("a", "BTCUSDT_260327", "TRADING", "CURRENT_QUARTER", "USDT", "USDT"),
            SymbolInfo("a", "OLDUSDT", "SETTLING", "PERPETUAL", "USDT", "USDT", listed=False),
            SymbolInfo("a", "BTCBUSD", "TRADING", "PERPETUAL", "BUSD", "BUSD"),
        ]
        assert listed_perpetuals(infos) == {"BTCUSDT", "BTCUSDC"}

    def test_universes(self) -> None:
        """active = activity + extras; all adds the listed set; list = extras only."""
        kw = {"extras": ["ZZZUSDT"], "known_active": {"BTCUSDT"}, "listed": {"ETHUSDT"}}
        assert universe_symbols("active", **kw) == ["BTCUSDT", "ZZZUSDT"]
        assert universe_symbols("all", **kw) == ["BTCUSDT", "ETHUSDT", "ZZZUSDT"]
        assert universe_symbols("list", **kw) == ["ZZZUSDT"]

    def test_unknown_universe(self) -> None:
        """A bad universe names the key."""
        with pytest.raises(ValueError, match=r"\[sync\].universe"):
            universe_symbols("some", extras=[], known_active=[])
