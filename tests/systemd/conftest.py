"""Fixtures for the systemd and packaging tests: the cached .deb and the unit file."""

from __future__ import annotations

from pathlib import Path

import pytest
from debcache import REPO, cached_deb


@pytest.fixture(scope="session")
def deb_path() -> Path:
    """The Debian package built from the current work tree (cached by content hash)."""
    return cached_deb()


@pytest.fixture(scope="session")
def repo() -> Path:
    """The project's top directory."""
    return REPO
