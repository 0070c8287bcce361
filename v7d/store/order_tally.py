"""Execution-quality figures of single orders and their sums per creation hour.

:func:`order_flags` derives, from one order row, what the execution-quality statistics
add up (docs/stats.md): whether it traded, wants a quantity, filled it fully, filled
exactly at its limit price, its fill ratio when final and partly filled, and the
slippage of its average fill price. :class:`Tally` adds those up, with the fill times;
``order_hourly`` keeps one Tally per (account, symbol or '' for all, creation hour,
status), rebuilt with the dirty hours (:mod:`v7d.store.refresh`), so a statistic over
months reads thousands of rows instead of millions.

Decimal sums run in a context wide enough to be exact for any number of 28-digit
terms, so sums grouped by hour equal one pass over the orders digit for digit.
"""

from __future__ import annotations

import decimal
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from decimal import Decimal
from typing import Any

from v7d.store.curve import HOUR_MS
from v7d.store.records import FINAL_ORDER_STATUSES

__all__ = [
    "WIDE",
    "Flags",
    "Tally",
    "order_flags",
    "rebuild_order_hourly",
    "slippage_bps",
    "stored_flags",
]

# 28 significant digits per term (the default context) plus room for 10^30 terms.
WIDE = decimal.Context(prec=60)


def slippage_bps(side: str, avg_price: str, price: str, stop_price: str) -> Decimal | None:
    """Signed slippage of ``avg_price`` against the limit (else stop) price, in bps.

    Positive means worse than the reference (paid more on a BUY, got less on a SELL).
    None when the order has no reference price or no average fill price.
    """
    avg = Decimal(avg_price or "0")
    ref = Decimal(price or "0")
    if ref <= 0:
        ref = Decimal(stop_price or "0")
    if ref <= 0 or avg <= 0:
        return None
    diff = avg - ref if side == "BUY" else ref - avg
    return diff / ref * 10_000


@dataclass(frozen=True, slots=True)
class Flags:
    """What one order adds to the execution-quality sums."""

    traded: int  # executed quantity > 0
    want: int  # original quantity > 0
    full: int  # want, and executed >= original
    at_limit: int  # traded exactly at its own positive limit price (slippage 0)
    ratio: Decimal | None  # executed / original, when final and partly filled
    slip: Decimal | None  # slippage in bps, when traded away from the limit price


def order_flags(
    status: str, side: str, orig: str, executed: str, price: str, avg: str, stop: str
) -> Flags:
    """The :class:`Flags` of one order row (float comparisons as SQLite's REAL casts)."""
    done, want = float(executed or 0), float(orig or 0)
    traded = done > 0
    at_limit = traded and avg == price and float(price or 0) > 0
    ratio = None
    if traded and status in FINAL_ORDER_STATUSES and want > done:
        ratio = Decimal(executed) / Decimal(orig)
    slip = slippage_bps(side, avg, price, stop) if traded and not at_limit else None
    return Flags(int(traded), int(want > 0), int(want > 0 and done >= want), int(at_limit),
                 ratio, slip)  # fmt: skip


@dataclass(slots=True)
class Tally:
    """Sums over orders of one status (and fill times over those that traded)."""

    n: int = 0
    traded: int = 0
    want: int = 0
    full: int = 0
    ratio_sum: Decimal = Decimal(0)
    slip_n: int = 0  # at the limit price (0 bps) or with a computed slippage
    slip_sum: Decimal = Decimal(0)
    first_n: int = 0
    first_sum: int = 0
    full_fill_n: int = 0
    full_fill_sum: int = 0

    def add_order(self, f: Flags, ttf_first: int | None, ttf_full: int | None) -> None:
        """Count one order."""
        self.n += 1
        self.traded += f.traded
        self.want += f.want
        self.full += f.full
        if f.ratio is not None:
            self.ratio_sum = WIDE.add(self.ratio_sum, f.ratio)
        if f.at_limit or f.slip is not None:
            self.slip_n += 1
        if f.slip is not None:
            self.slip_sum = WIDE.add(self.slip_sum, f.slip)
        if f.traded and ttf_first is not None:
            self.first_n += 1
            self.first_sum += ttf_first
        if f.traded and ttf_full is not None:
            self.full_fill_n += 1
            self.full_fill_sum += ttf_full

    def merge(self, o: Tally) -> None:
        """Add another tally (exactly)."""
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(o, f.name)
            setattr(self, f.name, WIDE.add(a, b) if isinstance(a, Decimal) else a + b)

    def row(self) -> tuple[Any, ...]:
        """Column values (Decimals as exact text)."""
        return tuple(str(v) if isinstance(v, Decimal) else v for v in astuple(self))

    @classmethod
    def from_row(cls, values: Iterable[Any]) -> Tally:
        """Back from :meth:`row`."""
        n, traded, want, full, ratio, slip_n, slip, first_n, first, full_n, full_sum = values
        return cls(n, traded, want, full, Decimal(ratio), slip_n, Decimal(slip), first_n,
                   first, full_n, full_sum)  # fmt: skip


