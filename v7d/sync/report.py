"""What one sync pass did: requests, weight, rows per table, errors.

:class:`PassReport` is what :meth:`v7d.sync.engine.SyncEngine.run_once` returns (and what
``v7ctl sync-once`` prints). :class:`Tally` is the mutable counter the fetchers fill in
while they work; a pass turns it into a report at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PassReport", "Tally", "add_counts", "changed_rows"]


def changed_rows(result: Any) -> dict[str, int]:
    """Rows inserted plus rows updated per table, from a writer's BatchResult."""
    out = dict(getattr(result, "inserted", {}) or {})
    for table, n in (getattr(result, "updated", {}) or {}).items():
        out[table] = out.get(table, 0) + n
    return out


def add_counts(into: dict[str, int], changed: dict[str, int]) -> None:
    """Add ``changed``'s per-table counts to ``into``; tables with 0 get no entry."""
    for table, n in changed.items():
        if n:
            into[table] = into.get(table, 0) + n


@dataclass
class Tally:
    """Running counters of one pass or job: requests, weight and rows written per table."""

    requests: int = 0
    weight: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def request(self, weight: int) -> None:
        """Count one request of ``weight``."""
        self.requests += 1
        self.weight += weight

    def add_rows(self, changed: dict[str, int]) -> None:
        """Add per-table row counts (inserted or updated) from a committed batch."""
        add_counts(self.rows, changed)

    def error(self, message: str) -> None:
        """Remember one error message (kept short: the first 50 are enough to act on)."""
        if len(self.errors) < 50:
            self.errors.append(message)


@dataclass(frozen=True)
class PassReport:
    """The result of one incremental pass (or gap repair)."""

    started_ms: int
    finished_ms: int
    requests: int
    weight: int
    rows: dict[str, int]
    errors: list[str]
    symbols: int

    @classmethod
    def from_tally(
        cls, tally: Tally, *, started_ms: int, finished_ms: int, symbols: int
    ) -> PassReport:
        """Freeze a tally into a report."""
        return cls(
            started_ms=started_ms,
            finished_ms=finished_ms,
            requests=tally.requests,
            weight=tally.weight,
            rows=dict(tally.rows),
            errors=list(tally.errors),
            symbols=symbols,
        )

    @property
    def ok(self) -> bool:
        """True when the pass finished without an error."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return asdict(self)
