"""Static checks of systemd/v7d.service, v7d.sysusers and v7d.tmpfiles.

These run everywhere (no container, nothing installed on the host): systemd's own tools
judge the files, as systemd would when loading them.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tomllib
from pathlib import Path

from debcache import REPO
from unitfile import parse_unit, seconds

UNIT = REPO / "systemd" / "v7d.service"
SYSUSERS = REPO / "systemd" / "v7d.sysusers"
TMPFILES = REPO / "systemd" / "v7d.tmpfiles"


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `systemd-analyze verify` on ``unit_text`` saved as v7d.service in ``tmp_path``."""
    copy = tmp_path / "v7d.service"
    copy.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )


def _with_existing_program(text: str) -> str:
    """The unit with ExecStart pointed at a program that exists on this machine."""
    return text.replace("ExecStart=/usr/bin/v7d ", "ExecStart=/bin/true ")


class TestVerify:
    def test_unit_verifies_with_no_warning(self, tmp_path: Path) -> None:
        """systemd-analyze verify accepts the unit: exit 0 and nothing at all on stderr."""
        proc = _verify(_with_existing_program(UNIT.read_text()), tmp_path)
        assert (proc.returncode, proc.stderr) == (0, "")

    def test_verify_catches_an_unknown_key(self, tmp_path: Path) -> None:
        """A misspelt key only warns (exit 0), which is why the check above demands empty stderr."""
        text = _with_existing_program(UNIT.read_text()).replace(
            "ProtectHome=yes", "ProtectHome=yes\nProtectHomes=yes"
        )
        proc = _verify(text, tmp_path)
        assert proc.returncode == 0
        assert "ProtectHomes" in proc.stderr

    def test_verify_fails_when_execstart_is_missing(self, tmp_path: Path) -> None:
        """A missing ExecStart program fails verify, which is why the test uses a copy."""
        text = UNIT.read_text().replace("/usr/bin/v7d ", "/nonexistent/v7d-missing ")
        assert _verify(text, tmp_path).returncode != 0


class TestSecurity:
    def test_exposure_score_at_most_2(self) -> None:
        """systemd-analyze security --offline rates the unit 2.0 or better (threshold 20)."""
        proc = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(UNIT)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        match = re.search(r"Overall exposure level for v7d.service: (\d+\.\d+)", proc.stdout)
        assert match, proc.stdout + proc.stderr
        assert proc.returncode == 0 and float(match.group(1)) <= 2.0, match.group(0)


class TestUnitContract:
    unit = parse_unit(UNIT)
    service = unit["Service"]

    def _one(self, key: str) -> str:
        values = self.service.get(key, [])
        assert len(values) == 1, f"[Service] {key}= expected once, got {values}"
        return values[0]

    def test_notify_and_commands(self) -> None:
        """Type=notify from the main process, the documented ExecStart, and SIGHUP for reload."""
        assert self._one("Type") == "notify"
        assert self._one("NotifyAccess") == "main"
        assert self._one("ExecStart") == "/usr/bin/v7d run --config /etc/v7d/v7d.toml"
        assert self._one("ExecReload") == "/bin/kill -HUP $MAINPID"

    def test_restart_policy_and_limits(self) -> None:
        """Failures and watchdog timeouts restart it, with a pause and a start limit."""
        assert self._one("Restart") == "on-failure"
        assert seconds(self._one("RestartSec")) >= 1
        assert seconds(self._one("WatchdogSec")) > 0
        assert int(self.unit["Unit"]["StartLimitBurst"][0]) >= 1
        assert seconds(self.unit["Unit"]["StartLimitIntervalSec"][0]) > 0

    def test_stop_timeout_exceeds_the_drain_timeout(self) -> None:
        """systemd waits longer than the writer's drain, so a stop never SIGKILLs a commit."""
        shipped = tomllib.loads((REPO / "etc" / "v7d" / "v7d.toml").read_text())
        drain = float(shipped["daemon"]["drain_timeout"])
        assert seconds(self._one("TimeoutStopSec")) > drain + 5

    def test_static_user_and_directories(self) -> None:
        """A static v7d user/group, private group-readable state and runtime directories."""
        assert "DynamicUser" not in self.service
        assert (self._one("User"), self._one("Group")) == ("v7d", "v7d")
        assert self._one("UMask") == "0027"
        assert (self._one("StateDirectory"), self._one("StateDirectoryMode")) == ("v7d", "0750")
        assert (self._one("RuntimeDirectory"), self._one("RuntimeDirectoryMode")) == (
            "v7d",
            "0750",
        )
        assert self._one("ConfigurationDirectory") == "v7d"
        assert self._one("LoadCredential") == "v7d:/etc/v7d/credentials"

    def test_socket_path_is_inside_the_runtime_directory(self) -> None:
        """The shipped config puts the control socket in /run/v7d, which the unit creates."""
        shipped = tomllib.loads((REPO / "etc" / "v7d" / "v7d.toml").read_text())
        assert Path(shipped["api"]["control_socket"]).parent == Path("/run/v7d")


class TestSysusers:
    def test_dry_run_on_the_host_changes_nothing(self) -> None:
        """systemd-sysusers --dry-run accepts the file (absolute path) and leaves /etc alone."""
        before = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
        proc = subprocess.run(
            ["systemd-sysusers", "--dry-run", str(SYSUSERS.resolve())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == before

    def test_creates_system_user_and_group(self, tmp_path: Path) -> None:
        """In an empty root it makes user and group v7d: system uid, home /var/lib/v7d, no login."""
        (tmp_path / "etc").mkdir()
        proc = subprocess.run(
            ["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS.resolve())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        passwd = dict(
            (line.split(":")[0], line.split(":"))
            for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
        )
        _name, _, uid, gid, _, home, shell = passwd["v7d"]
        groups = {
            ln.split(":")[0]: ln.split(":")[2]
            for ln in (tmp_path / "etc" / "group").read_text().splitlines()
        }
        assert groups["v7d"] == gid
        assert int(uid) < 1000 and home == "/var/lib/v7d" and shell.endswith("nologin")


class TestTmpfiles:
    def test_creates_state_directory_owned_by_v7d(self, tmp_path: Path) -> None:
        """systemd-tmpfiles --root --create makes /var/lib/v7d mode 0750 owned by v7d:v7d."""
        (tmp_path / "etc").mkdir()
        subprocess.run(
            ["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS.resolve())],
            check=True,
            capture_output=True,
            timeout=60,
        )
        proc = subprocess.run(
            ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(TMPFILES.resolve())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        uid = next(
            int(line.split(":")[2])
            for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
            if line.startswith("v7d:")
        )
        state = (tmp_path / "var" / "lib" / "v7d").stat()
        assert (oct(state.st_mode & 0o7777), state.st_uid, state.st_gid) == ("0o750", uid, uid)
