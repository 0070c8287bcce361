"""Assertions comparing a summary (or symbols/series answer) with the reference.

Shared by the statistics tests over the generated history and over the simulator's.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.query.reference import (
    FINAL,
    RefCut,
    Reference,
    drawdown_ref,
    p90_ref,
    q,
    ratio,
    slippage_ref,
)
from tests.query.truth import DAY, HOUR
from v7d.query.api import HistoryQueryAPI


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def check_assets(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """PnL, commission, funding, net, turnover, fee drag, fee bps, maker shares match."""
    funding = ref.funding_rows(cut) if cut.funding_ok else None
    want = ref.assets(ref.trades(cut), funding)
    got = summary["assets"]
    assert set(got) == set(want)
    for asset, w in want.items():
        g = got[asset]
        assert g["trades"] == w["trades"] and g["maker_trades"] == w["maker_trades"]
        for key in ("realized_pnl", "commission", "net_pnl", "turnover"):
            assert Decimal(g[key]) == w[key], (asset, key)
        assert _d(g["funding"]) == (w["funding"] if funding is not None else None)
        for key in ("fee_drag", "fee_bps", "maker_share_qty", "maker_share_fee"):
            assert _d(g[key]) == w[key], (asset, key)
        others = {k.split(":", 1)[1]: v for k, v in w.items() if k.startswith("other:")}
        assert {k: Decimal(v) for k, v in g["commission_other_assets"].items()} == others


def check_commission_by_asset(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Commission is reported per asset paid, never converted."""
    want: dict[str, Decimal] = {}
    for t in ref.trades(cut):
        a = t["commission_asset"]
        want[a] = want.get(a, Decimal(0)) + Decimal(t["commission"])
    got = summary["commission_by_asset"]
    assert {k: Decimal(v) for k, v in got.items()} == want


