"""Test rig: a real simulator, a real store and a real client around one SyncEngine.

Also :func:`store_view` / :func:`diff_against_truth`, the invariant check of DESIGN.md:
after a pass, the store equals the simulator's ground truth for the window — every
retrievable order in its final state, every trade, income row and algo order, nothing
duplicated, nothing invented.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from v7d.binance.budget import RateBudget
from v7d.binance.rest import BinanceRest
from v7d.config.model import SyncConfig
from v7d.credentials import Credentials
from v7d.sim.testing import SimHandle
from v7d.store.read import StoreReader
from v7d.store.writer import Writer
from v7d.sync.engine import SyncEngine

ACCOUNT = "default"


@dataclass
class Rig:
    """Everything one test needs, already started."""

    sim: SimHandle
    db: Path
    writer: Writer
    reader: StoreReader
    rest: BinanceRest
    budget: RateBudget
    engine: SyncEngine
    extra: dict[str, Any] = field(default_factory=dict)


def sync_config(**overrides: Any) -> SyncConfig:
    """A SyncConfig fit for tests (fast rates; the budget still guards the weight)."""
    base = SyncConfig(
        poll_interval=0.2,
        reconcile_interval=1.0,
        request_rate_per_sec=200.0,
        request_burst=50,
        max_weight_share=0.9,
    )
    return replace(base, **overrides)


@asynccontextmanager
async def rig(
    sim: SimHandle,
    db: Path,
    *,
    ws: bool = False,
    config: SyncConfig | None = None,
    retry_attempts: int = 6,
    stream_options: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    """Start writer, reader, client and engine against ``sim``; close them after."""
    cfg = config or sync_config()
    writer = Writer(db)
    await writer.start()
    reader = StoreReader(db)
    budget = RateBudget(
        rate_per_sec=cfg.request_rate_per_sec,
        burst=cfg.request_burst,
        max_weight_share=cfg.max_weight_share,
    )
    rest = BinanceRest(
        rest_url=sim.rest_url,
        credentials=Credentials(api_key=sim.api_key, secret=sim.secret),
        budget=budget,
        account=ACCOUNT,
        retry_attempts=retry_attempts,
        retry_base_s=0.05,
        retry_cap_s=0.5,
        timeout_s=5.0,
    )
    await rest.open()
    engine = SyncEngine(
        account=ACCOUNT,
        sync_config=cfg,
        rest=rest,
        ws_url=sim.ws_url if ws else None,
        writer=writer,
        reader=reader,
        stream_options=stream_options,
    )
    try:
        yield Rig(sim, db, writer, reader, rest, budget, engine)
    finally:
        engine.ctx.close()
        await rest.close()
        reader.close()
        await writer.close()


# -- the invariant ---------------------------------------------------------------------------

_TRADE = (
    "account, symbol, id, order_id, side, position_side, price, qty, quote_qty, realized_pnl, "
    "commission, commission_asset, maker, time"
)
_ORDER = (
    "account, symbol, order_id, client_order_id, side, position_side, type, orig_type, status, "
    "time_in_force, price, avg_price, stop_price, orig_qty, executed_qty, cum_quote, "
    "reduce_only, time, update_time"
)
_INCOME = "account, symbol, income_type, income, asset, info, time, tran_id, trade_id"
_ALGO = "account, symbol, algo_id, status, quantity, trigger_price, price, time, update_time"


def store_view(db: Path, start_ms: int, end_ms: int) -> dict[str, list[dict[str, Any]]]:
    """The store's rows in ``[start_ms, end_ms)`` with the truth's field names."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        out: dict[str, list[dict[str, Any]]] = {}
        for key, table, cols in (
            ("trades", "trades", _TRADE),
            ("orders", "orders", _ORDER),
            ("income", "income", _INCOME),
            ("algo_orders", "algo_orders", _ALGO),
        ):
            rows = conn.execute(
                f"SELECT {cols} FROM {table} WHERE time >= ? AND time < ?", (start_ms, end_ms)
            ).fetchall()
            out[key] = [dict(r) for r in rows]
        for t in out["trades"]:
            t["maker"] = bool(t["maker"])
        for o in out["orders"]:
            o["reduce_only"] = bool(o["reduce_only"])
        return out
    finally:
        conn.close()


def _algo_from_truth(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": a["account"],
        "symbol": a["symbol"],
        "algo_id": a["algo_id"],
        "status": a["algo_status"],
        "quantity": a["quantity"],
        "trigger_price": a["trigger_price"],
        "price": a["price"],
        "time": a["create_time"],
        "update_time": a["update_time"],
    }


_KEYS = {
    "trades": ("symbol", "id"),
    "orders": ("symbol", "order_id"),
    "income": ("income_type", "tran_id"),
    "algo_orders": ("algo_id",),
}


def diff_against_truth(
    store: dict[str, list[dict[str, Any]]], truth: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Every difference between store and truth (empty = the invariant holds).

    Retrievable truth rows must be in the store with equal fields; a non-retrievable row
    may be missing (the exchange no longer serves it). Store rows absent from the truth
    are invented; two store rows with one key are duplicates.
    """
    problems: list[str] = []
    for kind, key in _KEYS.items():
        want_rows = truth.get(kind, [])
        if kind == "algo_orders":
            want_rows = [
                {**_algo_from_truth(a), "retrievable": a["retrievable"]} for a in want_rows
            ]
        want = {tuple(r[k] for k in key): r for r in want_rows}
        have: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in store[kind]:
            k = tuple(r[c] for c in key)
            if k in have:
                problems.append(f"{kind} duplicated: {k}")
            have[k] = r
        for k in have:
            if k not in want:
                problems.append(f"{kind} invented: {k}")
        for k, w in want.items():
            if not w["retrievable"]:
                continue
            h = have.get(k)
            if h is None:
                problems.append(f"{kind} missing: {k} (time {w.get('time')})")
                continue
            for field_name, value in h.items():
                if field_name in w and w[field_name] != value:
                    problems.append(
                        f"{kind} {k} {field_name}: store {value!r} != truth {w[field_name]!r}"
                    )
    return problems


def assert_store_equals_truth(db: Path, sim: SimHandle) -> None:
    """The invariant up to now: the store at ``db`` equals ``sim``'s truth, else fail."""
    now = int(time.time() * 1000)
    problems = diff_against_truth(store_view(db, 0, now), sim.truth(None, now))
    assert problems == [], problems[:20]
