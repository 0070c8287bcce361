"""Time from ``v7d run`` to READY=1 (target < 2 s), and from SIGTERM to exit.

Starts the real daemon as a subprocess several times — on an empty state directory and
on an existing database — with a datagram socket at ``$NOTIFY_SOCKET``, and prints a
table. The exchange address is unreachable on purpose: READY must not wait for it.

    .venv/bin/python bench/bench_startup.py [RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from v7d.supervise.testing import DaemonProcess, NotifyRecorder, write_config

TARGET_S = 2.0


def _one(workdir: Path, notify: NotifyRecorder) -> tuple[float, float, float]:
    """(seconds to READY=1, seconds to the first /health answer, seconds to exit)."""
    daemon = DaemonProcess(workdir / "v7d.toml", notify=notify).start()
    ready = daemon.wait_ready(timeout=30)
    started = time.monotonic()
    assert daemon.get("/health").status_code == 200
    health = ready + (time.monotonic() - started)
    started = time.monotonic()
    code = daemon.stop()
    stop = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"daemon exited with {code}:\n{daemon.output}")
    return ready, health, stop


def main(runs: int = 5) -> int:
    """Run the benchmark; exit 1 if the median time to READY misses the target."""
    rows: list[tuple[str, float, float, float]] = []
    for i in range(runs):
        workdir = Path(tempfile.mkdtemp(prefix="v7b-", dir="/tmp"))
        try:
            write_config(workdir)
            with NotifyRecorder(workdir) as notify:
                rows.append(("empty state", *_one(workdir, notify)))
                rows.append(("existing db", *_one(workdir, notify)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"run {i + 1}/{runs} done", file=sys.stderr)
    print(f"{'case':<12} {'to READY':>9} {'to /health':>11} {'SIGTERM→exit':>13}")
    for case, ready, health, stop in rows:
        print(f"{case:<12} {ready:>8.3f}s {health:>10.3f}s {stop:>12.3f}s")
    readies = [r[1] for r in rows]
    median, worst = statistics.median(readies), max(readies)
    verdict = "PASS" if median < TARGET_S else "FAIL"
    print(f"\nREADY median {median:.3f} s, worst {worst:.3f} s (target < {TARGET_S} s): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
