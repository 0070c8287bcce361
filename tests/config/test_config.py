"""The configuration contract: every key's default, accepted values and refusals.

DESIGN.md "Configuration (contract)": TOML from --config, else V7D_CONFIG, else
/etc/v7d/v7d.toml; unknown keys and bad values are refused with one message naming the
key and the value, e.g. ``[sync].poll_interval: expected a number > 0, got "fast"``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from v7d.config import (
    LIVE_REST_URL,
    LIVE_WS_URL,
    TESTNET_REST_URL,
    TESTNET_WS_URL,
    AccountConfig,
    Config,
    load_config,
    parse_config,
)
from v7d.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "etc" / "v7d" / "v7d.toml"


def refused(data: dict[str, Any]) -> str:
    """Parse ``data``, expect a ConfigError, and return its message."""
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.toml")
    return str(info.value)


class TestShippedFile:
    """etc/v7d/v7d.toml and the dataclass defaults never drift apart."""

    def test_shipped_file_equals_defaults(self) -> None:
        """Loading the shipped file gives exactly Config.defaults()."""
        assert load_config(SHIPPED) == Config.defaults()

    def test_every_field_is_in_the_shipped_file(self) -> None:
        """Every key of every section dataclass is set explicitly in the shipped file."""
        data = tomllib.loads(SHIPPED.read_text())
        config = Config.defaults()
        for section in ("storage", "exchange", "sync", "api", "daemon", "log"):
            names = {f.name for f in dataclasses.fields(getattr(config, section))}
            assert set(data[section]) == names, section

    def test_accounts_example_is_documented(self) -> None:
        """The commented [[accounts]] example names every AccountConfig field."""
        text = SHIPPED.read_text()
        assert "# [[accounts]]" in text
        for f in dataclasses.fields(AccountConfig):
            assert f"# {f.name} = " in text

    def test_every_line_with_a_key_has_a_comment(self) -> None:
        """Each key line carries a one-line comment explaining it."""
        for line in SHIPPED.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                assert "  # " in line, line


class TestLocation:
    """Where the file comes from and how reading it fails."""

    def test_argument_beats_environment(self, tmp_path: Path) -> None:
        """An explicit path wins over V7D_CONFIG."""
        mine = tmp_path / "a.toml"
        mine.write_text('[log]\nlevel = "debug"\n')
        config = load_config(mine, environ={"V7D_CONFIG": str(tmp_path / "missing.toml")})
        assert config.log.level == "debug"
        assert config.source == str(mine)

    def test_environment_used_without_argument(self, tmp_path: Path) -> None:
        """Without a path, V7D_CONFIG names the file."""
        mine = tmp_path / "b.toml"
        mine.write_text('[log]\nformat = "json"\n')
        assert load_config(environ={"V7D_CONFIG": str(mine)}).log.format == "json"

    def test_default_location(self) -> None:
        """Without path or V7D_CONFIG, /etc/v7d/v7d.toml is read (here: named in the error)."""
        if Path("/etc/v7d/v7d.toml").exists():
            assert load_config(environ={}).source == "/etc/v7d/v7d.toml"
        else:
            with pytest.raises(
                ConfigError, match=re.escape("/etc/v7d/v7d.toml: config file not found")
            ):
                load_config(environ={})

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigError naming the path."""
        with pytest.raises(ConfigError, match=re.escape("nope.toml: config file not found")):
            load_config(tmp_path / "nope.toml", environ={})

    def test_directory(self, tmp_path: Path) -> None:
        """A directory is refused with a clear message."""
        with pytest.raises(ConfigError, match="is a directory"):
            load_config(tmp_path, environ={})

    def test_unreadable_path(self, tmp_path: Path) -> None:
        """A path that cannot be read (a file used as a directory) is refused, naming it."""
        (tmp_path / "plain").write_text("")
        with pytest.raises(
            ConfigError, match=re.escape("plain/v7d.toml: cannot read the config file")
        ):
            load_config(tmp_path / "plain" / "v7d.toml", environ={})

    def test_bad_toml(self, tmp_path: Path) -> None:
        """A TOML syntax error names the file and the line."""
        f = tmp_path / "bad.toml"
        f.write_text("[sync\npoll_interval = 1\n")
        with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 1"):
            load_config(f, environ={})

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are refused, naming the file."""
        f = tmp_path / "latin.toml"
        f.write_bytes(b'[log]\nlevel = "\xe9"\n')
        with pytest.raises(ConfigError, match=re.escape("latin.toml: not UTF-8")):
            load_config(f, environ={})

    def test_empty_file_gives_defaults(self, tmp_path: Path) -> None:
        """An empty file is valid and gives every default."""
        f = tmp_path / "empty.toml"
        f.write_text("")
        assert load_config(f, environ={}) == Config.defaults()

    def test_relative_paths_resolve_against_the_file(self, tmp_path: Path) -> None:
        """Relative paths are anchored at the config file's directory, not the cwd."""
        f = tmp_path / "v7d.toml"
        f.write_text(
            '[storage]\npath = "db/h.db"\n[exchange]\ncredentials = "creds"\n'
            '[api]\ntoken_file = "tok"\ncontrol_socket = "c.sock"\n'
        )
        config = load_config(f, environ={})
        assert config.storage.path == tmp_path / "db/h.db"
        assert config.exchange.credentials == tmp_path / "creds"
        assert config.accounts[0].credentials == tmp_path / "creds"
        assert config.api.token_file == tmp_path / "tok"
        assert config.api.control_socket == tmp_path / "c.sock"


