"""Every statistic over a store filled from the simulator's ground truth equals the
plain-Decimal reference computed from that truth.

The simulator's history has what real accounts have: a one-millisecond market sweep of
more than a thousand fills, commission paid in BNB, a USDC-margined perpetual, a delisted
symbol, liquidations, stop and trailing orders, expiries, funding every 8 hours.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.query import checks
from tests.query.reference import RefCut, Reference
from tests.query.rig import fill_store
from tests.query.truth import DAY, HOUR, Truth
from v7d.query.api import HistoryQueryAPI
from v7d.sim.testing import running_sim

ANCHOR = 1_717_200_000_000
DAYS = 4
START = 1_716_854_400_000  # the simulator's history start for these options (a UTC midnight)

CUTS = [
    RefCut(),
    RefCut(symbol="BTCUSDC"),
    RefCut(symbol="SRMUSDT"),
    RefCut(start_ms=START + 5 * HOUR, end_ms=START + 2 * DAY),
    RefCut(start_ms=START + 12_345, end_ms=START + 3 * DAY + 999),
    RefCut(side="SELL", symbol="BTCUSDT"),
    RefCut(order_type="MARKET"),
    RefCut(status="EXPIRED"),
    RefCut(prefix="a"),
]


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "retrievable"} for r in rows]


@pytest.fixture(scope="module")
def sim_truth() -> Truth:
    """The simulator's truth for 4 days of seeded activity."""
    with running_sim(seed=3, days=DAYS, anchor_ms=ANCHOR, trades_per_day=300) as sim:
        assert sim.info()["history_start_ms"] == START
        raw = sim.truth()
    return Truth(orders=_strip(raw["orders"]), trades=_strip(raw["trades"]),
                 income=_strip(raw["income"]))  # fmt: skip


@pytest.fixture(scope="module")
def sim_store(sim_truth: Truth) -> Iterator[Path]:
    """A store holding the simulator's truth, written through the Writer."""
    with tempfile.TemporaryDirectory(prefix="v7dqs-") as d:
        path = Path(d) / "history.db"
        asyncio.run(fill_store(path, sim_truth))
        yield path


@pytest.fixture(scope="module")
def sim_summaries(sim_store: Path) -> dict[RefCut, Any]:
    """The summary of every cut."""
    with HistoryQueryAPI(sim_store) as api:
        return {c: api.summary(**c.args()) for c in CUTS}


def _id(cut: RefCut) -> str:
    return ",".join(f"{k}={v}" for k, v in cut.args().items()) or "all"


class TestSummaryAgainstSimulator:
    """Each statistic equals the reference over the simulator's truth."""

    @pytest.mark.parametrize("check", checks.SUMMARY_CHECKS, ids=lambda c: c.__name__[6:])
    @pytest.mark.parametrize("cut", CUTS, ids=_id)
    def test_statistic(
        self, check: Any, cut: RefCut, sim_truth: Truth, sim_summaries: dict[RefCut, Any]
    ) -> None:
        """The figure matches the reference exactly."""
        check(cut, Reference(sim_truth), sim_summaries[cut])

    @pytest.mark.parametrize("cut", CUTS[:5], ids=_id)
    def test_symbols_and_series(self, cut: RefCut, sim_truth: Truth, sim_store: Path) -> None:
        """Per-symbol rows and the daily series match the reference too."""
        ref = Reference(sim_truth)
        checks.check_symbols(cut, ref, sim_store)
        checks.check_series(cut, ref, sim_store, "1d")

    def test_history_has_the_hard_cases(self, sim_truth: Truth) -> None:
        """The truth holds BNB commission, a USDC symbol and a >1000-fill millisecond."""
        assert any(t["commission_asset"] == "BNB" for t in sim_truth.trades)
        assert any(t["symbol"].endswith("USDC") for t in sim_truth.trades)
        per_ms: dict[int, int] = {}
        for t in sim_truth.trades:
            per_ms[t["time"]] = per_ms.get(t["time"], 0) + 1
        assert max(per_ms.values()) > 1000


def test_statistics_tables_change_no_answer(sim_store: Path, tmp_path: Path) -> None:
    """With every hour marked for rebuild (so statistics read only the history tables),
    every cut's summary is the same as through the writer's statistics tables."""
    import shutil
    import sqlite3

    copy = tmp_path / "dirty.db"
    shutil.copy(sim_store, copy)
    raw = sqlite3.connect(copy)
    raw.execute(
        "INSERT OR IGNORE INTO stats_dirty SELECT DISTINCT account, (time / 3600000) * 3600000 "
        "FROM trades"
    )
    raw.commit()
    assert raw.execute("SELECT COUNT(*) FROM stats_dirty").fetchone()[0] > 48
    raw.close()
    with HistoryQueryAPI(sim_store) as fresh, HistoryQueryAPI(copy) as dirty:
        for cut in CUTS:
            assert dirty.summary(**cut.args()) == fresh.summary(**cut.args()), _id(cut)
