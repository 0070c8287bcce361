"""The [?] switches of the reference, each tested both ways."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from v7d.sim.client import SignedClient
from v7d.sim.testing import running_sim

DAY = 86_400_000


class TestTradeIds:
    """Trade ids unique per symbol or globally."""

    @pytest.mark.parametrize("mode", ["per_symbol", "global"])
    def test_trade_id_scope(self, mode: str) -> None:
        """per_symbol: ids repeat across symbols; global: never."""
        with running_sim(days=3, symbols_active=4, trade_ids=mode, sweep_fills=0) as s:
            trades = s.truth()["trades"]
        per_symbol = Counter((t["symbol"], t["id"]) for t in trades)
        assert per_symbol.most_common(1)[0][1] == 1
        ids = Counter(t["id"] for t in trades)
        repeated = ids.most_common(1)[0][1] > 1
        assert repeated is (mode == "per_symbol")


class TestIncomeWindow:
    """Income max window: none or 7 days."""

    @pytest.mark.parametrize("max_days", [None, 7])
    def test_income_window(self, max_days: int | None) -> None:
        """A 10-day income window is accepted without a max and refused with 7 days."""
        with (
            running_sim(days=12, symbols_active=2, income_max_window_days=max_days) as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            now = int(time.time() * 1000)
            r = c.get("/fapi/v1/income", {"startTime": now - 10 * DAY, "endTime": now})
        if max_days is None:
            assert r.status_code == 200 and len(r.json()) == 100
        else:
            assert r.status_code == 400 and r.json()["code"] == -1127


class TestHedgeMode:
    """Hedge mode gives LONG/SHORT position sides; one-way gives BOTH."""

    @pytest.mark.parametrize("hedge", [False, True])
    def test_position_sides(self, hedge: bool) -> None:
        """Trades, orders and positions use the mode's position sides."""
        with (
            running_sim(days=2, symbols_active=3, hedge_mode=hedge) as s,
            SignedClient(s.rest_url, s.api_key, s.secret) as c,
        ):
            sides = {t["position_side"] for t in s.truth()["trades"]}
            pos = c.get("/fapi/v3/positionRisk").json()
        want = {"LONG", "SHORT"} if hedge else {"BOTH"}
        assert sides == want
        assert {p["positionSide"] for p in pos} <= want
