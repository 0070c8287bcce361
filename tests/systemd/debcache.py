"""Build the Debian package once per content of the project, and cache it.

`make deb` takes a minute (it builds a virtualenv with every dependency), so tests share
one build per hash of the files that go into the package. The cache lives under
``/tmp/v7d-deb-cache/<hash>/``; a lock file keeps concurrent test sessions from building
the same package twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("V7D_DEB_CACHE", "/tmp/v7d-deb-cache"))
# What ends up in the package; tests, benchmarks and the rest of docs/ do not.
_PACKAGED = (
    "v7d/",
    "systemd/",
    "packaging/",
    "etc/",
    "docs/operations.md",
    "setup.cfg",
    "pyproject.toml",
    "README.md",
)
_KEEP_BUILDS = 3


class DebBuildError(RuntimeError):
    """`packaging/build-deb.sh` failed; the message carries its output."""


def packaged_files() -> list[str]:
    """Tracked and new (not ignored) files of the work tree that the package is built from."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    names = {n for n in out.split("\0") if n and n.startswith(_PACKAGED)}
    return sorted(n for n in names if (REPO / n).is_file() and "/out/" not in n)


def content_hash() -> str:
    """A hash of every packaged file's name and bytes (and the build interpreter's version)."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for name in packaged_files():
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _prune(keep: Path) -> None:
    """Drop all but the newest few cached builds so /tmp does not fill up."""
    builds = sorted(
        (p for p in CACHE.iterdir() if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[_KEEP_BUILDS - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def cached_deb() -> Path:
    """Return the .deb for the current project content, building it if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / content_hash()
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        debs = sorted(target.glob("v7d_*.deb"))
        if debs:
            return debs[0]
        target.mkdir(exist_ok=True)
        proc = subprocess.run(
            ["bash", str(REPO / "packaging" / "build-deb.sh")],
            env={**os.environ, "V7D_DEB_OUT": str(target)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise DebBuildError(
                f"packaging/build-deb.sh exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        _prune(target)
        return Path(proc.stdout.strip().splitlines()[-1])
