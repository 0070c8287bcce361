"""The summary, per-symbol and series statistics, assembled from the pieces.

Every money figure is per margin asset (``{"USDT": ..., "USDC": ...}``) and never added
across assets; commission paid in another asset (BNB) is listed by asset, not
converted. docs/stats.md defines every key; the keys are a contract.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from v7d.query.blocks import block_drawdowns, blockable
from v7d.query.coverage import coverage_block
from v7d.query.cuts import Cut
from v7d.query.drawdown import Drawdown, Num, drawdown
from v7d.query.execution import execution_quality
from v7d.query.numbers import Mode, bps_str, dec_str, ratio_str
from v7d.query.outcomes import closing_block, curve_points
from v7d.query.per_order import stale_orders
from v7d.query.sums import (
    IncomeSum,
    TradeGroup,
    exact_mode,
    income_sums,
    trade_groups,
    trade_groups_mode,
)

__all__ = ["asset_figures", "series", "summary", "symbol_rows"]

_ZERO = Decimal(0)


def _funding(incomes: Iterable[IncomeSum]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for s in incomes:
        if s.income_type == "FUNDING_FEE":
            out[s.asset] += s.total
    return dict(out)


def asset_figures(
    groups: Iterable[TradeGroup], funding: dict[str, Decimal] | None
) -> dict[str, dict[str, Any]]:
    """Money figures per margin asset from trade sums (and funding, None = not included)."""
    acc: dict[str, dict[str, Any]] = {}

    def slot(asset: str) -> dict[str, Any]:
        return acc.setdefault(
            asset,
            {"n": 0, "maker_n": 0, "qty": _ZERO, "maker_qty": _ZERO, "turnover": _ZERO,
             "pnl": _ZERO, "fee": _ZERO, "maker_fee": _ZERO, "other": defaultdict(Decimal)},
        )  # fmt: skip

    for g in groups:
        a = slot(g.margin_asset)
        a["n"] += g.n
        a["maker_n"] += g.maker_n
        a["qty"] += g.qty
        a["maker_qty"] += g.maker_qty
        a["turnover"] += g.quote_qty
        a["pnl"] += g.realized_pnl
        if g.commission_asset == g.margin_asset:
            a["fee"] += g.commission
            a["maker_fee"] += g.maker_commission
        else:
            a["other"][g.commission_asset] += g.commission
    for asset in funding or {}:
        slot(asset)
    return {asset: _asset_answer(a, funding, asset) for asset, a in sorted(acc.items())}


def _asset_answer(
    a: dict[str, Any], funding: dict[str, Decimal] | None, asset: str
) -> dict[str, Any]:
    fund = None if funding is None else funding.get(asset, _ZERO)
    net = a["pnl"] - a["fee"] + (fund or _ZERO)
    return {
        "trades": a["n"],
        "maker_trades": a["maker_n"],
        "realized_pnl": dec_str(a["pnl"]),
        "commission": dec_str(a["fee"]),
        "commission_other_assets": {k: dec_str(v) for k, v in sorted(a["other"].items())},
        "funding": None if fund is None else dec_str(fund),
        "net_pnl": dec_str(net),
        "turnover": dec_str(a["turnover"]),
        "fee_drag": ratio_str(a["fee"], a["pnl"]) if a["pnl"] > 0 else None,
        "fee_bps": bps_str(a["fee"] / a["turnover"] * 10_000) if a["turnover"] else None,
        "maker_share_qty": ratio_str(a["maker_qty"], a["qty"]),
        "maker_share_fee": ratio_str(a["maker_fee"], a["fee"]),
    }


def _commission_by_asset(groups: Iterable[TradeGroup]) -> dict[str, str]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for g in groups:
        out[g.commission_asset] += g.commission
    return {k: dec_str(v) for k, v in sorted(out.items())}


def _income_by_type(
    incomes: list[IncomeSum], attributable: bool
) -> dict[str, dict[str, str]] | None:
    if not attributable:
        return None
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for s in incomes:
        out[s.income_type][s.asset] = dec_str(s.total)
    return dict(sorted(out.items()))


def summary(conn: sqlite3.Connection, cut: Cut, *, now_ms: int | None = None) -> dict[str, Any]:
    """The ``/stats/summary`` answer for ``cut``."""
    groups, mode = trade_groups_mode(conn, cut, ("side",))
    if exact_mode(conn, "income_hourly", cut) == "dec":
        mode = "dec"  # one unit for trades and funding on the drawdown curve
    incomes = income_sums(conn, cut, mode=mode)
    attributable = cut.income_attributable
    funding = _funding(incomes) if attributable else None
    by_side: dict[str, list[TradeGroup]] = defaultdict(list)
    for g in groups:
        by_side[g.key[0]].append(g)
    assets = {g.margin_asset for g in groups} | set(funding or {})
    stale = stale_orders(conn, cut, "e8")  # once for the closing and execution blocks
    drawdowns = _drawdowns(conn, cut, mode, assets)
    return {
        "cut": cut.as_dict(),
        "funding_included": attributable,
        "assets": asset_figures(groups, funding),
        "commission_by_asset": _commission_by_asset(groups),
        "income_by_type": _income_by_type(incomes, attributable),
        "by_side": {s: asset_figures(gs, None) for s, gs in sorted(by_side.items())},
        "closing": closing_block(conn, cut, mode, stale),
        "drawdown": {a: d.as_dict() for a, d in sorted(drawdowns.items())},
        "execution": execution_quality(conn, cut, stale),
        "coverage": coverage_block(
            conn, account=cut.account, symbol=cut.symbol, start_ms=cut.start_ms,
            end_ms=cut.end_ms, now_ms=now_ms,
        ),
    }  # fmt: skip


def _drawdowns(
    conn: sqlite3.Connection, cut: Cut, mode: Mode, assets: set[str]
) -> dict[str, Drawdown]:
    """Drawdowns per margin asset: over the curve blocks where the cut has them (exact
    integers, whole curves), else by walking every point."""
    with_funding = cut.income_attributable
    if mode == "e8" and blockable(cut):

        def points(part: Cut, asset: str) -> list[tuple[int, Num]]:
            return curve_points(conn, part, with_funding, "e8", [asset]).get(asset, [])

        return block_drawdowns(conn, cut, sorted(assets), points)
    curves = curve_points(conn, cut, with_funding, mode, assets)
    return {a: drawdown(p) for a, p in curves.items()}


def symbol_rows(conn: sqlite3.Connection, cut: Cut) -> list[dict[str, Any]]:
    """One row per (account, symbol, margin asset) with the summary's headline figures."""
    groups = trade_groups(conn, cut, by=("account", "symbol"))
    attributable = cut.income_attributable
    incomes = income_sums(conn, cut, by=("account", "symbol")) if attributable else []
    per: dict[tuple[str, str], list[TradeGroup]] = defaultdict(list)
    for g in groups:
        per[(g.key[0], g.key[1])].append(g)
    funding: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for s in incomes:
        if s.income_type == "FUNDING_FEE":
            f = funding[(s.key[0], s.key[1])]
            f[s.asset] = f.get(s.asset, _ZERO) + s.total
    rows = []
    for key in sorted(set(per) | set(funding)):
        fund = funding.get(key, {}) if attributable else None
        for asset, fig in asset_figures(per.get(key, []), fund).items():
            rows.append({"account": key[0], "symbol": key[1], "margin_asset": asset, **fig})
    return rows


