"""A real systemd, booted in an nspawn container whose root is an overlay of the host's /.

Nothing the container writes reaches the host (``--volatile=overlay`` keeps every change
in a tmpfs), and everything the container needs on the host side is undone on exit, even
after a failure: the container is powered off (or its processes killed), the private
mount namespace that holds the bind mount ends with its last process, the cgroups made
for it are removed, and so is nspawn's state under /run/systemd/nspawn.

Never boot systemd as PID 1 directly on the host: its boot units act on the host's real
file system. Only this overlay container is safe (see the systemd testing reference).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

CGROUP_ROOT = Path("/sys/fs/cgroup")
NSPAWN_RUN = Path("/run/systemd/nspawn")

# Runs inside `unshare --mount`: move this shell into fresh cgroups so the container gets
# its own subtree, bind / (non-recursively: no /proc, /dev, /sys) and boot it.
_LAUNCH = r"""
set -e
name=$1 root=$2; shift 2
for h in systemd unified; do
    mkdir -p "/sys/fs/cgroup/$h/$name"
    echo $$ > "/sys/fs/cgroup/$h/$name/cgroup.procs"
done
mount --bind / "$root"
exec systemd-nspawn -q -D "$root" --volatile=overlay --boot --private-network \
    --register=no --keep-unit --link-journal=no -M "$name" --console=pipe "$@" </dev/null
