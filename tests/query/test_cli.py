"""``v7ctl`` query commands against the query app served by uvicorn on a Unix socket."""

from __future__ import annotations

import csv
import gc
import io
import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import uvicorn
from click.testing import CliRunner

from tests.query.rig import make_app
from tests.query.truth import DAY, T0, Truth
from v7d.cli.query_commands import parse_time
from v7d.cli.v7ctl import main


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 name; harmless otherwise
        pass

    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        import contextlib

        return contextlib.nullcontext()


@pytest.fixture(scope="module")
def socket_path(store_path: Path) -> Iterator[str]:
    """The query app listening on a Unix socket in a background thread."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="v7dcli-", dir="/tmp") as d:
        sock = str(Path(d) / "q.sock")
        config = uvicorn.Config(make_app(store_path), uds=sock, log_level="warning",
                                lifespan="off")  # fmt: skip
        server = _Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        yield sock
        server.should_exit = True
        thread.join(5)


def _run(socket_path: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--socket", socket_path, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


class TestQueryCommands:
    """Each command shows the endpoint's answer, as a table or as JSON."""

    def test_trades_json(self, socket_path: str, truth: Truth) -> None:
        """--json --all prints every trade of the symbol as the API's items."""
        out = json.loads(_run(socket_path, "trades", "--symbol", "BTCUSDT", "--all", "--json"))
        assert len(out) == sum(1 for t in truth.trades if t["symbol"] == "BTCUSDT")

    def test_orders_table(self, socket_path: str) -> None:
        """The table has a header and the asked number of rows."""
        out = _run(socket_path, "orders", "--status", "FILLED", "--limit", "5")
        lines = out.strip().splitlines()
        assert lines[0].split()[:3] == ["TIME", "SYMBOL", "ORDER_ID"] and len(lines) == 6

    def test_stats(self, socket_path: str) -> None:
        """stats prints per-asset rows and the coverage verdict; --json the summary."""
        out = _run(socket_path, "stats", "--symbol", "BTCUSDT")
        assert "USDT" in out and "coverage:" in out
        doc = json.loads(_run(socket_path, "stats", "--json", "--prefix", "alpha-"))
        assert doc["cut"]["client_order_id_prefix"] == "alpha-"

    def test_symbols_and_positions(self, socket_path: str) -> None:
        """symbols and positions render their items."""
        assert "SOLUSDC" in _run(socket_path, "symbols")
        assert json.loads(_run(socket_path, "positions", "--json"))[0]["symbol"] == "BTCUSDT"

    def test_export_to_file(self, socket_path: str, tmp_path: Path, truth: Truth) -> None:
        """export --output writes the whole streamed CSV of the window."""
        target = tmp_path / "income.csv"
        _run(socket_path, "export", "--what", "income", "--since", str(T0 + DAY),
             "--until", str(T0 + 2 * DAY), "-o", str(target))  # fmt: skip
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert len(rows) == sum(1 for i in truth.income if T0 + DAY <= i["time"] < T0 + 2 * DAY)

    def test_bad_value_one_line(self, socket_path: str) -> None:
        """A value the daemon refuses is one line naming the parameter, exit non-zero."""
        result = CliRunner().invoke(main, ["--socket", socket_path, "orders", "--side", "UP"])
        assert result.exit_code != 0
        assert "side" in result.output and "Traceback" not in result.output

    def test_no_daemon(self, tmp_path: Path) -> None:
        """Without a daemon the command says so in one line."""
        # httpcore leaves the socket of a failed Unix connect for the GC to close (a
        # ResourceWarning, not this code's): collect it here, where it is expected.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            result = CliRunner().invoke(main, ["--socket", str(tmp_path / "none.sock"), "trades"])
            code, output = result.exit_code, result.output
            del result  # its exc_info chain holds the frame that holds the socket
            gc.collect()
        assert code != 0 and "no daemon" in output


class TestParseTime:
    """--since/--until accept ms, ISO times (UTC) and look-backs."""

    def test_forms(self) -> None:
        """Each accepted form gives the expected epoch ms."""
        assert parse_time("1700000000000") == 1_700_000_000_000
        assert parse_time("2023-11-15") == 1_700_006_400_000
        assert parse_time("2023-11-15T01:00:00+01:00") == 1_700_006_400_000
        assert parse_time("2d", now_ms=10 * DAY) == 8 * DAY

    def test_bad(self) -> None:
        """Anything else is a BadParameter naming the value."""
        with pytest.raises(click.BadParameter, match="yesterday"):
            parse_time("yesterday")
