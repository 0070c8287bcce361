"""``v7ctl``: talks to the running daemon over its Unix control socket.

Each command parses its options, calls :class:`~v7d.cli.client.ControlClient` and renders
the answer; ``--json`` prints the daemon's answer unchanged for scripts.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from v7d import __version__
from v7d.cli.client import ControlClient, socket_option, socket_path_option
from v7d.cli.query_commands import register as register_query_commands
from v7d.cli.render import (
    echo_json,
    human_duration,
    live,
    output_options,
    progress_line,
    render_table,
)

_FINAL_JOB_STATES = frozenset({"done", "failed", "canceled", "cancelled"})
_SQLITE_MAGIC = b"SQLite format 3\x00"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="v7ctl")
@socket_path_option
def main(socket_path: str | None) -> None:
    """Control and query a running v7d daemon over its Unix socket."""


# -- status -------------------------------------------------------------------------


def _account_lines(name: str, entry: dict[str, Any]) -> list[str]:
    engine = entry.get("engine") or {}
    stream = engine.get("stream") or {}
    age = stream.get("last_event_age_ms")
    parts = [f"account {name}: {engine.get('state') or entry.get('state')}"]
    if stream:
        since = f" (last event {human_duration(age / 1000)} ago)" if age is not None else ""
        parts.append(f"stream {stream.get('state')}{since}")
    if engine.get("lag_ms") is not None:
        parts.append(f"lag {engine['lag_ms']:,.0f} ms")
    if engine:
        parts.append(f"paused {'yes' if engine.get('paused') else 'no'}")
        parts.append(f"parse errors {engine.get('parse_errors', 0)}")
    if entry.get("restarts"):
        parts.append(f"restarts {entry['restarts']}")
    lines = [" · ".join(parts)]
    last = engine.get("last_pass")
    if isinstance(last, dict) and last.get("finished_ms"):
        ago = time.time() - int(last["finished_ms"]) / 1000
        lines.append(
            f"  last pass {human_duration(ago)} ago · requests {last.get('requests', 0)} · "
            f"weight {last.get('weight', 0)} · errors {len(last.get('errors') or [])}"
        )
    reason = engine.get("stopped_reason") or entry.get("detail")
    if reason:
        lines.append(f"  stopped: {reason}")
    error = engine.get("last_error") or entry.get("last_error")
    if error:
        lines.append(f"  last error: {error if isinstance(error, str) else _one_line(error)}")
    cursors = engine.get("cursors") or []
    if cursors:
        lines.append("  cursors:")
        lines += ["    " + row for row in render_table(cursors).splitlines()]
    jobs = [_job_row(j) for j in engine.get("jobs") or []]
    if jobs:
        lines.append("  jobs:")
        lines += ["    " + row for row in render_table(jobs).splitlines()]
    return lines


def _job_row(job: dict[str, Any]) -> dict[str, Any]:
    p = job.get("progress") or {}
    if isinstance(p, str):
        p = {}
    return {
        "job_id": job.get("job_id"),
        "state": job.get("state"),
        "phase": p.get("phase"),
        "windows": f"{p.get('windows_done', 0)}/{p.get('windows_total', 0)}",
        "rows": sum((p.get("rows") or {}).values()),
        "weight": p.get("weight", 0),
        "eta": human_duration(p.get("eta_s")) if job.get("state") == "running" else "-",
        "error": job.get("error") or None,
    }


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)


def _status_text(health: dict[str, Any], sync: dict[str, Any]) -> str:
    d = sync.get("daemon", {})
    writer = sync.get("writer", {})
    budget = sync.get("budget") or {}
    head = health.get("status", "?")
    if health.get("reasons"):
        head += " (" + ", ".join(map(str, health["reasons"])) + ")"
    if health.get("degraded"):
        head += " · degraded: " + "; ".join(map(str, health["degraded"]))
    lines = [
        f"health   {head}",
        f"daemon   v{d.get('version')} pid {d.get('pid')} · up "
        f"{human_duration(d.get('uptime_s'))} · reloads {d.get('reloads', 0)} · "
        f"config {d.get('config')}",
        f"database {d.get('database')}",
        f"writer   {'healthy' if writer.get('healthy') else 'WEDGED'} · "
        f"queue {writer.get('queue_depth', 0)}",
    ]
    if budget:
        lines.append(
            f"budget   weight {budget.get('weight_used_1m', 0)}/{budget.get('limit', '?')} "
            f"this minute (share {budget.get('share', '?')}) · "
            f"429s {budget.get('count_429', 0)} · 418s {budget.get('count_418', 0)}"
        )
    for name, entry in (sync.get("accounts") or {}).items():
        lines += _account_lines(name, entry)
    return "\n".join(lines)


@main.command()
@socket_option
@output_options
def status(client: ControlClient, as_json: bool) -> None:
    """Sync state, cursors, stream state, weight used, last errors."""
    sync = client.get("/sync/status")
    health = client.get("/health", accept=(503,))
    if as_json:
        echo_json({"health": health, "sync": sync})
    else:
        click.echo(_status_text(health, sync))


# -- backfill and jobs ------------------------------------------------------------------


def _summary(job: dict[str, Any]) -> str:
    p = job.get("progress") or {}
    rows = p.get("rows") or {}
    took = (int(job.get("updated_ms") or 0) - int(job.get("created_ms") or 0)) / 1000
    lines = [
        f"job {job.get('job_id')}: {job.get('state')} after {human_duration(took)} · "
        f"windows {p.get('windows_done', 0):,}/{p.get('windows_total', 0):,} · "
        f"requests {p.get('requests', 0):,} · weight {p.get('weight', 0):,}",
        "rows: " + (", ".join(f"{t} {n:,}" for t, n in sorted(rows.items())) or "none new"),
    ]
    for gap in p.get("expired") or []:
        lines.append(f"not retrievable from the exchange any more: {_one_line(gap)}")
    if job.get("error"):
        lines.append(f"error: {job['error']}")
    lines += [f"warning: {e}" for e in (p.get("errors") or [])[-5:]]
    return "\n".join(lines)


def _follow(
    client: ControlClient, job_id: str, interval: float, announce: str = ""
) -> dict[str, Any]:
    """Show the job's progress until it ends; Ctrl-C leaves it running and says how to
    follow it. ``announce`` is printed first, inside the Ctrl-C guard."""
    try:
        if announce:
            click.echo(announce, err=True)
        while True:
            job = client.get(f"/control/jobs/{job_id}")
            live(progress_line(job))
            if job.get("state") in _FINAL_JOB_STATES:
                if sys.stderr.isatty():
                    click.echo("", err=True)  # end the rewritten bar line
                return dict(job)
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("", err=True)
        click.echo(
            f"stopped watching: job {job_id} keeps running in the daemon. "
            f"Follow it with: v7ctl job {job_id} --follow",
            err=True,
        )
        sys.exit(130)


def _finish(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(job)
    else:
        click.echo(_summary(job))
    if job.get("state") != "done":
        sys.exit(1)


@main.command()
@click.option("--days", type=click.FloatRange(0, 3650, min_open=True), required=True)
@click.option("--symbols", default=None, metavar="A,B", help="Only these symbols.")
@click.option("--all-symbols", is_flag=True, help="Sweep every listed symbol.")
@click.option("--account", default=None, help="Account name (default: the first).")
@click.option("--no-wait", is_flag=True, help="Print the job id and return at once.")
@click.option("--interval", type=float, default=0.5, hidden=True)
@socket_option
@output_options
def backfill(
    client: ControlClient,
    days: float,
    symbols: str | None,
    all_symbols: bool,
    account: str | None,
    no_wait: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Ask the daemon to backfill N days; show a progress bar until it is done."""
    if symbols and all_symbols:
        raise click.UsageError("--symbols and --all-symbols exclude each other")
    body: dict[str, Any] = {"days": days, "all_symbols": all_symbols}
    if symbols:
        body["symbols"] = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if account:
        body["account"] = account
    job_id = client.post("/control/backfill", body)["job_id"]
    if no_wait:
        if as_json:
            echo_json({"job_id": job_id})
        else:
            click.echo(job_id)
        return
    announce = f"backfill job {job_id} started ({days:g} days)"
    _finish(_follow(client, job_id, interval, announce), as_json)


