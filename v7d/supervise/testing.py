"""Run ``v7d run`` as a real subprocess and listen to its sd_notify messages.

Used by the daemon's tests, the start-up benchmark and ``v7d demo``::

    with NotifyRecorder(short_dir) as notify:
        daemon = DaemonProcess(config_path, notify=notify).start()
        daemon.wait_ready()
        daemon.get("/health")
        assert daemon.stop() == 0

Everything here is real: a datagram socket at ``$NOTIFY_SOCKET``, a child process, and
HTTP over the daemon's Unix socket.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from v7d.supervise.servers import socket_answers

if TYPE_CHECKING:
    from v7d.sim.testing import SimHandle

__all__ = ["DaemonProcess", "NotifyRecorder", "free_port", "write_config", "write_sim_config"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    directory: Path,
    *,
    rest_url: str = "http://127.0.0.1:9",
    ws_url: str = "ws://127.0.0.1:9",
    credentials: Path | None = None,
    tcp_port: int | None = None,
    extra: str = "",
    sync: str = "",
) -> Path:
    """Write a config for a daemon living in ``directory`` (state, socket, credentials)."""
    directory = Path(directory)
    if credentials is None:
        credentials = directory / "credentials"
        if not credentials.exists():
            credentials.write_text("api_key=testkey0000\nsecret=testsecret0000\n")
            credentials.chmod(0o600)
    port = free_port() if tcp_port is None else tcp_port
    text = f"""\
[storage]
path = "{directory / "state" / "history.db"}"

[exchange]
environment = "custom"
rest_url = "{rest_url}"
ws_url = "{ws_url}"
credentials = "{credentials}"

[sync]
{sync}

