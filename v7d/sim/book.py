"""Day buckets: the rows of one (symbol, UTC day), stored as the JSON bytes REST serves.

Each bucket keeps parallel ``array('q')`` indexes (time, id, ...) so windows and id
lookups are bisections, and pages are ``b",".join`` of stored bytes. Buckets are
generated lazily (v7d.sim.generator) and then only appended to (live activity) or have
an order row replaced when that order changes.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from typing import Any

from v7d.sim.orders import Fill, OrderState, Positions, fill_rows
from v7d.sim.rows import dumps

__all__ = ["INCOME_RANK", "DayBucket"]

INCOME_RANK = {"TRANSFER": 0, "FUNDING_FEE": 1, "COMMISSION": 2, "REALIZED_PNL": 3}


class DayBucket:
    """All rows of one symbol on one UTC day, ascending in time (and id)."""

    def __init__(self, symbol: str, day: int) -> None:
        self.symbol = symbol
        self.day = day
        self.trades: list[bytes] = []
        self.t_time = array("q")
        self.t_id = array("q")
        self.t_oid = array("q")
        self.orders: list[bytes] = []
        self.o_time = array("q")
        self.o_id = array("q")
        self.o_hide3 = array("b")  # canceled/expired without fill
        self.o_client: list[str] = []
        self.income: list[bytes] = []
        self.i_time = array("q")
        self.i_tran = array("q")
        self.i_rank = array("b")
        self.algos: list[bytes] = []
        self.a_time = array("q")
        self.a_id = array("q")
        self.a_hide3 = array("b")
        self.next_trade_n = 0
        self.next_order_n = 0
        self.next_algo_n = 0
        self.next_tran_n = 0
        self.positions_end: Positions | None = None
        self.open_orders: list[OrderState] = []  # orders still NEW/PARTIALLY_FILLED
        self.open_algos: list[dict[str, Any]] = []

    # --- appending (time order is the caller's promise) -------------------------------
    def add_trade(self, row: dict[str, Any]) -> None:
        """Append a userTrades row."""
        self.trades.append(dumps(row))
        self.t_time.append(row["time"])
        self.t_id.append(row["id"])
        self.t_oid.append(row["orderId"])

    def add_fill(
        self, fill: Fill, positions: Positions, *, global_ids: bool, bnb_fees: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """Apply ``fill`` (:func:`~v7d.sim.orders.fill_rows`) as this bucket's next trade and
        append its trade and income rows; returns what ``fill_rows`` does."""
        trade, income, realized = fill_rows(
            fill,
            positions,
            day=self.day,
            n=self.next_trade_n,
            global_ids=global_ids,
            bnb_fees=bnb_fees,
        )
        self.next_trade_n += 1
        self.add_trade(trade)
        for r in income:
            self.add_income(r)
        return trade, income, realized

    def add_order(self, o: OrderState) -> None:
        """Append an order (its row is re-serialised by :meth:`update_order`)."""
        o.bucket_pos = len(self.orders)
        self.orders.append(dumps(o.row()))
        self.o_time.append(o.time)
        self.o_id.append(o.order_id)
        self.o_hide3.append(1 if o.hidden_after_3d else 0)
        self.o_client.append(o.client_id)

    def update_order(self, o: OrderState) -> None:
        """Replace the stored row of an order after it changed."""
        self.orders[o.bucket_pos] = dumps(o.row())
        self.o_hide3[o.bucket_pos] = 1 if o.hidden_after_3d else 0

    def add_income(self, row: dict[str, Any]) -> None:
        """Append an income row."""
        self.income.append(dumps(row))
        self.i_time.append(row["time"])
        self.i_tran.append(row["tranId"])
        self.i_rank.append(INCOME_RANK.get(row["incomeType"], 9))

    def sort_income(self) -> None:
        """Order income by (time, tranId, type) once generation is done."""
        keys = sorted(
            range(len(self.income)),
            key=lambda i: (self.i_time[i], self.i_tran[i], self.i_rank[i]),
        )
        self.income = [self.income[i] for i in keys]
        self.i_time = array("q", (self.i_time[i] for i in keys))
        self.i_tran = array("q", (self.i_tran[i] for i in keys))
        self.i_rank = array("b", (self.i_rank[i] for i in keys))

    def add_algo(self, row: dict[str, Any], hide3: bool) -> int:
        """Append an algo order row; returns its index."""
        self.algos.append(dumps(row))
        self.a_time.append(row["createTime"])
        self.a_id.append(row["algoId"])
        self.a_hide3.append(1 if hide3 else 0)
        return len(self.algos) - 1

    def update_algo(self, pos: int, row: dict[str, Any], hide3: bool) -> None:
        """Replace an algo order row."""
        self.algos[pos] = dumps(row)
        self.a_hide3[pos] = 1 if hide3 else 0

    # --- reading -----------------------------------------------------------------------
    def trade_range(self, lo: int, hi: int) -> range:
        """Indexes of trades with lo <= time <= hi."""
        return range(bisect.bisect_left(self.t_time, lo), bisect.bisect_right(self.t_time, hi))

    def order_range(self, lo: int, hi: int) -> range:
        """Indexes of orders created with lo <= time <= hi."""
        return range(bisect.bisect_left(self.o_time, lo), bisect.bisect_right(self.o_time, hi))

    def income_range(self, lo: int, hi: int) -> range:
        """Indexes of income rows with lo <= time <= hi."""
        return range(bisect.bisect_left(self.i_time, lo), bisect.bisect_right(self.i_time, hi))

    def algo_range(self, lo: int, hi: int) -> range:
        """Indexes of algo orders created with lo <= time <= hi."""
        return range(bisect.bisect_left(self.a_time, lo), bisect.bisect_right(self.a_time, hi))

    def order_index(self, order_id: int) -> int:
        """Index of an order id in this bucket, or -1."""
        i = bisect.bisect_left(self.o_id, order_id)
        return i if i < len(self.o_id) and self.o_id[i] == order_id else -1

    def iter_income(self, lo: int, hi: int) -> Iterator[tuple[int, int, int, bytes]]:
        """(time, tranId, rank, row) of income rows in [lo, hi], for merging across symbols."""
        for i in self.income_range(lo, hi):
            yield self.i_time[i], self.i_tran[i], self.i_rank[i], self.income[i]
