"""``HistoryQueryAPI``: every query of the HTTP API, in-process, over a read-only connection.

>>> from v7d import HistoryQueryAPI
>>> with HistoryQueryAPI("/var/lib/v7d/history.db") as api:        # doctest: +SKIP
...     api.summary(symbol="BTCUSDT")["assets"]["USDT"]["net_pnl"]
...     trades = api.get_trades(symbol="BTCUSDT", limit=100)

List methods return the ``items`` of the matching HTTP answer (``*_page`` methods and
:meth:`page` return ``{"items", "next_cursor"}``; ``iter_*`` page through everything);
stats methods return the same dict as the HTTP answer. Arguments accept Python values
or the query-string text, and bad ones raise :class:`~v7d.query.errors.QueryError`
(the HTTP layer turns it into the error envelope). Decimals stay the exchange's exact
strings unless ``as_float=True``. One instance is safe to share between threads (calls
are serialised); the web layer keeps one per worker thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import structlog

from v7d.query import lookups
from v7d.query.compare import deltas
from v7d.query.coverage import coverage_block, ledger
from v7d.query.cuts import Cut, make_cut
from v7d.query.errors import QueryError
from v7d.query.items import BALANCE, POSITION, ItemShape
from v7d.query.list_queries import (
    ALGO_STATUSES,
    BUILDERS,
    INCOME_TYPES,
    algo_orders_query,
    income_query,
    orders_query,
    trades_query,
)
from v7d.query.lists import ListQuery, fetch_page, fetch_rows
from v7d.query.numbers import register_functions
from v7d.query.summary import series, summary, symbol_rows
from v7d.query.validate import (
    account_arg,
    enum_arg,
    int_arg,
    limit_arg,
    symbol_arg,
)
from v7d.store.read import QueryTimeout, connect_readonly, timed

__all__ = ["ALGO_STATUSES", "BUCKETS", "INCOME_TYPES", "HistoryQueryAPI"]

T = TypeVar("T")
log = structlog.get_logger("v7d.query")

BUCKETS = {"1h": 3_600_000, "1d": 86_400_000}
_ENDPOINTS = ("userTrades", "allOrders", "income", "allAlgoOrders", "openOrders", "stream")

Page = dict[str, Any]


class HistoryQueryAPI:
    """Read-only queries over a v7d store (the database file must exist)."""

    def __init__(self, path: str | Path, *, timeout_ms: int = 5000, as_float: bool = False) -> None:
        self.path = str(path)
        self.timeout_ms = timeout_ms
        self.as_float = as_float
        self._conn = connect_readonly(path, timeout_ms=timeout_ms)
        self._conn.row_factory = None
        register_functions(self._conn)
        self._lock = threading.RLock()

    # -- life-cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> HistoryQueryAPI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in one read transaction (every statement sees the same snapshot,
        so the parts of a statistic agree even while the writer commits), under the time
        limit, with SQLite's failures as QueryError."""
        with self._lock:
            try:
                with timed(self._conn, self.timeout_ms) as conn:
                    conn.execute("BEGIN")
                    try:
                        return fn(conn)
                    finally:
                        if conn.in_transaction:
                            conn.execute("COMMIT")
            except QueryTimeout:
                raise QueryError(
                    "query_timeout",
                    f"the query ran longer than {self.timeout_ms} ms; narrow the window or "
                    "the filters",
                    503,
                ) from None
            except sqlite3.DatabaseError as exc:
                # Not a v7d store (yet), damaged, or locked past the busy timeout.
                log.warning("query_store_error", error=str(exc), path=self.path)
                raise QueryError(
                    "store_unavailable", f"the store cannot be read: {exc}", 503
                ) from None

    def _stats_account(self, conn: sqlite3.Connection, account: str | None) -> str | None:
        """Statistics never add several accounts: with more than one, ``account`` is needed."""
        if account is not None:
            return account
        found = lookups.accounts(conn)
        if len(found) > 1:
            raise QueryError(
                "missing_parameter",
                f"account: required, the store holds several accounts ({', '.join(found)})",
            )
        return found[0] if found else None

    def _page(self, q: ListQuery, limit: Any, cursor: Any) -> Page:
        size = limit_arg(limit)

        def run(c: sqlite3.Connection) -> tuple[list[dict[str, Any]], str | None]:
            accounts = None if "account" in q.fixed else lookups.accounts(c)
            return fetch_page(
                c, q, limit=size, cursor=cursor, as_float=self.as_float, accounts=accounts
            )

        items, nxt = self._run(run)
        return {"items": items, "next_cursor": nxt}

    def export_chunks(
        self, kind: str, *, text_bools: bool = False, csv_lines: bool = False, **filters: Any
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of list ``kind`` (trades, orders, income, algo_orders) matching
        ``filters``, as chunks of raw tuples in item-field order (booleans as 0/1, or
        ``true``/``false`` with ``text_bools``), or with ``csv_lines`` as tuples whose
        first value is the row's CSV line (without its newline).

        Each chunk is one keyset page read in its own short read transaction, so memory
        stays flat and the writer is never blocked, however many rows there are.
        """
        if kind not in BUILDERS:
            raise QueryError("invalid_parameter", f"what: expected one of {', '.join(BUILDERS)}")
        q = BUILDERS[kind](**filters)
        cursor: str | None = None
        while True:

            def run(c: sqlite3.Connection, at: str | None = cursor) -> tuple[list[Any], str | None]:
                accounts = None if "account" in q.fixed else lookups.accounts(c)
                return fetch_rows(
                    c,
                    q,
                    limit=5000,
                    cursor=at,
                    accounts=accounts,
                    text_bools=text_bools,
                    csv_lines=csv_lines,
                )

            rows, cursor = self._run(run)
            yield rows
            if cursor is None:
                return

    def _iterate(self, page: Callable[..., Page], **kwargs: Any) -> Iterator[dict[str, Any]]:
        # Page size is ours; a cursor given starts the walk there.
        kwargs.pop("limit", None)
        cursor = kwargs.pop("cursor", None)
        while True:
            answer = page(**kwargs, limit=1000, cursor=cursor)
            yield from answer["items"]
            cursor = answer["next_cursor"]
            if cursor is None:
                return

    # -- trades --------------------------------------------------------------------------

    def trades_page(
        self, *, symbol: Any = None, order_id: Any = None, start_ms: Any = None,
        end_ms: Any = None, account: Any = None, client_order_id_prefix: Any = None,
        limit: Any = None, cursor: Any = None,
    ) -> Page:  # fmt: skip
        """One page of trades, ascending by (time, symbol, id)."""
        q = trades_query(symbol=symbol, order_id=order_id, start_ms=start_ms, end_ms=end_ms,
                         account=account, client_order_id_prefix=client_order_id_prefix)  # fmt: skip
        return self._page(q, limit, cursor)

    def get_trades(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The items of :meth:`trades_page` (same arguments)."""
        return list(self.trades_page(**kwargs)["items"])

    def iter_trades(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every matching trade, paging underneath (same filters as :meth:`trades_page`)."""
        return self._iterate(self.trades_page, **kwargs)

    # -- orders --------------------------------------------------------------------------

    def orders_page(
        self, *, symbol: Any = None, status: Any = None, side: Any = None,
        start_ms: Any = None, end_ms: Any = None, account: Any = None,
        client_order_id_prefix: Any = None, limit: Any = None, cursor: Any = None,
    ) -> Page:  # fmt: skip
        """One page of orders (their latest version), ascending by creation time."""
        q = orders_query(symbol=symbol, status=status, side=side, start_ms=start_ms,
                         end_ms=end_ms, account=account,
                         client_order_id_prefix=client_order_id_prefix)  # fmt: skip
        return self._page(q, limit, cursor)

    def get_orders(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The items of :meth:`orders_page` (same arguments)."""
        return list(self.orders_page(**kwargs)["items"])

    def iter_orders(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every matching order, paging underneath."""
        return self._iterate(self.orders_page, **kwargs)

    # -- order events --------------------------------------------------------------------

    def events_page(
        self, order_id: Any, *, symbol: Any = None, account: Any = None,
        limit: Any = None, cursor: Any = None,
    ) -> Page:  # fmt: skip
        """One page of an order's life-cycle events, oldest first.

        404 when no order or event has the id; 409 (listing them) when it exists under
        more than one symbol and ``symbol`` is not given.
        """
        oid = int_arg("order_id", order_id, minimum=0)
        if oid is None:
            raise QueryError("missing_parameter", "order_id: required")
        sym, acc = symbol_arg(symbol), account_arg(account)
        homes = self._run(lambda c: lookups.order_homes(c, oid, acc, sym))
        where = f" under symbol {sym}" if sym else ""
        if not homes:
            raise QueryError("not_found", f"order_id: no order {oid}{where} in the store", 404)
        if len(homes) > 1:
            listing = ", ".join(f"{a}/{s}" if acc is None else s for a, s in homes)
            raise QueryError(
                "ambiguous_order_id",
                f"order_id: {oid} exists under several symbols ({listing}); add symbol=",
                409,
                extra={"symbols": [s for _, s in homes], "accounts": [a for a, _ in homes]},
            )
        home_acc, home_sym = homes[0]
        q = ListQuery("events", {"order_id": oid, "symbol": home_sym, "account": home_acc})
        q.eq("account", home_acc)
        q.add("t.order_id = ?", oid)
        q.add("t.symbol = ?", home_sym)
        return self._page(q, limit, cursor)

    def order_events(
        self, order_id: Any, symbol: Any = None, *, account: Any = None
    ) -> list[dict[str, Any]]:
        """Every life-cycle event of one order, oldest first (see :meth:`events_page`)."""
        return list(self._iterate(self.events_page, order_id=order_id, symbol=symbol,
                                  account=account))  # fmt: skip

    # -- income and algo orders ----------------------------------------------------------

    def income_page(
        self, *, symbol: Any = None, type: Any = None, start_ms: Any = None,
        end_ms: Any = None, account: Any = None, limit: Any = None, cursor: Any = None,
    ) -> Page:  # fmt: skip
        """One page of income rows (``type`` = Binance's incomeType), ascending by time."""
        q = income_query(symbol=symbol, type=type, start_ms=start_ms, end_ms=end_ms,
                         account=account)  # fmt: skip
        return self._page(q, limit, cursor)

    def income(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The items of :meth:`income_page` (same arguments)."""
        return list(self.income_page(**kwargs)["items"])

    def iter_income(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every matching income row, paging underneath."""
        return self._iterate(self.income_page, **kwargs)

    def algo_orders_page(
        self, *, symbol: Any = None, status: Any = None, start_ms: Any = None,
        end_ms: Any = None, account: Any = None, limit: Any = None, cursor: Any = None,
    ) -> Page:  # fmt: skip
        """One page of algo (TP/SL/trailing) orders, ascending by (time, algo_id)."""
        q = algo_orders_query(symbol=symbol, status=status, start_ms=start_ms, end_ms=end_ms,
                              account=account)  # fmt: skip
        return self._page(q, limit, cursor)

    def algo_orders(self, **kwargs: Any) -> list[dict[str, Any]]:
        """The items of :meth:`algo_orders_page` (same arguments)."""
        return list(self.algo_orders_page(**kwargs)["items"])

    def page(self, kind: str, **kwargs: Any) -> Page:
        """``{"items", "next_cursor"}`` of list ``kind`` (trades, orders, income,
        algo_orders, events)."""
        pages: dict[str, Callable[..., Page]] = {
            "trades": self.trades_page,
            "orders": self.orders_page,
            "income": self.income_page,
            "algo_orders": self.algo_orders_page,
            "events": self.events_page,
        }
        if kind not in pages:
            raise QueryError("invalid_parameter", f"kind: expected one of {', '.join(pages)}")
        return pages[kind](**kwargs)

    # -- snapshots -----------------------------------------------------------------------

    def positions(self, *, account: Any = None, symbol: Any = None) -> list[dict[str, Any]]:
        """Current positions (non-zero and zero), by account, symbol and position side."""
        return self._snapshot(POSITION, account_arg(account), symbol_arg(symbol))

    def balances(self, *, account: Any = None) -> list[dict[str, Any]]:
        """Current balances by account and asset."""
        return self._snapshot(BALANCE, account_arg(account), None)

    def _snapshot(
        self, shape: ItemShape, account: str | None, symbol: str | None
    ) -> list[dict[str, Any]]:
        conds: list[str] = []
        params: list[Any] = []
        for col, value in (("account", account), ("symbol", symbol)):
            if value is not None:
                conds.append(f"{col} = ?")
                params.append(value)
        key = "symbol, position_side" if shape is POSITION else "asset"
        sql = (
            f"SELECT {shape.select_list()} FROM {shape.table}"
            + (f" WHERE {' AND '.join(conds)}" if conds else "")
            + f" ORDER BY account, {key}"
        )
        rows = self._run(lambda c: c.execute(sql, params).fetchall())
        return [shape.to_item(r, self.as_float) for r in rows]

    # -- statistics ----------------------------------------------------------------------

    def _cut(self, conn: sqlite3.Connection, kwargs: dict[str, Any]) -> Cut:
        cut = make_cut(**kwargs)
        account = self._stats_account(conn, cut.account)
        return Cut(**{**cut.as_dict(), "account": account})

    def _floats(self, answer: T) -> T:
        return cast(T, _as_floats(answer)) if self.as_float else answer

    def summary(self, **cut: Any) -> dict[str, Any]:
        """The ``/stats/summary`` answer. Arguments: account, symbol, side, position_side,
        order_type, status, client_order_id_prefix, start_ms, end_ms."""
        return self._floats(self._run(lambda c: summary(c, self._cut(c, cut))))

    def symbols(self, **cut: Any) -> list[dict[str, Any]]:
        """One row per symbol with the summary's headline figures (same arguments); the
        ``items`` of :meth:`symbols_answer`."""
        return list(self.symbols_answer(**cut)["items"])

    def symbols_answer(self, **cut: Any) -> dict[str, Any]:
        """The ``/stats/symbols`` answer: ``items``, ``next_cursor`` (null) and ``coverage``."""

        def run(c: sqlite3.Connection) -> dict[str, Any]:
            k = self._cut(c, cut)
            cov = coverage_block(c, account=k.account, symbol=k.symbol, start_ms=k.start_ms,
                                 end_ms=k.end_ms)  # fmt: skip
            return {"items": symbol_rows(c, k), "next_cursor": None, "coverage": cov}

        return self._floats(self._run(run))

    def series(self, bucket: Any = "1d", **cut: Any) -> dict[str, Any]:
        """Per-bucket (``1h`` or ``1d``, UTC) and cumulative net PnL, fees and funding."""
        b = enum_arg("bucket", bucket, tuple(BUCKETS)) or "1d"
        return self._floats(self._run(lambda c: series(c, self._cut(c, cut), BUCKETS[b], b)))

    def compare(
        self, *, a_start_ms: Any = None, a_end_ms: Any = None, b_start_ms: Any = None,
        b_end_ms: Any = None, a_prefix: Any = None, b_prefix: Any = None, **common: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """Two summaries side by side with deltas: A and B differ by window and/or by
        client-id prefix; the other arguments apply to both."""
        sides = {"a": (a_start_ms, a_end_ms, a_prefix), "b": (b_start_ms, b_end_ms, b_prefix)}
        if all(v in (None, "") for vals in sides.values() for v in vals):
            raise QueryError(
                "missing_parameter",
                "a_start_ms: give a_start_ms/a_end_ms/b_start_ms/b_end_ms or a_prefix/b_prefix",
            )
        cuts = {}
        for name, (start, end, prefix) in sides.items():
            args = dict(common)
            if start not in (None, "") or end not in (None, ""):
                args.update(start_ms=start, end_ms=end, start_name=f"{name}_start_ms",
                            end_name=f"{name}_end_ms")  # fmt: skip
            if prefix not in (None, ""):
                args.update(client_order_id_prefix=prefix, prefix_name=f"{name}_prefix")
            cuts[name] = args

        def run(c: sqlite3.Connection) -> dict[str, Any]:
            a = summary(c, self._cut(c, cuts["a"]))
            b = summary(c, self._cut(c, cuts["b"]))
            return {"a": a, "b": b, "deltas": deltas(a, b)}

        return self._floats(self._run(run))

    def coverage(
        self, *, account: Any = None, endpoint: Any = None, symbol: Any = None
    ) -> list[dict[str, Any]]:
        """The coverage ledger: per account, endpoint and symbol, complete and expired ranges."""
        acc, sym = account_arg(account), symbol_arg(symbol)
        ep = enum_arg("endpoint", endpoint, _ENDPOINTS)
        found = self._run(
            lambda c: ledger(c, account=acc, endpoints=(ep,) if ep else None, symbol=sym)
        )
        return [
            {"account": a, "endpoint": e, "symbol": s,
             "complete_ranges": [list(r) for r in k["complete"]],
             "expired_ranges": [list(r) for r in k["expired"]]}
            for (a, e, s), k in sorted(found.items())
        ]  # fmt: skip

    def sync_gauges(self) -> dict[str, Any]:
        """Cursor positions and job states from the store (for /metrics): ``cursors`` as
        (account, endpoint, symbol, position_ms), ``jobs`` as {(kind, state): n} and
        ``stats_dirty_hours``, the hours whose statistics tables wait for a rebuild."""

        def run(c: sqlite3.Connection) -> dict[str, Any]:
            cursors = c.execute(
                "SELECT account, endpoint, symbol, position_ms FROM sync_cursors "
                "ORDER BY account, endpoint, symbol"
            ).fetchall()
            jobs = c.execute("SELECT kind, state, count(*) FROM jobs GROUP BY 1, 2").fetchall()
            (dirty,) = c.execute("SELECT count(*) FROM stats_dirty").fetchone()
            return {"cursors": cursors, "jobs": {(k, s): n for k, s, n in jobs},
                    "stats_dirty_hours": int(dirty)}  # fmt: skip

        return self._run(run)

    def table_counts(self) -> dict[str, int]:
        """Rows per history table (for /metrics)."""
        tables = ("orders", "order_events", "trades", "income", "algo_orders", "stream_events",
                  "positions", "balances")  # fmt: skip
        return self._run(
            lambda c: {t: int(c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
        )


_FLOAT_SKIP = frozenset({"asset", "symbol", "account", "status", "side"})


def _as_floats(value: Any, key: str = "") -> Any:
    """Decimal strings in a stats answer as floats (``as_float=True``); names stay text."""
    if isinstance(value, dict):
        return {k: v if k == "cut" else _as_floats(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_floats(v, key) for v in value]
    if isinstance(value, str) and key not in _FLOAT_SKIP:
        try:
            return float(value)
        except ValueError:
            return value
    return value
