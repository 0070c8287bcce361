"""Fixtures for the systemd and packaging tests: the cached .deb and the unit file."""

from __future__ import annotations

from pathlib import Path

import pytest
from container import unavailable_reason
from debcache import REPO, cached_deb


@pytest.fixture(scope="session")
def deb_path() -> Path:
    """The Debian package built from the current work tree (cached by content hash)."""
    return cached_deb()


@pytest.fixture(scope="session")
def repo() -> Path:
    """The project's top directory."""
    return REPO


@pytest.fixture(scope="session")
def container_ready() -> None:
    """Skip (printing why) only where a systemd container cannot run: not root, no nspawn."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
