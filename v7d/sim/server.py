"""Run a Simulator under uvicorn in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from v7d.sim.options import SimOptions
from v7d.sim.simulator import Simulator

__all__ = ["SimServer"]


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding program owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SimServer:
    """A simulator listening on ``host:port`` (port 0: a free one) in a daemon thread."""

    def __init__(
        self,
        options: SimOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        use_uvloop: bool = False,
    ) -> None:
        self.sim = Simulator(options)
        self.host = host
        self.port = port
        self._sock = self._bind()
        self.port = self._sock.getsockname()[1]
        self._use_uvloop = use_uvloop
        self._server = self._make_server()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _bind(self) -> socket.socket:
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets, and
        # without it every answer waits for the client's delayed ACK (~40 ms)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        return sock

    def _make_server(self) -> _Server:
        scale = self.sim.opts.time_scale
        config = uvicorn.Config(
            self.sim.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http="h11",
            ws="websockets-sansio",
            # Binance pings every 3 min and drops a client without pong within 10 min
            ws_ping_interval=180.0 / scale,
            ws_ping_timeout=600.0 / scale,
            timeout_graceful_shutdown=2,
            server_header=False,
            date_header=True,
        )
        return _Server(config)

    @property
    def rest_url(self) -> str:
        """``http://host:port``: replace fapi.binance.com's origin with this."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port``: the stream is at ``/private/ws/<listenKey>`` below it."""
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; return once the server accepts connections."""
        self._thread = threading.Thread(target=self._run, name=f"v7d-sim:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None:
                raise RuntimeError(f"simulator failed to start: {self._error!r}") from self._error
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)

    def _run(self) -> None:
        try:
            if self._use_uvloop:
                import uvloop

                uvloop.run(self._server.serve(sockets=[self._sock]))
            else:
                asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as e:  # reported to start() / stop()
            self._error = e

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def restart(self, down_s: float = 0.0) -> None:
        """Stop serving (every connection drops), stay down ``down_s`` seconds, serve again
        on the same port with the same account, keys and counters."""
        self.stop()
        time.sleep(down_s)
        self._sock = self._bind()
        self._server = self._make_server()
        self._error = None
        self.start()

    def wait(self) -> None:
        """Block until the server stops (standalone use)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(0.5)
