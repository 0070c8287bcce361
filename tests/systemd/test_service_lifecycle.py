"""The packaged service under a real systemd, from first start to purge.

One container runs the whole story, in order: install the .deb, start `v7d-sim` inside
(it writes /etc/v7d/credentials), point the config at it, then `systemctl start v7d`
(activating until READY, then running, with its STATUS line), a 14-day backfill by a
member of group v7d, a user outside the group refused by the socket, reload, the journal
filtered by priority, a watchdog restart that loses no data, an upgrade in place, a clean
stop and `dpkg -P`.
The tests depend on their order (each one continues where the previous left off).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from container import Container

pytestmark = pytest.mark.systemd

SIM_PORT = 9900
CONFIG = f"""\
[storage]
path = "/var/lib/v7d/history.db"

[exchange]
environment = "custom"
rest_url = "http://127.0.0.1:{SIM_PORT}"
ws_url = "ws://127.0.0.1:{SIM_PORT}"

[api]
tcp_port = 8787
control_socket = "/run/v7d/control.sock"
"""
# Counted as a group member through the public in-process API (read-only connection).
COUNT_ROWS = """
import json, sys
from v7d import HistoryQueryAPI
with HistoryQueryAPI(sys.argv[1]) as api:
    print(json.dumps({"trades": sum(1 for _ in api.iter_trades()),
                      "orders": sum(1 for _ in api.iter_orders()),
                      "income": sum(1 for _ in api.iter_income())}))
"""
# Connects to the control socket and prints the errno (0 when it connects).
CONNECT = """
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/run/v7d/control.sock")
    print(0)
except OSError as exc:
    print(exc.errno)
"""
# One HTTP request over the control socket with the packaged httpx (no curl needed).
REQUEST = """
import sys, httpx
transport = httpx.HTTPTransport(uds="/run/v7d/control.sock")
with httpx.Client(transport=transport, base_url="http://v7d", timeout=30) as client:
    response = client.request(sys.argv[1], sys.argv[2])
    response.raise_for_status()
    print(response.text)
