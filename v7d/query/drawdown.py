"""Drawdowns of a cumulative net-PnL curve: a walk over points, hourly blocks, or both.

:class:`Walk` is the one definition: the running peak starts at 0 at the first point's
time; a drawdown lasts from the time its peak was set until the first point back at or
above it, or until the last point when the curve never recovers. It takes points
(``feed``) and whole hours summarised as :class:`~v7d.store.curve.Block` (``step``):
a block is stepped over only when its bounds show that no point in it could deepen the
deepest drawdown or lengthen the longest one found so far; otherwise the caller reads
the hour's points and feeds them. Either way the answer equals the point-by-point walk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from v7d.query.numbers import dec, dec_str
from v7d.store.curve import Block

__all__ = ["Drawdown", "Num", "Walk", "drawdown"]

Num = int | Decimal  # e8 integers in the fast mode, Decimal in the exact fallback


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Largest fall from a running peak, and the longest time spent below a peak."""

    max_drawdown: Num
    peak_ms: int | None
    trough_ms: int | None
    longest_ms: int
    longest_start_ms: int | None
    longest_end_ms: int | None
    underwater_at_end: bool

    def as_dict(self) -> dict[str, Any]:
        """Answer form (money as exact text)."""
        return {
            "max_drawdown": dec_str(dec(self.max_drawdown)),
            "max_drawdown_peak_ms": self.peak_ms,
            "max_drawdown_trough_ms": self.trough_ms,
            "longest_drawdown_ms": self.longest_ms,
            "longest_drawdown_start_ms": self.longest_start_ms,
            "longest_drawdown_end_ms": self.longest_end_ms,
            "underwater_at_end": self.underwater_at_end,
        }


class Walk:
    """The drawdown walk's state after the points and blocks fed so far, in time order."""

    __slots__ = ("best", "cum", "last_t", "longest", "peak", "peak_t")

    def __init__(self, zero: Num = 0) -> None:
        self.cum: Num = zero
        self.peak: Num = zero
        self.peak_t: int | None = None
        self.last_t: int | None = None
        self.best: tuple[Num, int | None, int | None] = (zero, None, None)
        self.longest: tuple[int, int | None, int | None] = (0, None, None)

    def feed(self, points: Iterable[tuple[int, Num]]) -> None:
        """Walk over (time, change) points."""
        cum, peak, peak_t, best, longest = self.cum, self.peak, self.peak_t, self.best, self.longest
        t = self.last_t
        for t, change in points:
            if peak_t is None:
                peak_t = t
            cum += change
            if cum >= peak:
                if t - peak_t > longest[0] and cum - change < peak:
                    longest = (t - peak_t, peak_t, t)
                peak, peak_t = cum, t
            elif peak - cum > best[0]:
                best = (peak - cum, peak_t, t)
        self.cum, self.peak, self.peak_t, self.best, self.longest = cum, peak, peak_t, best, longest
        self.last_t = t

    def step(self, b: Block) -> bool:
        """Step over block ``b`` if its points cannot change the drawdowns found so far.

        Returns False, changing nothing, when they might: then feed its points instead.
        """
        peak_t = b.first_ms if self.peak_t is None else self.peak_t
        below = self.peak - self.cum  # >= 0: how far under the peak the block starts
        if b.max_e8 < below:
            # Never back to the peak: every point is under water, the lowest the deepest.
            if below - b.min_e8 > self.best[0]:
                self.best = (below - b.min_e8, peak_t, b.min_first_ms)
        else:
            # Back at the peak by max_first_ms at the latest; after that only the block's
            # own falls (dd_e8) and gaps between its records (gap_ms) can count.
            deepest = max(below - b.min_e8, b.dd_e8)
            longest = max(b.max_first_ms - peak_t, b.gap_ms)
            if deepest > self.best[0] or longest > self.longest[0]:
                return False
            self.peak, peak_t = self.cum + b.max_e8, b.max_last_ms
        self.peak_t = peak_t
        self.cum += b.total_e8
        self.last_t = b.last_ms
        return True

    def result(self) -> Drawdown:
        """The drawdowns of everything walked, with the open one at the end."""
        if self.last_t is None or self.peak_t is None:
            return Drawdown(self.best[0], None, None, 0, None, None, False)
        longest = self.longest
        under = self.cum < self.peak
        if under and self.last_t - self.peak_t > longest[0]:
            longest = (self.last_t - self.peak_t, self.peak_t, self.last_t)
        b = self.best
        return Drawdown(b[0], b[1], b[2], longest[0], longest[1], longest[2], under)


def drawdown(points: list[tuple[int, Num]]) -> Drawdown:
    """Drawdowns of the cumulative sum of ``points`` (time, change), starting at 0."""
    if not points:
        return Drawdown(0, None, None, 0, None, None, False)
    walk = Walk(0 if isinstance(points[0][1], int) else Decimal(0))
    walk.feed(points)
    return walk.result()
