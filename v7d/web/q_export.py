"""Streamed export of trades, orders or income as CSV or JSON lines.

Rows are read page by page (keyset pages of 1,000, each its own short read) on a
connection owned by the stream, and written out as they come: memory stays flat however
many millions of rows the window holds. The first page is read before the answer starts,
so bad parameters still get the error envelope instead of a truncated stream.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from v7d.query.api import HistoryQueryAPI
from v7d.query.items import INCOME, ORDER, TRADE, ItemShape

__all__ = ["EXPORTS", "export_response"]

EXPORTS: dict[str, tuple[str, ItemShape]] = {
    "trades": ("trades_page", TRADE),
    "orders": ("orders_page", ORDER),
    "income": ("income_page", INCOME),
}
_PAGE = 1000


def _csv_chunk(shape: ItemShape, items: list[dict[str, Any]], header: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(shape.fields)
    bools = shape.bools
    for item in items:
        w.writerow(
            ("true" if v else "false") if k in bools else ("" if v is None else v)
            for k, v in item.items()
        )
    return buf.getvalue().encode()


def _jsonl_chunk(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(i, separators=(",", ":")) + "\n" for i in items).encode()


def _chunks(
    api: HistoryQueryAPI, method: str, shape: ItemShape, fmt: str, args: dict[str, Any],
    first: dict[str, Any],
) -> Iterator[bytes]:  # fmt: skip
    try:
        page, header = first, True
        while True:
            items = page["items"]
            if fmt == "csv":
                yield _csv_chunk(shape, items, header)
            elif items:
                yield _jsonl_chunk(items)
            header = False
            if page["next_cursor"] is None:
                return
            page = getattr(api, method)(**args, limit=_PAGE, cursor=page["next_cursor"])
    finally:
        api.close()


async def export_response(
    db_path: str, timeout_ms: int, what: str, fmt: str, args: dict[str, Any]
) -> StreamingResponse:
    """The streamed answer of ``/export/{what}`` (arguments already checked by name)."""
    method, shape = EXPORTS[what]

    def start() -> tuple[HistoryQueryAPI, dict[str, Any]]:
        api = HistoryQueryAPI(db_path, timeout_ms=timeout_ms)
        try:
            return api, getattr(api, method)(**args, limit=_PAGE)
        except BaseException:
            api.close()
            raise

    api, first = await run_in_threadpool(start)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        _chunks(api, method, shape, fmt, args, first),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{what}.{fmt}"'},
    )
