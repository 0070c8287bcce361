"""The records the sync engine hands to the writer, one frozen dataclass per table.

Parsers in ``v7d.binance.parse`` build these from exchange payloads; the writer
(``v7d.store.writer``) upserts them. Field names are the HTTP contract's snake_case names
of Binance's own fields (DESIGN.md "Item fields"). Money and quantities stay the
exchange's exact decimal strings; times are epoch milliseconds; ``raw`` is the JSON text
of the payload the record came from, kept so that nothing the exchange sent is lost.
``source`` is ``"rest"`` or ``"ws"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ENDPOINTS",
    "FINAL_ORDER_STATUSES",
    "AccountState",
    "AlgoOrder",
    "Balance",
    "BatchResult",
    "CoverageMark",
    "CursorMove",
    "Income",
    "JobState",
    "MetaItem",
    "Order",
    "OrderEvent",
    "Position",
    "Record",
    "StreamEvent",
    "SymbolInfo",
    "Trade",
    "WriteBatch",
    "order_status_rank",
]

Source = Literal["rest", "ws"]

#: Cursor and coverage ledger endpoint names (Binance's own path names).
ENDPOINTS = ("userTrades", "allOrders", "income", "allAlgoOrders", "openOrders", "stream")

FINAL_ORDER_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})


def order_status_rank(status: str) -> int:
    """Rank for the order version rule: NEW < PARTIALLY_FILLED < any final status."""
    if status in FINAL_ORDER_STATUSES:
        return 2
    if status == "PARTIALLY_FILLED":
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class Trade:
    """One user trade (``/fapi/v1/userTrades`` item or the fill in an ORDER_TRADE_UPDATE)."""

    account: str
    symbol: str
    id: int
    order_id: int
    side: str
    position_side: str
    price: str
    qty: str
    quote_qty: str
    realized_pnl: str
    commission: str
    commission_asset: str
    maker: bool
    time: int
    source: Source
    raw: str
    buyer: bool | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """One version of an order (``allOrders``/``order`` item, or built from a stream event).

    A stream-only order has ``time`` = the ``T`` of its NEW event until REST supplies the
    real fields; its ``update_time`` is the event's ``T``.
    """

    account: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    position_side: str
    type: str
    orig_type: str
    status: str
    time_in_force: str
    price: str
    avg_price: str
    stop_price: str
    orig_qty: str
    executed_qty: str
    cum_quote: str
    reduce_only: bool
    time: int
    update_time: int
    source: Source
    raw: str
    close_position: bool = False


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One step of an order's life-cycle (append-only; unique on the DESIGN.md key)."""

    account: str
    symbol: str
    order_id: int
    event_time: int
    transaction_time: int
    execution_type: str
    status: str
    last_qty: str
    last_price: str
    cum_qty: str
    trade_id: int
    source: Source
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Income:
    """One income row (realized PnL, commission, funding, ...); unique on
    (account, income_type, tran_id)."""

    account: str
    symbol: str
    income_type: str
    income: str
    asset: str
    info: str
    time: int
    tran_id: int
    trade_id: str
    raw: str


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """A TP/SL/trailing (algo) order, keyed by ``algo_id``; newer ``update_time`` wins."""

    account: str
    algo_id: int
    symbol: str
    client_algo_id: str
    algo_type: str
    order_type: str
    side: str
    position_side: str
    status: str
    quantity: str
    price: str
    trigger_price: str
    time: int
    update_time: int
    source: Source
    raw: str


@dataclass(frozen=True, slots=True)
class Position:
    """Current position snapshot per (account, symbol, position_side); newest wins."""

    account: str
    symbol: str
    position_side: str
    position_amt: str
    entry_price: str
    break_even_price: str
    mark_price: str
    unrealized_profit: str
    liquidation_price: str
    notional: str
    margin_asset: str
    update_time: int
    source: Source
    raw: str


@dataclass(frozen=True, slots=True)
class Balance:
    """Current balance snapshot per (account, asset); newest wins."""

    account: str
    asset: str
    wallet_balance: str
    cross_wallet_balance: str
    available_balance: str
    update_time: int
    source: Source
    raw: str


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """A user-data stream message exactly as received (append-only)."""

    account: str
    event_type: str
    event_time: int
    received_ms: int
    raw: str


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """The symbol registry: what exchangeInfo said, and what account activity showed.

    ``listed`` is False once exchangeInfo stops listing the symbol (delisted symbols keep
    their history). ``active_ms`` is the last time account activity was seen (0: never).
    """

    account: str
    symbol: str
    status: str = ""
    contract_type: str = ""
    quote_asset: str = ""
    margin_asset: str = ""
    listed: bool = True
    active_ms: int = 0
    raw: str = ""


@dataclass(frozen=True, slots=True)
class CursorMove:
    """Move a sync cursor of (account, endpoint, symbol); ``symbol`` is "" account-wide.

    Cursors only move forward (the stored value becomes the max of old and new) unless
    ``force`` is set. ``position_id`` carries an id cursor (e.g. the last trade id) where
    timestamps tie; ``state`` is free JSON text for the endpoint's own needs.
    """

    account: str
    endpoint: str
    symbol: str
    position_ms: int
    position_id: int | None = None
    state: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class CoverageMark:
    """The ledger: [start_ms, end_ms) of (account, endpoint, symbol) is held completely
    (``kind="complete"``) or provably gone from the exchange (``kind="expired"``).

    Marks of one kind are merged with overlapping or adjacent ranges of the same key.
    """

    account: str
    endpoint: str
    symbol: str
    start_ms: int
    end_ms: int
    kind: Literal["complete", "expired"] = "complete"


@dataclass(frozen=True, slots=True)
class JobState:
    """The whole state of a job (backfill, ...); the row is replaced by each write."""

    job_id: str
    account: str
    kind: str
    state: str
    params: str
    progress: str
    created_ms: int
    updated_ms: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's sync status (``ok``, ``stopped`` with a reason such as an auth error)."""

    account: str
    status: str
    detail: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class MetaItem:
    """A key/value in the ``meta`` table (pause flag, last shutdown time, ...)."""

    key: str
    value: str


Record = (
    Trade
    | Order
    | OrderEvent
    | Income
    | AlgoOrder
    | Position
    | Balance
    | StreamEvent
    | SymbolInfo
    | JobState
    | AccountState
    | MetaItem
)


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Records plus the cursor moves and coverage marks they justify: one transaction."""

    records: Sequence[Record] = ()
    cursors: Sequence[CursorMove] = ()
    coverage: Sequence[CoverageMark] = ()


@dataclass(slots=True)
class BatchResult:
    """What a committed batch changed, per table: rows inserted and rows updated."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    commit_ms: float = 0.0

    def add(self, table: str, inserted: int, updated: int) -> None:
        """Count one upsert's effect."""
        if inserted:
            self.inserted[table] = self.inserted.get(table, 0) + inserted
        if updated:
            self.updated[table] = self.updated.get(table, 0) + updated

    @property
    def changed(self) -> int:
        """Rows inserted or updated in all tables."""
        return sum(self.inserted.values()) + sum(self.updated.values())
