"""Fixtures for the daemon tests: a short temp dir, a notify recorder, daemon processes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from v7d.supervise.testing import DaemonProcess, NotifyRecorder, write_config


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A temp dir with a short path: Unix socket paths must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="v7d-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def notify(short_dir: Path) -> Iterator[NotifyRecorder]:
    """Records the daemon's sd_notify datagrams."""
    with NotifyRecorder(short_dir) as recorder:
        yield recorder


@pytest.fixture
def daemon_factory(
    short_dir: Path, notify: NotifyRecorder
) -> Iterator[Callable[..., DaemonProcess]]:
    """Build daemons on ``short_dir`` (config written unless given); stopped at teardown."""
    made: list[DaemonProcess] = []

    def make(
        config: Path | None = None, *, env: dict[str, str] | None = None, **kw: Any
    ) -> DaemonProcess:
        path = config or write_config(short_dir, **kw)
        daemon = DaemonProcess(path, notify=notify, env=env)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.kill()