@main.command()
@socket_option
@output_options
def jobs(client: ControlClient, as_json: bool) -> None:
    """Backfill jobs, oldest first."""
    answer = client.get("/control/jobs")
    if as_json:
        echo_json(answer)
        return
    rows = [_job_row(j) | {"account": j.get("account")} for j in answer.get("items", [])]
    click.echo(render_table(rows))


@main.command()
@click.argument("job_id")
@click.option("--follow", is_flag=True, help="Show the progress bar until the job ends.")
@click.option("--interval", type=float, default=0.5, hidden=True)
@socket_option
@output_options
def job(client: ControlClient, job_id: str, follow: bool, interval: float, as_json: bool) -> None:
    """One job's progress (phase, windows, rows, weight, ETA, errors)."""
    if follow:
        _finish(_follow(client, job_id, interval), as_json)
        return
    answer = client.get(f"/control/jobs/{job_id}")
    if as_json:
        echo_json(answer)
    else:
        click.echo(progress_line(answer))
        click.echo(_summary(answer))


# -- one-shot controls ----------------------------------------------------------------


@main.command("sync-once")
@click.option("--account", default=None, help="Account name (default: the first).")
@socket_option
@output_options
def sync_once(client: ControlClient, account: str | None, as_json: bool) -> None:
    """Run one incremental pass now and print its report."""
    report = client.post(
        "/control/sync-once", {"account": account} if account else None, timeout=600
    )
    if as_json:
        echo_json(report)
        return
    took = (int(report.get("finished_ms") or 0) - int(report.get("started_ms") or 0)) / 1000
    rows = report.get("rows") or {}
    click.echo(
        f"pass done in {took:.1f} s · symbols {report.get('symbols', 0)} · requests "
        f"{report.get('requests', 0)} · weight {report.get('weight', 0)} · rows "
        + (", ".join(f"{t} {n:,}" for t, n in sorted(rows.items())) or "none new")
    )
    for error in report.get("errors") or []:
        click.echo(f"error: {error}")
    if report.get("errors"):
        sys.exit(1)