class TestUnknown:
    """Unknown sections and keys are refused, with a hint when one is close."""

    def test_unknown_section(self) -> None:
        """A misspelt section is refused and the right one suggested."""
        msg = refused({"snyc": {}})
        assert msg.startswith('[snyc]: unknown section (did you mean "[sync]"?)')

    def test_unknown_key(self) -> None:
        """A misspelt key is refused, naming the section and suggesting the key."""
        msg = refused({"sync": {"poll_intervall": 3}})
        assert msg.startswith('[sync].poll_intervall: unknown key (did you mean "poll_interval"?)')

    def test_section_not_a_table(self) -> None:
        """A section given as a plain value is refused."""
        assert refused({"sync": 3}) == "[sync]: expected a table, got 3"

    def test_unknown_account_key(self) -> None:
        """An [[accounts]] table with an unknown key is refused."""
        msg = refused({"accounts": [{"name": "a", "credentials": "/c", "secret": "x"}]})
        assert msg.startswith("[[accounts]] #1.secret: unknown key")


# (section, key, accepted value, parsed value)
ACCEPTED: list[tuple[str, str, Any, Any]] = [
    ("storage", "path", "/srv/h.db", Path("/srv/h.db")),
    ("exchange", "environment", "testnet", "testnet"),
    ("exchange", "credentials", "/srv/creds", Path("/srv/creds")),
    ("sync", "universe", "all", "all"),
    ("sync", "symbols", ["BTCUSDT", "1000PEPEUSDT"], ("BTCUSDT", "1000PEPEUSDT")),
    ("sync", "poll_interval", 1, 1.0),
    ("sync", "poll_interval", 0.25, 0.25),
    ("sync", "reconcile_interval", 30.5, 30.5),
    ("sync", "overlap_ms", 0, 0),
    ("sync", "request_rate_per_sec", 20, 20.0),
    ("sync", "request_burst", 1, 1),
    ("sync", "max_weight_share", 1, 1.0),
    ("sync", "max_weight_share", 0.01, 0.01),
    ("api", "tcp_host", "::1", "::1"),
    ("api", "tcp_host", "localhost", "localhost"),
    ("api", "tcp_port", 0, 0),
    ("api", "tcp_port", 65535, 65535),
    ("api", "token_file", "/etc/v7d/token", Path("/etc/v7d/token")),
    ("api", "control_socket", "/tmp/v.sock", Path("/tmp/v.sock")),
    ("api", "query_timeout_ms", 1, 1),
    ("daemon", "drain_timeout", 0.5, 0.5),
    ("log", "level", "debug", "debug"),
    ("log", "level", "error", "error"),
    ("log", "format", "journal", "journal"),
    ("log", "format", "console", "console"),
    ("log", "format", "json", "json"),
]

