"""Every knob of the simulator in one frozen dataclass, checked once at start."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SimOptions"]

# ids are laid out as <day><symbol><sequence> blocks (see v7d.sim.ids); one (symbol, day)
# holds at most this many trades / orders.
MAX_PER_SYMBOL_DAY = 90_000


@dataclass(frozen=True)
class SimOptions:
    """Settings of one simulator instance.

    ``anchor_ms`` is the end of the generated history (default: the wall clock at start);
    two simulators with the same seed and anchor produce byte-identical history.
    ``time_scale`` divides the durations the exchange enforces (listenKey TTL, connection
    age, ping/pong, live funding interval, retention, 418 bans).
    """

    seed: int = 7
    days: int = 30
    symbols_listed: int = 300
    symbols_active: int = 6
    trades_per_day: int = 400
    live_rate: float = 0.0
    faults: str = "none"
    weight_limit: int = 2400
    time_scale: float = 1.0
    time_offset_ms: int = 0
    hedge_mode: bool = False
    anchor_ms: int | None = None
    api_key: str | None = None
    secret: str | None = None
    # [?] switches of the reference, each settable
    retry_after: bool = True
    trade_ids: str = "per_symbol"  # per_symbol | global
    window_error: str = "-1127"  # -1127 | -1100
    income_max_window_days: int | None = None  # None (no limit) | 7
    # the hard cases
    sweep_fills: int = 1200
    # rate limiting: requests sent during a 429 after this grace count as violations,
    # and this many violations turn into a 418 ban
    ban_grace_ms: int = 500
    ban_after_violations: int = 2
    fault_rates: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.days >= 1, "days", "expected an integer >= 1", self.days)
        _check(self.days <= 400, "days", "expected at most 400", self.days)
        _check(self.symbols_listed >= 10, "symbols_listed", "expected >= 10", self.symbols_listed)
        _check(
            self.symbols_listed <= 3000, "symbols_listed", "expected <= 3000", self.symbols_listed
        )
        _check(
            1 <= self.symbols_active <= self.symbols_listed,
            "symbols_active",
            "expected 1..symbols_listed",
            self.symbols_active,
        )
        _check(self.trades_per_day >= 0, "trades_per_day", "expected >= 0", self.trades_per_day)
        _check(
            self.trades_per_day <= MAX_PER_SYMBOL_DAY,
            "trades_per_day",
            f"expected <= {MAX_PER_SYMBOL_DAY}",
            self.trades_per_day,
        )
        _check(self.live_rate >= 0, "live_rate", "expected >= 0", self.live_rate)
        _check(self.weight_limit >= 1, "weight_limit", "expected >= 1", self.weight_limit)
        _check(self.time_scale > 0, "time_scale", "expected > 0", self.time_scale)
        _check(
            self.trade_ids in ("per_symbol", "global"),
            "trade_ids",
            "expected per_symbol or global",
            self.trade_ids,
        )
        _check(
            self.window_error in ("-1127", "-1100"),
            "window_error",
            "expected -1127 or -1100",
            self.window_error,
        )
        _check(
            self.income_max_window_days in (None, 7),
            "income_max_window_days",
            "expected None or 7",
            self.income_max_window_days,
        )
        _check(0 <= self.sweep_fills <= 5000, "sweep_fills", "expected 0..5000", self.sweep_fills)

    def with_defaults(self) -> SimOptions:
        """Return a copy whose anchor is fixed (the wall clock now when not given)."""
        if self.anchor_ms is not None:
            return self
        now = int(time.time() * 1000) + self.time_offset_ms
        return dataclasses.replace(self, anchor_ms=now)


def _check(ok: bool, name: str, expected: str, got: object) -> None:
    if not ok:
        raise ValueError(f"sim option {name}: {expected}, got {got!r}")
