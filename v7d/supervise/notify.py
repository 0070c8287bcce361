"""sd_notify for a Type=notify unit: READY, STATUS, WATCHDOG, STOPPING, RELOADING.

The ``sdnotify`` package reads ``$NOTIFY_SOCKET`` when the notifier is built and does
nothing without it, so the daemon talks the same way under systemd, in tests (a datagram
socket that records what it gets) and in a terminal (nothing is sent).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping

import sdnotify  # type: ignore[import-untyped,unused-ignore]

__all__ = ["Notifier", "watchdog_interval"]


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of ``$WATCHDOG_USEC``, or None if unset.

    ``$WATCHDOG_PID`` names the process the watchdog is meant for; when it names another
    process (a child that inherited the environment) the pings are not ours to send.
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not raw or (pid and pid != str(os.getpid())):
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages; every method is a no-op without ``$NOTIFY_SOCKET``."""

    def __init__(self) -> None:
        self._sd = sdnotify.SystemdNotifier()
        self._last_status = ""

    @property
    def enabled(self) -> bool:
        """True when a notification socket was found and connected."""
        return self._sd.socket is not None

    def ready(self, status: str | None = None) -> None:
        """READY=1 (with a STATUS line when given): the service is up."""
        self._send("READY=1", status)

    def status(self, line: str) -> None:
        """STATUS=<line>, sent only when the line changed (systemctl status shows it)."""
        if line != self._last_status:
            self._send(None, line)

    def watchdog(self) -> None:
        """WATCHDOG=1: the loop, the writer and the sync supervisor are healthy."""
        self._send("WATCHDOG=1", None)

    def stopping(self, status: str = "stopping") -> None:
        """STOPPING=1: shutdown has begun."""
        self._send("STOPPING=1", status)

    def reloading(self, status: str = "reloading configuration") -> None:
        """RELOADING=1 with MONOTONIC_USEC, as systemd's Type=notify-reload expects."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send(f"RELOADING=1\nMONOTONIC_USEC={usec}", status)

    def _send(self, head: str | None, status: str | None) -> None:
        parts = [head] if head else []
        if status is not None:
            # One line only: systemd shows STATUS= verbatim and a newline would end it.
            status = " ".join(status.split())
            parts.append(f"STATUS={status}")
            self._last_status = status
        sock = self._sd.socket
        if parts and sock is not None:
            # Sent as UTF-8 ourselves: sdnotify's notify() encodes latin-1, which turns
            # the status line's "·" into a byte systemd (and Python) cannot decode.
            with contextlib.suppress(OSError):
                sock.sendall("\n".join(parts).encode("utf-8"))
