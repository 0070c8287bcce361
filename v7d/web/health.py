"""``/health``: is the service usable? Sources report, the route renders DESIGN.md's answer.

A :class:`HealthSource` answers ``(ok, details)``; ``details`` may carry ``reasons`` (why
not ok) and ``degraded`` (working, but e.g. a stream is down) lists plus any other
JSON-able fields. The route answers 200 ``{"status": "ok", "degraded": [...], ...}`` or
503 ``{"status": "unavailable", "reasons": [...], ...}``. 503 is only for an unreadable
store, a wedged writer, or every account stopped; a stream that is down is "degraded".
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "CombinedHealth",
    "HealthSource",
    "StoreHealth",
    "health_endpoint",
    "health_response",
]


@runtime_checkable
class HealthSource(Protocol):
    """Anything that can say whether the service is usable."""

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """``(ok, details)``; details may hold ``reasons`` and ``degraded`` lists."""
        ...


def _probe_store(db_path: Path, timeout: float) -> None:
    # mode=ro: the health check must never create the file or take a write lock.
    uri = f"file:{quote(str(db_path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    try:
        conn.execute("SELECT 1").fetchone()
        # SELECT 1 alone never reads the file; the schema read catches "not a database".
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


class StoreHealth:
    """Healthy when the database opens read-only and answers a query within ``timeout``."""

    def __init__(self, db_path: str | Path, *, timeout: float = 2.0) -> None:
        self.db_path = Path(db_path)
        self.timeout = timeout

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Open ``file:...?mode=ro``, run ``SELECT 1``; any failure is a reason for 503."""
        try:
            await asyncio.wait_for(
                asyncio.to_thread(_probe_store, self.db_path, self.timeout), self.timeout * 2
            )
        except (sqlite3.Error, OSError) as exc:
            return False, {"reasons": [f"store unreadable: {exc}"]}
        except TimeoutError:
            return False, {"reasons": [f"store did not answer within {self.timeout * 2:g}s"]}
        return True, {}


class CombinedHealth:
    """Several sources as one: ok only if all are; reasons and degraded lists concatenated.

    Other detail fields are merged (a later source wins on the same key).
    """

    def __init__(self, *sources: HealthSource) -> None:
        self.sources: Sequence[HealthSource] = sources

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Ask every source (concurrently) and combine the answers."""
        answers = await asyncio.gather(*(s.health() for s in self.sources))
        ok = True
        merged: dict[str, Any] = {}
        reasons: list[Any] = []
        degraded: list[Any] = []
        for source_ok, details in answers:
            ok = ok and source_ok
            reasons.extend(details.get("reasons", []))
            degraded.extend(details.get("degraded", []))
            merged.update({k: v for k, v in details.items() if k not in ("reasons", "degraded")})
        return ok, {**merged, "reasons": reasons, "degraded": degraded}


async def health_response(source: HealthSource) -> JSONResponse:
    """Ask ``source`` and render DESIGN.md's answer (200 ok / 503 unavailable)."""
    ok, details = await source.health()
    extra = {k: v for k, v in details.items() if k not in ("status", "reasons", "degraded")}
    degraded = list(details.get("degraded", []))
    if ok:
        return JSONResponse({"status": "ok", "degraded": degraded, **extra})
    reasons = list(details.get("reasons", [])) or ["unavailable"]
    body = {"status": "unavailable", "reasons": reasons, "degraded": degraded, **extra}
    return JSONResponse(body, status_code=503)


def health_endpoint(source: HealthSource) -> Any:
    """A Starlette endpoint answering ``GET /health`` from ``source``."""

    async def health(_request: Request) -> Response:
        return await health_response(source)

    return health
