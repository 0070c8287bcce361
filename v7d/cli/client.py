"""The HTTP client every ``v7ctl`` command uses: httpx over the daemon's Unix socket.

Socket discovery (DESIGN.md): ``--socket``, then ``$V7D_SOCKET``, then the config's
``[api].control_socket`` (config from ``$V7D_CONFIG`` or ``/etc/v7d/v7d.toml``), then
``/run/v7d/control.sock``. Every failure a user can cause or fix — no daemon, no
permission, a refused request — becomes one :class:`click.ClickException` line.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

__all__ = [
    "DEFAULT_SOCKET",
    "ControlClient",
    "resolve_socket",
    "socket_option",
    "socket_path_option",
]

DEFAULT_SOCKET = Path("/run/v7d/control.sock")
F = TypeVar("F", bound=Callable[..., Any])


def resolve_socket(explicit: str | Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """Where the daemon listens: the option, ``$V7D_SOCKET``, the config, the default."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("V7D_SOCKET"):
        return Path(env["V7D_SOCKET"])
    from v7d.config import config_path, load_config
    from v7d.errors import ConfigError

    path = config_path(None, env)
    if not path.exists():
        return DEFAULT_SOCKET
    try:
        return Path(load_config(path, environ=env).api.control_socket)
    except ConfigError as exc:
        raise click.ClickException(f"cannot find the socket from the config: {exc}") from None


class ControlClient:
    """Talks to the daemon at ``socket_path``; errors come out as ClickException."""

    def __init__(self, socket_path: str | Path, *, timeout: float = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def _client(self, timeout: float | None) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        return httpx.Client(
            transport=transport, base_url="http://v7d", timeout=timeout or self.timeout
        )

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: Collection[int] = (),
        timeout: float | None = None,
    ) -> Any:
        """GET ``path`` and return the decoded JSON answer (``accept``: error statuses
        whose body is still wanted, e.g. 503 from ``/health``)."""
        with self.stream("GET", path, params=params, accept=accept, timeout=timeout) as resp:
            return _json(resp.read(), path)

    def post(self, path: str, json: Any = None, *, timeout: float | None = None) -> Any:
        """POST ``path`` (JSON body) and return the decoded JSON answer."""
        with self.stream("POST", path, json=json, timeout=timeout) as resp:
            return _json(resp.read(), path)

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        accept: Collection[int] = (),
    ) -> Iterator[httpx.Response]:
        """Send a request and yield the (2xx) response unread, for streamed bodies."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        with contextlib.suppress(PermissionError):  # a closed directory: let connect() say so
            if not self.socket_path.exists():
                # Checked first because httpcore leaks the socket of a failed UDS connect.
                raise click.ClickException(self._no_daemon())
        try:
            with (
                self._client(timeout) as client,
                client.stream(method, path, params=clean, json=json) as resp,
            ):
                if resp.status_code >= 400 and resp.status_code not in accept:
                    resp.read()
                    raise click.ClickException(_refusal(resp))
                yield resp
        except httpx.TimeoutException:
            raise click.ClickException(
                f"the daemon at {self.socket_path} did not answer within "
                f"{timeout or self.timeout:.0f} s"
            ) from None
        except httpx.TransportError as exc:
            raise click.ClickException(self._unreachable(exc)) from None

    def _no_daemon(self) -> str:
        return (
            f"no daemon: {self.socket_path} does not exist (is v7d running? "
            "choose the socket with --socket or V7D_SOCKET)"
        )

    def _unreachable(self, exc: httpx.TransportError) -> str:
        path = self.socket_path
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        try:
            missing = not path.exists()
        except PermissionError:
            # The socket's directory (e.g. /run/v7d, 0750) is closed to this user.
            missing, cause = False, PermissionError()
        if isinstance(cause, PermissionError):
            return (
                f"permission denied on {path}: run as a member of its group (e.g. v7d) or as root"
            )
        if missing or isinstance(cause, FileNotFoundError):
            return self._no_daemon()
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing is listening on {path} (the daemon is not running)"
        return f"cannot talk to the daemon at {path}: {exc}"


def _refusal(resp: httpx.Response) -> str:
    try:
        error = resp.json()["error"]
        return f"{error['message']} ({error['code']}, HTTP {resp.status_code})"
    except (ValueError, KeyError, TypeError):
        text = resp.text.strip().splitlines()[0] if resp.text.strip() else ""
        return f"the daemon refused the request: HTTP {resp.status_code} {text}".rstrip()


def _json(raw: bytes, path: str) -> Any:
    import json

    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise click.ClickException(f"the daemon's answer to {path} is not JSON") from None


#: ``--socket PATH`` as ``socket_path``: on the ``v7ctl`` group and on every command.
socket_path_option = click.option(
    "--socket",
    "socket_path",
    default=None,
    metavar="PATH",
    help="The daemon's control socket (default: $V7D_SOCKET, then the config).",
)


def socket_option(func: F) -> F:
    """Add ``--socket PATH`` and pass ``client: ControlClient`` to the command.

    A ``--socket`` given to the ``v7ctl`` group itself is used when the command has none.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, socket_path: str | None, **kw: Any) -> Any:
        ctx = click.get_current_context()
        root = ctx.find_root().params.get("socket_path")
        kw["client"] = ControlClient(resolve_socket(socket_path or root))
        return func(*args, **kw)

    return socket_path_option(wrapper)  # type: ignore[return-value]
