"""Start a real simulator for tests: ``with running_sim(seed=1) as sim: ...``.

``running_sim(**options)`` starts the simulator (uvicorn + starlette, WebSocket on the
same port) in a background thread with its own event loop on 127.0.0.1, port 0 (a free
port), waits until it accepts, yields a :class:`SimHandle`, and stops it on exit.

Options (all keyword, see :class:`v7d.sim.options.SimOptions`):

- ``seed`` (7), ``days`` of history (30), ``symbols_listed`` (300), ``symbols_active`` (6),
  ``trades_per_day`` (400, for the whole account), ``hedge_mode`` (False)
- ``live_rate``: live events per second (0: no live activity)
- ``faults``: a profile name (``none`` ``flaky`` ``ratelimit`` ``slow`` ``wsdrop``
  ``keyexpiry`` ``silent`` ``clockskew`` ``chaos``); ``fault_rates``: overrides, e.g.
  ``{"p_5xx": 0.3}`` (see :class:`v7d.sim.faults.FaultRates`)
- ``weight_limit`` per minute (2400), ``time_scale`` (1; 3600 makes an hour a second),
  ``time_offset_ms``, ``anchor_ms`` (end of generated history; default now)
- ``api_key`` / ``secret`` (random when not given)
- [?] switches: ``retry_after`` (True: send Retry-After on 429/418), ``trade_ids``
  ("per_symbol" | "global"), ``window_error`` ("-1127" | "-1100"),
  ``income_max_window_days`` (None | 7)
- ``sweep_fills`` (1200): fills of the one-millisecond market sweep; ``ban_grace_ms``,
  ``ban_after_violations``: how 429s escalate to 418

The handle's methods talk to the server over HTTP (``/_sim/...``), so they are safe from
any thread. Every truth item carries ``retrievable`` (False once Binance's REST would no
longer return it); the other keys are DESIGN.md's item fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from v7d.sim.options import SimOptions
from v7d.sim.server import SimServer
from v7d.sim.simulator import Simulator

__all__ = ["SimHandle", "running_sim"]


@dataclass
class SimHandle:
    """A running simulator: URLs, credentials and control calls."""

    server: SimServer
    rest_url: str
    ws_url: str
    api_key: str
    secret: str

    @property
    def sim(self) -> Simulator:
        """The underlying Simulator (touch it only from the server's loop or while idle)."""
        return self.server.sim

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.rest_url, timeout=120.0)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A control GET; an error status raises ``httpx.HTTPStatusError``."""
        with self._client() as c:
            r = c.get(path, params=params)
        r.raise_for_status()
        return r

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A control POST; a refusal raises ``ValueError`` with the simulator's message."""
        with self._client() as c:
            r = c.post(path, json=body)
        if r.status_code != 200:
            raise ValueError(r.json()["error"]["message"])
        answer: dict[str, Any] = r.json()
        return answer

    def truth(self, start_ms: int | None = None, end_ms: int | None = None) -> dict[str, Any]:
        """``GET /_sim/truth``: orders, trades, income, algo_orders in [start_ms, end_ms)."""
        answer: dict[str, Any] = self._get("/_sim/truth", _range(start_ms, end_ms)).json()
        return answer

    def truth_bytes(self, start_ms: int | None = None, end_ms: int | None = None) -> bytes:
        """The raw truth body (for byte-identity checks)."""
        return self._get("/_sim/truth", _range(start_ms, end_ms)).content

    def stats(self) -> dict[str, Any]:
        """``GET /_sim/stats``."""
        answer: dict[str, Any] = self._get("/_sim/stats").json()
        return answer

    def info(self) -> dict[str, Any]:
        """``GET /_sim/info``: history start/anchor (ms), active and delisted symbols."""
        answer: dict[str, Any] = self._get("/_sim/info").json()
        return answer

    def set_faults(self, profile: str, **rates: Any) -> dict[str, Any]:
        """``POST /_sim/faults``: switch profile (rates overridable)."""
        return self._post("/_sim/faults", {"profile": profile, "rates": rates})

    def add_activity(self, **spec: Any) -> dict[str, Any]:
        """``POST /_sim/activity``: e.g. ``add_activity(kind="fill", symbol="BTCUSDT", fills=3)``.

        Kinds: fill, limit, fill_open, partial_cancel, cancel, expire, liquidation, funding,
        algo, algo_cancel, algo_trigger; ``symbols=[...]`` for several symbols, ``count``
        repeats. Answers the ids made: orders, trades, algo_orders, funding_rows.
        """
        return self._post("/_sim/activity", spec)

    def restart(self, down_s: float = 0.0) -> None:
        """Take the whole exchange down (REST and stream) for ``down_s`` s, then back up on
        the same URLs with the same history, keys and counters."""
        self.server.restart(down_s)

    def drop_connections(self) -> int:
        """Close every stream connection now; returns how many were open."""
        with self._client() as c:
            r = c.post("/_sim/drop_connections")
        r.raise_for_status()
        return int(r.json()["dropped"])


def _range(start_ms: int | None, end_ms: int | None) -> dict[str, int]:
    """The truth query's bounds, leaving out the open ones."""
    return {k: v for k, v in (("start_ms", start_ms), ("end_ms", end_ms)) if v is not None}


@contextmanager
def running_sim(**options: Any) -> Iterator[SimHandle]:
    """Run a simulator for the duration of the ``with`` block (see the module docstring)."""
    server = SimServer(SimOptions(**options))
    server.start()
    try:
        yield SimHandle(
            server=server,
            rest_url=server.rest_url,
            ws_url=server.ws_url,
            api_key=server.sim.api_key,
            secret=server.sim.secret,
        )
    finally:
        server.stop()
