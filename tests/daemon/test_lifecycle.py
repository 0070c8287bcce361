"""``v7d run`` as a subprocess: start order, READY, listeners, signals, exit codes.

The exchange here is an address where nothing listens, so the sync engine keeps failing
and restarting: the daemon's own duties must not depend on the exchange being reachable.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from v7d.supervise.testing import DaemonProcess, NotifyRecorder, write_config


def _tcp_address(daemon: DaemonProcess) -> tuple[str, int]:
    for line in daemon.output.splitlines():
        if '"daemon_starting"' in line:
            host, port = json.loads(line)["tcp"].rsplit(":", 1)
            return host, int(port)
    raise AssertionError(f"no daemon_starting line:\n{daemon.output}")


class TestStartup:
    """The start sequence and what READY=1 promises."""

    def test_ready_only_once_both_listeners_accept(
        self, daemon_factory: Callable[..., DaemonProcess], notify: NotifyRecorder
    ) -> None:
        """When READY=1 arrives, the Unix socket and the TCP port both answer at once."""
        daemon = daemon_factory().start()
        notify.wait_for("READY", "1")
        assert daemon.get("/health").status_code == 200
        host, port = _tcp_address(daemon)
        assert httpx.get(f"http://{host}:{port}/health", timeout=5).status_code == 200
        statuses = [v for _, v in notify.fields("STATUS")]
        assert statuses[0] == "starting"
        assert daemon.stop() == 0

    def test_socket_mode_and_parent_directory(
        self, daemon_factory: Callable[..., DaemonProcess], short_dir: Path
    ) -> None:
        """The daemon creates the socket's directory and the socket with mode 0660."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        mode = (short_dir / "run" / "control.sock").stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o660
        assert daemon.stop() == 0

    def test_tcp_binds_loopback_by_default(
        self, daemon_factory: Callable[..., DaemonProcess]
    ) -> None:
        """Without ``tcp_host`` the TCP listener is on 127.0.0.1 only."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        host, _ = _tcp_address(daemon)
        assert host == "127.0.0.1"
        assert daemon.stop() == 0

    def test_tcp_serves_queries_but_never_control(
        self, daemon_factory: Callable[..., DaemonProcess]
    ) -> None:
        """``/control/*`` is 404 over TCP and answered over the Unix socket."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        host, port = _tcp_address(daemon)
        over_tcp = httpx.get(f"http://{host}:{port}/control/jobs", timeout=5)
        assert over_tcp.status_code == 404
        assert over_tcp.json()["error"]["code"] == "not_found"
        assert daemon.get("/control/jobs").status_code == 200
        assert httpx.get(f"http://{host}:{port}/sync/status", timeout=5).status_code == 200
        assert daemon.stop() == 0

    def test_tcp_port_zero_disables_tcp(self, daemon_factory: Callable[..., DaemonProcess]) -> None:
        """``tcp_port = 0`` runs with the Unix socket only."""
        daemon = daemon_factory(tcp_port=0).start()
        daemon.wait_ready()
        assert '"tcp"' not in daemon.output
        assert daemon.get("/health").status_code == 200
        assert daemon.stop() == 0

    def test_bearer_token_required_on_tcp(
        self, daemon_factory: Callable[..., DaemonProcess], short_dir: Path
    ) -> None:
        """With ``token_file`` TCP answers 401 without the token and 200 with it."""
        token = "t0k3n-for-tests-0123456789"
        (short_dir / "token").write_text(token + "\n")
        daemon = daemon_factory(extra=f'token_file = "{short_dir / "token"}"').start()
        daemon.wait_ready()
        host, port = _tcp_address(daemon)
        url = f"http://{host}:{port}/health"
        refused = httpx.get(url, timeout=5)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
        ok = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert ok.status_code == 200
        assert daemon.get("/health").status_code == 200  # the socket needs no token
        assert daemon.stop() == 0


class TestRefusals:
    """What the daemon refuses to start with, and how it says so."""

    def test_bad_config_exits_2_naming_the_key(
        self, daemon_factory: Callable[..., DaemonProcess], short_dir: Path
    ) -> None:
        """A bad value exits 2 before anything is created, with the key in the message."""
        daemon = daemon_factory(sync='poll_interval = "fast"').start()
        assert daemon.proc is not None
        assert daemon.proc.wait(10) == 2
        daemon.stop()
        assert "[sync].poll_interval" in daemon.output
        assert "Traceback" not in daemon.output
        assert not (short_dir / "run").exists()
        assert not (short_dir / "state").exists()

    def test_non_loopback_tcp_without_token_refused(
        self, daemon_factory: Callable[..., DaemonProcess]
    ) -> None:
        """``tcp_host = 0.0.0.0`` without a token file is refused at start."""
        daemon = daemon_factory()
        text = daemon.config_path.read_text().replace(
            'tcp_host = "127.0.0.1"', 'tcp_host = "0.0.0.0"'
        )
        daemon.config_path.write_text(text)
        daemon.start()
        assert daemon.proc is not None
        assert daemon.proc.wait(10) == 2
        daemon.stop()
        assert "tcp_host" in daemon.output

    def test_second_daemon_refuses_a_live_socket(
        self, daemon_factory: Callable[..., DaemonProcess], short_dir: Path
    ) -> None:
        """A second daemon on the same socket exits 1 and leaves the first one serving."""
        first = daemon_factory().start()
        first.wait_ready()
        second = DaemonProcess(first.config_path)
        text = first.config_path.read_text()
        port_line = re.search(r"tcp_port = \d+", text)
        assert port_line is not None
        other = short_dir / "other.toml"
        other.write_text(
            text.replace(port_line.group(0), "tcp_port = 0").replace("history.db", "b.db")
        )
        second = DaemonProcess(other, socket_path=first.socket_path).start()
        assert second.proc is not None
        assert second.proc.wait(10) == 1
        second.stop()
        assert "another daemon" in second.output
        assert first.get("/health").status_code == 200
        assert first.stop() == 0

    def test_stale_socket_file_is_replaced(
        self, daemon_factory: Callable[..., DaemonProcess], short_dir: Path
    ) -> None:
        """A socket file left by a dead daemon is replaced; a regular file is refused."""
        (short_dir / "run").mkdir()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(short_dir / "run" / "control.sock"))
        stale.close()  # the file stays, nobody listens: what kill -9 leaves behind
        daemon = daemon_factory().start()
        daemon.wait_ready()
        assert daemon.get("/health").status_code == 200
        assert daemon.stop() == 0
        (short_dir / "run" / "control.sock").write_text("not a socket")
        again = DaemonProcess(daemon.config_path).start()
        assert again.proc is not None
        assert again.proc.wait(10) == 1
        again.stop()
        assert "is not a socket" in again.output


class TestSignals:
    """SIGTERM stops cleanly; SIGHUP reloads what may change at run time."""

    def test_sigterm_sends_stopping_removes_socket_exits_0(
        self, daemon_factory: Callable[..., DaemonProcess], notify: NotifyRecorder
    ) -> None:
        """SIGTERM: STOPPING=1, writer drained, socket removed, exit 0."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        assert daemon.stop(sig=signal.SIGTERM) == 0
        notify.wait_for("STOPPING", "1", timeout=1)
        assert not daemon.socket_path.exists()
        assert '"writer_closed"' in daemon.output

    def test_sigint_also_stops_cleanly(self, daemon_factory: Callable[..., DaemonProcess]) -> None:
        """SIGINT (Ctrl-C in a terminal) behaves like SIGTERM."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        assert daemon.stop(sig=signal.SIGINT) == 0
        assert not daemon.socket_path.exists()

    def test_sighup_good_config_applies_sync_and_reports_restart_keys(
        self, daemon_factory: Callable[..., DaemonProcess], notify: NotifyRecorder
    ) -> None:
        """RELOADING=1 + MONOTONIC_USEC, then READY=1; counted; [log] applies at once;
        [api] changes need a restart."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        text = daemon.config_path.read_text()
        text = text.replace("[sync]\n", "[sync]\npoll_interval = 7.5\n")
        text += 'query_timeout_ms = 1234\n\n[log]\nlevel = "warning"\n'
        daemon.config_path.write_text(text)
        mark = len(notify.texts())
        daemon.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", "1", after=mark)
        assert re.search(r"^MONOTONIC_USEC=\d+$", reloading, re.M)
        usec = int(re.search(r"MONOTONIC_USEC=(\d+)", reloading).group(1))  # type: ignore[union-attr]
        assert abs(usec / 1e6 - time.monotonic()) < 30
        notify.wait_for("READY", "1", after=mark + 1)
        status = daemon.get("/sync/status").json()
        assert status["daemon"]["reloads"] == 1
        assert status["daemon"]["last_reload"]["needs_restart"] == ["api.query_timeout_ms"]
        assert '"config_needs_restart"' in daemon.output  # a warning: still logged
        assert daemon.stop() == 0
        assert '"daemon_stopping"' not in daemon.output  # info: no longer logged

    def test_sighup_bad_config_is_refused_and_daemon_keeps_running(
        self, daemon_factory: Callable[..., DaemonProcess], notify: NotifyRecorder
    ) -> None:
        """A broken file on SIGHUP is logged with its key; the daemon stays up and READY."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        good = daemon.config_path.read_text()
        daemon.config_path.write_text(good.replace("[sync]\n", "[sync]\nrequest_burst = -3\n"))
        mark = len(notify.texts())
        daemon.send_signal(signal.SIGHUP)
        notify.wait_for("READY", "1", after=mark + 1)
        daemon.wait_until(lambda: '"reload_refused"' in daemon.output, what="reload_refused")
        assert "[sync].request_burst" in daemon.output
        status = daemon.get("/sync/status").json()
        assert status["daemon"]["reloads"] == 0
        assert status["daemon"]["reload_failures"] == 1
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert daemon.stop() == 0


class TestWatchdog:
    """WATCHDOG=1 flows only while the loop, the writer and the sync supervisor are fine."""

    def test_pings_flow_then_stop_when_writer_is_wedged(
        self, daemon_factory: Callable[..., DaemonProcess], notify: NotifyRecorder
    ) -> None:
        """Pings come every WATCHDOG_USEC/2; after /control/debug/hang they stop, and
        SIGTERM still ends the process once the drain timeout runs out."""
        env = {"WATCHDOG_USEC": "1000000", "V7D_TEST_HOOKS": "1"}
        daemon = daemon_factory(env=env, extra="[daemon]\ndrain_timeout = 1.0").start()
        daemon.wait_ready()
        time.sleep(2.2)
        pings = [at for at, _ in notify.fields("WATCHDOG")]
        assert len(pings) >= 4  # every 0.5 s
        # The contract with systemd: never a full WATCHDOG_USEC without a ping.
        assert max(b - a for a, b in itertools.pairwise(pings)) < 1.0
        assert daemon.post("/control/debug/hang").status_code == 200
        # The writer counts as wedged once a batch runs past 2 s (the daemon's minimum).
        time.sleep(2.6)
        before = len(notify.fields("WATCHDOG"))
        time.sleep(1.0)
        assert len(notify.fields("WATCHDOG")) == before
        assert daemon.get("/health").status_code == 503
        assert "writer_wedged" in daemon.get("/health").json()["reasons"]
        # Even wedged, SIGTERM ends the process once the drain timeout (1 s) runs out.
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 6
        assert '"writer_drain_timeout"' in daemon.output

    def test_hang_hook_is_off_without_test_hooks(
        self, daemon_factory: Callable[..., DaemonProcess]
    ) -> None:
        """Without V7D_TEST_HOOKS=1 the hang route does not exist."""
        daemon = daemon_factory(env={"V7D_TEST_HOOKS": ""}).start()
        daemon.wait_ready()
        answer = daemon.post("/control/debug/hang")
        assert answer.status_code == 404
        assert daemon.get("/health").status_code == 200
        assert daemon.stop() == 0


class TestLogs:
    """Log lines under systemd: journal priorities, never a secret."""

    def test_journal_prefixes_and_no_secret(self, short_dir: Path, notify: NotifyRecorder) -> None:
        """Under JOURNAL_STREAM every line starts with <N>; the test secret never appears."""
        secret = "S3CRET-never-in-logs-42"
        creds = short_dir / "creds"
        creds.write_text(f"api_key=KEYabcdef123456\nsecret={secret}\n")
        creds.chmod(0o600)
        path = write_config(short_dir, credentials=creds)
        daemon = DaemonProcess(path, notify=notify, env={"JOURNAL_STREAM": "8:1234"}, log_format="")
        daemon.start()
        daemon.wait_ready()
        # A refused reload is logged at error level: a <3> line is certain to appear.
        good = path.read_text()
        path.write_text(good.replace("[sync]\n", "[sync]\npoll_interval = -1\n"))
        daemon.send_signal(signal.SIGHUP)
        daemon.wait_until(lambda: "reload_refused" in daemon.output, what="reload_refused")
        assert daemon.stop() == 0
        lines = [line for line in daemon.output.splitlines() if line.strip()]
        assert lines, "the daemon logged nothing"
        assert all(re.match(r"^<[0-7]>", line) for line in lines), lines
        assert any(line.startswith("<6>") for line in lines)  # info
        assert any(line.startswith("<3>reload_refused") for line in lines), lines
        assert secret not in daemon.output
        assert "KEYabcdef123456" not in daemon.output


class TestMetrics:
    """``/metrics`` carries the daemon's own lines next to the store's."""

    def test_daemon_lines_in_metrics(self, daemon_factory: Callable[..., DaemonProcess]) -> None:
        """Writer health, account state and reload counters are exported."""
        daemon = daemon_factory().start()
        daemon.wait_ready()
        text = daemon.get("/metrics").text
        assert "v7d_writer_healthy 1" in text
        assert 'v7d_account_state{account="default",state=' in text
        assert "v7d_reloads_total 0" in text
        assert "v7d_store_rows" in text
        assert daemon.stop() == 0
