"""The single writer: one task owns the only read-write connection.

Producers (backfill, poller, stream ingest, control API) call :meth:`Writer.submit` with a
:class:`WriteBatch` and await its commit. Each batch runs in one ``BEGIN IMMEDIATE …
COMMIT`` on a dedicated thread, so the event loop never blocks on SQLite. A failing batch
fails its own future and rolls back; the writer carries on. :meth:`close` lets queued
batches drain (up to a deadline), then closes the connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import structlog

from v7d.errors import StoreError
from v7d.store.curve import HOUR_MS
from v7d.store.db import open_database
from v7d.store.records import BatchResult, WriteBatch
from v7d.store.refresh import Pacer, mark_inserts, refresh_stats
from v7d.store.upserts import MarginAssets, apply_coverage, apply_cursors, upsert_records

__all__ = ["Writer", "apply_batch"]

log = structlog.get_logger("v7d.store.writer")

_SHUTDOWN = object()
# The statistics tables (v7d.store.refresh) are rebuilt in slices of at most this many
# hours or seconds (a queued batch waits for at most one slice); the current hour once
# the writer has been idle this long, or this long after the previous slice (Pacer).
STATS_SLICE_HOURS = 16
STATS_SLICE_S = 0.02
STATS_IDLE_S = 0.5
STATS_FORCE_S = 30.0
T = TypeVar("T")


class _DaemonThread:
    """A one-thread executor whose thread is a daemon.

    ``ThreadPoolExecutor`` joins its threads at interpreter exit, so a wedged SQLite call
    would keep the process alive forever; the writer's thread must never do that.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fut, fn, args = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:
                fut.set_exception(exc)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the thread and await its result."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fut, fn, args))
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        """Let the thread end after the jobs already queued."""
        self._jobs.put(None)


def apply_batch(conn: sqlite3.Connection, batch: WriteBatch, ma: MarginAssets) -> BatchResult:
    """Apply one batch in one transaction on ``conn`` (autocommit mode); roll back on any error."""
    res = BatchResult()
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    try:
        upsert_records(conn, batch.records, res, ma)
        mark_inserts(conn, batch.records)
        apply_cursors(conn, batch.cursors, res)
        apply_coverage(conn, batch.coverage, res)
    except BaseException:
        # BaseException: a CancelledError or KeyboardInterrupt must not leave it half-open.
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    res.commit_ms = (time.perf_counter() - started) * 1000
    return res


