"""v7ctl end to end: CliRunner and subprocesses against a real daemon and simulator.

Effects are checked through the daemon's database (read-only) and the simulator's
ground truth, not through v7ctl's own output alone.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from v7d.cli.v7ctl import main
from v7d.sim.testing import SimHandle
from v7d.supervise.testing import DaemonProcess

V7CTL = str(Path(sys.executable).with_name("v7ctl"))


def _invoke(daemon: DaemonProcess, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--socket", str(daemon.socket_path), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _db(daemon: DaemonProcess) -> sqlite3.Connection:
    path = daemon.config_path.parent / "state" / "history.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


class TestBackfill:
    """``v7ctl backfill`` drives a job in the daemon to the simulator's truth."""

    def test_backfill_waits_and_store_equals_truth(
        self, daemon: DaemonProcess, sim: SimHandle
    ) -> None:
        """The bar runs to done; every truth trade of the window is stored, none extra."""
        code, out = _invoke(daemon, "backfill", "--days", "3", "--interval", "0.1")
        assert code == 0, out
        assert "done" in out and "windows" in out
        job_id = out.split("backfill job ", 1)[1].split()[0]
        job = daemon.get(f"/control/jobs/{job_id}").json()
        assert job["state"] == "done"
        start, end = job["params"]["start_ms"], job["params"]["end_ms"]
        truth = {(t["symbol"], t["id"]) for t in sim.truth(start, end)["trades"]}
        with _db(daemon) as conn:
            stored = set(
                conn.execute(
                    "SELECT symbol, id FROM trades WHERE time >= ? AND time < ?", (start, end)
                ).fetchall()
            )
        assert truth and stored == truth

    def test_no_wait_prints_the_job_id_and_jobs_lists_it(self, daemon: DaemonProcess) -> None:
        """``--no-wait`` returns the id at once; ``jobs`` and ``job ID`` show it."""
        code, out = _invoke(daemon, "backfill", "--days", "1", "--no-wait", "--json")
        assert code == 0, out
        job_id = json.loads(out)["job_id"]
        code, out = _invoke(daemon, "job", job_id, "--follow", "--interval", "0.1")
        assert code == 0, out
        code, listing = _invoke(daemon, "jobs")
        assert code == 0 and job_id in listing
        code, one = _invoke(daemon, "job", job_id, "--json")
        assert json.loads(one)["state"] == "done"

    def test_ctrl_c_leaves_the_job_running(self, daemon: DaemonProcess) -> None:
        """SIGINT stops the watching, not the job: exit 130 and how to follow it."""
        assert _invoke(daemon, "pause")[0] == 0  # the job waits while paused: no race
        try:
            proc = subprocess.Popen(
                [V7CTL, "--socket", str(daemon.socket_path), "backfill", "--days", "2"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stderr is not None
            first = proc.stderr.readline()
            job_id = first.split("backfill job ", 1)[1].split()[0]
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=15)
            assert proc.returncode == 130
            assert f"v7ctl job {job_id} --follow" in err
            assert "Traceback" not in err
            assert daemon.get(f"/control/jobs/{job_id}").json()["state"] == "running"
        finally:
            assert _invoke(daemon, "resume")[0] == 0
        code, out = _invoke(daemon, "job", job_id, "--follow", "--interval", "0.1")
        assert code == 0, out
        assert "done" in out

    def test_bad_backfill_requests_are_refused_in_one_line(self, daemon: DaemonProcess) -> None:
        """An unknown account or a bad symbol: exit 1, one line naming the problem."""
        code, out = _invoke(daemon, "backfill", "--days", "1", "--account", "nope")
        assert code == 1
        assert "unknown_account" in out and len(out.strip().splitlines()) == 1
        code, out = _invoke(daemon, "backfill", "--days", "1", "--symbols", "b@d")
        assert code == 1 and "symbols" in out and "Traceback" not in out


class TestControls:
    """status, sync-once, pause/resume, reload and backup."""

    def test_status_table_and_json(self, daemon: DaemonProcess) -> None:
        """``status`` shows health, writer and the account; ``--json`` is the raw answer."""
        code, out = _invoke(daemon, "status")
        assert code == 0, out
        assert out.startswith("health   ok")
        assert "account default" in out and "writer   healthy" in out
        code, raw = _invoke(daemon, "status", "--json")
        data = json.loads(raw)
        assert data["sync"]["accounts"]["default"]["state"] == "running"
        assert data["health"]["status"] == "ok"

    def test_sync_once_reports_the_pass(self, daemon: DaemonProcess) -> None:
        """``sync-once`` waits for one pass and prints its report."""
        code, out = _invoke(daemon, "sync-once", "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["finished_ms"] >= report["started_ms"]
        assert report["errors"] == []

    def test_pause_and_resume_show_in_status(self, daemon: DaemonProcess) -> None:
        """``pause`` is visible in /sync/status until ``resume``."""
        assert _invoke(daemon, "pause")[0] == 0
        engine = daemon.get("/sync/status").json()["accounts"]["default"]["engine"]
        assert engine["paused"] is True
        assert _invoke(daemon, "resume")[0] == 0
        engine = daemon.get("/sync/status").json()["accounts"]["default"]["engine"]
        assert engine["paused"] is False

    def test_reload_counts_and_bad_file_is_refused(self, daemon: DaemonProcess) -> None:
        """``reload`` applies a good file; a bad file gives one line and exit 1."""
        before = daemon.get("/sync/status").json()["daemon"]["reloads"]
        assert _invoke(daemon, "reload")[0] == 0
        assert daemon.get("/sync/status").json()["daemon"]["reloads"] == before + 1
        good = daemon.config_path.read_text()
        try:
            daemon.config_path.write_text(good.replace("[sync]\n", "[sync]\nuniverse = 'x'\n"))
            code, out = _invoke(daemon, "reload")
            assert code == 1
            assert "config_invalid" in out and "[sync].universe" in out
        finally:
            daemon.config_path.write_text(good)
        assert daemon.get("/health").status_code == 200

    def test_backup_writes_a_consistent_snapshot(
        self, daemon: DaemonProcess, tmp_path: Path
    ) -> None:
        """``backup PATH`` writes an SQLite file holding what the daemon's store holds."""
        target = tmp_path / "snap.db"
        code, out = _invoke(daemon, "backup", str(target))
        assert code == 0, out
        with sqlite3.connect(target) as snap, _db(daemon) as live:
            assert snap.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            count = "SELECT count(*) FROM trades"
            assert snap.execute(count).fetchone() == live.execute(count).fetchone()
        code, out = _invoke(daemon, "backup", str(target))
        assert code == 1 and "exists" in out


class TestErrorPaths:
    """Every way v7ctl can fail prints one line and exits non-zero, never a traceback."""

    def _run(
        self, *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [*(prefix or []), V7CTL, *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=30,
        )

    def test_no_daemon(self, tmp_path: Path) -> None:
        """A socket path where nothing exists: one line saying so, exit 1."""
        done = self._run("--socket", str(tmp_path / "none.sock"), "status")
        assert done.returncode == 1
        assert done.stderr.strip().count("\n") == 0
        assert "no daemon" in done.stderr and "Traceback" not in done.stderr

    def test_dead_socket_file(self, tmp_path: Path) -> None:
        """A socket file nobody listens on (daemon killed): one line, exit 1."""
        import socket

        path = tmp_path / "dead.sock"
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
        done = self._run("--socket", str(path), "pause")
        assert done.returncode == 1
        assert "nothing is listening" in done.stderr and "Traceback" not in done.stderr

    def test_permission_denied(self, daemon: DaemonProcess) -> None:
        """Without access to the socket (mode 0660, other owner): one line, exit 1."""
        stat = daemon.socket_path.stat()
        os.chown(daemon.socket_path, 65534, 65534)
        try:
            # Root ignores file modes; dropping CAP_DAC_OVERRIDE makes the check real.
            drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
            done = self._run("--socket", str(daemon.socket_path), "status", prefix=drop)
        finally:
            os.chown(daemon.socket_path, stat.st_uid, stat.st_gid)
        assert done.returncode == 1
        assert "permission denied" in done.stderr and "Traceback" not in done.stderr

    def test_permission_denied_on_the_directory(self, daemon: DaemonProcess) -> None:
        """A socket directory closed to the user (like /run/v7d 0750): one line, exit 1."""
        parent = daemon.socket_path.parent
        stat = parent.stat()
        os.chown(parent, 65534, 65534)
        parent.chmod(0o700)
        try:
            drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
            done = self._run("--socket", str(daemon.socket_path), "status", prefix=drop)
        finally:
            os.chown(parent, stat.st_uid, stat.st_gid)
            parent.chmod(stat.st_mode & 0o7777)
        assert done.returncode == 1
        assert "permission denied" in done.stderr and "Traceback" not in done.stderr

    def test_refused_request_as_subprocess(self, daemon: DaemonProcess) -> None:
        """A request the daemon refuses (unknown job): its message in one line, exit 1."""
        done = self._run("--socket", str(daemon.socket_path), "job", "bf-doesnotexist")
        assert done.returncode == 1
        assert "job_not_found" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1

    def test_socket_from_environment_and_config(self, daemon: DaemonProcess) -> None:
        """Discovery: $V7D_SOCKET, else the config named by $V7D_CONFIG."""
        by_env = self._run("status", "--json", env={"V7D_SOCKET": str(daemon.socket_path)})
        assert by_env.returncode == 0, by_env.stderr
        by_config = self._run(
            "status", "--json", env={"V7D_SOCKET": "", "V7D_CONFIG": str(daemon.config_path)}
        )
        assert by_config.returncode == 0, by_config.stderr
        assert json.loads(by_config.stdout)["health"]["status"] == "ok"
