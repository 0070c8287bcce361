"""A deterministic synthetic price path per symbol (used by history, live activity, matching)."""

from __future__ import annotations

import math

from v7d.sim.symbols import SymbolSpec

__all__ = ["mark_price"]

_TWO_PI = 2 * math.pi


def mark_price(spec: SymbolSpec, t_ms: int) -> int:
    """The mark price of ``spec`` at ``t_ms``, in ticks; the same inputs give the same tick."""
    phase = spec.index * 0.7
    x = (
        0.03 * math.sin(_TWO_PI * t_ms / 26_280_000 + phase)
        + 0.01 * math.sin(_TWO_PI * t_ms / 3_180_000 + 2 * phase)
        + 0.003 * math.sin(_TWO_PI * t_ms / 246_000 + 3 * phase)
    )
    return max(1, round(spec.base_price * (1.0 + x)))
