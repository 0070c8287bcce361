"""List queries: filters select exactly the truth's rows, pages are complete and stable."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.query.truth import DAY, DUP_ORDER_ID, HOUR, T0, Truth
from v7d.query.api import HistoryQueryAPI
from v7d.query.errors import QueryError
from v7d.store.records import Trade, WriteBatch
from v7d.store.writer import Writer


def _trade_key(t: dict[str, Any]) -> tuple:
    return (t["time"], t["symbol"], t["id"], t["account"])


def _order_key(o: dict[str, Any]) -> tuple:
    return (o["time"], o["symbol"], o["order_id"], o["account"])


def _income_key(i: dict[str, Any]) -> tuple:
    return (i["time"], i["income_type"], i["tran_id"], i["account"])


class TestFilters:
    """Each filter returns exactly the matching truth rows, in list order."""

    @pytest.mark.parametrize(
        "args",
        [{}, {"symbol": "BTCUSDT"}, {"start_ms": T0 + HOUR, "end_ms": T0 + DAY},
         {"symbol": "SOLUSDC", "start_ms": T0 + DAY}, {"client_order_id_prefix": "alpha-"},
         {"symbol": "ETHUSDT", "order_id": 1050}, {"account": "default", "end_ms": T0 + 1}],
    )  # fmt: skip
    def test_trades(self, api: HistoryQueryAPI, truth: Truth, args: dict[str, Any]) -> None:
        """Trades by symbol, window, order id and client-id prefix."""
        orders = {(o["symbol"], o["order_id"]): o for o in truth.orders}

        def keep(t: dict[str, Any]) -> bool:
            o = orders[(t["symbol"], t["order_id"])]
            return (
                t["symbol"] == args.get("symbol", t["symbol"])
                and t["order_id"] == args.get("order_id", t["order_id"])
                and args.get("start_ms", 0) <= t["time"] < args.get("end_ms", 10**15)
                and o["client_order_id"].startswith(args.get("client_order_id_prefix", ""))
            )

        want = sorted((t for t in truth.trades if keep(t)), key=_trade_key)
        assert list(api.iter_trades(**args)) == want

    @pytest.mark.parametrize(
        "args",
        [{}, {"status": "CANCELED"}, {"side": "SELL", "symbol": "ETHUSDT"},
         {"client_order_id_prefix": "beta-", "start_ms": T0 + DAY}],
    )  # fmt: skip
    def test_orders(self, api: HistoryQueryAPI, truth: Truth, args: dict[str, Any]) -> None:
        """Orders by status, side, symbol, prefix and window."""

        def keep(o: dict[str, Any]) -> bool:
            return (
                all(o[k] == args[k] for k in ("status", "side", "symbol") if k in args)
                and o["client_order_id"].startswith(args.get("client_order_id_prefix", ""))
                and args.get("start_ms", 0) <= o["time"]
            )

        want = sorted((o for o in truth.orders if keep(o)), key=_order_key)
        assert list(api.iter_orders(**args)) == want

    @pytest.mark.parametrize(
        "args", [{}, {"type": "FUNDING_FEE"}, {"symbol": "SOLUSDC", "type": "COMMISSION"}]
    )
    def test_income(self, api: HistoryQueryAPI, truth: Truth, args: dict[str, Any]) -> None:
        """Income by type and symbol."""
        want = sorted(
            (i for i in truth.income
             if i["income_type"] == args.get("type", i["income_type"])
             and i["symbol"] == args.get("symbol", i["symbol"])),
            key=_income_key,
        )  # fmt: skip
        assert list(api.iter_income(**args)) == want

    def test_algo_orders(self, api: HistoryQueryAPI, truth: Truth) -> None:
        """Algo orders by status."""
        assert api.algo_orders() == truth.algo_orders
        assert api.algo_orders(status="CANCELED") == [
            a for a in truth.algo_orders if a["status"] == "CANCELED"
        ]

    def test_order_events(self, api: HistoryQueryAPI, truth: Truth) -> None:
        """An order's events, oldest first, with the contract's fields."""
        want = [
            {k: e[k] for k in ("event_time", "transaction_time", "execution_type", "status",
                               "last_qty", "last_price", "cum_qty", "trade_id", "source")}
            for e in truth.events if e["order_id"] == DUP_ORDER_ID and e["symbol"] == "ETHUSDT"
        ]  # fmt: skip
        assert api.order_events(DUP_ORDER_ID, "ETHUSDT") == want

    def test_ambiguous_is_409(self, api: HistoryQueryAPI) -> None:
        """In-process, an ambiguous id raises the same QueryError the HTTP 409 comes from."""
        with pytest.raises(QueryError) as err:
            api.order_events(DUP_ORDER_ID)
        assert err.value.status == 409 and err.value.extra["symbols"] == ["BTCUSDT", "ETHUSDT"]

    def test_snapshots(self, api: HistoryQueryAPI, truth: Truth) -> None:
        """Positions and balances as stored."""
        assert api.positions() == truth.positions
        assert api.balances() == sorted(truth.balances, key=lambda b: b["asset"])
        assert api.positions(symbol="ETHUSDT") == []

    def test_coverage(self, api: HistoryQueryAPI) -> None:
        """The ledger per (account, endpoint, symbol), expired ranges apart."""
        rows = api.coverage(endpoint="income")
        assert rows == [
            {"account": "default", "endpoint": "income", "symbol": "",
             "complete_ranges": [[T0 + DAY, T0 + 3 * DAY]],
             "expired_ranges": [[T0, T0 + DAY]]}
        ]  # fmt: skip

    def test_as_float(self, store_path: Path) -> None:
        """as_float turns decimal strings into floats and leaves the rest alone."""
        with HistoryQueryAPI(store_path, as_float=True) as api:
            t = api.get_trades(limit=1)[0]
            s = api.summary()
        assert isinstance(t["price"], float) and isinstance(t["symbol"], str)
        assert isinstance(s["assets"]["USDT"]["net_pnl"], float)
        assert s["cut"]["account"] == "default"


class TestPaging:
    """Keyset pages are complete, ordered, and never skip or repeat."""

    @pytest.mark.parametrize("limit", [1, 7, 100, 1000])
    def test_complete(self, api: HistoryQueryAPI, truth: Truth, limit: int) -> None:
        """Paging with any page size serves every row once, in (time, symbol, id) order."""
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = api.trades_page(limit=limit, cursor=cursor)
            assert len(page["items"]) <= limit
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(truth.trades, key=_trade_key)

    def test_last_page_has_no_cursor(self, api: HistoryQueryAPI, truth: Truth) -> None:
        """A page that ends exactly at the last row says so (next_cursor null)."""
        page = api.trades_page(limit=len(truth.trades))
        assert page["next_cursor"] is None and len(page["items"]) == len(truth.trades)

    def test_same_millisecond(self, api: HistoryQueryAPI) -> None:
        """Rows sharing one time are split across pages without loss (id breaks ties)."""
        t = T0 + DAY // 2 + 17
        first = api.orders_page(start_ms=t, end_ms=t + 1, limit=5)
        rest = api.get_orders(start_ms=t, end_ms=t + 1, cursor=first["next_cursor"])
        ids = [o["order_id"] for o in first["items"] + rest]
        assert len(ids) == 12 and ids == sorted(ids)


async def test_stable_under_concurrent_inserts(store_path: Path, tmp_path: Path) -> None:
    """Paging while the writer inserts rows before and after the cursor never skips or
    repeats a row that existed when paging began."""
    path = tmp_path / "live.db"
    shutil.copy(store_path, path)
    writer = Writer(path)
    await writer.start()
    try:
        with HistoryQueryAPI(path) as api:
            before = [_trade_key(t) for t in api.iter_trades()]
            seen: list[tuple] = []
            cursor, n = None, 0
            while True:
                page = await asyncio.to_thread(api.trades_page, limit=25, cursor=cursor)
                seen += [_trade_key(t) for t in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
                # New rows at the start, in the middle (at the cursor's time) and the end.
                last = page["items"][-1]["time"]
                batch = [_new_trade(900_000 + n * 3 + k, t)
                         for k, t in enumerate((T0 - 5, last, T0 + 5 * DAY))]  # fmt: skip
                await writer.submit(WriteBatch(records=batch))
                n += 1
        assert len(seen) == len(set(seen)), "a row was served twice"
        assert seen == sorted(seen)
        assert set(before) <= set(seen), "a row that existed was skipped"
        assert n > 10
    finally:
        await writer.close()


def _new_trade(i: int, t: int) -> Trade:
    row = {"id": i, "time": t}
    return Trade("default", "BTCUSDT", i, 1, "BUY", "BOTH", "1", "1", "1", "0", "0", "USDT",
                 False, t, "ws", json.dumps(row))  # fmt: skip
