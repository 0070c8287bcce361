"""Install, inspect and purge the .deb under a real systemd (nspawn overlay container).

The package is built before the container boots (the cached `deb_path` fixture). Each
container starts from the host's file system as it is, so the package is new in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from container import Container

import v7d

pytestmark = pytest.mark.systemd


@pytest.fixture(scope="module")
def installed(deb_path: Path, container_ready: None) -> Iterator[tuple[Container, str]]:
    """A booted container with the package installed by `dpkg -i`, and dpkg's output."""
    with Container(bind_ro={deb_path.parent: "/src"}) as box:
        proc = box.run("dpkg", "-i", f"/src/{deb_path.name}", timeout=120)
        yield box, proc.stdout + proc.stderr
        assert not box.run("systemctl", "--failed", "--no-legend").stdout.strip()


class TestInstall:
    def test_commands_work(self, installed: tuple[Container, str]) -> None:
        """v7d --version prints the package version and v7ctl --help its usage."""
        box, _ = installed
        assert v7d.__version__ in box.run("v7d", "--version").stdout
        assert "Usage: v7ctl" in box.run("v7ctl", "--help").stdout

    def test_system_user_and_group(self, installed: tuple[Container, str]) -> None:
        """User v7d is a system user in group v7d, home /var/lib/v7d, no login shell."""
        box, _ = installed
        _name, _, uid, gid, _, home, shell = (
            box.run("getent", "passwd", "v7d").stdout.strip().split(":")
        )
        group = box.run("getent", "group", "v7d").stdout.strip().split(":")
        assert int(uid) < 1000 and group[2] == gid
        assert (home, shell) == ("/var/lib/v7d", "/usr/sbin/nologin")

    def test_state_directory(self, installed: tuple[Container, str]) -> None:
        """/var/lib/v7d exists right after install, 0750 v7d:v7d."""
        box, _ = installed
        assert box.run("stat", "-c", "%a %U %G", "/var/lib/v7d").stdout.split() == [
            "750", "v7d", "v7d",
        ]  # fmt: skip

    def test_enabled_but_not_started_without_credentials(
        self, installed: tuple[Container, str]
    ) -> None:
        """No credentials: the unit is enabled, stays inactive, and dpkg says what to do."""
        box, output = installed
        assert box.run("systemctl", "is-enabled", "v7d").stdout.strip() == "enabled"
        assert box.run("systemctl", "is-active", "v7d", check=False).stdout.strip() == "inactive"
        assert "NOT started" in output and "/etc/v7d/credentials" in output

    def test_conffiles_registered(self, installed: tuple[Container, str]) -> None:
        """dpkg tracks the config and the credentials example as conffiles."""
        box, _ = installed
        status = box.run("dpkg-query", "-s", "v7d").stdout
        assert "/etc/v7d/v7d.toml" in status and "/etc/v7d/credentials.example" in status

    def test_systemd_sees_the_unit_as_shipped(self, installed: tuple[Container, str]) -> None:
        """The running systemd loaded the unit with its notify type, user and credential."""
        box, _ = installed
        show = box.run(
            "systemctl", "show", "v7d", "-p", "Type", "-p", "User", "-p", "NotifyAccess",
            "-p", "LoadState", "-p", "UMask",
        ).stdout.split()  # fmt: skip
        assert sorted(show) == sorted(
            ["Type=notify", "User=v7d", "NotifyAccess=main", "LoadState=loaded", "UMask=0027"]
        )

    def test_start_without_credentials_fails_clearly(
        self, installed: tuple[Container, str]
    ) -> None:
        """Without /etc/v7d/credentials systemd refuses at its CREDENTIALS step (status 243)."""
        box, _ = installed
        assert box.run("systemctl", "start", "v7d", check=False).returncode != 0
        props = box.run("systemctl", "show", "v7d", "-p", "ExecMainStatus").stdout.strip()
        journal = box.run("journalctl", "-u", "v7d", "-o", "cat").stdout
        box.run("systemctl", "stop", "v7d")
        box.run("systemctl", "reset-failed", "v7d")
        assert props == "ExecMainStatus=243"
        assert "Failed to set up credentials" in journal


class TestRemoveAndPurge:
    def test_remove_keeps_config_and_data_purge_keeps_data(
        self, deb_path: Path, container_ready: None
    ) -> None:
        """dpkg -r keeps /etc/v7d, data and user; dpkg -P drops /etc/v7d, keeps data and user."""
        with Container(bind_ro={deb_path.parent: "/src"}) as box:
            box.run("dpkg", "-i", f"/src/{deb_path.name}", timeout=120)
            box.sh("echo api_key=a > /etc/v7d/credentials && chmod 600 /etc/v7d/credentials")
            box.sh("echo keep > /var/lib/v7d/history.db")
            box.run("dpkg", "-r", "v7d", timeout=120)
            exists = "for p in {}; do [ -e $p ] && echo $p; done; true"
            paths = "/etc/v7d/v7d.toml /etc/v7d/credentials /var/lib/v7d/history.db /opt/v7d " \
                    "/usr/bin/v7d /lib/systemd/system/v7d.service " \
                    "/etc/systemd/system/multi-user.target.wants/v7d.service"  # fmt: skip
            left = box.sh(exists.format(paths)).stdout.split()
            assert left == ["/etc/v7d/v7d.toml", "/etc/v7d/credentials", "/var/lib/v7d/history.db"]
            box.run("dpkg", "-P", "v7d", timeout=120)
            left = box.sh(exists.format(paths + " /etc/v7d")).stdout.split()
            assert left == ["/var/lib/v7d/history.db"]
            assert box.run("getent", "passwd", "v7d", check=False).returncode == 0
            assert "v7d.service" not in box.run("systemctl", "list-unit-files").stdout

    def test_container_leaves_nothing_on_the_host(
        self, deb_path: Path, container_ready: None
    ) -> None:
        """After the container closes, no cgroup, mount, process or nspawn state of it remains."""
        box = Container(bind_ro={deb_path.parent: "/src"})
        with box:
            assert box.run("systemctl", "is-system-running").stdout.strip() in (
                "running",
                "degraded",
            )
        assert box.leftovers() == []
