"""Every statistic, recomputed from the truth rows in plain Decimal, equals the answer.

The cuts cover both summation paths (hourly rollups for hour-aligned windows, rows for
the rest), the Decimal fallback for values with more than 8 decimals (day 1 of the test
history), and every filter: symbol, side, position side, order type, status, client-id
prefix and time window.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

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
from tests.query.truth import DAY, HOUR, T0, Truth
from v7d.query.api import HistoryQueryAPI

CUTS = [
    RefCut(),
    RefCut(symbol="BTCUSDT"),
    RefCut(symbol="SOLUSDC"),
    RefCut(start_ms=T0 + 2 * HOUR, end_ms=T0 + 20 * HOUR),
    RefCut(start_ms=T0 + 3 * HOUR, end_ms=T0 + DAY + 5 * HOUR),
    RefCut(start_ms=T0 + DAY, end_ms=T0 + 2 * DAY),
    RefCut(start_ms=T0 + 1_234_567, end_ms=T0 + DAY + 7_654_321),
    RefCut(start_ms=T0 + 2 * DAY + 1),
    RefCut(end_ms=T0 + DAY - 1),
    RefCut(side="BUY"),
    RefCut(side="SELL", symbol="ETHUSDT"),
    RefCut(position_side="BOTH", start_ms=T0 + HOUR),
    RefCut(prefix="alpha-"),
    RefCut(prefix="beta-", start_ms=T0 + 5 * HOUR, end_ms=T0 + 2 * DAY),
    RefCut(status="FILLED"),
    RefCut(status="CANCELED", symbol="SOLUSDC"),
    RefCut(order_type="LIMIT"),
    RefCut(order_type="STOP_MARKET", side="BUY"),
    RefCut(symbol="ETHUSDT", start_ms=T0, end_ms=T0 + 1),
]


def _id(cut: RefCut) -> str:
    return ",".join(f"{k}={v}" for k, v in cut.args().items()) or "all"


@pytest.fixture(scope="module")
def ref(truth: Truth) -> Reference:
    """The reference implementation over the same truth."""
    return Reference(truth)


@pytest.fixture(scope="module")
def summaries(store_path: Path) -> dict[RefCut, dict[str, Any]]:
    """The summary of every cut, computed once."""
    with HistoryQueryAPI(store_path) as api:
        return {c: api.summary(**c.args()) for c in CUTS}


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


BY_CUT = pytest.mark.parametrize("cut", CUTS, ids=_id)


@BY_CUT
class TestMoney:
    """Per margin asset money figures."""

    def test_assets(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """PnL, commission, funding, net, turnover, fee drag, fee bps, maker shares match."""
        funding = ref.funding_rows(cut) if cut.funding_ok else None
        want = ref.assets(ref.trades(cut), funding)
        got = summaries[cut]["assets"]
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

    def test_commission_by_asset(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Commission is reported per asset paid, never converted."""
        want: dict[str, Decimal] = {}
        for t in ref.trades(cut):
            a = t["commission_asset"]
            want[a] = want.get(a, Decimal(0)) + Decimal(t["commission"])
        got = summaries[cut]["commission_by_asset"]
        assert {k: Decimal(v) for k, v in got.items()} == want

    def test_income_by_type(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Income sums by type and asset, or null when the cut cannot attribute income."""
        got = summaries[cut]["income_by_type"]
        assert summaries[cut]["funding_included"] == cut.funding_ok
        if not cut.funding_ok:
            assert got is None
            return
        want: dict[str, dict[str, Decimal]] = {}
        for i in ref.t.income:
            if cut.in_window(i["time"]) and (cut.symbol is None or i["symbol"] == cut.symbol):
                per = want.setdefault(i["income_type"], {})
                per[i["asset"]] = per.get(i["asset"], Decimal(0)) + Decimal(i["income"])
        assert {t: {a: Decimal(v) for a, v in d.items()} for t, d in got.items()} == want

    def test_by_side(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """The BUY/SELL breakdown adds the same figures over each side's trades."""
        got = summaries[cut]["by_side"]
        trades = ref.trades(cut)
        for side in ("BUY", "SELL"):
            part = [t for t in trades if t["side"] == side]
            want = ref.assets(part, None)
            assert set(got.get(side, {})) == set(want)
            for asset, w in want.items():
                assert Decimal(got[side][asset]["net_pnl"]) == w["net_pnl"]
                assert got[side][asset]["funding"] is None


@BY_CUT
class TestClosingOrders:
    """Win rate, averages, profit factor and expectancy per closing order."""

    def test_closing(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Each figure equals the plain-Decimal result over the truth's closing orders."""
        want = ref.closing(ref.trades(cut))
        got = summaries[cut]["closing"]
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


@BY_CUT
class TestDrawdown:
    """Max and longest drawdown of the cumulative net-PnL curve."""

    def test_drawdown(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Both equal a brute-force computation over the truth's curve."""
        curves = ref.curve(ref.trades(cut), ref.funding_rows(cut))
        got = summaries[cut]["drawdown"]
        assert set(got) == set(curves)
        for asset, points in curves.items():
            want = drawdown_ref(points)
            assert Decimal(got[asset]["max_drawdown"]) == want["max"], asset
            assert got[asset]["longest_drawdown_ms"] == want["longest"], asset


@BY_CUT
class TestExecution:
    """Execution quality of the cut's orders."""

    def test_counts_and_rates(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Counts by status, fill rate, fill ratio and cancel rate."""
        orders = ref.executions(cut)
        got = summaries[cut]["execution"]
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

    def test_fill_times(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Time to first and to full fill: n, mean and p90 from the events."""
        first, full = ref.fill_times(ref.executions(cut))
        got = summaries[cut]["execution"]
        for key, values in (("time_to_first_fill_ms", first), ("time_to_full_fill_ms", full)):
            g = got[key]
            assert g["n"] == len(values)
            mean = q(Decimal(sum(values)) / len(values), "1e-3") if values else None
            assert _d(g["mean"]) == mean
            assert g["p90"] == p90_ref(values)

    def test_slippage(self, cut: RefCut, ref: Reference, summaries: dict) -> None:
        """Mean slippage in bps against the limit or stop price."""
        slips = [s for o in ref.executions(cut) if (s := slippage_ref(o)) is not None]
        got = summaries[cut]["execution"]["slippage_bps"]
        assert got["n"] == len(slips)
        want = q(sum(slips, Decimal(0)) / len(slips), "1e-4") if slips else None
        assert _d(got["mean"]) == want


@BY_CUT
class TestSymbolsAndSeries:
    """Per-symbol rows and per-bucket series add up to the same truth."""

    def test_symbols(self, cut: RefCut, ref: Reference, store_path: Path) -> None:
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

    @pytest.mark.parametrize("bucket", ["1h", "1d"])
    def test_series(self, cut: RefCut, ref: Reference, store_path: Path, bucket: str) -> None:
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


def test_fallback_exercised(store_path: Path) -> None:
    """The test history holds values with no exact e8 twin, so the Decimal path runs."""
    with sqlite3.connect(store_path) as conn:
        n = conn.execute("SELECT count(*) FROM trades WHERE realized_pnl_e8 IS NULL").fetchone()
    assert n[0] > 0