def check_income_by_type(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Income sums by type and asset, or null when the cut cannot attribute income."""
    got = summary["income_by_type"]
    assert summary["funding_included"] == cut.funding_ok
    if not cut.funding_ok:
        assert got is None
        return
    want: dict[str, dict[str, Decimal]] = {}
    for i in ref.t.income:
        if cut.in_window(i["time"]) and (cut.symbol is None or i["symbol"] == cut.symbol):
            per = want.setdefault(i["income_type"], {})
            per[i["asset"]] = per.get(i["asset"], Decimal(0)) + Decimal(i["income"])
    assert {t: {a: Decimal(v) for a, v in d.items()} for t, d in got.items()} == want


def check_by_side(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """The BUY/SELL breakdown adds the same figures over each side's trades."""
    got = summary["by_side"]
    trades = ref.trades(cut)
    for side in ("BUY", "SELL"):
        part = [t for t in trades if t["side"] == side]
        want = ref.assets(part, None)
        assert set(got.get(side, {})) == set(want)
        for asset, w in want.items():
            assert Decimal(got[side][asset]["net_pnl"]) == w["net_pnl"]
            assert got[side][asset]["funding"] is None


def check_closing(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Each figure equals the plain-Decimal result over the truth's closing orders."""
    want = ref.closing(ref.trades(cut))
    got = summary["closing"]
    assert set(got) == set(want)
    for asset, results in want.items():
        g = got[asset]
        wins = [r for r in results if r > 0]
        losses = [r for r in results if r < 0]
        won, lost = sum(wins, Decimal(0)), sum(losses, Decimal(0))
        assert g["closing_orders"] == len(results)
        assert (g["wins"], g["losses"]) == (len(wins), len(losses))
        assert Decimal(g["gross_profit"]) == won and Decimal(g["gross_loss"]) == lost
        assert _d(g["win_rate"]) == ratio(Decimal(len(wins)), Decimal(len(results)))
        assert _d(g["avg_win"]) == ratio(won, Decimal(len(wins)))
        assert _d(g["avg_loss"]) == ratio(lost, Decimal(len(losses)))
        assert _d(g["profit_factor"]) == ratio(won, -lost)
        assert _d(g["expectancy"]) == ratio(won + lost, Decimal(len(results)))


def check_drawdown(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Both equal a brute-force computation over the truth's curve."""
    curves = ref.curve(ref.trades(cut), ref.funding_rows(cut))
    got = summary["drawdown"]
    assert set(got) == set(curves)
    for asset, points in curves.items():
        want = drawdown_ref(points)
        assert Decimal(got[asset]["max_drawdown"]) == want["max"], asset
        assert got[asset]["longest_drawdown_ms"] == want["longest"], asset


def check_counts_and_rates(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Counts by status, fill rate, fill ratio and cancel rate."""
    orders = ref.executions(cut)
    got = summary["execution"]
    counts: dict[str, int] = {}
    for o in orders:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    assert got["counts_by_status"] == counts and got["orders"] == len(orders)
    finals = [o for o in orders if o["status"] in FINAL]
    filled = [o for o in orders if Decimal(o["executed_qty"]) > 0]
    assert got["orders_with_fills"] == len(filled)
    assert _d(got["fill_rate"]) == ratio(Decimal(len(filled)), Decimal(len(orders)))
    ratios = [min(Decimal(1), Decimal(o["executed_qty"]) / Decimal(o["orig_qty"]))
              for o in finals if Decimal(o["orig_qty"]) > 0]  # fmt: skip
    assert _d(got["fill_ratio"]) == ratio(sum(ratios, Decimal(0)), Decimal(len(ratios)))
    canceled = sum(1 for o in finals if o["status"] == "CANCELED")
    assert _d(got["cancel_rate"]) == ratio(Decimal(canceled), Decimal(len(finals)))


def check_fill_times(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Time to first and to full fill: n, mean and p90 from the events."""
    first, full = ref.fill_times(ref.executions(cut))
    got = summary["execution"]
    for key, values in (("time_to_first_fill_ms", first), ("time_to_full_fill_ms", full)):
        g = got[key]
        assert g["n"] == len(values)
        mean = q(Decimal(sum(values)) / len(values), "1e-3") if values else None
        assert _d(g["mean"]) == mean
        assert g["p90"] == p90_ref(values)


def check_slippage(cut: RefCut, ref: Reference, summary: dict[str, Any]) -> None:
    """Mean slippage in bps against the limit or stop price."""
    slips = [s for o in ref.executions(cut) if (s := slippage_ref(o)) is not None]
    got = summary["execution"]["slippage_bps"]
    assert got["n"] == len(slips)
    want = q(sum(slips, Decimal(0)) / len(slips), "1e-4") if slips else None
    assert _d(got["mean"]) == want


def check_symbols(cut: RefCut, ref: Reference, store_path: Path) -> None:
    """Each symbol row equals the figures over that symbol's trades (and funding)."""
    with HistoryQueryAPI(store_path) as api:
        rows = api.symbols(**cut.args())
    trades = ref.trades(cut)
    funding = ref.funding_rows(cut)
    symbols = {t["symbol"] for t in trades} | {i["symbol"] for i in funding}
    assert sorted(r["symbol"] for r in rows) == sorted(symbols)
    for r in rows:
        part = [t for t in trades if t["symbol"] == r["symbol"]]
        fund = [i for i in funding if i["symbol"] == r["symbol"]]
        want = ref.assets(part, fund if cut.funding_ok else None)[r["margin_asset"]]
        assert Decimal(r["net_pnl"]) == want["net_pnl"]
        assert Decimal(r["turnover"]) == want["turnover"]
        assert r["trades"] == want["trades"]


def check_series(cut: RefCut, ref: Reference, store_path: Path, bucket: str) -> None:
    """Per-bucket net PnL and its running sum equal the truth's, per asset."""
    size = {"1h": HOUR, "1d": DAY}[bucket]
    with HistoryQueryAPI(store_path) as api:
        items = api.series(bucket=bucket, **cut.args())["items"]
    want: dict[tuple[str, int], Decimal] = {}
    for asset, points in ref.curve(ref.trades(cut), ref.funding_rows(cut)).items():
        for t, change in points:
            key = (asset, t // size * size)
            want[key] = want.get(key, Decimal(0)) + change
    got = {(i["asset"], i["bucket_ms"]): Decimal(i["net_pnl"]) for i in items}
    assert got == want
    running: dict[str, Decimal] = {}
    for i in items:
        running[i["asset"]] = running.get(i["asset"], Decimal(0)) + Decimal(i["net_pnl"])
        assert Decimal(i["cum_net_pnl"]) == running[i["asset"]]


SUMMARY_CHECKS = [
    check_assets, check_commission_by_asset, check_income_by_type, check_by_side,
    check_closing, check_drawdown, check_counts_and_rates, check_fill_times, check_slippage,
]  # fmt: skip
