"""``v7d demo`` as a user runs it: simulator + daemon + backfill, then a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

V7D = str(Path(sys.executable).with_name("v7d"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TestDemo:
    """The README's first command works and leaves nothing behind (unless --keep)."""

    def test_demo_runs_and_stops_everything(self) -> None:
        """Backfill done, stats and commands printed, both processes exit 0, dir removed."""
        done = subprocess.run(
            [V7D, "demo", "--days", "2", "--stream-seconds", "2"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "windows" in done.stdout + done.stderr and "done" in out
        assert "curl --unix-socket" in out and "v7ctl --socket" in out
        assert "daemon stopped (exit 0)" in out and "simulator stopped (exit 0)" in out
        workdir = re.search(r"--config (/tmp/v7d-demo-[^/]+)/v7d.toml", out)
        assert workdir is not None
        assert not Path(workdir.group(1)).exists()
        assert "secret" not in out.lower()

    def test_demo_keep_leaves_a_working_daemon(self) -> None:
        """With --keep the printed socket answers after the demo exits; kill stops both."""
        done = subprocess.run(
            [V7D, "demo", "--days", "1", "--keep", "--stream-seconds", "0"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        stop = re.search(r"stop with: kill (\d+) (\d+) && rm -r (\S+)", done.stdout)
        assert stop is not None, done.stdout
        pids = [int(stop.group(1)), int(stop.group(2))]
        workdir = Path(stop.group(3))
        try:
            transport = httpx.HTTPTransport(uds=str(workdir / "run" / "control.sock"))
            with httpx.Client(transport=transport, base_url="http://v7d", timeout=10) as c:
                assert c.get("/health").status_code == 200
                assert c.get("/trades", params={"limit": 1}).json()["items"]
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while any(_alive(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
        assert not any(_alive(p) for p in pids)
