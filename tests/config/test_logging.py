"""Logging: journal priority prefixes, one line per event, formats, redaction, stdlib routing.

Events are asserted as dicts where the shape matters (capture_logs) and as rendered text
where the rendering is the contract (journald reads ``<N>`` prefixes from each line).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from v7d.logging import (
    configure_logging,
    is_secret_key,
    redact_text,
    reset_logging,
    resolve_format,
)

LISTEN_KEY = "pqHfFNw8xNgVZzWHJgVh3dSJTbmDw0kBF4a7bqXh0hDuYt9FLfRt6tHzHkmVxhZi"
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3t"


class TTYBuffer(io.StringIO):
    """A StringIO that claims to be a terminal."""

    def isatty(self) -> bool:
        """Pretend to be a tty."""
        return True


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    """Leave structlog and the root logger as they were for other tests."""
    yield
    reset_logging()


def configured(fmt: str, level: str = "debug") -> io.StringIO:
    """Configure logging into a fresh buffer and return it."""
    buffer = io.StringIO()
    configure_logging(level, fmt, buffer, environ={})
    return buffer


def lines(buffer: io.StringIO) -> list[str]:
    """The rendered lines so far."""
    return buffer.getvalue().splitlines()


class TestJournal:
    """The journal format: <N> prefix, logfmt fields, one line per event."""

    def test_priority_prefixes(self) -> None:
        """Each level gets its syslog priority prefix."""
        buffer = configured("journal")
        log = structlog.get_logger()
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        log.critical("c")
        assert lines(buffer) == ["<7>d", "<6>i", "<4>w", "<3>e", "<2>c"]

    def test_fields_logfmt(self) -> None:
        """Fields follow the event as key=value; strings with spaces are quoted."""
        buffer = configured("journal")
        structlog.get_logger().info(
            "window_done", symbol="BTCUSDT", rows=500, ok=True, gap=None, note="two words"
        )
        assert lines(buffer) == [
            '<6>window_done symbol=BTCUSDT rows=500 ok=true gap=null note="two words"'
        ]

    def test_no_timestamp_no_ansi(self) -> None:
        """journald stamps lines itself, and nothing carries colour codes."""
        buffer = configured("journal")
        structlog.get_logger().info("x")
        assert "\x1b[" not in buffer.getvalue()
        assert "timestamp" not in buffer.getvalue()

    def test_exception_is_one_line(self) -> None:
        """A traceback stays inside one line as an escaped exception field."""
        buffer = configured("journal")
        try:
            raise RuntimeError("bad\nthing")
        except RuntimeError:
            structlog.get_logger().exception("task_failed", task="poller")
        (line,) = lines(buffer)
        assert line.startswith("<3>task_failed task=poller exception=")
        assert "Traceback (most recent call last):\\n" in line
        assert "RuntimeError: bad\\nthing" in line

    def test_multiline_values_and_event(self) -> None:
        """Newlines in the event or a value never split an event across lines."""
        buffer = configured("journal")
        structlog.get_logger().warning("first\nsecond", body="a\nb", items=["x y", 1])
        assert lines(buffer) == ['<4>first\\nsecond body="a\\nb" items="[\\"x y\\",1]"']

    def test_contextvars_are_merged(self) -> None:
        """Context bound with bind_contextvars appears on every event."""
        buffer = configured("journal")
        with structlog.contextvars.bound_contextvars(account="main", task="backfill"):
            structlog.get_logger().info("started")
        # Order follows contextvar creation (process-wide), so compare the fields as a set.
        (line,) = lines(buffer)
        head, *fields = line.split(" ")
        assert head == "<6>started"
        assert sorted(fields) == ["account=main", "task=backfill"]


class TestOtherFormats:
    """json and console formats, and level filtering."""

    def test_json_one_object_per_line(self) -> None:
        """json renders one object per line with ISO UTC timestamp and level."""
        buffer = configured("json")
        log = structlog.get_logger()
        log.info("a", n=1)
        try:
            raise ValueError("x")
        except ValueError:
            log.exception("b")
        first, second = (json.loads(line) for line in lines(buffer))
        assert first["event"] == "a" and first["n"] == 1 and first["level"] == "info"
        assert first["timestamp"].endswith("Z")
        assert second["level"] == "error"
        assert "ValueError: x" in second["exception"]

    def test_console_plain_without_tty(self) -> None:
        """console on a non-tty writes no colour codes."""
        buffer = configured("console")
        structlog.get_logger().warning("hello", k="v")
        text = buffer.getvalue()
        assert "hello" in text and "k=v" in text and "\x1b[" not in text

    def test_console_colours_on_tty(self) -> None:
        """console on a tty uses colour."""
        buffer = TTYBuffer()
        configure_logging("info", "console", buffer, environ={})
        structlog.get_logger().warning("hello")
        assert "\x1b[" in buffer.getvalue()

    def test_level_filters(self) -> None:
        """Events below the configured level are dropped."""
        buffer = configured("journal", level="warning")
        log = structlog.get_logger()
        log.info("no")
        log.warning("yes")
        assert lines(buffer) == ["<4>yes"]

    def test_reconfigure_changes_level_and_format(self) -> None:
        """Calling again (SIGHUP) switches level and format for loggers already created."""
        log = structlog.get_logger("kept")
        first = configured("journal", level="error")
        log.info("hidden")
        second = configured("json", level="debug")
        log.debug("shown")
        assert first.getvalue() == ""
        assert json.loads(second.getvalue())["event"] == "shown"
        assert len(logging.getLogger().handlers) == len(
            {id(h) for h in logging.getLogger().handlers}
        )

    def test_bad_level_and_format(self) -> None:
        """Unknown level or format names are refused."""
        with pytest.raises(ValueError, match="log level"):
            configure_logging("verbose", "json", io.StringIO())
        with pytest.raises(ValueError, match="log format"):
            configure_logging("info", "xml", io.StringIO())


class TestAuto:
    """auto picks journal under systemd, console on a tty, else json."""

    def test_journal_stream(self) -> None:
        """$JOURNAL_STREAM set means journal."""
        assert resolve_format("auto", TTYBuffer(), {"JOURNAL_STREAM": "8:1234"}) == "journal"

    def test_tty(self) -> None:
        """A terminal without systemd means console."""
        assert resolve_format("auto", TTYBuffer(), {}) == "console"

    def test_pipe(self) -> None:
        """Neither means json."""
        assert resolve_format("auto", io.StringIO(), {}) == "json"

    def test_configure_auto_under_systemd(self) -> None:
        """configure_logging("info", "auto") with JOURNAL_STREAM writes journal lines."""
        buffer = TTYBuffer()
        configure_logging("info", "auto", buffer, environ={"JOURNAL_STREAM": "8:99"})
        structlog.get_logger().warning("w", n=1)
        assert buffer.getvalue() == "<4>w n=1\n"

    def test_explicit_format_kept(self) -> None:
        """An explicit format is used even under systemd."""
        assert resolve_format("json", TTYBuffer(), {"JOURNAL_STREAM": "8:1"}) == "json"


class TestStdlib:
    """Standard-library loggers are routed through the same rendering at WARNING+."""

    def test_warnings_rendered_with_logger_name(self) -> None:
        """A uvicorn warning comes out in the journal format naming its logger."""
        buffer = configured("journal")
        logging.getLogger("uvicorn.error").warning("port %d busy", 8787)
        assert lines(buffer) == ["<4>port 8787 busy logger=uvicorn.error"]

    def test_info_dropped_even_at_debug(self) -> None:
        """Library INFO chatter (and the access log) stays out even when v7d logs debug."""
        buffer = configured("journal", level="debug")
        logging.getLogger("websockets.client").info("connecting")
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /health"')
        assert buffer.getvalue() == ""

    def test_stdlib_exception_one_line(self) -> None:
        """A library's logged exception is one journal line, traceback escaped."""
        buffer = configured("journal")
        try:
            raise OSError("reset")
        except OSError:
            logging.getLogger("ccxt").exception("request failed")
        (line,) = lines(buffer)
        assert line.startswith("<3>request failed ")
        assert "OSError: reset" in line

    def test_stdlib_urls_redacted(self) -> None:
        """A signature in a library's message is cut."""
        buffer = configured("journal")
        logging.getLogger("ccxt").warning(
            "GET https://fapi.binance.com/fapi/v1/userTrades?timestamp=1&signature=%s", SECRET
        )
        assert SECRET not in buffer.getvalue()
        assert "signature=S3cr…" in buffer.getvalue()

    def test_reconfigure_keeps_one_handler(self) -> None:
        """Configuring twice does not print library lines twice."""
        configured("journal")
        buffer = configured("journal")
        logging.getLogger("x").error("once")
        assert lines(buffer) == ["<3>once logger=x"]


