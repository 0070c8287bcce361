"""``v7d-sim`` standalone: READY line, URLs, credentials file, clean stop."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from v7d.sim.client import SignedClient


def _check_running(proc: subprocess.Popen[str], creds: Path) -> None:
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("READY "):
            break
    ready = lines[-1].split()
    rest = ready[1].removeprefix("rest=")
    assert ready[2].startswith("ws=ws://127.0.0.1:")
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    kv = dict(line.split("=", 1) for line in creds.read_text().splitlines())
    assert set(kv) == {"api_key", "secret"}
    assert any(kv["api_key"] in line for line in lines)
    assert httpx.get(f"{rest}/fapi/v1/ping").json() == {}
    with SignedClient(rest, kv["api_key"], kv["secret"]) as c:
        assert c.get("/fapi/v1/userTrades", {"symbol": "BTCUSDT"}).status_code == 200


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m v7d.sim`` with ``args``, run to its end (30 s at most), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "v7d.sim", *args], capture_output=True, text=True, timeout=30
    )


class TestCli:
    """The console script runs the simulator as a separate process."""

    def test_standalone(self, tmp_path: Path) -> None:
        """It prints READY with URLs, writes a 0600 credentials file, serves, stops on SIGTERM."""
        creds = tmp_path / "credentials"
        cmd = [
            sys.executable,
            "-m",
            "v7d.sim",
            "--port",
            "0",
            "--days",
            "2",
            "--symbols-active",
            "2",
            "--credentials-out",
            str(creds),
        ]
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as proc:
            try:
                _check_running(proc, creds)
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=15) == 0

    def test_given_credentials_and_bad_options(self) -> None:
        """--api-key without --secret and bad option values fail with a clear message."""
        r = _run_cli("--api-key", "abc")
        assert r.returncode != 0 and "--secret" in r.stderr
        r = _run_cli("--days", "0")
        assert r.returncode != 0 and "days" in r.stderr
