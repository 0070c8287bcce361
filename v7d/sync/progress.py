"""A backfill job's persisted progress: phase, plan position, counters, ETA.

The progress is stored as JSON in the job's :class:`~v7d.store.records.JobState` row and
is written in the SAME batch as the page of rows it accounts for, so after a crash (kill
-9) a job resumes exactly at the first page that was not committed: it never repeats
committed work and never skips uncommitted work.

The plan itself is not stored: it is recomputed from the job's parameters (range, symbol
list, creation time), which makes it deterministic; the progress holds the index of the
next window and the paging position inside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from v7d.sync.report import add_counts

__all__ = ["JobParams", "JobProgress"]


@dataclass(frozen=True)
class JobParams:
    """What was asked: the range ``[start_ms, end_ms)`` and which symbols.

    ``created_ms`` fixes the clock the retention clamp uses, so that the plan does not
    change when the job resumes a day later.
    """

    days: float
    start_ms: int
    end_ms: int
    created_ms: int
    symbols: tuple[str, ...] = ()
    all_symbols: bool = False

    def to_json(self) -> str:
        """Compact JSON for the ``params`` column."""
        d = asdict(self)
        d["symbols"] = list(self.symbols)
        return json.dumps(d, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobParams:
        """Parse the ``params`` column."""
        d = json.loads(text)
        return cls(
            days=float(d["days"]),
            start_ms=int(d["start_ms"]),
            end_ms=int(d["end_ms"]),
            created_ms=int(d["created_ms"]),
            symbols=tuple(d.get("symbols") or ()),
            all_symbols=bool(d.get("all_symbols", False)),
        )


@dataclass
class JobProgress:
    """Where a backfill stands. ``phase``: ``account`` (account-wide endpoints, which also
    discover symbols), ``symbols`` (per-symbol windows), ``done``.
    """

    phase: str = "account"
    symbols: list[str] = field(default_factory=list)
    next_window: int = 0
    page: dict[str, Any] = field(default_factory=dict)
    windows_done: int = 0
    windows_total: int = 0
    requests: int = 0
    weight: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    started_ms: int = 0
    active_ms: int = 0
    eta_s: float | None = None

    def to_json(self) -> str:
        """Compact JSON for the ``progress`` column."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobProgress:
        """Parse the ``progress`` column (missing keys take their defaults)."""
        if not text:
            return cls()
        d = json.loads(text)
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def add_rows(self, changed: dict[str, int]) -> None:
        """Count rows a committed page changed."""
        add_counts(self.rows, changed)

    def note_error(self, message: str) -> None:
        """Keep the last 20 errors (enough to act on, small enough to rewrite per page)."""
        self.errors = [*self.errors[-19:], message]

    def update_eta(self, elapsed_ms: int) -> None:
        """Estimate the seconds left from the windows done so far in ``elapsed_ms`` of work.

        ``elapsed_ms`` is active time (not counting pauses or the daemon being down).
        """
        self.active_ms = elapsed_ms
        if self.windows_done <= 0 or self.windows_total <= 0:
            self.eta_s = None
            return
        left = max(self.windows_total - self.windows_done, 0)
        self.eta_s = round(elapsed_ms / 1000 * left / self.windows_done, 1)

    def summary(self) -> dict[str, Any]:
        """The JSON-able view for status answers (errors trimmed)."""
        return {
            "phase": self.phase,
            "windows_done": self.windows_done,
            "windows_total": self.windows_total,
            "symbols": len(self.symbols),
            "rows": dict(self.rows),
            "requests": self.requests,
            "weight": self.weight,
            "eta_s": self.eta_s,
            "errors": self.errors[-5:],
            "expired": self.expired,
        }
