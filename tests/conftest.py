"""Shared fixtures for the whole suite."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory (Unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="v7d-", dir="/tmp") as d:
        yield Path(d)
