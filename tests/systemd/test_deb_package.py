"""The Debian package's contents, control fields and maintainer scripts.

The package is built once per project content (see debcache.py) and only inspected here;
installing it is the container test's job. Nothing is installed on the host.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from debcache import REPO

import v7d


def _members(deb: Path) -> dict[str, tarfile.TarInfo]:
    """The data archive's members by path (without the leading "./")."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        return {m.name.removeprefix("./").rstrip("/"): m for m in tar.getmembers()}


@pytest.fixture(scope="module")
def members(deb_path: Path) -> dict[str, tarfile.TarInfo]:
    """The package's file list."""
    return _members(deb_path)


@pytest.fixture(scope="module")
def unpacked(deb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files and control files (DEBIAN/) unpacked into a temporary directory."""
    root = tmp_path_factory.mktemp("deb") / "root"
    subprocess.run(["dpkg-deb", "--raw-extract", str(deb_path), str(root)], check=True)
    return root


class TestFileList:
    def test_name_carries_version_and_architecture(self, deb_path: Path) -> None:
        """The file is v7d_<__version__>_<dpkg architecture>.deb."""
        arch = subprocess.run(
            ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
        ).stdout.strip()
        assert deb_path.name == f"v7d_{v7d.__version__}_{arch}.deb"

    def test_commands_link_into_the_venv(self, members: dict[str, tarfile.TarInfo]) -> None:
        """/usr/bin/v7d, v7ctl and v7d-sim are symlinks to the venv's scripts."""
        for cmd in ("v7d", "v7ctl", "v7d-sim"):
            link = members[f"usr/bin/{cmd}"]
            assert link.issym() and link.linkname == f"/opt/v7d/bin/{cmd}"
            assert members[f"opt/v7d/bin/{cmd}"].isfile()

    def test_venv_runs_on_the_system_python(self, members: dict[str, tarfile.TarInfo]) -> None:
        """The venv's interpreter is the system one (never a path under /root or the build dir)."""
        python = members["opt/v7d/bin/python3"]
        target = python.linkname
        if not target.startswith("/"):
            target = members[f"opt/v7d/bin/{target}"].linkname
        assert target.startswith("/usr/bin/python3.")

    def test_scripts_have_final_shebangs(self, unpacked: Path) -> None:
        """The venv was built at /opt/v7d, so its scripts' shebangs point there."""
        for cmd in ("v7d", "v7ctl", "v7d-sim"):
            first = (unpacked / "opt/v7d/bin" / cmd).read_bytes().splitlines()[0]
            assert first.startswith(b"#!/opt/v7d/bin/python"), (cmd, first)

    def test_installs_this_version(self, members: dict[str, tarfile.TarInfo]) -> None:
        """The venv holds v7d's package and its dist-info for the current version."""
        assert any(n.endswith("site-packages/v7d/__init__.py") for n in members)
        assert any(
            n.endswith(f"site-packages/v7d-{v7d.__version__}.dist-info/METADATA") for n in members
        )

    def test_systemd_files_are_the_repository_files(self, unpacked: Path) -> None:
        """The unit, sysusers and tmpfiles files and the shipped config are copied unchanged."""
        pairs = {
            "lib/systemd/system/v7d.service": "systemd/v7d.service",
            "usr/lib/sysusers.d/v7d.conf": "systemd/v7d.sysusers",
            "usr/lib/tmpfiles.d/v7d.conf": "systemd/v7d.tmpfiles",
            "etc/v7d/v7d.toml": "etc/v7d/v7d.toml",
            "etc/v7d/credentials.example": "etc/v7d/credentials.example",
            "usr/share/doc/v7d/operations.md": "docs/operations.md",
        }
        for packaged, source in pairs.items():
            assert (unpacked / packaged).read_bytes() == (REPO / source).read_bytes(), packaged

    def test_no_secrets_or_build_leftovers(self, members: dict[str, tarfile.TarInfo]) -> None:
        """No real credentials file, no database, nothing outside the package's own paths."""
        assert "etc/v7d/credentials" not in members
        assert not any(n.endswith((".db", ".db-wal", ".db-shm")) for n in members)
        roots = {n.split("/")[0] for n in members if n and n != "."}
        assert roots == {"etc", "lib", "opt", "usr"}

    def test_everything_is_owned_by_root(self, members: dict[str, tarfile.TarInfo]) -> None:
        """--root-owner-group: the builder's uid never leaks into the package."""
        owners = {(m.uname, m.gname, m.uid, m.gid) for m in members.values()}
        assert owners == {("root", "root", 0, 0)}


class TestControl:
    def test_conffiles_are_the_config_files(self, unpacked: Path) -> None:
        """Exactly the shipped config and the credentials example are conffiles."""
        conffiles = (unpacked / "DEBIAN" / "conffiles").read_text().split()
        assert sorted(conffiles) == ["/etc/v7d/credentials.example", "/etc/v7d/v7d.toml"]

    def test_control_fields(self, deb_path: Path) -> None:
        """Package, version and a dependency on the Python 3.11+ the venv was built on."""
        fields = subprocess.run(
            ["dpkg-deb", "--field", str(deb_path), "Package", "Version", "Depends"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "Package: v7d\n" in fields
        assert f"Version: {v7d.__version__}\n" in fields
        assert "python3 (>= 3.11)" in fields

    def test_maintainer_scripts_are_valid_sh(self, unpacked: Path) -> None:
        """postinst, prerm and postrm are executable and parse with sh -n."""
        control = unpacked / "DEBIAN"
        for script in ("postinst", "prerm", "postrm"):
            path = control / script
            assert path.stat().st_mode & 0o111, script
            subprocess.run(["sh", "-n", str(path)], check=True)

    def test_postinst_guards_systemctl(self, unpacked: Path) -> None:
        """systemctl start/restart happens only with a running systemd and existing credentials."""
        text = (unpacked / "DEBIAN" / "postinst").read_text()
        assert "[ -d /run/systemd/system ]" in text
        assert text.index("/run/systemd/system") < text.index("systemctl restart")
        assert text.index('[ ! -f "$CREDS" ]') < text.index("systemctl restart")
