"""Properties over random windows and fault schedules, against the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v7d.sim.client import SignedClient
from v7d.sim.rows import income_truth, order_truth, trade_truth
from v7d.sim.testing import SimHandle, running_sim

DAY = 86_400_000


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[SimHandle, dict[str, Any], SignedClient]]:
    """A quiet simulator, its truth, and a client."""
    with running_sim(seed=17, days=10, symbols_active=4, trades_per_day=200) as s, \
            SignedClient(s.rest_url, s.api_key, s.secret) as c:  # fmt: skip
        yield s, s.truth(), c


_HEALTH = [HealthCheck.function_scoped_fixture]


class TestWindowProperties:
    """Any window answers exactly the truth rows inside it (inclusive bounds)."""

    @given(
        offset=st.integers(0, 10 * DAY),
        length=st.integers(0, 7 * DAY),
        symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCUSDC", "1000PEPEUSDT"]),
    )
    @settings(max_examples=25, deadline=None, suppress_health_check=_HEALTH)
    def test_user_trades_window(self, world: Any, offset: int, length: int, symbol: str) -> None:
        """userTrades(startTime, endTime) = the first 1,000 truth trades in [start, end]."""
        sim, truth, c = world
        start = sim.info()["history_start_ms"] + offset
        end = start + length
        rows = c.get(
            "/fapi/v1/userTrades",
            {"symbol": symbol, "startTime": start, "endTime": end, "limit": 1000},
        ).json()
        want = [t for t in truth["trades"] if t["symbol"] == symbol and start <= t["time"] <= end]
        assert [trade_truth(r) | {"retrievable": True} for r in rows] == want[:1000]

    @given(offset=st.integers(0, 10 * DAY), length=st.integers(0, 7 * DAY))
    @settings(max_examples=20, deadline=None, suppress_health_check=_HEALTH)
    def test_all_orders_window(self, world: Any, offset: int, length: int) -> None:
        """allOrders(startTime, endTime) = the first retrievable truth orders in the window."""
        sim, truth, c = world
        start = sim.info()["history_start_ms"] + offset
        end = start + length
        rows = c.get(
            "/fapi/v1/allOrders",
            {"symbol": "ETHUSDT", "startTime": start, "endTime": end, "limit": 1000},
        ).json()
        want = [
            o
            for o in truth["orders"]
            if o["symbol"] == "ETHUSDT" and o["retrievable"] and start <= o["time"] <= end
        ]
        assert [order_truth(r) | {"retrievable": True} for r in rows] == want[:1000]

    @given(
        offset=st.integers(0, 10 * DAY),
        length=st.integers(0, 3 * DAY),
        page=st.integers(1, 3),
        limit=st.sampled_from([7, 100, 1000]),
    )
    @settings(max_examples=20, deadline=None, suppress_health_check=_HEALTH)
    def test_income_pages(
        self, world: Any, offset: int, length: int, page: int, limit: int
    ) -> None:
        """income page N of a window is rows (N-1)*limit .. N*limit of REST's order."""
        sim, truth, c = world
        start = sim.info()["history_start_ms"] + offset
        end = start + length
        rows = c.get(
            "/fapi/v1/income", {"startTime": start, "endTime": end, "page": page, "limit": limit}
        ).json()
        rank = {"TRANSFER": 0, "FUNDING_FEE": 1, "COMMISSION": 2, "REALIZED_PNL": 3}
        inside = sorted(
            (i for i in truth["income"] if start <= i["time"] <= end),
            key=lambda i: (i["time"], i["tran_id"], rank[i["income_type"]]),
        )
        got = [income_truth(r) | {"retrievable": True} for r in rows]
        assert got == inside[(page - 1) * limit : page * limit]


class TestFaultReplay:
    """The same seed and profile replay the same fault schedule on the real server."""

    # storms are left out: what follows a 429 depends on the wall clock (grace, minute end);
    # their decisions are still replayed exactly (test_faults.TestSchedules)
    @given(seed=st.integers(1, 1000), profile=st.sampled_from(["flaky", "chaos", "slow"]))
    @settings(max_examples=4, deadline=None)
    def test_replay(self, seed: int, profile: str) -> None:
        """Two simulators answer the same request sequence with the same statuses."""
        runs = []
        for _ in range(2):
            with (
                running_sim(
                    seed=seed,
                    days=1,
                    symbols_active=1,
                    faults=profile,
                    fault_rates={
                        "p_timeout": 0.0,
                        "p_storm": 0.0,
                        "slow_max_s": 0.01,
                        "slow_min_s": 0.0,
                    },
                ) as s,
                httpx.Client() as h,
            ):
                runs.append([h.get(f"{s.rest_url}/fapi/v1/ping").status_code for _ in range(40)])
        assert runs[0] == runs[1]
