"""Fixtures for the exchange client's tests: a real simulator and a client pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.minute import seconds_to_fresh_minute
from v7d.binance.budget import RateBudget
from v7d.binance.rest import BinanceRest
from v7d.credentials import Credentials
from v7d.sim.testing import SimHandle, running_sim

SIM_DEFAULTS: dict[str, Any] = {"seed": 1, "days": 3, "symbols_listed": 20}

#: The trade item fields of DESIGN.md that REST and the stream must agree on.
TRADE_FIELDS = (
    "symbol",
    "id",
    "order_id",
    "side",
    "position_side",
    "price",
    "qty",
    "quote_qty",
    "realized_pnl",
    "commission",
    "commission_asset",
    "maker",
    "time",
)


def _check_sim_after(sim: SimHandle) -> None:
    stats = sim.stats()
    # v7d only ever reads: no order placement or cancel, in any test.
    assert stats["trading_requests"] == 0
    # A 418 must never happen, whatever the test did.
    assert stats["served_418"] == 0


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A fresh simulator with 3 days of history (no faults)."""
    with running_sim(**SIM_DEFAULTS) as handle:
        yield handle
        _check_sim_after(handle)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimHandle]]:
    """A factory for simulators with other options (faults, weight limit, ...)."""
    stack: list[Any] = []

    def make(**options: Any) -> SimHandle:
        cm = running_sim(**{**SIM_DEFAULTS, **options})
        handle = cm.__enter__()
        stack.append((cm, handle))
        return handle

    yield make
    for cm, handle in reversed(stack):
        try:
            _check_sim_after(handle)
        finally:
            cm.__exit__(None, None, None)


def budget_for(**kw: Any) -> RateBudget:
    """A budget generous enough for tests unless told otherwise."""
    args: dict[str, Any] = {"rate_per_sec": 200.0, "burst": 50, "max_weight_share": 0.5}
    args.update(kw)
    return RateBudget(**args)


@asynccontextmanager
async def client(
    sim: SimHandle,
    *,
    budget: RateBudget | None = None,
    api_key: str | None = None,
    secret: str | None = None,
    **kw: Any,
) -> AsyncIterator[BinanceRest]:
    """An open BinanceRest for ``sim`` (closed on exit)."""
    kw.setdefault("retry_base_s", 0.02)
    kw.setdefault("retry_cap_s", 0.2)
    kw.setdefault("timeout_s", 5.0)
    rest = BinanceRest(
        rest_url=sim.rest_url,
        credentials=Credentials(api_key or sim.api_key, secret or sim.secret),
        budget=budget or budget_for(),
        **kw,
    )
    await rest.open()
    try:
        yield rest
    finally:
        await rest.close()


async def until(cond: Callable[[], bool], within: float = 5.0, what: str = "condition") -> None:
    """Wait until ``cond()`` holds (polling), or fail naming ``what``."""
    deadline = asyncio.get_running_loop().time() + within
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def away_from_minute_end(margin_s: float = 8.0) -> None:
    """Sleep past the next minute boundary if it is less than ``margin_s`` away.

    Tests that count weight within one minute must not straddle Binance's window edge.
    """
    if wait := seconds_to_fresh_minute(margin_s, pad_s=0.2):
        await asyncio.sleep(wait)
