"""Output for ``v7ctl``: ``--json`` for machines, aligned tables and bars for people."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

import click

__all__ = [
    "echo_json",
    "human_duration",
    "live",
    "output_options",
    "progress_line",
    "render_table",
]

F = TypeVar("F", bound=Callable[..., Any])


def output_options(func: F) -> F:
    """Add ``--json`` (passed as ``as_json: bool``) to a command."""
    option = click.option(
        "--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON."
    )
    return option(func)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _cell(value: Any, column: str = "") -> str:
    if column.endswith("_ms") and isinstance(value, int) and not isinstance(value, bool):
        if column.endswith(("age_ms", "lag_ms")):
            return human_duration(value / 1000)
        if value > 10**11:  # an epoch in milliseconds: show it as UTC time
            stamp = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
            return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned text table; numbers right-aligned, ``-`` for missing values."""
    if not rows:
        return "(none)"
    cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_cell(r.get(c), c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [
        all(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
        for c in cols
    ]

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(out).rstrip()

    head = line([c.upper() for c in cols])
    return "\n".join([head, *(line(r) for r in cells)])


def human_duration(seconds: float | None) -> str:
    """``None`` → ``?``; else ``42 s``, ``3 min 05 s``, ``2 h 10 min``."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def progress_line(job: dict[str, Any], width: int = 24) -> str:
    """One line for a backfill job: bar, percent, windows, rows, weight, ETA."""
    p = job.get("progress") or {}
    done, total = int(p.get("windows_done") or 0), int(p.get("windows_total") or 0)
    frac = done / total if total else (1.0 if job.get("state") == "done" else 0.0)
    filled = round(frac * width)
    bar = "█" * filled + "░" * (width - filled)
    rows = sum(int(v) for v in (p.get("rows") or {}).values())
    phase = p.get("phase") or job.get("state") or "?"
    return (
        f"{bar} {frac * 100:5.1f}%  {phase:<8} windows {done:,}/{total:,} · "
        f"rows {rows:,} · weight {int(p.get('weight') or 0):,} · "
        f"ETA {human_duration(p.get('eta_s'))}"
    )


def live(line: str, stream: TextIO | None = None) -> None:
    """Rewrite the current terminal line (plain newline when not a terminal)."""
    out = stream or sys.stderr
    if out.isatty():
        out.write("\r\x1b[2K" + line)
    else:
        out.write(line + "\n")
    out.flush()
