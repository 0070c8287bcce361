"""Streamed export of trades, orders or income as CSV or JSON lines.

Rows are read page by page (keyset pages of 5,000, each its own short read) on a
connection owned by the stream, and written out as they come: memory stays flat however
many millions of rows the window holds. The first page is read before the answer starts,
so bad parameters still get the error envelope instead of a truncated stream.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from v7d.query.api import HistoryQueryAPI
from v7d.query.items import INCOME, ORDER, TRADE, ItemShape

__all__ = ["EXPORTS", "export_response"]

EXPORTS: dict[str, ItemShape] = {"trades": TRADE, "orders": ORDER, "income": INCOME}


def _csv_chunk(shape: ItemShape, rows: list[Any], header: bool) -> bytes:
    # SQLite already built each row's CSV line (quoting as the csv module does, see
    # v7d.query.lists._csv_field): joining them is all that is left to Python.
    lines = [r[0] for r in rows]
    if header:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(shape.fields)
        lines.insert(0, buf.getvalue()[:-1])
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _jsonl_chunk(shape: ItemShape, rows: list[Any]) -> bytes:
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    return "".join(dumps(shape.to_item(r)) + "\n" for r in rows).encode()


def _encode(shape: ItemShape, fmt: str, rows: list[Any], header: bool) -> bytes:
    return _csv_chunk(shape, rows, header) if fmt == "csv" else _jsonl_chunk(shape, rows)


class _Prefetch:
    """Reads the next chunks on a thread of its own while the current one is encoded.

    SQLite releases the GIL while it steps through the index, so reading and encoding
    overlap (about 1.4x the rows/s of doing both in turn). At most ``depth`` chunks wait,
    so memory stays flat; :meth:`close` stops the reader when the client goes away.
    """

    _END = object()

    def __init__(self, chunks: Iterator[list[Any]], depth: int = 2) -> None:
        self._chunks = chunks
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="v7d-export", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for rows in self._chunks:
                if not self._put(rows):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)

    def __iter__(self) -> Iterator[list[Any]]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the reader thread and wait for it."""
        self._stop.set()
        self._thread.join(timeout=10)


def _stream(
    api: HistoryQueryAPI, chunks: Iterator[list[Any]], shape: ItemShape, fmt: str,
    first: bytes,
) -> Iterator[bytes]:  # fmt: skip
    prefetch = _Prefetch(chunks)
    try:
        yield first
        for rows in prefetch:
            if rows:
                yield _encode(shape, fmt, rows, False)
    finally:
        prefetch.close()
        api.close()


async def export_response(
    db_path: str, timeout_ms: int, what: str, fmt: str, args: dict[str, Any]
) -> StreamingResponse:
    """The streamed answer of ``/export/{what}`` (arguments already checked by name)."""
    shape = EXPORTS[what]

    def start() -> tuple[HistoryQueryAPI, Iterator[list[Any]], bytes]:
        api = HistoryQueryAPI(db_path, timeout_ms=timeout_ms)
        try:
            chunks = api.export_chunks(what, csv_lines=fmt == "csv", **args)
            return api, chunks, _encode(shape, fmt, next(chunks), True)
        except BaseException:
            api.close()
            raise

    api, chunks, first = await run_in_threadpool(start)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        _stream(api, chunks, shape, fmt, first),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{what}.{fmt}"'},
    )
