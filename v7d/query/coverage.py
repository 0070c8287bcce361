"""What the coverage ledger says about a window: held completely, gone, or missing.

The ledger (table ``coverage``, written by sync in the same transactions as the rows it
vouches for) holds per (account, endpoint, symbol) ranges fetched completely
(``complete``) and ranges the exchange no longer keeps (``expired``). A statistic is
only as complete as the sources it reads: every stats answer carries this block, and
``complete`` is true only when every source's window is covered by complete ranges.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from typing import Any

__all__ = ["STATS_ENDPOINTS", "coverage_block", "ledger", "subtract"]

#: The sync endpoints whose rows the statistics read.
STATS_ENDPOINTS = ("userTrades", "allOrders", "income")

Range = tuple[int, int]


def subtract(window: Range, covered: list[Range]) -> list[Range]:
    """The parts of ``window`` (half-open) that no range in ``covered`` contains."""
    start, end = window
    gaps: list[Range] = []
    cursor = start
    for s, e in sorted(covered):
        if e <= cursor:
            continue
        if s >= end:
            break
        if s > cursor:
            gaps.append((cursor, s))
        cursor = max(cursor, e)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def ledger(
    conn: sqlite3.Connection,
    *,
    account: str | None = None,
    endpoints: tuple[str, ...] | None = None,
    symbol: str | None = None,
) -> dict[tuple[str, str, str], dict[str, list[Range]]]:
    """Ledger ranges by (account, endpoint, symbol) and kind; ``symbol`` also matches ""."""
    conds, params = [], []
    if account is not None:
        conds.append("account = ?")
        params.append(account)
    if endpoints is not None:
        conds.append(f"endpoint IN ({', '.join('?' * len(endpoints))})")
        params.extend(endpoints)
    if symbol is not None:
        conds.append("symbol IN (?, '')")
        params.append(symbol)
    sql = "SELECT account, endpoint, symbol, kind, start_ms, end_ms FROM coverage"
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += " ORDER BY account, endpoint, symbol, kind, start_ms"
    out: dict[tuple[str, str, str], dict[str, list[Range]]] = defaultdict(
        lambda: {"complete": [], "expired": []}
    )
    for acc, ep, sym, kind, s, e in conn.execute(sql, params):
        out[(acc, ep, sym)][kind].append((int(s), int(e)))
    return dict(out)


def _source(key: tuple[str, str, str], kinds: dict[str, list[Range]], start_ms: int | None,
            end_ms: int | None, now: int) -> dict[str, Any]:  # fmt: skip
    """One source's block: its window, and what is complete, expired and missing in it."""
    starts = [s for s, _ in kinds["complete"] + kinds["expired"]]
    lo = start_ms if start_ms is not None else min(starts)
    hi = end_ms if end_ms is not None else now
    missing: list[Range] = []
    expired: list[Range] = []
    if hi > lo:
        missing = subtract((lo, hi), kinds["complete"] + kinds["expired"])
        expired = [(max(s, lo), min(e, hi)) for s, e in kinds["expired"] if s < hi and e > lo]
    return {
        "account": key[0],
        "endpoint": key[1],
        "symbol": key[2],
        "window": [lo, hi],
        "complete_ranges": [list(r) for r in kinds["complete"]],
        "expired_ranges": [list(r) for r in expired],
        "missing_ranges": [list(r) for r in missing],
    }


def coverage_block(
    conn: sqlite3.Connection,
    *,
    account: str | None,
    symbol: str | None,
    start_ms: int | None,
    end_ms: int | None,
    endpoints: tuple[str, ...] = STATS_ENDPOINTS,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The ``coverage`` block of a stats answer for the asked window.

    An open start means "from the first range the ledger holds for that source"; an open
    end means "now". ``missing`` lists what the ledger does not vouch for at all;
    ``expired`` what the exchange no longer keeps (the store may hold part of it).
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    found = ledger(conn, account=account, endpoints=endpoints, symbol=symbol)
    sources = [_source(k, kinds, start_ms, end_ms, now) for k, kinds in sorted(found.items())]
    absent = [ep for ep in endpoints if ep not in {s["endpoint"] for s in sources}]
    complete = not absent and all(
        not s["missing_ranges"] and not s["expired_ranges"] for s in sources
    )
    return {"complete": complete, "endpoints_without_ledger": absent, "sources": sources}
