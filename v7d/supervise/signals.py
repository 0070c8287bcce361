"""Signal handling for the daemon: handlers only record, the supervisor acts.

``loop.add_signal_handler`` runs the handler inside the event loop, so putting the signal
on an asyncio queue is safe; nothing else happens in the handler (STYLE.md §8).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

__all__ = ["HANDLED", "SignalInbox"]

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalInbox:
    """Receives SIGTERM/SIGINT/SIGHUP and hands them out one by one, in arrival order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[signal.Signals] = asyncio.Queue()
        self._installed: list[signal.Signals] = []

    def install(self) -> None:
        """Route the handled signals to this inbox (inside the running loop; idempotent)."""
        if self._installed:
            return
        loop = asyncio.get_running_loop()
        for sig in HANDLED:
            loop.add_signal_handler(sig, self._queue.put_nowait, sig)
            self._installed.append(sig)

    def uninstall(self) -> None:
        """Give the signals back to their default handlers."""
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        self._installed.clear()

    def post(self, sig: signal.Signals) -> None:
        """Act as if ``sig`` arrived (``/control/reload`` posts a SIGHUP)."""
        self._queue.put_nowait(sig)

    async def next(self) -> signal.Signals:
        """Wait for the next signal."""
        return await self._queue.get()