"""


class ContainerError(RuntimeError):
    """The container did not boot, or a command in it failed; carries the output."""


def unavailable_reason() -> str | None:
    """Why the container cannot run here (not root, no systemd-nspawn), or None if it can."""
    if os.geteuid() != 0:
        return "the systemd container test needs root"
    if shutil.which("systemd-nspawn") is None:
        return "systemd-nspawn is missing (apt-get install systemd-container)"
    return None


class Container:
    """A booted systemd container; use as a context manager, then `run` commands in it."""

    def __init__(
        self, bind_ro: Mapping[Path, str] | None = None, boot_timeout: float = 90.0
    ) -> None:
        self.name = f"v7dt{os.getpid()}x{time.monotonic_ns() % 100000}"
        self._bind_ro = dict(bind_ro or {})
        self._boot_timeout = boot_timeout
        self._scratch = Path(tempfile.mkdtemp(prefix="v7d-nspawn-"))
        self._root = self._scratch / "root"
        self._console = self._scratch / "console.log"
        self._launcher: subprocess.Popen[bytes] | None = None
        self.leader: int | None = None

    # ---- life cycle -------------------------------------------------------------------
    def __enter__(self) -> Container:
        try:
            self._boot()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _boot(self) -> None:
        """Start nspawn and wait until the container's systemd has finished booting."""
        _remove_stale_cgroups()
        self._root.mkdir()
        binds = [f"--bind-ro={host}:{inside}" for host, inside in self._bind_ro.items()]
        with open(self._console, "wb") as console:
            self._launcher = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "bash", "-c", _LAUNCH,
                 "launch", self.name, str(self._root), *binds],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + self._boot_timeout
        self.leader = self._wait_for_leader(deadline)
        # Right after init.scope appears, systemd may not listen on its private bus yet
        # ("Failed to connect to bus"): ask again until it answers with a state.
        state = ""
        while not state and time.monotonic() < deadline:
            state = self.run(
                "systemctl", "is-system-running", "--wait",
                check=False, timeout=max(1.0, deadline - time.monotonic()),
            ).stdout.strip()  # fmt: skip
            if not state:
                time.sleep(0.2)
        if state not in ("running", "degraded"):
            raise ContainerError(f"container booted into state {state!r}\n{self.console()}")

    def _wait_for_leader(self, deadline: float) -> int:
        """The container's PID 1 as the host sees it, once its systemd made init.scope."""
        procs = CGROUP_ROOT / "systemd" / self.name / "payload" / "init.scope" / "cgroup.procs"
        while time.monotonic() < deadline:
            assert self._launcher is not None
            if self._launcher.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited early\n{self.console()}")
            try:
                pids = procs.read_text().split()
            except FileNotFoundError:
                pids = []
            if pids:
                return int(pids[0])
            time.sleep(0.1)
        raise ContainerError(f"the container's systemd did not start\n{self.console()}")

    def console(self) -> str:
        """The last lines nspawn and the container's console printed."""
        try:
            return "\n".join(self._console.read_text(errors="replace").splitlines()[-40:])
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        """Power off and remove every trace on the host; safe to call more than once."""
        running = self._launcher is not None and self._launcher.poll() is None
        if self.leader is not None and running:
            subprocess.run(
                ["nsenter", "-t", str(self.leader), "-a", "systemctl", "poweroff"],
                capture_output=True, timeout=15, check=False,
            )  # fmt: skip
        self._stop_launcher()
        self._kill_cgroup_members()
        self._remove_cgroups()
        self._remove_nspawn_state()
        # The bind mount lived in the private namespace, which ended with its processes:
        # on the host the root is an empty directory again. rmdir (never rmtree) so that a
        # mount still present could not be recursed into.
        if self._root.exists() and not os.path.ismount(self._root):
            self._root.rmdir()
        self._console.unlink(missing_ok=True)
        if self._scratch.exists() and not any(self._scratch.iterdir()):
            self._scratch.rmdir()
        self.leader = None

    def _stop_launcher(self) -> None:
        """Wait for nspawn to end after poweroff; signal our own process group if it hangs."""
        if self._launcher is None:
            return
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self._launcher.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._launcher.pid, sig)
            try:
                self._launcher.wait(timeout=20)
                return
            except subprocess.TimeoutExpired:
                continue

    def _cgroup_dirs(self) -> list[Path]:
        """Our cgroup directories in both hierarchies, deepest first."""
        found: list[Path] = []
        for hierarchy in ("systemd", "unified"):
            top = CGROUP_ROOT / hierarchy / self.name
            if top.is_dir():
                found.extend(Path(p) for p, _, _ in os.walk(top))
        return sorted(found, key=lambda p: len(p.parts), reverse=True)

    def _kill_cgroup_members(self) -> None:
        """Kill (by pid) any process still in the cgroups this container was started in."""
        for directory in self._cgroup_dirs():
            try:
                pids = (directory / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)

    def _remove_cgroups(self) -> None:
        """rmdir the cgroup trees bottom-up, retrying while killed processes exit."""
        deadline = time.monotonic() + 10
        while True:
            for directory in self._cgroup_dirs():
                with contextlib.suppress(OSError):
                    directory.rmdir()
            if not self._cgroup_dirs() or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def _remove_nspawn_state(self) -> None:
        """nspawn leaves /run/systemd/nspawn/propagate/<name> (and a lock) on this host."""
        shutil.rmtree(NSPAWN_RUN / "propagate" / self.name, ignore_errors=True)
        if not _other_nspawn_running():
            shutil.rmtree(NSPAWN_RUN, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What of this container is still on the host (empty after a proper close)."""
        left = [str(p) for p in self._cgroup_dirs()]
        if (NSPAWN_RUN / "propagate" / self.name).exists():
            left.append(str(NSPAWN_RUN / "propagate" / self.name))
        if self._scratch.exists():
            left.append(str(self._scratch))
        mounts = Path("/proc/self/mountinfo").read_text()
        if str(self._scratch) in mounts:
            left.append(f"a mount under {self._scratch}")
        if self._launcher is not None and self._launcher.poll() is None:
            left.append(f"process {self._launcher.pid}")
        return left

    # ---- commands ---------------------------------------------------------------------
    def run(
        self,
        *argv: str,
        user: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
        input: str | None = None,
        env: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the container (as root, or as ``user`` with its groups)."""
        if self.leader is None:
            raise ContainerError("the container is not running")
        prefix = ["nsenter", "-t", str(self.leader), "-a"]
        if user is not None:
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                       "--reset-env"]  # fmt: skip
        if env:
            prefix += ["env", *env]
        proc = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=timeout, input=input,
            check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise ContainerError(
                f"{' '.join(argv)!r} exited {proc.returncode} in the container\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def sh(self, script: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run a shell script in the container; same options as `run`."""
        return self.run("sh", "-c", script, **kwargs)  # type: ignore[arg-type]


def _remove_stale_cgroups() -> None:
    """rmdir empty cgroup trees left by a test session that was killed outright.

    Only trees named like ours whose creating process is gone, and only empty ones: a
    tree that still holds processes is left alone (and reported by `leftovers`).
    """
    for hierarchy in ("systemd", "unified"):
        for top in (CGROUP_ROOT / hierarchy).glob("v7dt*x*"):
            owner = top.name[4:].split("x", 1)[0]
            if not owner.isdigit() or Path(f"/proc/{owner}").exists():
                continue
            for directory in sorted(
                (Path(p) for p, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    directory.rmdir()


def _other_nspawn_running() -> bool:
    """Whether any systemd-nspawn process (another test session's) is alive on the host."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "systemd-nspawn":
                return True
        except OSError:
            continue
    return False