"""
WATCHDOG_DROPIN = """\
[Service]
Environment=V7D_TEST_HOOKS=1
WatchdogSec=3
RestartSec=1
LimitCORE=0
"""


def _show(box: Container, *props: str) -> dict[str, str]:
    """`systemctl show v7d` for ``props`` as a dict."""
    args = [a for p in props for a in ("-p", p)]
    out = box.run("systemctl", "show", "v7d", *args).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _wait_for(box: Container, timeout: float, **expected: str) -> dict[str, str]:
    """Poll `systemctl show` until every property has its expected value."""
    deadline = time.monotonic() + timeout
    while True:
        props = _show(box, *expected)
        if all(props.get(k) == v for k, v in expected.items()):
            return props
        if time.monotonic() > deadline:
            raise AssertionError(f"v7d did not reach {expected} in {timeout} s: {props}")
        time.sleep(0.1)


def _counts(box: Container, db: str = "/var/lib/v7d/history.db") -> dict[str, int]:
    """Rows in the database ``db``, read in-process by alice (a member of group v7d)."""
    out = box.run("/opt/v7d/bin/python", "-c", COUNT_ROWS, db, user="alice").stdout
    return dict(json.loads(out))


def _sync_status(box: Container) -> dict[str, object]:
    """GET /sync/status over the control socket."""
    out = box.run("/opt/v7d/bin/python", "-c", REQUEST, "GET", "/sync/status")
    return dict(json.loads(out.stdout))


def _start_sim(box: Container) -> None:
    """Run v7d-sim as a transient unit in the container, writing v7d's credentials."""
    box.run(
        "systemd-run", "--unit=v7d-sim", "--property=Type=exec", "/usr/bin/v7d-sim",
        f"--port={SIM_PORT}", "--seed=11", "--days=20", "--symbols-listed=20",
        "--symbols-active=3", "--trades-per-day=40",
        "--credentials-out=/etc/v7d/credentials",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "READY rest=" not in box.run("journalctl", "-u", "v7d-sim", "-o", "cat").stdout:
        if time.monotonic() > deadline:
            raise AssertionError("v7d-sim did not print READY within 60 s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def box(deb_path: Path, container_ready: None) -> Iterator[Container]:
    """A container with the package installed, the simulator running, config and users."""
    with Container(bind_ro={deb_path.parent: "/src"}) as container:
        container.run("dpkg", "-i", f"/src/{deb_path.name}", timeout=120)
        _start_sim(container)
        container.run("tee", "/etc/v7d/v7d.toml", input=CONFIG)
        container.run("useradd", "--create-home", "--groups", "v7d", "alice")
        container.run("useradd", "--create-home", "bob")
        yield container


class TestServiceLifecycle:
    def test_activating_until_ready_then_running(self, box: Container) -> None:
        """Type=notify: `activating` while the daemon starts, `active (running)` after READY=1."""
        box.run("systemctl", "start", "--no-block", "v7d")
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            props = _show(box, "ActiveState", "SubState")
            state = (props["ActiveState"], props["SubState"])
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == ("active", "running") or props["ActiveState"] == "failed":
                break
        # The start job may not have run yet at the first look.
        while seen and seen[0] == ("inactive", "dead"):
            seen.pop(0)
        assert seen[0] == ("activating", "start"), seen
        assert seen[-1] == ("active", "running"), seen
        # READY means both listeners accept: the socket is there, mode 0660 group v7d.
        mode = box.run("stat", "-c", "%a %G", "/run/v7d/control.sock").stdout.split()
        assert mode == ["660", "v7d"]

    def test_status_line_shown(self, box: Container) -> None:
        """`systemctl status v7d` shows the daemon's STATUS= text."""
        assert _show(box, "StatusText")["StatusText"]
        status = box.run("systemctl", "status", "--no-pager", "v7d").stdout
        assert 'Status: "' in status, status

    def test_backfill_as_group_member(self, box: Container) -> None:
        """alice (group v7d) runs `v7ctl backfill --days 14` to completion; status shows rows."""
        done = box.run("v7ctl", "backfill", "--days", "14", user="alice", timeout=120)
        assert "done" in done.stdout, done.stdout
        status = box.run("v7ctl", "status", user="alice").stdout
        assert "health   ok" in status and "done" in status, status
        counts = _counts(box)
        assert counts["trades"] > 0 and counts["orders"] > 0 and counts["income"] > 0, counts

    def test_online_backup_by_group_member(self, box: Container) -> None:
        """alice writes `v7ctl backup PATH` while v7d runs; the snapshot holds the history."""
        before = _counts(box)
        box.run("v7ctl", "backup", "/home/alice/snapshot.db", user="alice", timeout=120)
        snapshot = _counts(box, "/home/alice/snapshot.db")
        after = _counts(box)
        owner = box.run("stat", "-c", "%U", "/home/alice/snapshot.db").stdout.strip()
        assert owner == "alice"
        assert all(before[k] <= snapshot[k] <= after[k] for k in before), (before, snapshot)

    def test_outsider_refused_by_the_socket(self, box: Container) -> None:
        """bob (not in group v7d) cannot connect to the control socket, nor use v7ctl."""
        assert box.run("/opt/v7d/bin/python", "-c", CONNECT, user="bob").stdout.strip() == "13"
        assert box.run("/opt/v7d/bin/python", "-c", CONNECT, user="alice").stdout.strip() == "0"
        proc = box.run("v7ctl", "status", user="bob", check=False)
        assert proc.returncode != 0
        assert "permission denied" in (proc.stdout + proc.stderr).lower()

    def test_reload(self, box: Container) -> None:
        """systemctl reload: the reload log line, a higher reload count, still active."""
        before = _sync_status(box)["daemon"]["reloads"]  # type: ignore[index]
        # A key that cannot change at run time: the daemon keeps it and warns.
        box.run("sed", "-i", "s/^tcp_port = 8787/tcp_port = 8788/", "/etc/v7d/v7d.toml")
        box.run("systemctl", "reload", "v7d")
        deadline = time.monotonic() + 30
        while _sync_status(box)["daemon"]["reloads"] <= before:  # type: ignore[index]
            assert time.monotonic() < deadline, "the reload count did not rise"
            time.sleep(0.2)
        assert _show(box, "ActiveState")["ActiveState"] == "active"
        journal = box.run("journalctl", "-u", "v7d", "-o", "cat").stdout
        assert "config_reloaded" in journal

    def test_journal_priority_filter(self, box: Container) -> None:
        """`journalctl -u v7d -p warning` has the warning and none of the info lines."""
        warnings = box.run("journalctl", "-u", "v7d", "-p", "warning", "-o", "cat").stdout
        assert "config_needs_restart" in warnings and "api.tcp_port" in warnings
        assert "daemon_ready" not in warnings and "config_reloaded" not in warnings
        everything = box.run("journalctl", "-u", "v7d", "-o", "cat").stdout
        assert "daemon_ready" in everything

    def test_watchdog_restart_loses_no_data(self, box: Container) -> None:
        """A wedged writer stops the pings; systemd kills and restarts v7d; all rows remain."""
        box.run("mkdir", "-p", "/run/systemd/system/v7d.service.d")
        box.run("tee", "/run/systemd/system/v7d.service.d/test-hooks.conf", input=WATCHDOG_DROPIN)
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "restart", "v7d")
        before = _counts(box)
        pid = _show(box, "MainPID")["MainPID"]
        box.run("/opt/v7d/bin/python", "-c", REQUEST, "POST", "/control/debug/hang")
        after = _wait_for(box, 60, NRestarts="1", ActiveState="active", SubState="running")
        assert _show(box, "MainPID")["MainPID"] != pid, after
        journal = box.run("journalctl", "-u", "v7d", "-o", "cat").stdout
        assert "Watchdog timeout" in journal
        counts = _counts(box)
        assert all(counts[k] >= before[k] for k in before), (before, counts)

    def test_upgrade_restarts_and_keeps_data_and_config(
        self, box: Container, deb_path: Path
    ) -> None:
        """Installing the package over itself stops, replaces and restarts v7d; rows and config stay."""
        before = _counts(box)
        config = box.run("cat", "/etc/v7d/v7d.toml").stdout
        pid = _show(box, "MainPID")["MainPID"]
        box.run("dpkg", "-i", f"/src/{deb_path.name}", timeout=120)
        _wait_for(box, 60, ActiveState="active", SubState="running")
        assert _show(box, "MainPID")["MainPID"] != pid
        assert box.run("cat", "/etc/v7d/v7d.toml").stdout == config
        counts = _counts(box)
        assert all(counts[k] >= before[k] for k in before), (before, counts)

    def test_stop_is_clean_and_timely(self, box: Container) -> None:
        """systemctl stop: SIGTERM, drain, exit 0, well within TimeoutStopSec."""
        started = time.monotonic()
        box.run("systemctl", "stop", "v7d", timeout=120)
        elapsed = time.monotonic() - started
        props = _show(box, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        limit = int(_show(box, "TimeoutStopUSec")["TimeoutStopUSec"].removesuffix("s"))
        assert elapsed < limit, elapsed
        assert props == {
            "ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
            "ExecMainStatus": "0",
        }  # fmt: skip
        assert "daemon_stopped" in box.run("journalctl", "-u", "v7d", "-o", "cat").stdout

    def test_purge_keeps_the_database(self, box: Container) -> None:
        """dpkg -P removes the program, unit and /etc/v7d; the database and user stay."""
        box.run("dpkg", "-P", "v7d", timeout=120)
        gone = "/etc/v7d /opt/v7d /usr/bin/v7ctl /lib/systemd/system/v7d.service"
        left = box.sh(
            f"for p in {gone} /var/lib/v7d/history.db; do [ -e $p ] && echo $p; done; true"
        )
        assert left.stdout.split() == ["/var/lib/v7d/history.db"]
        assert box.run("getent", "group", "v7d", check=False).returncode == 0
