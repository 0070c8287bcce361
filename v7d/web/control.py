"""The control app's routes (Unix socket only): backfill jobs, sync-once, pause, reload, backup.

The routes talk to the daemon through :class:`ControlBackend`, a small protocol, so they
can be served (and tested) without knowing how the daemon is wired. Every failure is an
:class:`~v7d.web.errors.ApiError` rendered in the error envelope, never a 500.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from v7d.errors import ExchangeError, StoreError, V7dError
from v7d.web.errors import ApiError

__all__ = ["ControlBackend", "build_control_routes", "job_to_dict", "snapshot_database"]

_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_MAX_BACKFILL_DAYS = 3650
_CHUNK = 1 << 20


class ControlBackend(Protocol):
    """What the control routes need from the daemon."""

    db_path: Path
    test_hooks: bool

    async def engine(self, account: str | None) -> Any:
        """The sync engine of ``account`` (None: the only/first one); raises ApiError."""

    def jobs(self, state: str | None = None) -> list[Any]:
        """Every persisted job (JobState records), newest last."""

    def job(self, job_id: str) -> Any | None:
        """One persisted job, or None."""

    async def reload(self) -> dict[str, Any]:
        """Re-read the config like SIGHUP; raise ConfigError for a bad file."""

    def hang_writer(self) -> None:
        """Wedge the writer (test hook for the watchdog)."""


def job_to_dict(job: Any) -> dict[str, Any]:
    """A JobState as JSON: ``params`` and ``progress`` decoded, progress fields kept."""
    out = dataclasses.asdict(job)
    for key in ("params", "progress"):
        text = out.get(key) or ""
        try:
            out[key] = json.loads(text) if text else {}
        except ValueError:
            out[key] = {"unparsed": text}
    return out


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    return body


def _account(request: Request, body: dict[str, Any] | None = None) -> str | None:
    value = (body or {}).get("account", request.query_params.get("account"))
    if value is not None and not isinstance(value, str):
        raise ApiError(422, "invalid_parameter", f"account: expected a string, got {value!r}")
    return value or None


def _days(body: dict[str, Any]) -> float:
    days = body.get("days")
    if isinstance(days, bool) or not isinstance(days, int | float):
        raise ApiError(422, "invalid_parameter", f"days: expected a number > 0, got {days!r}")
    if not 0 < days <= _MAX_BACKFILL_DAYS:
        raise ApiError(
            422, "invalid_parameter", f"days: expected 0 < days <= {_MAX_BACKFILL_DAYS}, got {days}"
        )
    return float(days)


def _symbols(body: dict[str, Any]) -> list[str] | None:
    raw = body.get("symbols")
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, str):
        raw = [s.strip() for s in raw.split(",") if s.strip()]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ApiError(422, "invalid_parameter", "symbols: expected a list of symbol names")
    bad = [s for s in raw if not _SYMBOL.match(s)]
    if bad:
        raise ApiError(
            422, "invalid_parameter", f"symbols: {bad[0]!r} is not a symbol like BTCUSDT"
        )
    return list(dict.fromkeys(raw))


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(422, "invalid_parameter", f"{name}: expected true or false, got {value!r}")
    return value


def snapshot_database(db_path: Path, target: Path) -> None:
    """Copy the live database into ``target`` with SQLite's online backup API.

    The source is opened read-only, so a snapshot never blocks the writer for long: the
    backup copies pages in steps and restarts only if the writer changed a copied page.
    """
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=1024)
        finally:
            dst.close()
    finally:
        src.close()


async def _stream_file(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk
    finally:
        handle.close()


Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


async def _guarded(work: Awaitable[T]) -> T:
    """Run engine work; what v7d knows how to explain becomes an envelope, not a 500."""
    try:
        return await work
    except ExchangeError as exc:
        raise ApiError(502, "exchange_error", f"the exchange failed: {exc}") from None
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", f"the store failed: {exc}") from None
    except V7dError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None


def build_control_routes(backend: ControlBackend) -> list[BaseRoute]:
    """The ``/control/*`` routes bound to ``backend``."""

    async def backfill(request: Request) -> Response:
        body = await _json_body(request)
        unknown = set(body) - {"days", "symbols", "all_symbols", "account"}
        if unknown:
            name = sorted(unknown)[0]
            raise ApiError(400, "unknown_parameter", f"{name}: not a backfill parameter")
        days, symbols = _days(body), _symbols(body)
        all_symbols = _flag(body, "all_symbols")
        if symbols and all_symbols:
            raise ApiError(422, "invalid_parameter", "symbols and all_symbols exclude each other")
        engine = await backend.engine(_account(request, body))
        job_id = await _guarded(
            engine.start_backfill(days=days, symbols=symbols, all_symbols=all_symbols)
        )
        return JSONResponse({"job_id": job_id}, status_code=202)

    async def jobs(request: Request) -> Response:
        state = request.query_params.get("state") or None
        found = await asyncio.to_thread(backend.jobs, state)
        return JSONResponse({"items": [job_to_dict(j) for j in found], "next_cursor": None})

    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        found = await asyncio.to_thread(backend.job, job_id)
        if found is None:
            raise ApiError(404, "job_not_found", f"job {job_id!r} does not exist")
        return JSONResponse(job_to_dict(found))

    async def sync_once(request: Request) -> Response:
        engine = await backend.engine(_account(request, await _json_body(request)))
        report = await _guarded(engine.run_once())
        # PassReport.to_dict() is its JSON form (it may add derived fields to asdict()).
        to_dict = getattr(report, "to_dict", None)
        return JSONResponse(to_dict() if callable(to_dict) else report)

    def _pauser(paused: bool) -> Handler:
        async def handler(request: Request) -> Response:
            engine = await backend.engine(_account(request, await _json_body(request)))
            engine.pause() if paused else engine.resume()
            return JSONResponse({"paused": paused})

        return handler

    async def reload(request: Request) -> Response:
        from v7d.errors import ConfigError

        try:
            result = await backend.reload()
        except ConfigError as exc:
            raise ApiError(422, "config_invalid", f"reload refused: {exc}") from None
        return JSONResponse(result)

    async def backup(request: Request) -> Response:
        workdir = Path(tempfile.mkdtemp(prefix="v7d-backup-"))
        target = workdir / "snapshot.db"
        try:
            await asyncio.to_thread(snapshot_database, backend.db_path, target)
        except sqlite3.Error as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise ApiError(503, "backup_failed", f"cannot snapshot the database: {exc}") from None
        size = (await asyncio.to_thread(target.stat)).st_size
        cleanup = BackgroundTask(shutil.rmtree, workdir, ignore_errors=True)
        headers = {"content-length": str(size), "x-v7d-snapshot-bytes": str(size)}
        return StreamingResponse(
            _stream_file(target),
            media_type="application/vnd.sqlite3",
            headers=headers,
            background=cleanup,
        )

    async def debug_hang(request: Request) -> Response:
        if not backend.test_hooks:
            raise ApiError(404, "not_found", "no such route (test hooks are off)")
        backend.hang_writer()
        return JSONResponse({"writer": "hung"})

    return [
        Route("/control/backfill", backfill, methods=["POST"]),
        Route("/control/jobs", jobs, methods=["GET"]),
        Route("/control/jobs/{job_id}", job, methods=["GET"]),
        Route("/control/sync-once", sync_once, methods=["POST"]),
        Route("/control/pause", _pauser(True), methods=["POST"]),
        Route("/control/resume", _pauser(False), methods=["POST"]),
        Route("/control/reload", reload, methods=["POST"]),
        Route("/control/backup", backup, methods=["POST"]),
        Route("/control/debug/hang", debug_hang, methods=["POST"]),
    ]
