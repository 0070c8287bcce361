"""`pip wheel . -w dist` builds a complete wheel from setup.cfg (no `python -m build`).

This is the `pip install v7d` path for people who do not use the Debian package. The
build runs on a copy of the project, so it never writes build/ into the work tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from debcache import REPO, packaged_files

import v7d


def _build_wheel(tmp_path: Path) -> Path:
    """Copy the packaged files to ``tmp_path`` and build a wheel there with pip."""
    src = tmp_path / "src"
    for name in packaged_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(dist)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    return wheel


class TestWheel:
    def test_wheel_has_package_metadata_and_commands(self, tmp_path: Path) -> None:
        """The wheel holds every v7d module, this version's metadata and the three commands."""
        wheel = _build_wheel(tmp_path)
        assert wheel.name == f"v7d-{v7d.__version__}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            info = f"v7d-{v7d.__version__}.dist-info"
            entry_points = zf.read(f"{info}/entry_points.txt").decode()
            metadata = zf.read(f"{info}/METADATA").decode()
        tracked = {n for n in packaged_files() if n.endswith(".py") and n.startswith("v7d/")}
        assert tracked <= names and tracked, sorted(tracked - names)
        assert "v7d/py.typed" in names
        for command in ("v7d", "v7ctl", "v7d-sim"):
            assert f"\n{command} = " in "\n" + entry_points, entry_points
        assert "Requires-Python: >=3.11" in metadata