class Writer:
    """Owns the read-write connection; serialises every write of the process.

    ``stall_after_s``: a batch running longer than this makes :attr:`healthy` False, which
    stops the systemd watchdog pings so that a wedged writer leads to a restart.
    """

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 5000, stall_after_s: float = 30.0
    ) -> None:
        self.path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._stall_after_s = stall_after_s
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._executor: _DaemonThread | None = None
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._ma = MarginAssets()
        self._closing = False
        self._busy_since: float | None = None
        self._hang = threading.Event()
        self.batches_committed = 0
        self.batches_failed = 0
        self.last_commit_monotonic: float | None = None
        self.last_commit_ms: float = 0.0
        self.commit_latencies_ms: list[float] = []
        self.stats_hours_rebuilt = 0
        self._pacer = Pacer(idle_s=STATS_IDLE_S, force_s=STATS_FORCE_S)

    # -- life-cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open and migrate the database, then start the writer task."""
        if self._task is not None:
            raise StoreError("writer already started")
        self._executor = _DaemonThread("v7d-writer")
        try:
            self._conn = await self._executor.run(
                lambda: open_database(self.path, busy_timeout_ms=self._busy_timeout_ms)
            )
            await self._executor.run(self._ma.load, self._conn)
        except BaseException:
            self._executor.shutdown()
            self._executor = None
            raise
        self._task = asyncio.create_task(self._run(), name="v7d-writer")

    async def close(self, drain_timeout: float = 10.0) -> int:
        """Stop taking batches, drain the queue within ``drain_timeout``, close.

        Returns how many queued batches could not be committed in time (their futures fail
        with :class:`StoreError`; their producers will re-fetch after a restart).
        """
        if self._task is None:
            return 0
        self._closing = True
        self._queue.put_nowait(_SHUTDOWN)
        dropped = 0
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=drain_timeout)
        except TimeoutError:
            self._task.cancel()
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if isinstance(item, tuple) and item[1] is not None:
                    dropped += 1
                    fut = item[1]
                    if not fut.done():
                        fut.set_exception(StoreError("writer closed before this batch committed"))
            log.warning("writer_drain_timeout", dropped_batches=dropped, timeout_s=drain_timeout)
        if self._conn is not None and self._executor is not None and not self._hang.is_set():
            await self._executor.run(self._conn.close)
            self._conn = None
        if self._executor is not None:
            # A wedged thread (test hook) is a daemon thread: it dies with the process.
            self._executor.shutdown()
            self._executor = None
        self._task = None
        return dropped

    # -- producers -----------------------------------------------------------------------

    async def submit(self, batch: WriteBatch) -> BatchResult:
        """Queue ``batch`` and wait until it is committed (or failed)."""
        if self._task is None or self._closing:
            raise StoreError("writer is not running")
        fut: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((batch, fut))
        return await fut

    @property
    def queue_depth(self) -> int:
        """Batches waiting to be committed."""
        return self._queue.qsize()

    @property
    def healthy(self) -> bool:
        """False when the writer task died or one batch has run past ``stall_after_s``."""
        if self._task is None or self._task.done():
            return False
        busy = self._busy_since
        return busy is None or time.monotonic() - busy < self._stall_after_s

    def hang_for_tests(self) -> None:
        """Wedge the writer thread forever (``V7D_TEST_HOOKS=1`` only): for watchdog tests."""
        self._hang.set()
        self._queue.put_nowait(("hang", None))

    # -- the task ------------------------------------------------------------------------

    async def _next_item(self) -> object:
        """The next queued item; while none waits and the pacer allows, rebuild dirty
        hours of the statistics tables (:func:`~v7d.store.refresh.refresh_stats`) in
        short slices."""
        assert self._executor is not None and self._conn is not None
        pacer = self._pacer
        while pacer.pending and self._queue.empty():
            wait, every = pacer.plan(time.monotonic())
            if wait > 0:
                try:
                    return await asyncio.wait_for(self._queue.get(), wait)
                except TimeoutError:
                    continue
            before = None if every else int(time.time() * 1000) // HOUR_MS * HOUR_MS
            start = self._busy_since = time.monotonic()
            try:
                n, more = await self._executor.run(
                    refresh_stats, self._conn, STATS_SLICE_HOURS, STATS_SLICE_S, before
                )
            except Exception as exc:  # the hours stay dirty; queries read their rows
                log.error("stats_refresh_failed", error=repr(exc))
                pacer.failed(time.monotonic())
                continue
            finally:
                self._busy_since = None
            self.stats_hours_rebuilt += n
            pacer.sliced(start, time.monotonic(), n, more, every)
        return await self._queue.get()

    async def _run(self) -> None:
        assert self._executor is not None and self._conn is not None
        while True:
            item = await self._next_item()
            if item is _SHUTDOWN:
                return
            assert isinstance(item, tuple)
            if item[0] == "hang":
                self._busy_since = time.monotonic()
                await self._executor.run(threading.Event().wait)
                continue
            batch, fut = item
            if fut.cancelled():
                continue
            self._busy_since = time.monotonic()
            try:
                res = await self._executor.run(apply_batch, self._conn, batch, self._ma)
            except Exception as exc:  # the batch's own failure, not the writer's
                self.batches_failed += 1
                log.error("write_batch_failed", error=repr(exc), records=len(batch.records))
                if not fut.done():
                    fut.set_exception(exc)
            else:
                self.batches_committed += 1
                self.last_commit_monotonic = time.monotonic()
                self.last_commit_ms = res.commit_ms
                if len(self.commit_latencies_ms) >= 1024:
                    del self.commit_latencies_ms[:512]
                self.commit_latencies_ms.append(res.commit_ms)
                if not fut.done():
                    fut.set_result(res)
                self._pacer.batch(time.monotonic())
            finally:
                self._busy_since = None