def _toggle(path: str, done: str) -> Any:
    @click.option("--account", default=None, help="Account name (default: the first).")
    @socket_option
    def command(client: ControlClient, account: str | None) -> None:
        client.post(path, {"account": account} if account else None)
        click.echo(done)

    return command


main.command("pause", help="Stop all REST work and jobs; keep ingesting the stream.")(
    _toggle("/control/pause", "paused: REST work and jobs stopped, the stream is still ingested")
)
main.command("resume", help="Resume REST work and jobs after a pause.")(
    _toggle("/control/resume", "resumed")
)


@main.command()
@socket_option
@output_options
def reload(client: ControlClient, as_json: bool) -> None:
    """Re-read the config file, like SIGHUP ([sync] and [log] apply at once)."""
    answer = client.post("/control/reload")
    if as_json:
        echo_json(answer)
        return
    click.echo("configuration reloaded")
    for key in answer.get("needs_restart") or []:
        click.echo(f"needs a restart to take effect: {key}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@socket_option
def backup(client: ControlClient, path: str, force: bool) -> None:
    """Write an online snapshot of the daemon's database to PATH."""
    target = Path(path)
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists (use --force to overwrite)")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    written = 0
    try:
        with (
            client.stream("POST", "/control/backup", timeout=600) as resp,
            partial.open("wb") as out,
        ):
            for chunk in resp.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        with partial.open("rb") as check:
            if check.read(16) != _SQLITE_MAGIC:
                raise click.ClickException("the snapshot received is not an SQLite database")
        partial.replace(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"snapshot written to {target} ({written:,} bytes)")


# The query commands (orders, trades, stats, symbols, positions, export) live with the
# query API; they share this group, its --socket and the client.
register_query_commands(main)