# (section, key, refused value, the exact message)
REFUSED: list[tuple[str, str, Any, str]] = [
    ("storage", "path", "", '[storage].path: expected a path, got ""'),
    ("storage", "path", 5, "[storage].path: expected a path, got 5"),
    ("storage", "path", "a\0b", '[storage].path: expected a path, got "a\\u0000b"'),
    (
        "exchange",
        "environment",
        "prod",
        '[exchange].environment: expected one of "live", "testnet", "custom", got "prod"',
    ),
    ("exchange", "credentials", "", '[exchange].credentials: expected a path, got ""'),
    (
        "sync",
        "universe",
        "some",
        '[sync].universe: expected one of "active", "all", "list", got "some"',
    ),
    ("sync", "symbols", "BTCUSDT", '[sync].symbols: expected a list of symbols, got "BTCUSDT"'),
    (
        "sync",
        "symbols",
        ["btcusdt"],
        '[sync].symbols: expected upper-case symbols like "BTCUSDT", got "btcusdt"',
    ),
    (
        "sync",
        "symbols",
        ["B"],
        '[sync].symbols: expected upper-case symbols like "BTCUSDT", got "B"',
    ),
    ("sync", "symbols", [1], '[sync].symbols: expected upper-case symbols like "BTCUSDT", got 1'),
    ("sync", "symbols", ["ETHUSDT", "ETHUSDT"], '[sync].symbols: "ETHUSDT" is listed twice'),
    ("sync", "poll_interval", "fast", '[sync].poll_interval: expected a number > 0, got "fast"'),
    ("sync", "poll_interval", 0, "[sync].poll_interval: expected a number > 0, got 0"),
    ("sync", "poll_interval", -1.5, "[sync].poll_interval: expected a number > 0, got -1.5"),
    ("sync", "poll_interval", True, "[sync].poll_interval: expected a number > 0, got true"),
    ("sync", "poll_interval", float("inf"), "[sync].poll_interval: expected a number > 0, got inf"),
    ("sync", "poll_interval", float("nan"), "[sync].poll_interval: expected a number > 0, got nan"),
    (
        "sync",
        "reconcile_interval",
        0.0,
        "[sync].reconcile_interval: expected a number > 0, got 0.0",
    ),
    ("sync", "overlap_ms", -1, "[sync].overlap_ms: expected an integer >= 0, got -1"),
    ("sync", "overlap_ms", 1.5, "[sync].overlap_ms: expected an integer >= 0, got 1.5"),
    (
        "sync",
        "request_rate_per_sec",
        "5",
        '[sync].request_rate_per_sec: expected a number > 0, got "5"',
    ),
    ("sync", "request_burst", 0, "[sync].request_burst: expected an integer >= 1, got 0"),
    (
        "sync",
        "max_weight_share",
        1.5,
        "[sync].max_weight_share: expected a number > 0 and <= 1, got 1.5",
    ),
    (
        "sync",
        "max_weight_share",
        0,
        "[sync].max_weight_share: expected a number > 0 and <= 1, got 0",
    ),
    ("api", "tcp_host", "", '[api].tcp_host: expected a host name or IP address, got ""'),
    ("api", "tcp_host", 127, "[api].tcp_host: expected a string, got 127"),
    (
        "api",
        "tcp_host",
        "http://0.0.0.0",
        '[api].tcp_host: expected a host name or IP address, got "http://0.0.0.0"',
    ),
    ("api", "tcp_host", "[::1]", '[api].tcp_host: expected a host name or IP address, got "[::1]"'),
    (
        "api",
        "tcp_host",
        "127.0.0.1:8787",
        '[api].tcp_host: expected a host name or IP address, got "127.0.0.1:8787"',
    ),
    ("api", "tcp_port", 65536, "[api].tcp_port: expected an integer from 0 to 65535, got 65536"),
    ("api", "tcp_port", -1, "[api].tcp_port: expected an integer from 0 to 65535, got -1"),
    ("api", "tcp_port", "8787", '[api].tcp_port: expected an integer from 0 to 65535, got "8787"'),
    ("api", "token_file", 1, '[api].token_file: expected a path or "", got 1'),
    ("api", "control_socket", "", '[api].control_socket: expected a path, got ""'),
    (
        "api",
        "control_socket",
        "/" + "s" * 120,
        '[api].control_socket: expected a path of at most 107 bytes, got "/sssss',
    ),
    ("api", "query_timeout_ms", 0, "[api].query_timeout_ms: expected an integer >= 1, got 0"),
    ("daemon", "drain_timeout", -1, "[daemon].drain_timeout: expected a number > 0, got -1"),
    (
        "log",
        "level",
        "warn",
        '[log].level: expected one of "debug", "info", "warning", "error", got "warn"',
    ),
    (
        "log",
        "level",
        "INFO",
        '[log].level: expected one of "debug", "info", "warning", "error", got "INFO"',
    ),
    (
        "log",
        "format",
        "text",
        '[log].format: expected one of "auto", "journal", "console", "json", got "text"',
    ),
]