TALLY_COLUMNS = tuple(f.name for f in fields(Tally))

_ORDERS_CREATED = """
    SELECT s.symbol, s.status, s.executed, s.want, s.full_qty, s.at_limit, s.ratio, s.slip,
           s.ttf_first_ms, s.ttf_full_ms
    FROM order_stats s WHERE s.account = ? AND s.time >= ? AND s.time < ?
"""


def tallies(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[str, str], Tally]:
    """Tallies per (symbol, status) and ('', status) from ``_ORDERS_CREATED`` rows."""
    out: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for symbol, status, *stored in rows:
        f, first, full_t = stored_flags(stored)
        out[(symbol, status)].add_order(f, first, full_t)
        out[("", status)].add_order(f, first, full_t)
    return out


def stored_flags(row: Iterable[Any]) -> tuple[Flags, int | None, int | None]:
    """(Flags, ttf_first, ttf_full) from stored ``order_stats`` columns executed, want,
    full_qty, at_limit, ratio, slip, ttf_first_ms, ttf_full_ms."""
    traded, want, full, at_limit, ratio, slip, first, full_t = row
    f = Flags(traded or 0, want, full, at_limit,
              None if ratio is None else Decimal(ratio), None if slip is None else Decimal(slip))  # fmt: skip
    return f, first, full_t


def rebuild_order_hourly(conn: sqlite3.Connection, account: str, hours: Iterable[int]) -> None:
    """Recompute ``order_hourly`` for the creation ``hours`` from ``order_stats``."""
    marks = ", ".join("?" * (len(TALLY_COLUMNS) + 4))
    for h in sorted(set(hours)):
        conn.execute("DELETE FROM order_hourly WHERE account = ? AND hour_ms = ?", (account, h))
        rows = conn.execute(_ORDERS_CREATED, (account, h, h + HOUR_MS))
        conn.executemany(
            f"INSERT INTO order_hourly VALUES ({marks})",
            [(account, sym, h, status, *t.row()) for (sym, status), t in tallies(rows).items()],
        )


@dataclass(slots=True)
class ClosingSums:
    """Closing orders of one margin asset: count, wins, losses, e8 sums of each side."""

    n: int = 0
    wins: int = 0
    losses: int = 0
    won: int = 0
    lost: int = 0

    def merge(self, o: ClosingSums) -> None:
        """Add another asset's sums."""
        self.n += o.n
        self.wins += o.wins
        self.losses += o.losses
        self.won += o.won
        self.lost += o.lost

    def add(self, net: int, sign: int = 1) -> None:
        """Count (sign 1) or take back (sign -1) one closing order's result ``net``."""
        self.n += sign
        if net > 0:
            self.wins += sign
            self.won += sign * net
        elif net < 0:
            self.losses += sign
            self.lost += sign * net


_CLOSING_ROWS = """
    SELECT symbol, margin_asset, nonzero, exact, net_e8 FROM order_stats
    WHERE account = ? AND first_fill_ms >= ? AND first_fill_ms < ?
"""


def rebuild_closing_hourly(conn: sqlite3.Connection, account: str, hours: Iterable[int]) -> None:
    """Recompute ``closing_hourly`` for the first-fill ``hours`` from ``order_stats``:
    per (symbol or '' for all, margin asset), the closing orders' sums and how many of
    the hour's orders lack exact integers (``inexact``)."""
    for h in sorted(set(hours)):
        conn.execute("DELETE FROM closing_hourly WHERE account = ? AND hour_ms = ?", (account, h))
        acc: dict[tuple[str, str], ClosingSums] = defaultdict(ClosingSums)
        inexact: dict[tuple[str, str], int] = defaultdict(int)
        for symbol, asset, nonzero, exact, net in conn.execute(
            _CLOSING_ROWS, (account, h, h + HOUR_MS)
        ):
            for key in ((symbol, asset), ("", asset)):
                if not exact:
                    inexact[key] += 1
                elif nonzero > 0:
                    acc[key].add(net)
        conn.executemany(
            "INSERT INTO closing_hourly VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(account, sym, asset, h, s.n, s.wins, s.losses, s.won, s.lost, inexact[(sym, asset)])
             for (sym, asset) in set(acc) | set(inexact)
             for s in [acc[(sym, asset)]]],
        )  # fmt: skip
