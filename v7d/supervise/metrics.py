"""The daemon's own Prometheus lines, appended to ``/metrics`` by the query app.

Process-level facts the store cannot know: reloads, watchdog pings, the writer's queue,
each account's state and stream, the shared rate budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["daemon_metrics"]


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _metric(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def daemon_metrics(
    *,
    supervisor: Callable[[], Any],
    writer: Any,
    sync: Any,
) -> Callable[[], str]:
    """A ``metrics()`` callable for :func:`v7d.web.query_routes.build_query_routes`.

    ``supervisor`` is a getter because the supervisor is built after the routes.
    """

    def render() -> str:
        sup = supervisor()
        out: list[str] = []
        if sup is not None:
            out += _metric("v7d_reloads_total", "counter", "Config reloads applied.",
                           [("", sup.reloads)])  # fmt: skip
            out += _metric("v7d_reload_failures_total", "counter", "Config reloads refused.",
                           [("", sup.reload_failures)])  # fmt: skip
            out += _metric("v7d_watchdog_pings_total", "counter", "WATCHDOG=1 sent to systemd.",
                           [("", sup.watchdog_pings)])  # fmt: skip
        out += _metric("v7d_writer_healthy", "gauge", "1 unless the writer is wedged.",
                       [("", 1 if writer.healthy else 0)])  # fmt: skip
        out += _metric("v7d_writer_queue_depth", "gauge", "Write batches waiting to commit.",
                       [("", writer.queue_depth)])  # fmt: skip
        accounts = sync.status()
        states, restarts, live, messages, parse_errors = [], [], [], [], []
        for name, entry in sorted(accounts.items()):
            acc = f'{{account="{_label(name)}"}}'
            for state in ("starting", "running", "restarting", "stopped"):
                labels = f'{{account="{_label(name)}",state="{state}"}}'
                states.append((labels, 1 if entry["state"] == state else 0))
            restarts.append((acc, entry.get("restarts", 0)))
            engine = entry.get("engine") or {}
            stream = engine.get("stream") or {}
            live.append((acc, 1 if stream.get("state") == "live" else 0))
            messages.append((acc, int(stream.get("messages") or 0)))
            parse_errors.append((acc, int(engine.get("parse_errors") or 0)))
        out += _metric("v7d_account_state", "gauge", "Each account's sync state.", states)
        out += _metric("v7d_sync_restarts_total", "counter", "Sync engine restarts after a crash.",
                       restarts)  # fmt: skip
        out += _metric("v7d_stream_live", "gauge", "1 while the user-data stream is live.", live)
        out += _metric("v7d_stream_messages_total", "counter", "Stream messages received.",
                       messages)  # fmt: skip
        out += _metric("v7d_parse_errors_total", "counter", "Exchange payloads not parsed.",
                       parse_errors)  # fmt: skip
        budget = sync.budget.snapshot() if sync.budget is not None else None
        if budget:
            out += _metric("v7d_budget_weight_used_1m", "gauge", "Request weight used this minute.",
                           [("", float(budget.get("weight_used_1m") or 0))])  # fmt: skip
            out += _metric("v7d_budget_429_total", "counter", "429 answers seen.",
                           [("", float(budget.get("count_429") or 0))])  # fmt: skip
            out += _metric("v7d_budget_418_total", "counter", "418 answers seen (must stay 0).",
                           [("", float(budget.get("count_418") or 0))])  # fmt: skip
        return "\n".join(out) + "\n"

    return render