class TestKeys:
    """Each key's accepted and refused values."""

    @pytest.mark.parametrize(("section", "key", "value", "parsed"), ACCEPTED)
    def test_accepted(self, section: str, key: str, value: Any, parsed: Any) -> None:
        """A valid value is accepted and parsed to the expected Python value."""
        config = parse_config({section: {key: value}}, "test.toml")
        assert getattr(getattr(config, section), key) == parsed

    @pytest.mark.parametrize(("section", "key", "value", "message"), REFUSED)
    def test_refused(self, section: str, key: str, value: Any, message: str) -> None:
        """A bad value is refused with one message naming the key and the value."""
        assert refused({section: {key: value}}).startswith(message)

    def test_every_key_has_accepted_and_refused_cases(self) -> None:
        """The two tables above cover every key of every section."""
        config = Config.defaults()
        for section in ("storage", "exchange", "sync", "api", "daemon", "log"):
            for f in dataclasses.fields(getattr(config, section)):
                if (section, f.name) in {("exchange", "rest_url"), ("exchange", "ws_url")}:
                    continue  # covered by TestExchange (they only mean something for custom)
                assert any(a[:2] == (section, f.name) for a in ACCEPTED), f.name
                assert any(r[:2] == (section, f.name) for r in REFUSED), f.name

    def test_integer_given_for_float_key_becomes_float(self) -> None:
        """Whole numbers are fine where a float is expected, and stored as float."""
        config = parse_config({"daemon": {"drain_timeout": 3}})
        assert isinstance(config.daemon.drain_timeout, float)


class TestExchange:
    """Environments resolve to real hosts; custom needs both URLs."""

    def test_live_hosts(self) -> None:
        """live resolves to fapi.binance.com and fstream.binance.com."""
        ex = parse_config({}).exchange
        assert (ex.resolved_rest_url, ex.resolved_ws_url) == (LIVE_REST_URL, LIVE_WS_URL)
        assert LIVE_REST_URL == "https://fapi.binance.com"
        assert LIVE_WS_URL == "wss://fstream.binance.com"

    def test_testnet_hosts(self) -> None:
        """testnet resolves to the demo hosts of the reference."""
        ex = parse_config({"exchange": {"environment": "testnet"}}).exchange
        assert ex.resolved_rest_url == TESTNET_REST_URL == "https://demo-fapi.binance.com"
        assert ex.resolved_ws_url == TESTNET_WS_URL == "wss://fstream.binancefuture.com"

    def test_custom_urls(self) -> None:
        """custom uses the configured URLs, trailing slash removed."""
        ex = parse_config(
            {
                "exchange": {
                    "environment": "custom",
                    "rest_url": "http://127.0.0.1:9900/",
                    "ws_url": "ws://127.0.0.1:9900",
                }
            }
        ).exchange
        assert ex.resolved_rest_url == "http://127.0.0.1:9900"
        assert ex.resolved_ws_url == "ws://127.0.0.1:9900"

    def test_custom_requires_rest_url(self) -> None:
        """custom without rest_url is refused."""
        msg = refused({"exchange": {"environment": "custom", "ws_url": "ws://h:1"}})
        assert msg == (
            "[exchange].rest_url: expected a http:// or https:// URL (required when "
            'environment = "custom"), got ""'
        )

    def test_custom_requires_ws_url(self) -> None:
        """custom without ws_url is refused."""
        msg = refused({"exchange": {"environment": "custom", "rest_url": "https://h"}})
        assert msg.startswith("[exchange].ws_url: expected a ws:// or wss:// URL")

    @pytest.mark.parametrize("url", ["ftp://h", "127.0.0.1:9900", "http://", "ws://h"])
    def test_custom_bad_rest_url(self, url: str) -> None:
        """A rest_url that is not http(s) with a host is refused, naming it."""
        msg = refused({"exchange": {"environment": "custom", "rest_url": url, "ws_url": "ws://h"}})
        assert msg.startswith("[exchange].rest_url: expected a http:// or https:// URL")
        assert f'got "{url}"' in msg

    def test_custom_bad_ws_url(self) -> None:
        """A ws_url with an http scheme is refused."""
        msg = refused(
            {"exchange": {"environment": "custom", "rest_url": "http://h", "ws_url": "http://h"}}
        )
        assert msg.endswith('got "http://h"')

    def test_url_without_custom_refused(self) -> None:
        """A URL given for live would be silently ignored, so it is refused."""
        msg = refused({"exchange": {"rest_url": "http://127.0.0.1:1"}})
        assert msg.startswith('[exchange].rest_url: only used when environment = "custom"')