[api]
tcp_host = "127.0.0.1"
tcp_port = {port}
control_socket = "{directory / "run" / "control.sock"}"
{extra}
"""
    path = directory / "v7d.toml"
    path.write_text(text)
    return path


def write_sim_config(directory: Path, sim: SimHandle, *, rate: float, burst: int) -> Path:
    """:func:`write_config` against the running simulator ``sim``: its key written to
    ``directory/credentials`` (0600), REST requests at ``rate``/s with bursts of ``burst``."""
    from v7d.sim.cli import write_credentials  # the simulator only where a test uses one

    creds = Path(directory) / "credentials"
    write_credentials(creds, sim.api_key, sim.secret)
    return write_config(
        directory,
        rest_url=sim.rest_url,
        ws_url=sim.ws_url,
        credentials=creds,
        sync=f"request_rate_per_sec = {rate}\nrequest_burst = {burst}",
    )


class NotifyRecorder:
    """An AF_UNIX/SOCK_DGRAM socket that records every sd_notify datagram it receives."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "notify.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True, name="notify-recorder")
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append((time.monotonic(), data.decode(errors="replace")))
                self._cond.notify_all()

    def texts(self) -> list[str]:
        """Every datagram so far, in order."""
        with self._cond:
            return [text for _, text in self.messages]

    def fields(self, name: str) -> list[tuple[float, str]]:
        """(arrival, value) of every ``NAME=value`` line received, in order."""
        out = []
        with self._cond:
            for at, text in self.messages:
                for line in text.split("\n"):
                    key, _, value = line.partition("=")
                    if key == name:
                        out.append((at, value))
        return out

    def wait_for(
        self, name: str, value: str | None = None, *, after: int = 0, timeout: float = 10.0
    ) -> str:
        """Wait for a datagram (index >= ``after``) with ``NAME=value``; return the datagram."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, text in self.messages[after:]:
                    for line in text.split("\n"):
                        key, _, got = line.partition("=")
                        if key == name and (value is None or got == value):
                            return text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no {name}={value or '*'} within {timeout} s: {self.texts()}"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self._closed = True
        self._sock.close()
        self._thread.join(timeout=1)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> NotifyRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _v7d_command() -> list[str]:
    exe = Path(sys.executable).with_name("v7d")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from v7d.cli.daemon_cli import main; main()"]


class DaemonProcess:
    """``v7d run --config PATH`` as a child process, with its stderr collected."""

    def __init__(
        self,
        config_path: Path,
        *,
        notify: NotifyRecorder | None = None,
        env: Mapping[str, str] | None = None,
        log_format: str = "json",
        socket_path: Path | None = None,
        log_file: Path | None = None,
        detach: bool = False,
    ) -> None:
        self.config_path = Path(config_path)
        self.notify = notify
        self.socket_path = socket_path or self.config_path.parent / "run" / "control.sock"
        self._env = dict(env or {})
        self._log_format = log_format
        # log_file + detach: the daemon may outlive this process (``v7d demo --keep``),
        # so it must not write into a pipe that closes, nor share our Ctrl-C.
        self.log_file = log_file
        self._detach = detach
        self.proc: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None
        self._started_at = 0.0
        self._notify_mark = 0

    @property
    def output(self) -> str:
        """Everything the daemon wrote to stderr/stdout so far."""
        if self.log_file is not None:
            return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "".join(self._lines)

    def start(self) -> DaemonProcess:
        """Spawn the daemon; returns at once (see :meth:`wait_ready`)."""
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        if self.notify is not None:
            env["NOTIFY_SOCKET"] = str(self.notify.path)
        env.update(self._env)
        cmd = [*_v7d_command(), "run", "--config", str(self.config_path)]
        if self._log_format:
            cmd += ["--log-format", self._log_format]
        self._started_at = time.monotonic()
        # READY=1 of an earlier daemon on the same recorder must not count for this one.
        self._notify_mark = len(self.notify.texts()) if self.notify is not None else 0
        if self.log_file is not None:
            with self.log_file.open("ab") as log:
                self.proc = subprocess.Popen(
                    cmd,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=self._detach,
                )
            return self
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=self._detach,
        )
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        return self

    def _collect(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.append(raw.decode(errors="replace"))
        self.proc.stdout.close()

    def wait_ready(self, timeout: float = 15.0) -> float:
        """Wait for READY=1 (or, without a recorder, a /health answer); seconds it took."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.output}")
            if self.notify is not None:
                try:
                    self.notify.wait_for("READY", "1", after=self._notify_mark, timeout=0.05)
                    return time.monotonic() - self._started_at
                except TimeoutError:
                    continue
            # A raw probe first: httpx leaves its socket unclosed when a Unix connect fails.
            if socket_answers(self.socket_path):
                self.get("/health", timeout=5)
                return time.monotonic() - self._started_at
            time.sleep(0.02)
        raise TimeoutError(f"daemon not ready after {timeout} s:\n{self.output}")

    def client(self, timeout: float = 10.0) -> httpx.Client:
        """An httpx client over the control socket (``http://v7d/...``)."""
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        return httpx.Client(transport=transport, base_url="http://v7d", timeout=timeout)

    def get(self, path: str, timeout: float = 10.0, **kw: Any) -> httpx.Response:
        """GET ``path`` over the control socket."""
        with self.client(timeout) as c:
            return c.get(path, **kw)

    def post(self, path: str, timeout: float = 30.0, **kw: Any) -> httpx.Response:
        """POST ``path`` over the control socket."""
        with self.client(timeout) as c:
            return c.post(path, **kw)

    def send_signal(self, sig: signal.Signals) -> None:
        """Deliver ``sig`` to the daemon."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_until(self, check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Poll ``check`` until true; TimeoutError naming ``what`` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what or check}:\n{self.output[-4000:]}")

    def stop(self, timeout: float = 20.0, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` (SIGTERM) and wait for the exit code; kill after ``timeout``."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        if self._reader is not None:
            self._reader.join(timeout=2)
        return rc

    def kill(self) -> None:
        """SIGKILL the daemon (crash tests) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(timeout=15)
