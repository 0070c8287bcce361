"""What docs/operations.md promises about reading the WAL database as a group member.

The unit runs the daemon as v7d with UMask=0027 in a 0750 state directory. A member of
group v7d (another uid) must then be able to open the database read-only while the
daemon holds it open, and must fail without write access once the -wal/-shm files are
gone (clean stop), unless it opens with immutable=1. Needs root to switch uids; the
processes use the system Python, the interpreter the package's venv runs on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
DAEMON_UID = 64771  # stand-ins for the v7d user and a member of its group; any unused ids do
MEMBER_UID = 64772
GROUP_GID = 64771

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching uids needs root")

_WRITER = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE t (x)")
c.execute("INSERT INTO t VALUES (1)")
c.commit()
print("ready", flush=True)
sys.stdin.readline()
c.close()
"""
_READER = """
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?{sys.argv[2]}", uri=True)
print(c.execute("SELECT count(*) FROM t").fetchone()[0])
"""


def _read(db: Path, query: str) -> subprocess.CompletedProcess[str]:
    """Open ``db`` with URI parameters ``query`` as the group member (not the owner)."""
    return subprocess.run(
        [SYSTEM_PYTHON, "-c", _READER, str(db), query],
        user=MEMBER_UID,
        group=GROUP_GID,
        extra_groups=[GROUP_GID],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def state_dir(short_tmp: Path) -> Path:
    """A 0750 directory owned by the stand-in daemon user, like StateDirectory=v7d."""
    short_tmp.chmod(0o755)
    state = short_tmp / "state"
    state.mkdir(mode=0o750)
    os.chown(state, DAEMON_UID, GROUP_GID)
    return state


@pytest.fixture
def daemon_db(state_dir: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A WAL database written and held open by the stand-in daemon (umask 0027)."""
    db = state_dir / "history.db"
    writer = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", _WRITER, str(db)],
        user=DAEMON_UID,
        group=GROUP_GID,
        umask=0o027,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    yield db, writer
    if writer.poll() is None:
        writer.kill()
    writer.wait()
    for pipe in (writer.stdin, writer.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def _close(writer: subprocess.Popen[str]) -> None:
    """Let the stand-in daemon close its connection, as on a clean stop."""
    writer.communicate("\n", timeout=30)
    assert writer.returncode == 0


class TestGroupRead:
    def test_database_wal_and_shm_are_group_readable(
        self, daemon_db: tuple[Path, subprocess.Popen[str]]
    ) -> None:
        """With UMask=0027 the database and its -wal and -shm files are 0640."""
        db, _ = daemon_db
        for suffix in ("", "-wal", "-shm"):
            mode = (db.parent / (db.name + suffix)).stat().st_mode & 0o777
            assert mode == 0o640, (suffix, oct(mode))

    def test_member_reads_while_the_daemon_holds_it_open(
        self, daemon_db: tuple[Path, subprocess.Popen[str]]
    ) -> None:
        """A group member opens it with mode=ro and sees the committed row."""
        db, _ = daemon_db
        proc = _read(db, "mode=ro")
        assert (proc.returncode, proc.stdout) == (0, "1\n"), proc.stderr

    def test_member_cannot_open_after_a_clean_stop(
        self, daemon_db: tuple[Path, subprocess.Popen[str]]
    ) -> None:
        """Once -shm is gone, a reader that may not create it fails instead of reading."""
        db, writer = daemon_db
        _close(writer)
        assert not (db.parent / (db.name + "-shm")).exists()
        proc = _read(db, "mode=ro")
        assert proc.returncode != 0 and "readonly database" in proc.stderr

    def test_immutable_reads_a_stopped_database(
        self, daemon_db: tuple[Path, subprocess.Popen[str]]
    ) -> None:
        """With the daemon stopped, immutable=1 reads it without any -shm."""
        db, writer = daemon_db
        _close(writer)
        proc = _read(db, "mode=ro&immutable=1")
        assert (proc.returncode, proc.stdout) == (0, "1\n"), proc.stderr