class TestSyncRules:
    """Cross-key rules of [sync]."""

    def test_list_universe_needs_symbols(self) -> None:
        """universe = "list" with no symbols is refused."""
        assert refused({"sync": {"universe": "list"}}) == (
            '[sync].symbols: universe = "list" needs at least one symbol, got []'
        )

    def test_list_universe_with_symbols(self) -> None:
        """universe = "list" with symbols is accepted."""
        sync = parse_config({"sync": {"universe": "list", "symbols": ["BTCUSDT"]}}).sync
        assert sync.symbols == ("BTCUSDT",)


class TestApiRules:
    """A TCP listener beyond loopback must require a token."""

    @pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "myhost"])
    def test_public_host_without_token_refused(self, host: str) -> None:
        """A non-loopback tcp_host without token_file is refused and the message says why."""
        msg = refused({"api": {"tcp_host": host}})
        assert msg.startswith("[api].token_file: required when tcp_host is not loopback")
        assert f'"{host}"' in msg

    def test_public_host_with_token(self) -> None:
        """A non-loopback tcp_host with a token_file is accepted."""
        api = parse_config({"api": {"tcp_host": "0.0.0.0", "token_file": "/t"}}).api
        assert api.token_file == Path("/t")

    def test_public_host_with_tcp_disabled(self) -> None:
        """With tcp_port = 0 nothing listens, so no token is needed."""
        assert parse_config({"api": {"tcp_host": "0.0.0.0", "tcp_port": 0}}).api.tcp_port == 0

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "LOCALHOST"])
    def test_loopback_hosts(self, host: str) -> None:
        """Loopback hosts need no token."""
        assert parse_config({"api": {"tcp_host": host}}).api.token_file is None


class TestAccounts:
    """[[accounts]] tables and the implicit default account."""

    def test_single_account_is_default(self) -> None:
        """Without [[accounts]], one account named default uses [exchange].credentials."""
        config = parse_config({"exchange": {"credentials": "/c"}})
        assert config.accounts == (AccountConfig("default", Path("/c")),)
        assert not config.multi_account
        assert config.account("default").credentials == Path("/c")

    def test_several_accounts(self) -> None:
        """[[accounts]] tables become accounts in file order."""
        config = parse_config(
            {
                "accounts": [
                    {"name": "main", "credentials": "/a"},
                    {"name": "alt_2", "credentials": "/b"},
                ]
            }
        )
        assert [a.name for a in config.accounts] == ["main", "alt_2"]
        assert config.multi_account
        with pytest.raises(KeyError):
            config.account("default")

    def test_both_forms_refused(self) -> None:
        """[exchange].credentials together with [[accounts]] is refused."""
        msg = refused(
            {"exchange": {"credentials": "/x"}, "accounts": [{"name": "a", "credentials": "/a"}]}
        )
        assert msg.startswith("[exchange].credentials: not allowed together with [[accounts]]")

    @pytest.mark.parametrize("name", ["Main", "a b", "", "x" * 33, "é"])
    def test_bad_name(self, name: str) -> None:
        """Names outside ^[a-z0-9_-]{1,32}$ are refused, naming the value."""
        msg = refused({"accounts": [{"name": name, "credentials": "/a"}]})
        assert msg.startswith("[[accounts]] #1.name: expected 1-32 of a-z, 0-9, _ and -")

    def test_duplicate_name(self) -> None:
        """Two accounts with one name are refused."""
        msg = refused(
            {"accounts": [{"name": "a", "credentials": "/a"}, {"name": "a", "credentials": "/b"}]}
        )
        assert msg == '[[accounts]] #2.name: "a" is used by another account'

    def test_missing_name(self) -> None:
        """An account without a name is refused."""
        assert refused({"accounts": [{"credentials": "/a"}]}).startswith(
            "[[accounts]] #1.name: required"
        )

    def test_missing_credentials(self) -> None:
        """An account without a credentials path is refused."""
        assert refused({"accounts": [{"name": "a"}]}).startswith(
            "[[accounts]] #1.credentials: required"
        )

    def test_empty_or_wrong_accounts(self) -> None:
        """accounts = [] or a non-table value is refused."""
        assert refused({"accounts": []}).startswith("[[accounts]]: expected one or more")
        assert refused({"accounts": "a"}).startswith("[[accounts]]: expected one or more")

    def test_relative_account_credentials(self, tmp_path: Path) -> None:
        """Account credential paths resolve against the config file's directory."""
        f = tmp_path / "v7d.toml"
        f.write_text('[[accounts]]\nname = "a"\ncredentials = "creds-a"\n')
        assert load_config(f, environ={}).accounts[0].credentials == tmp_path / "creds-a"