class TestRedaction:
    """Secrets never reach rendered output or captured events."""

    @pytest.mark.parametrize(
        "key",
        [
            "secret",
            "api_key",
            "apiKey",
            "X-MBX-APIKEY",
            "listen_key",
            "listenKey",
            "signature",
            "token",
            "bearer_token",
            "Authorization",
            "password",
        ],
    )
    def test_secret_keys(self, key: str) -> None:
        """Keys named like secrets are recognised."""
        assert is_secret_key(key)

    @pytest.mark.parametrize("key", ["tokens_available", "symbol", "keys", "listen", "path"])
    def test_ordinary_keys(self, key: str) -> None:
        """Ordinary keys (even ones containing a secret word as part) are left alone."""
        assert not is_secret_key(key)

    def test_fields_masked_in_output(self) -> None:
        """Secret fields show their first 4 characters only, also inside nested dicts."""
        buffer = configured("journal")
        structlog.get_logger().info(
            "req", secret=SECRET, headers={"X-MBX-APIKEY": SECRET}, tokens_available=3
        )
        text = buffer.getvalue()
        assert SECRET not in text
        assert "secret=S3cr…" in text and "tokens_available=3" in text

    def test_short_secret_fully_hidden(self) -> None:
        """Short secrets are shown as *** (4 characters would reveal too much)."""
        buffer = configured("journal")
        structlog.get_logger().info("x", token="abc123")
        assert lines(buffer) == ["<6>x token=***"]

    @pytest.mark.parametrize(
        "url",
        [
            f"wss://fstream.binance.com/private/ws/{LISTEN_KEY}",
            f"wss://fstream.binance.com/private/ws?listenKey={LISTEN_KEY}&events=ORDER_TRADE_UPDATE",
            f"ws://127.0.0.1:9900/ws/{LISTEN_KEY}",
            f"https://fapi.binance.com/fapi/v1/allOrders?symbol=BTCUSDT&signature={LISTEN_KEY}",
        ],
    )
    def test_urls_cut(self, url: str) -> None:
        """Listen keys and signatures inside URLs are cut, the rest of the URL kept."""
        cut = redact_text(url)
        assert LISTEN_KEY not in cut
        assert LISTEN_KEY[:4] + "…" in cut
        assert cut.split("?")[0].startswith(url.split("?")[0][:20])

    def test_url_in_event_and_exception_cut(self) -> None:
        """A listen key inside the event text or a traceback is cut too."""
        buffer = configured("json")
        try:
            raise ConnectionError(f"closed wss://h/private/ws/{LISTEN_KEY}")
        except ConnectionError:
            structlog.get_logger().exception(f"stream_lost /ws/{LISTEN_KEY}")
        assert LISTEN_KEY not in buffer.getvalue()

    def test_capture_logs_sees_events(self) -> None:
        """capture_logs still works after configure_logging (tests rely on it)."""
        configured("journal")
        with capture_logs() as logs:
            structlog.get_logger().info("seen", n=1)
        assert logs == [{"event": "seen", "n": 1, "log_level": "info"}]
