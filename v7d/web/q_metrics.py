"""Prometheus text exposition for the query side, plus the daemon's own lines.

The query routes record each request's latency and status here;
:func:`render` adds the store's row counts and whatever the daemon's ``metrics``
callable returns (sync lag, weight, 429s, reconnects, writer queue and commit latency,
backfill progress).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LATENCY_BUCKETS", "RequestMetrics", "render"]

#: Histogram bucket upper bounds in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RequestMetrics:
    """Request counters and a latency histogram per route (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request of ``route`` answered with ``status`` after ``seconds``."""
        with self._lock:
            self._counts[(route, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1))
            buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._sums[route] += seconds

    def lines(self) -> list[str]:
        """The exposition lines of the request metrics."""
        with self._lock:
            out = [
                "# HELP v7d_http_requests_total Query API requests by route and status.",
                "# TYPE v7d_http_requests_total counter",
            ]
            for (route, status), n in sorted(self._counts.items()):
                out.append(
                    f'v7d_http_requests_total{{route="{_label(route)}",status="{status}"}} {n}'
                )
            out += [
                "# HELP v7d_http_request_duration_seconds Query API latency by route.",
                "# TYPE v7d_http_request_duration_seconds histogram",
            ]
            for route, buckets in sorted(self._buckets.items()):
                r = _label(route)
                cum = 0
                for bound, n in zip((*LATENCY_BUCKETS, float("inf")), buckets, strict=True):
                    cum += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    out.append(
                        f'v7d_http_request_duration_seconds_bucket{{route="{r}",le="{le}"}} {cum}'
                    )
                out.append(f'v7d_http_request_duration_seconds_sum{{route="{r}"}} '
                           f"{self._sums[route]:.6f}")  # fmt: skip
                out.append(f'v7d_http_request_duration_seconds_count{{route="{r}"}} {cum}')
            return out


def _sync_lines(gauges: Mapping[str, Any], now_ms: int) -> list[str]:
    out = [
        "# HELP v7d_sync_cursor_lag_seconds How far each sync cursor is behind now.",
        "# TYPE v7d_sync_cursor_lag_seconds gauge",
    ]
    for account, endpoint, symbol, position_ms in gauges["cursors"]:
        labels = f'account="{_label(account)}",endpoint="{_label(endpoint)}",' \
                 f'symbol="{_label(symbol)}"'  # fmt: skip
        out.append(f"v7d_sync_cursor_lag_seconds{{{labels}}} {(now_ms - position_ms) / 1000:.3f}")
    out += ["# HELP v7d_jobs Jobs by kind and state.", "# TYPE v7d_jobs gauge"]
    for (kind, state), n in sorted(gauges["jobs"].items()):
        out.append(f'v7d_jobs{{kind="{_label(kind)}",state="{_label(state)}"}} {n}')
    if "stats_dirty_hours" in gauges:
        out += [
            "# HELP v7d_stats_dirty_hours Hours whose statistics tables (curve blocks, "
            "per-order rows) wait for the idle writer; queries read their rows meanwhile.",
            "# TYPE v7d_stats_dirty_hours gauge",
            f"v7d_stats_dirty_hours {gauges['stats_dirty_hours']}",
        ]
    return out


def render(
    counts: Mapping[str, int],
    requests: RequestMetrics,
    extra: Callable[[], str] | None,
    gauges: Mapping[str, Any] | None = None,
    now_ms: int | None = None,
) -> str:
    """The whole ``/metrics`` text: store rows, sync cursor lag and jobs (from the store),
    request metrics, then the daemon's own lines."""
    out = [
        "# HELP v7d_store_rows Rows per history table.",
        "# TYPE v7d_store_rows gauge",
    ]
    out += [f'v7d_store_rows{{table="{_label(t)}"}} {n}' for t, n in sorted(counts.items())]
    if gauges is not None:
        out += _sync_lines(gauges, int(time.time() * 1000) if now_ms is None else now_ms)
    out += requests.lines()
    text = "\n".join(out) + "\n"
    if extra is not None:
        more = extra()
        if more:
            text += more if more.endswith("\n") else more + "\n"
    return text
