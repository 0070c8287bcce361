"""``v7d run``: wires config, store, listeners, apps, sync and sd_notify together.

Wiring only. The parts live in :mod:`v7d.supervise` (listeners, signals, notify, the
supervisor and its phases, the sync runner), :mod:`v7d.web` (apps and routes) and
:mod:`v7d.store`. Start order (issue 5): config → database open/migrate → control socket
(0660) → TCP listener → writer → servers → READY=1 → sync tasks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from v7d.config import Config, load_config
from v7d.errors import ConfigError, StoreError
from v7d.logging import configure_logging
from v7d.store import StoreReader, Writer, open_database
from v7d.supervise.auth import BearerGuard, read_token
from v7d.supervise.metrics import daemon_metrics
from v7d.supervise.notify import Notifier, watchdog_interval
from v7d.supervise.servers import (
    EmbeddedServer,
    ListenerError,
    bind_tcp,
    bind_unix,
    remove_socket,
)
from v7d.supervise.services import DaemonServices
from v7d.supervise.signals import SignalInbox
from v7d.supervise.supervisor import Supervisor
from v7d.supervise.sync_runner import SyncRunner
from v7d.web.app import create_app
from v7d.web.control import build_control_routes
from v7d.web.query_routes import build_query_routes

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "run"]

log = structlog.get_logger("v7d.daemon")

EXIT_CONFIG = 2  # bad configuration: systemd's RestartPreventExitStatus= can name it
EXIT_FAILURE = 1


class WriterComponent:
    """The store's writer as a supervised component; stopping drains it."""

    name = "writer"

    def __init__(self, writer: Writer, drain_timeout: float) -> None:
        self._writer = writer
        self._drain_timeout = drain_timeout

    async def start(self) -> None:
        """Start the writer task (the database was opened and migrated already)."""
        await self._writer.start()

    async def stop(self) -> None:
        """Commit what is queued within the drain timeout, then close."""
        dropped = await self._writer.close(drain_timeout=self._drain_timeout)
        log.info("writer_closed", dropped_batches=dropped)

    @property
    def healthy(self) -> bool:
        """False once a batch runs past its deadline (wedged) or the task died."""
        return self._writer.healthy


def run(config_path: str | None = None, log_format: str | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM/SIGINT; return the exit code."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fatal(f"config error: {exc}")
        return EXIT_CONFIG
    configure_logging(config.log.level, log_format or config.log.format)
    try:
        return asyncio.run(_main(config, config_path, log_format))
    except ConfigError as exc:
        log.error("config_invalid", error=str(exc))
        return EXIT_CONFIG
    except (StoreError, ListenerError) as exc:
        log.error("start_failed", error=str(exc))
        return EXIT_FAILURE


def _fatal(message: str) -> None:
    # Before logging is configured: one plain line, with the journal's error priority
    # when stderr goes to the journal.
    prefix = "<3>" if os.environ.get("JOURNAL_STREAM") else ""
    print(f"{prefix}v7d: {message}", file=sys.stderr, flush=True)


def _query_routes(
    config: Config, services: DaemonServices, metrics: Callable[[], str]
) -> list[BaseRoute]:
    """The query API's routes, served on both listeners."""
    return list(
        build_query_routes(
            db_path=str(config.storage.path),
            query_timeout_ms=config.api.query_timeout_ms,
            sync_status=services.sync_status,
            metrics=metrics,
        )
    )


async def _main(config: Config, config_path: str | None, log_format: str | None) -> int:
    # Signals are queued from the very start: a SIGHUP or SIGTERM during start-up must
    # not kill the process with the default action.
    inbox = SignalInbox()
    inbox.install()
    token = read_token(config.api.token_file) if config.api.token_file else None
    db_path = Path(config.storage.path)
    await asyncio.to_thread(_open_and_migrate, db_path)
    unix_sock = bind_unix(config.api.control_socket)
    socket_inode = os.stat(config.api.control_socket).st_ino
    reader: StoreReader | None = None
    try:
        api = config.api
        tcp_sock = bind_tcp(api.tcp_host, api.tcp_port) if api.tcp_port else None
        every = watchdog_interval()
        # A batch running longer than half the watchdog timeout counts as wedged, so the
        # pings stop well before systemd's WatchdogSec= runs out (bounded: 2 s .. 30 s).
        writer = Writer(db_path, stall_after_s=min(30.0, max(2.0, every or 30.0)))
        reader = StoreReader(db_path, timeout_ms=config.api.query_timeout_ms)
        sync = SyncRunner(config=config, writer=writer, reader=reader)
        services = DaemonServices(
            config=config,
            config_path=config_path,
            writer=writer,
            reader=reader,
            sync=sync,
            apply_log_config=lambda c: configure_logging(c.log.level, log_format or c.log.format),
        )
        components, listening = _listeners(config, services, unix_sock, tcp_sock, token)
        supervisor = Supervisor(
            notifier=Notifier(),
            inbox=inbox,
            components=[WriterComponent(writer, config.daemon.drain_timeout), *components],
            after_ready=[sync],
            reload=services.apply_reload,
            facts=services.facts,
            watchdog_every=every,
        )
        services.attach(supervisor)
        log.info("daemon_starting", config=config.source, database=str(db_path), **listening)
        return await supervisor.run()
    finally:
        if reader is not None:
            reader.close()
        unix_sock.close()  # uvicorn closed it already when it served; closing twice is fine
        remove_socket(config.api.control_socket, socket_inode)


def _listeners(
    config: Config,
    services: DaemonServices,
    unix_sock: socket.socket,
    tcp_sock: socket.socket | None,
    token: str | None,
) -> tuple[list[EmbeddedServer], dict[str, str]]:
    """The two servers: queries + control on the socket, queries (token-guarded) on TCP."""
    metrics = daemon_metrics(
        supervisor=lambda: services.supervisor, writer=services.writer, sync=services.sync
    )
    query = _query_routes(config, services, metrics)
    control_app = create_app(routes=[*query, *build_control_routes(services)], health=services)
    servers = [EmbeddedServer(control_app, unix_sock, name="control-socket")]
    listening = {"socket": str(config.api.control_socket)}
    if tcp_sock is not None:
        guard = [Middleware(BearerGuard, token=token)] if token else []
        tcp_app = create_app(routes=query, health=services, middleware=guard)
        servers.append(EmbeddedServer(tcp_app, tcp_sock, name="tcp"))
        host, port = tcp_sock.getsockname()[:2]
        listening["tcp"] = f"{host}:{port}"
    return servers, listening


def _open_and_migrate(path: Path) -> None:
    """Create (parent directory included) and migrate the database before anything listens."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"[storage].path: cannot create {path.parent}: {exc.strerror}") from None
    open_database(path).close()


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - manual use
    """``python -m v7d.daemon [CONFIG]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return run(args[0] if args else None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
