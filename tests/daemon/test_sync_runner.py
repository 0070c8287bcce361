"""The sync runner's restart policy, with small hand-written engines.

The daemon-level tests cover the real engine; here the engines are stand-ins that crash
or get refused on purpose, to pin down what the supervisor does about it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from v7d.config import Config
from v7d.errors import AuthError
from v7d.supervise.sync_runner import AccountRun, SyncRunner


class CrashingEngine:
    """Its ``run()`` fails, like an engine hitting a bug."""

    healthy = True
    stopped_reason = None

    async def run(self) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    def status(self) -> dict[str, Any]:
        return {"state": "running"}


class SteadyEngine(CrashingEngine):
    """Runs until cancelled."""

    async def run(self) -> None:
        await asyncio.Event().wait()


def _runner(open_engine: Any) -> SyncRunner:
    return SyncRunner(
        config=Config.defaults(),
        writer=None,
        reader=None,
        open_engine=open_engine,
        backoff_base=0.01,
    )


async def _until(check: Any, steps: int = 500) -> None:
    """Poll ``check`` every 10 ms, up to ``steps`` times."""
    for _ in range(steps):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


class TestRestartPolicy:
    """Crashes restart with backoff and are reported; refused keys stop the account."""

    async def test_crashed_engine_is_restarted_and_reported(self) -> None:
        """Two crashes, then a steady engine: restarts counted, last error kept, logged."""
        made: list[Any] = []

        async def open_engine(run: AccountRun) -> Any:
            made.append(CrashingEngine() if len(made) < 2 else SteadyEngine())
            return made[-1]

        runner = _runner(open_engine)
        with structlog.testing.capture_logs() as logs:
            await runner.start()
            await _until(lambda: len(made) == 3 and runner.accounts["default"].state == "running")
        run = runner.accounts["default"]
        assert run.restarts == 2
        assert run.last_error == "RuntimeError: boom"
        assert runner.status()["default"]["restarts"] == 2
        assert runner.healthy
        crashes = [e for e in logs if e["event"] == "sync_engine_crashed"]
        assert len(crashes) == 2 and crashes[0]["account"] == "default"
        await runner.stop()
        assert run.task is not None and run.task.done()

    async def test_refused_key_stops_the_account_without_retrying(self) -> None:
        """An AuthError while opening stops the account once; /health can say so."""
        calls = 0

        async def open_engine(run: AccountRun) -> Any:
            nonlocal calls
            calls += 1
            raise AuthError("API key rejected", status=401, code=-2015)

        runner = _runner(open_engine)
        await runner.start()
        await _until(lambda: runner.accounts["default"].state == "stopped")
        await asyncio.sleep(0.1)
        assert calls == 1
        assert runner.all_stopped
        assert "API key rejected" in runner.status()["default"]["detail"]
        assert runner.healthy  # a stopped account is no reason for a watchdog restart
        await runner.stop()

    async def test_engine_that_stops_itself_counts_as_stopped(self) -> None:
        """An engine reporting ``stopped_reason`` (auth inside the engine) makes the
        account stopped in status and for /health."""
        engine = SteadyEngine()

        async def open_engine(run: AccountRun) -> Any:
            return engine

        runner = _runner(open_engine)
        await runner.start()
        await _until(lambda: runner.accounts["default"].state == "running")
        assert not runner.all_stopped
        engine.stopped_reason = "auth: key rejected"  # type: ignore[assignment]
        assert runner.all_stopped
        assert runner.status()["default"] == {
            **runner.status()["default"],
            "state": "stopped",
            "detail": "auth: key rejected",
        }
        await runner.stop()
