"""Fixtures for the simulator's own tests: a running simulator and a signed client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.minute import seconds_to_fresh_minute
from v7d.sim.client import SignedClient
from v7d.sim.testing import SimHandle, running_sim

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"


def payload(name: str) -> Any:
    """A recorded payload shape from tests/payloads/."""
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def wait_fresh_minute(margin_s: float = 10.0) -> None:
    """Sleep past the next minute boundary if this minute has less than ``margin_s`` left
    (weight counts per calendar minute, so rate-limit tests must not straddle one)."""
    if wait := seconds_to_fresh_minute(margin_s, pad_s=0.05):
        time.sleep(wait)


def same_shape(got: Any, want: Any, where: str = "$") -> None:
    """Assert ``got`` has exactly ``want``'s keys with the same JSON types, recursively."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: expected an object, got {got!r}"
        assert set(got) == set(want), (
            f"{where}: keys differ: missing {sorted(set(want) - set(got))}, "
            f"extra {sorted(set(got) - set(want))}"
        )
        for k in want:
            same_shape(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list), f"{where}: expected a list, got {got!r}"
        for i, item in enumerate(got):
            if want:
                same_shape(item, want[0], f"{where}[{i}]")
    elif want is None:
        assert got is None or isinstance(got, str), f"{where}: expected null, got {got!r}"
    else:
        assert type(got) is type(want), f"{where}: expected {type(want).__name__}, got {got!r}"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """One simulator per test module (20 days of history, default hard cases)."""
    with running_sim(seed=11, days=20, trades_per_day=300) as handle:
        yield handle


@pytest.fixture
def client(sim: SimHandle) -> Iterator[SignedClient]:
    """A signed client for ``sim``."""
    with SignedClient(sim.rest_url, sim.api_key, sim.secret) as c:
        yield c
