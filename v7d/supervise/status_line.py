"""The one human line systemd shows as the service's STATUS.

Pure: :class:`StatusFacts` in, text out, e.g.
``streaming 12 symbols · lag 38 ms · 1,204,331 trades · backfill 40%``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StatusFacts", "status_line"]


@dataclass(frozen=True)
class StatusFacts:
    """What the line is made of; the supervisor gathers it from the running parts."""

    phase: str = "running"  # starting | running | reloading | stopping
    streams_live: int = 0
    streams_total: int = 0
    symbols: int = 0
    lag_ms: float | None = None
    trades: int | None = None
    backfill_pct: float | None = None
    paused: bool = False
    stopped_accounts: tuple[str, ...] = field(default_factory=tuple)


def _stream_part(facts: StatusFacts) -> str:
    symbols = f"{facts.symbols:,} symbol{'s' if facts.symbols != 1 else ''}"
    if facts.streams_total == 0:
        return f"syncing {symbols}"
    if facts.streams_live == facts.streams_total:
        return f"streaming {symbols}"
    if facts.streams_live == 0:
        return f"stream down · polling {symbols}"
    return f"streaming {facts.streams_live}/{facts.streams_total} accounts · {symbols}"


def status_line(facts: StatusFacts) -> str:
    """Render the facts as one line, most important first."""
    if facts.phase in ("starting", "stopping", "reloading"):
        head = {"starting": "starting", "stopping": "stopping", "reloading": "reloading config"}
        return head[facts.phase]
    parts = [_stream_part(facts)]
    if facts.paused:
        parts.insert(0, "paused (stream only)")
    if facts.lag_ms is not None:
        parts.append(f"lag {facts.lag_ms:,.0f} ms")
    if facts.trades is not None:
        parts.append(f"{facts.trades:,} trades")
    if facts.backfill_pct is not None:
        parts.append(f"backfill {facts.backfill_pct:.0f}%")
    if facts.stopped_accounts:
        parts.append("stopped: " + ", ".join(facts.stopped_accounts))
    return " · ".join(parts)
