"""Streamed export, /metrics, /sync/status and the OpenAPI document's own route."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.query.rig import make_app
from tests.query.truth import DAY, T0, Truth
from v7d.store.records import CursorMove, JobState, WriteBatch
from v7d.store.writer import Writer


class TestExport:
    """/export/{trades|orders|income} streams every row of the window."""

    async def test_csv_trades(self, client: httpx.AsyncClient, truth: Truth) -> None:
        """CSV export equals the truth rows (header = item fields, booleans as text)."""
        resp = await client.get("/export/trades", params={"format": "csv"})
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert len(rows) == len(truth.trades)
        by_id = {t["id"]: t for t in truth.trades}
        for r in rows:
            t = by_id[int(r["id"])]
            assert r["realized_pnl"] == t["realized_pnl"] and r["price"] == t["price"]
            assert r["maker"] == ("true" if t["maker"] else "false")

    @pytest.mark.parametrize("what", ["trades", "orders", "income"])
    async def test_jsonl_equals_list(self, client: httpx.AsyncClient, what: str) -> None:
        """JSON-lines export of a window equals paging the list route over it."""
        window = {"start_ms": T0 + 3_600_000, "end_ms": T0 + DAY + 5}
        resp = await client.get(f"/export/{what}", params={**window, "format": "jsonl"})
        exported = [json.loads(line) for line in resp.text.splitlines()]
        listed, cursor = [], None
        while True:
            params = {**window, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"/{what}", params=params)).json()
            listed += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
        assert exported == listed and len(exported) > 0

    async def test_empty_window_has_header(self, client: httpx.AsyncClient) -> None:
        """An empty CSV export still carries its header line."""
        resp = await client.get("/export/income", params={"end_ms": 1})
        assert resp.text.splitlines() == [
            "account,symbol,income_type,income,asset,info,time,tran_id,trade_id"
        ]


class TestMetrics:
    """/metrics is Prometheus text with store rows, request histograms and daemon lines."""

    async def test_exposition(self, client: httpx.AsyncClient, truth: Truth) -> None:
        """Row counts, the route latency histogram and the daemon's lines are present."""
        await client.get("/trades", params={"limit": 1})
        await client.get("/trades", params={"limit": "x"})
        text = (await client.get("/metrics")).text
        assert f'v7d_store_rows{{table="trades"}} {len(truth.trades)}' in text
        assert 'v7d_http_requests_total{route="/trades",status="200"} 1' in text
        assert 'v7d_http_requests_total{route="/trades",status="422"} 1' in text
        assert 'v7d_http_request_duration_seconds_bucket{route="/trades",le="+Inf"} 2' in text
        assert "v7d_test_metric 1" in text
        for line in text.splitlines():
            assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


class TestSyncStatus:
    """/sync/status answers what the daemon's callable returns."""

    async def test_passthrough(self, client: httpx.AsyncClient) -> None:
        """The callable's dict is the JSON body."""
        resp = await client.get("/sync/status")
        assert resp.json() == {"accounts": {"default": {"stream": "up"}}}


async def test_cursor_lag_and_jobs(tmp_path: Path) -> None:
    """/metrics shows each sync cursor's lag and the jobs by state, from the store."""
    path = tmp_path / "m.db"
    writer = Writer(path)
    await writer.start()
    now = int(time.time() * 1000)
    try:
        await writer.submit(WriteBatch(
            records=[JobState("j1", "default", "backfill", "running", "{}", "{}", now, now)],
            cursors=[CursorMove("default", "userTrades", "BTCUSDT", now - 90_000)],
        ))  # fmt: skip
    finally:
        await writer.close()
    app = make_app(path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://v") as c:
        text = (await c.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("v7d_sync_cursor_lag_seconds{"))
    assert 'endpoint="userTrades",symbol="BTCUSDT"' in line
    assert 90 <= float(line.rsplit(" ", 1)[1]) < 120
    assert 'v7d_jobs{kind="backfill",state="running"} 1' in text


async def test_dirty_statistics_hours(tmp_path: Path) -> None:
    """/metrics counts the hours waiting for the statistics rebuild: two hours of trades
    written without an idle writer, then none after a rebuild."""
    from tests.store.factories import trade
    from v7d.store.db import open_database
    from v7d.store.refresh import refresh_stats
    from v7d.store.upserts import MarginAssets
    from v7d.store.writer import apply_batch

    path = tmp_path / "d.db"
    conn = open_database(path)
    rows = [trade(1, time=1_700_000_000_000), trade(2, time=1_700_000_000_000 + 3_600_000)]
    apply_batch(conn, WriteBatch(records=rows), MarginAssets())
    app = make_app(path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://v") as c:
        assert "\nv7d_stats_dirty_hours 2\n" in (await c.get("/metrics")).text
        refresh_stats(conn)
        assert "\nv7d_stats_dirty_hours 0\n" in (await c.get("/metrics")).text
    conn.close()


@pytest.mark.parametrize("what", ["trades", "orders", "income"])
async def test_csv_lines_built_by_sqlite_equal_the_csv_module(tmp_path: Path, what: str) -> None:
    """CSV lines built in SQL quote exactly like Python's csv module: text with commas,
    quotes, newlines, carriage returns and spaces, empty text, NULLs, booleans, over two
    accounts (the merged keyset path) and several pages."""
    from dataclasses import replace

    from tests.store.factories import income, order, trade
    from v7d.query.list_queries import BUILDERS
    from v7d.query.lists import fetch_rows
    from v7d.store.db import open_database
    from v7d.store.upserts import MarginAssets
    from v7d.store.writer import apply_batch

    odd = ["a,b", 'q"uote', "new\nline", "cr\rhere", " spaced ", "", "plain", '",\n"']
    recs: list[object] = []
    for i in range(1, 40):
        acc = "acc,one" if i % 2 else 'acc"two'
        text = odd[i % len(odd)]
        recs.append(replace(trade(i, time=T0 + i), account=acc, symbol=f"S{i % 3}\n,X",
                            buyer=None if i % 5 == 0 else bool(i % 2)))  # fmt: skip
        recs.append(replace(order(i, time=T0 + i), account=acc, client_order_id=text))
        recs.append(replace(income(i, time=T0 + i), account=acc, info=text))
    path = tmp_path / "csv.db"
    conn = open_database(path)
    apply_batch(conn, WriteBatch(records=recs), MarginAssets())  # type: ignore[arg-type]
    q = BUILDERS[what]()
    accounts = ["acc,one", 'acc"two']
    want_rows, got_lines, cursor, lines_cursor = [], [], None, None
    while True:  # pages of 7 rows, both ways
        rows, cursor = fetch_rows(
            conn, q, limit=7, cursor=cursor, accounts=accounts, text_bools=True
        )
        want_rows += [tuple(r)[: len(q_fields(what))] for r in rows]
        lines, lines_cursor = fetch_rows(conn, q, limit=7, cursor=lines_cursor, accounts=accounts,
                                         csv_lines=True)  # fmt: skip
        got_lines += [r[0] for r in lines]
        assert cursor == lines_cursor
        if cursor is None:
            break
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(want_rows)
    assert "\n".join(got_lines) + "\n" == buf.getvalue()
    assert len(got_lines) == 39
    conn.close()


def q_fields(what: str) -> tuple[str, ...]:
    from v7d.query.items import INCOME, ORDER, TRADE

    return {"trades": TRADE, "orders": ORDER, "income": INCOME}[what].fields
