"""One simulator and one daemon for the v7ctl tests of a module (both real, over sockets)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from v7d.sim.testing import SimHandle, running_sim
from v7d.supervise.testing import DaemonProcess, write_sim_config


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """A seeded simulator with a few days of history and no live activity."""
    with running_sim(seed=11, days=5, symbols_listed=40, symbols_active=3, trades_per_day=150) as s:
        yield s


@pytest.fixture(scope="module")
def module_dir() -> Iterator[Path]:
    """A short temp dir shared by the module's daemon."""
    path = Path(tempfile.mkdtemp(prefix="v7c-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(sim: SimHandle, module_dir: Path) -> Iterator[DaemonProcess]:
    """``v7d run`` against ``sim``, ready; stopped (and checked to exit 0) at the end."""
    config = write_sim_config(module_dir, sim, rate=50.0, burst=50)
    proc = DaemonProcess(config).start()
    proc.wait_ready()
    yield proc
    assert proc.stop() == 0, proc.output[-3000:]
