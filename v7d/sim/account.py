"""The simulated account: lazily generated day buckets plus live state (positions, balances).

All access goes through one event loop (the server's), so no locks are needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from v7d.sim import ids
from v7d.sim.algos import AlgoState
from v7d.sim.book import DayBucket
from v7d.sim.clock import SimClock
from v7d.sim.generator import HistoryGenerator, transfer_rows
from v7d.sim.options import SimOptions
from v7d.sim.orders import OrderState, Positions
from v7d.sim.symbols import SymbolSpec, Universe, build_universe

__all__ = ["SimAccount"]


class SimAccount:
    """History (generated on first use per (symbol, day)) and the account's live state."""

    def __init__(self, opts: SimOptions, clock: SimClock) -> None:
        assert opts.anchor_ms is not None
        self.opts = opts
        self.clock = clock
        self.universe: Universe = build_universe(
            seed=opts.seed,
            listed=opts.symbols_listed,
            active=opts.symbols_active,
            anchor_ms=opts.anchor_ms,
            days=opts.days,
        )
        self.specs: dict[str, SymbolSpec] = self.universe.by_name()
        self.gen = HistoryGenerator(opts)
        self.first_day = ids.day_of(self.gen.hist_start)
        self.anchor_day = ids.day_of(opts.anchor_ms)
        self._buckets: dict[tuple[str, int], DayBucket] = {}
        self.touched: set[str] = {s.name for s in self.universe.active}
        self.open_orders: dict[tuple[str, int], OrderState] = {}
        self.open_algos: dict[int, AlgoState] = {}
        self._open_loaded = False
        self.balances: dict[str, int] = {
            "USDT": 100_000 * 10**8,
            "USDC": 20_000 * 10**8,
            "BNB": 5 * 10**8,
        }
        self.generated_days = 0

    # --- buckets -----------------------------------------------------------------------
    def bucket(self, symbol: str, day: int) -> DayBucket:
        """The bucket of (symbol, day), generated on first use."""
        key = (symbol, day)
        b = self._buckets.get(key)
        if b is None:
            if symbol == "":
                b = DayBucket("", day)
                for r in transfer_rows(self.opts, day):
                    b.add_income(r)
            else:
                b = self.gen.generate(self.specs[symbol], day)
                self.generated_days += 1
            self._buckets[key] = b
        return b

    def warm(self) -> dict[str, int]:
        """Generate every (symbol, day) of the history now; returns row counts."""
        counts = {"buckets": 0, "trades": 0, "orders": 0, "income": 0, "algo_orders": 0}
        for sym in self.history_symbols():
            for day in range(self.first_day, self.last_day() + 1):
                b = self.bucket(sym, day)
                counts["buckets"] += 1
                counts["trades"] += len(b.trades)
                counts["orders"] += len(b.orders)
                counts["income"] += len(b.income)
                counts["algo_orders"] += len(b.algos)
        return counts

    def last_day(self) -> int:
        """The newest day that can hold rows (today, by the simulator's clock)."""
        return max(self.anchor_day, ids.day_of(self.clock.now_ms()))

    def day_range(self, lo_ms: int, hi_ms: int) -> range:
        """Days overlapping [lo_ms, hi_ms] that can hold rows."""
        return range(
            max(self.first_day, ids.day_of(lo_ms)), min(self.last_day(), ids.day_of(hi_ms)) + 1
        )

    def buckets(
        self, symbol: str, lo_ms: int, hi_ms: int, *, reverse: bool = False
    ) -> Iterator[DayBucket]:
        """Buckets of ``symbol`` over [lo_ms, hi_ms], oldest first unless ``reverse``."""
        days = self.day_range(lo_ms, hi_ms)
        for day in reversed(days) if reverse else days:
            yield self.bucket(symbol, day)

    def history_symbols(self) -> list[str]:
        """Symbols that can have rows ("" holds account-level income), sorted."""
        return sorted(self.touched | {""})

    def trading_symbols(self) -> Iterable[str]:
        """Symbols with orders or trades (no "")."""
        return sorted(self.touched)

    # --- live state --------------------------------------------------------------------
    def load_open(self) -> None:
        """Collect open orders and algo orders left at the anchor (once)."""
        if self._open_loaded:
            return
        self._open_loaded = True
        for s in self.universe.active:
            b = self.bucket(s.name, self.anchor_day)
            for o in b.open_orders:
                self.open_orders[(s.name, o.order_id)] = o
            for entry in b.open_algos:
                a = entry["algo"]
                self.open_algos[a.algo_id] = a

    def positions(self, symbol: str) -> Positions:
        """Current positions of ``symbol`` (continuing from the anchor day's history)."""
        return self.bucket(symbol, self.anchor_day).positions_end or Positions(
            self.specs[symbol], self.opts.hedge_mode
        )

    def today(self, symbol: str) -> DayBucket:
        """The bucket that live activity of ``symbol`` goes to now."""
        self.touched.add(symbol)
        return self.bucket(symbol, ids.day_of(self.clock.now_ms()))

    def history_start(self) -> int:
        """Where generated history begins (ms)."""
        return self.gen.hist_start

    def anchor(self) -> int:
        """Where generated history ends (ms)."""
        assert self.opts.anchor_ms is not None
        return self.opts.anchor_ms
