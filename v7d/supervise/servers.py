"""The daemon's listeners: the control Unix socket, the TCP socket, embedded uvicorn.

The daemon binds both sockets itself (so it can set the control socket's mode to 0660
before anyone can connect, and refuse to steal the socket of another live daemon) and
hands them to uvicorn. Two uvicorn servers share one event loop; uvicorn's own signal
handling is switched off because the daemon owns the signals (STYLE.md §7).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import stat
from collections.abc import Generator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from v7d.errors import ConfigError, V7dError

__all__ = [
    "EmbeddedServer",
    "ListenerError",
    "bind_tcp",
    "bind_unix",
    "remove_socket",
    "socket_answers",
]

SOCKET_MODE = 0o660
_START_TIMEOUT_S = 10.0


class ListenerError(V7dError):
    """A listener cannot be set up (address in use, another daemon, bad directory)."""


def socket_answers(path: Path) -> bool:
    """True when something accepts connections on the Unix socket at ``path`` (1 s at most)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def _clear_stale(path: Path) -> None:
    """Remove a stale socket file left by a daemon that died; refuse anything else."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ListenerError(f"[api].control_socket: {path} exists and is not a socket")
    if socket_answers(path):
        raise ListenerError(f"[api].control_socket: another daemon is already listening on {path}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def _umask(mask: int) -> Generator[None, None, None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def bind_unix(path: Path, *, backlog: int = 128) -> socket.socket:
    """Bind and listen on the control socket with mode 0660, before anything is served.

    The parent directory is created (0750) when systemd's ``RuntimeDirectory=`` did not.
    """
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise ListenerError(
            f"[api].control_socket: cannot create {path.parent}: {exc.strerror}"
        ) from None
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The umask keeps the file private between bind() and chmod(); nobody can
        # connect before listen() anyway, but no window is better than a small one.
        with _umask(0o177):
            sock.bind(str(path))
        os.chmod(path, SOCKET_MODE)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenerError(f"[api].control_socket: cannot listen on {path}: {exc}") from None
    sock.setblocking(False)
    return sock


def remove_socket(path: Path, inode: int) -> None:
    """Unlink the control socket, unless another process has replaced it since.

    ``inode`` is the one the socket had when bound (the socket itself is closed by now).
    """
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        return


def bind_tcp(host: str, port: int, *, backlog: int = 128) -> socket.socket:
    """Bind and listen on the TCP query listener (port 0 in tests means a free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"[api].tcp_host: cannot resolve {host!r}: {exc}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        raise ListenerError(f"[api].tcp_port: cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the daemon and serves a socket we bound."""

    def __init__(self, app: ASGIApp, sock: socket.socket, *, name: str) -> None:
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,
        )
        super().__init__(config)
        self.sock = sock
        self.name = name
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do nothing: the daemon owns SIGTERM/SIGINT/SIGHUP (uvicorn#1600)."""
        yield

    async def start(self) -> None:
        """Start serving and return once the server accepts connections."""
        self._task = asyncio.create_task(self.serve(sockets=[self.sock]), name=self.name)
        timeout = _START_TIMEOUT_S
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.started:
            if self._task.done():
                self._task.result()
                raise ListenerError(f"{self.name} server stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise ListenerError(f"{self.name} server did not start within {timeout} s")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Ask the server to finish its requests and wait for it."""
        self.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def healthy(self) -> bool:
        """The server task is still running."""
        return self._task is not None and not self._task.done()
