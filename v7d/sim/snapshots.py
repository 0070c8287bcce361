"""Current-state answers: positionRisk v2/v3, account v2/v3, balance v2."""

from __future__ import annotations

from typing import Any

from v7d.sim.account import SimAccount
from v7d.sim.numbers import MONEY_SCALE, fmt, fmt_money, rescale
from v7d.sim.prices import mark_price
from v7d.sim.symbols import SymbolSpec

__all__ = ["Snapshots"]


class Snapshots:
    """Builds state answers from the account's live positions and balances."""

    def __init__(self, account: SimAccount) -> None:
        self.acct = account

    def _positions(
        self, symbol: str | None, *, all_sides: bool
    ) -> list[tuple[SymbolSpec, str, int, int, int]]:
        """(spec, positionSide, amt, entry, updateTime) for symbols with a position."""
        out = []
        names = [symbol] if symbol else list(self.acct.trading_symbols())
        for name in names:
            spec = self.acct.specs[name]
            if not spec.listed:
                continue
            pos = self.acct.positions(name)
            sides = ("LONG", "SHORT") if self.acct.opts.hedge_mode else ("BOTH",)
            for ps in sides:
                amt, entry = pos.book.get(ps, [0, 0])
                if amt or all_sides:
                    out.append((spec, ps, amt, entry, pos.update_time))
        return out

    def _pnl(self, spec: SymbolSpec, amt: int, entry: int, mark: int) -> int:
        return rescale((mark - entry) * amt, spec.price_scale + spec.qty_scale, MONEY_SCALE)

    def _notional(self, spec: SymbolSpec, amt: int, mark: int) -> int:
        return rescale(mark * amt, spec.price_scale + spec.qty_scale, MONEY_SCALE)

    def position_risk_v3(self, symbol: str | None) -> list[dict[str, Any]]:
        """GET /fapi/v3/positionRisk: only symbols with a position."""
        now = self.acct.clock.now_ms()
        out = []
        for spec, ps, amt, entry, upd in self._positions(symbol, all_sides=False):
            mark = mark_price(spec, now)
            notional = self._notional(spec, amt, mark)
            im = abs(notional) // 20
            out.append(
                {
                    "symbol": spec.name,
                    "positionSide": ps,
                    "positionAmt": fmt(amt, spec.qty_scale),
                    "entryPrice": fmt(entry, spec.price_scale),
                    "breakEvenPrice": fmt(entry, spec.price_scale),
                    "markPrice": fmt(mark * 10 ** (8 - spec.price_scale), 8),
                    "unRealizedProfit": fmt_money(self._pnl(spec, amt, entry, mark)),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": fmt_money(notional),
                    "marginAsset": spec.margin_asset,
                    "isolatedWallet": "0",
                    "initialMargin": fmt_money(im),
                    "maintMargin": fmt_money(im // 6),
                    "positionInitialMargin": fmt_money(im),
                    "openOrderInitialMargin": "0",
                    "adl": 2,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": upd,
                }
            )
        return out

    def position_risk_v2(self, symbol: str | None) -> list[dict[str, Any]]:
        """GET /fapi/v2/positionRisk: every traded symbol, flat ones too."""
        now = self.acct.clock.now_ms()
        out = []
        for spec, ps, amt, entry, upd in self._positions(symbol, all_sides=True):
            mark = mark_price(spec, now)
            out.append(
                {
                    "entryPrice": fmt(entry, spec.price_scale),
                    "breakEvenPrice": fmt(entry, spec.price_scale),
                    "marginType": "cross",
                    "isAutoAddMargin": "false",
                    "isolatedMargin": "0.00000000",
                    "leverage": "20",
                    "liquidationPrice": "0",
                    "markPrice": fmt(mark * 10 ** (8 - spec.price_scale), 8),
                    "maxNotionalValue": "20000000",
                    "positionAmt": fmt(amt, spec.qty_scale),
                    "notional": fmt_money(self._notional(spec, amt, mark)),
                    "isolatedWallet": "0",
                    "symbol": spec.name,
                    "unRealizedProfit": fmt_money(self._pnl(spec, amt, entry, mark)),
                    "positionSide": ps,
                    "updateTime": upd,
                }
            )
        return out

    def _assets(self) -> list[tuple[str, int, int]]:
        now = self.acct.clock.now_ms()
        upnl: dict[str, int] = {}
        for spec, _ps, amt, entry, _u in self._positions(None, all_sides=False):
            upnl[spec.margin_asset] = upnl.get(spec.margin_asset, 0) + self._pnl(
                spec, amt, entry, mark_price(spec, now)
            )
        return [(a, w, upnl.get(a, 0)) for a, w in sorted(self.acct.balances.items())]

    def _asset_v3(self, asset: str, wallet: int, upnl: int) -> dict[str, Any]:
        return {
            "asset": asset,
            "walletBalance": fmt_money(wallet),
            "unrealizedProfit": fmt_money(upnl),
            "marginBalance": fmt_money(wallet + upnl),
            "maintMargin": fmt_money(0),
            "initialMargin": fmt_money(0),
            "positionInitialMargin": fmt_money(0),
            "openOrderInitialMargin": fmt_money(0),
            "crossWalletBalance": fmt_money(wallet),
            "crossUnPnl": fmt_money(upnl),
            "availableBalance": fmt_money(wallet),
            "maxWithdrawAmount": fmt_money(wallet),
            "updateTime": self.acct.clock.now_ms(),
        }

    def _totals(self, assets: list[tuple[str, int, int]]) -> dict[str, Any]:
        wallet = sum(w for a, w, _ in assets if a in ("USDT", "USDC"))
        upnl = sum(u for a, _w, u in assets if a in ("USDT", "USDC"))
        z = fmt_money(0)
        return {
            "totalInitialMargin": z,
            "totalMaintMargin": z,
            "totalWalletBalance": fmt_money(wallet),
            "totalUnrealizedProfit": fmt_money(upnl),
            "totalMarginBalance": fmt_money(wallet + upnl),
            "totalPositionInitialMargin": z,
            "totalOpenOrderInitialMargin": z,
            "totalCrossWalletBalance": fmt_money(wallet),
            "totalCrossUnPnl": fmt_money(upnl),
            "availableBalance": fmt_money(wallet),
            "maxWithdrawAmount": fmt_money(wallet),
        }

    def account_v3(self) -> dict[str, Any]:
        """GET /fapi/v3/account."""
        assets = self._assets()
        now = self.acct.clock.now_ms()
        positions = []
        for spec, ps, amt, entry, upd in self._positions(None, all_sides=False):
            mark = mark_price(spec, now)
            positions.append(
                {
                    "symbol": spec.name,
                    "positionSide": ps,
                    "positionAmt": fmt(amt, spec.qty_scale),
                    "unrealizedProfit": fmt_money(self._pnl(spec, amt, entry, mark)),
                    "isolatedMargin": fmt_money(0),
                    "notional": fmt_money(self._notional(spec, amt, mark)),
                    "isolatedWallet": "0",
                    "initialMargin": "0",
                    "maintMargin": "0",
                    "updateTime": upd,
                }
            )
        return {
            **self._totals(assets),
            "assets": [self._asset_v3(*a) for a in assets],
            "positions": positions,
        }

    def account_v2(self) -> dict[str, Any]:
        """GET /fapi/v2/account."""
        assets = self._assets()
        now = self.acct.clock.now_ms()
        positions = []
        for spec, ps, amt, entry, upd in self._positions(None, all_sides=True):
            mark = mark_price(spec, now)
            positions.append(
                {
                    "symbol": spec.name,
                    "initialMargin": "0",
                    "maintMargin": "0",
                    "unrealizedProfit": fmt_money(self._pnl(spec, amt, entry, mark)),
                    "positionInitialMargin": "0",
                    "openOrderInitialMargin": "0",
                    "leverage": "20",
                    "isolated": False,
                    "entryPrice": fmt(entry, spec.price_scale),
                    "breakEvenPrice": fmt(entry, spec.price_scale),
                    "maxNotional": "250000",
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": ps,
                    "positionAmt": fmt(amt, spec.qty_scale),
                    "updateTime": upd,
                }
            )
        head = {
            "feeTier": 0,
            "feeBurn": True,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
        }
        return {
            **head,
            **self._totals(assets),
            "assets": [{**self._asset_v3(*a), "marginAvailable": True} for a in assets],
            "positions": positions,
        }

    def balance_v2(self) -> list[dict[str, Any]]:
        """GET /fapi/v2/balance."""
        now = self.acct.clock.now_ms()
        return [
            {
                "accountAlias": "SgsR",
                "asset": a,
                "balance": fmt_money(w),
                "crossWalletBalance": fmt_money(w),
                "crossUnPnl": fmt_money(u),
                "availableBalance": fmt_money(w),
                "maxWithdrawAmount": fmt_money(w),
                "marginAvailable": True,
                "updateTime": now,
            }
            for a, w, u in self._assets()
        ]
