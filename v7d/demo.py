"""``v7d demo`` (and ``make demo``): the simulator and the daemon, end to end, in a minute.

Starts ``v7d-sim`` (seeded account, live trading), writes a temporary config and
credentials, starts ``v7d run``, backfills 14 days with ``v7ctl``'s progress bar, lets
the stream run for a few seconds of simulated trading, prints the summary stats and
commands to paste, then stops everything (or leaves it running with ``--keep``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from v7d.cli.client import ControlClient
from v7d.cli.render import live
from v7d.supervise.testing import DaemonProcess, free_port, write_config

__all__ = ["run_demo"]

_READY = re.compile(r"^READY rest=(\S+) ws=(\S+)$", re.M)
_STREAM_SECONDS = 6.0


def _say(text: str = "") -> None:
    click.echo(text)


def _step(text: str) -> None:
    click.secho(f"\n▶ {text}", bold=True)


def _start_sim(workdir: Path, *, seed: int, days: int, detach: bool) -> tuple[Any, str, str]:
    """Spawn ``v7d-sim``; return (process, rest_url, ws_url) once it prints READY."""
    exe = Path(sys.executable).with_name("v7d-sim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "v7d.sim.cli"]
    cmd += [
        "--port", "0", "--seed", str(seed), "--days", str(days + 2),
        "--symbols-active", "6", "--trades-per-day", "600", "--live-rate", "3",
        "--credentials-out", str(workdir / "credentials"),
    ]  # fmt: skip
    # Output goes to a file: the simulator may outlive this process (--keep), and its
    # first lines include the credentials, which the demo does not print.
    log = (workdir / "sim.log").open("wb")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=detach,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _READY.search((workdir / "sim.log").read_text(errors="replace"))
        if found:
            return proc, found.group(1), found.group(2)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise click.ClickException(f"the simulator did not start (see {workdir / 'sim.log'})")


def _v7ctl(socket: Path, *args: str) -> int:
    """Run a v7ctl command in-process, exactly as a user would type it."""
    from v7d.cli.v7ctl import main

    try:
        main.main(["--socket", str(socket), *args], prog_name="v7ctl", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return 1
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _watch_stream(client: ControlClient, seconds: float) -> None:
    """Show the stream's message count growing for a few seconds of live trading."""
    first: int | None = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        engine = client.get("/sync/status")["accounts"]["default"].get("engine") or {}
        stream = engine.get("stream") or {}
        count = int(stream.get("messages") or 0)
        first = count if first is None else first
        live(
            f"  stream {stream.get('state', '?')} · {count - first} events received · "
            f"lag {engine.get('lag_ms') or 0:,.0f} ms",
            sys.stdout,
        )
        time.sleep(1.0)
    if sys.stdout.isatty():
        _say()


def _commands(socket: Path, tcp_port: int) -> str:
    return f"""
  curl --unix-socket {socket} http://v7d/stats/summary
  curl --unix-socket {socket} 'http://v7d/trades?symbol=BTCUSDT&limit=5'
  curl --unix-socket {socket} http://v7d/sync/status
  curl http://127.0.0.1:{tcp_port}/stats/symbols
  v7ctl --socket {socket} status
  v7ctl --socket {socket} stats
  v7ctl --socket {socket} trades --symbol BTCUSDT --limit 5
  v7ctl --socket {socket} backup /tmp/v7d-snapshot.db"""


def _stop(proc: Any, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = -9
    _say(f"  {name} stopped (exit {code})")


def run_demo(
    *, keep: bool = False, days: int = 14, seed: int = 7, stream_seconds: float = _STREAM_SECONDS
) -> int:
    """Run the demo; return the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="v7d-demo-", dir="/tmp"))
    sim = daemon = None
    ok = False
    try:
        _step("starting the exchange simulator (seeded account, live trading)")
        sim, rest_url, ws_url = _start_sim(workdir, seed=seed, days=days, detach=keep)
        _say(f"  v7d-sim at {rest_url} (pid {sim.pid})")

        _step("starting the daemon on a temporary state directory")
        tcp_port = free_port()
        config = write_config(
            workdir, rest_url=rest_url, ws_url=ws_url, credentials=workdir / "credentials",
            tcp_port=tcp_port, sync="request_rate_per_sec = 20.0\nrequest_burst = 20",
        )  # fmt: skip
        daemon = DaemonProcess(config, log_file=workdir / "daemon.log", detach=keep).start()
        took = daemon.wait_ready(timeout=30)
        socket = daemon.socket_path
        assert daemon.proc is not None
        _say(f"  v7d run --config {config} (pid {daemon.proc.pid}) ready in {took:.2f} s")

        _step(f"backfilling {days} days of history")
        if _v7ctl(socket, "backfill", "--days", str(days)) != 0:
            raise click.ClickException(f"the backfill failed (see {workdir / 'daemon.log'})")

        _step(f"the stream is live: {stream_seconds:.0f} s of simulated trading")
        _watch_stream(ControlClient(socket), stream_seconds)

        _step(f"what the history says about the {days} days backfilled")
        jobs = ControlClient(socket).get("/control/jobs")["items"]
        window = ["--since", f"{days}d"]
        if jobs:  # exactly the job's window, which the coverage ledger vouches for
            params = jobs[-1]["params"]
            window = ["--since", str(params["start_ms"]), "--until", str(params["end_ms"])]
        _v7ctl(socket, "stats", *window)
        _say(
            "  (Binance keeps canceled orders without fills for 3 days only, so older ones"
            " are\n   marked as expired in the coverage ledger rather than silently missing.)"
        )

        _step("ask it yourself" + ("" if keep else " (with `v7d demo --keep`)"))
        _say(_commands(socket, tcp_port))
        ok = True
    except KeyboardInterrupt:
        _say("\ninterrupted")
    except click.ClickException as exc:
        exc.show()
    finally:
        if keep and ok and daemon is not None and daemon.proc is not None and sim is not None:
            _step("left running (--keep)")
            _say(f"  state and logs: {workdir}")
            _say(f"  stop with: kill {daemon.proc.pid} {sim.pid} && rm -r {workdir}")
        else:
            _step("stopping")
            _stop(daemon.proc if daemon is not None else None, "daemon")
            _stop(sim, "simulator")
            with contextlib.suppress(OSError):
                shutil.rmtree(workdir)
    return 0 if ok else 1
