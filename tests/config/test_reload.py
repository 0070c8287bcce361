"""SIGHUP reload: [sync] and [log] apply at run time, other changes wait for a restart."""

from __future__ import annotations

from pathlib import Path

from v7d.config import RUNTIME_RELOADABLE, Config, diff_for_reload, parse_config


class TestDiffForReload:
    """diff_for_reload splits a new config into what applies now and what needs a restart."""

    def test_reloadable_sections(self) -> None:
        """Exactly [sync] and [log] are reloadable, as DESIGN.md says."""
        assert set(RUNTIME_RELOADABLE) == {"sync", "log"}

    def test_identical_configs(self) -> None:
        """No change means nothing needs a restart and the config is unchanged."""
        old = Config.defaults()
        applied, restart = diff_for_reload(old, parse_config({}))
        assert applied == old
        assert restart == []

    def test_sync_and_log_apply(self) -> None:
        """New [sync] and [log] values are taken over and need no restart."""
        old = Config.defaults()
        new = parse_config({"sync": {"poll_interval": 9.0}, "log": {"level": "debug"}}, "new")
        applied, restart = diff_for_reload(old, new)
        assert applied.sync.poll_interval == 9.0
        assert applied.log.level == "debug"
        assert restart == []
        assert applied.source == "new"

    def test_other_changes_keep_old_values(self) -> None:
        """Changed restart-only keys are listed and keep their old values."""
        old = Config.defaults()
        new = parse_config(
            {
                "storage": {"path": "/elsewhere.db"},
                "api": {"tcp_port": 0, "query_timeout_ms": 10},
                "daemon": {"drain_timeout": 1},
                "log": {"format": "json"},
            }
        )
        applied, restart = diff_for_reload(old, new)
        assert restart == [
            "storage.path",
            "api.tcp_port",
            "api.query_timeout_ms",
            "daemon.drain_timeout",
        ]
        assert applied.storage.path == Path("/var/lib/v7d/history.db")
        assert applied.api == old.api
        assert applied.daemon == old.daemon
        assert applied.log.format == "json"

    def test_account_changes_need_restart(self) -> None:
        """A change of accounts (and their credentials path) needs a restart."""
        old = Config.defaults()
        new = parse_config({"accounts": [{"name": "a", "credentials": "/a"}]})
        applied, restart = diff_for_reload(old, new)
        assert restart == ["accounts"]
        assert applied.accounts == old.accounts
        assert not applied.multi_account

    def test_exchange_change_needs_restart(self) -> None:
        """Switching environment is listed by its dotted key."""
        new = parse_config({"exchange": {"environment": "testnet"}})
        _, restart = diff_for_reload(Config.defaults(), new)
        assert restart == ["exchange.environment"]