def series(conn: sqlite3.Connection, cut: Cut, bucket_ms: int, bucket: str) -> dict[str, Any]:
    """Per-bucket and cumulative realized PnL, commission, funding and net PnL per asset."""
    groups = trade_groups(conn, cut, by=("bucket",), bucket_ms=bucket_ms)
    attributable = cut.income_attributable
    incomes = income_sums(conn, cut, by=("bucket",), bucket_ms=bucket_ms)
    cells: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(
        lambda: {"pnl": _ZERO, "fee": _ZERO, "funding": _ZERO}
    )
    for g in groups:
        c = cells[(g.margin_asset, g.key[0])]
        c["pnl"] += g.realized_pnl
        if g.commission_asset == g.margin_asset:
            c["fee"] += g.commission
    for s in incomes:
        if s.income_type == "FUNDING_FEE":
            cells[(s.asset, s.key[0])]["funding"] += s.total
    items: list[dict[str, Any]] = []
    cum: dict[str, Decimal] = defaultdict(Decimal)
    for (asset, start), c in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        net = c["pnl"] - c["fee"] + c["funding"]
        cum[asset] += net
        items.append(
            {"bucket_ms": start, "asset": asset, "realized_pnl": dec_str(c["pnl"]),
             "commission": dec_str(c["fee"]),
             "funding": dec_str(c["funding"]) if attributable else None,
             "net_pnl": dec_str(net), "cum_net_pnl": dec_str(cum[asset])}
        )  # fmt: skip
    return {
        "bucket": bucket,
        "cut": cut.as_dict(),
        "funding_included": attributable,
        "items": items,
        "coverage": coverage_block(
            conn, account=cut.account, symbol=cut.symbol, start_ms=cut.start_ms,
            end_ms=cut.end_ms,
        ),
    }  # fmt: skip
