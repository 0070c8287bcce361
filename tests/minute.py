"""Where tests stand in Binance's weight minute (counted per calendar minute of the wall clock)."""

from __future__ import annotations

import time


def seconds_to_fresh_minute(margin_s: float, pad_s: float) -> float:
    """Seconds to sleep so that at least ``margin_s`` of the current minute remains: 0 when
    this minute has that much left, else past the next boundary by ``pad_s``.

    Tests that count weight within one minute must not straddle the window's edge.
    """
    left = 60 - (time.time() % 60)
    return left + pad_s if left < margin_s else 0.0
