"""Capsules: a process tree in its own namespaces, kept alive by a tiny init.

A capsule is what a lab host or a guest is made of: new network, mount, UTS and PID
namespaces (any subset) whose PID 1 is ``tini`` (an init that reaps orphans, as daemons that
fork into the background need) waiting on ``sleep infinity``::

    holder  unshare --net --mount --uts --pid --kill-child --propagation private
            --mount-proc --wd=DIR tini -s -- sleep infinity        (caller's PID namespace)
    init    tini, PID 1 inside; `nsenter -t <its pid>` enters the capsule

The holder is started as ``sh -c 'echo $$ >DIR/holder.pid; exec unshare …'``, so its pid is
on disk before any namespace exists: a caller killed at any moment leaves nothing that
`stop(DIR)` cannot find. Its command line names ``DIR`` (``--wd``), which is how a recorded
pid is checked before it is signalled (pids are reused). Stopping is one kill: the holder's
death SIGKILLs init (``--kill-child``), the death of a PID namespace's init kills every
process in it, and namespaces go with their last process — together with the network
namespaces that ``ip netns add`` bind-mounted inside the capsule's own mount namespace.

Capsules nest: code running inside a capsule (its pids, its ``/proc``) can spawn another
one, whose PID namespace is then a child of the first (a guest inside its compute host).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fermion.linux.proc import cmdline, pid_alive

HOLDER_PID = "holder.pid"
NAMESPACES = ("net", "mount", "uts", "pid")
_UNSHARE_FLAG = {"net": "--net", "mount": "--mount", "uts": "--uts", "pid": "--pid",
                 "ipc": "--ipc"}
_NSENTER_FLAG = {"net": "-n", "mount": "-m", "uts": "-u", "pid": "-p", "ipc": "-i"}


class CapsuleError(RuntimeError):
    """A capsule could not be started or found."""


def holder_argv(directory: Path, namespaces: Iterable[str] = NAMESPACES) -> list[str]:
    """The `unshare` command line of a capsule kept in `directory`."""
    namespaces = tuple(namespaces)
    if "pid" not in namespaces:
        raise ValueError("a capsule has its own PID namespace (its init holds it together)")
    argv = ["unshare", *(_UNSHARE_FLAG[n] for n in namespaces), "--fork", "--kill-child"]
    if "mount" in namespaces:
        argv += ["--mount-proc", "--propagation", "private"]
    return argv + [f"--wd={directory}", "tini", "-s", "--", "sleep", "infinity"]


def nsenter_argv(pid: int, argv: Sequence[str], namespaces: Iterable[str] = NAMESPACES,
                 ) -> list[str]:
    """`argv` run inside the namespaces of process `pid` (e.g. a capsule's init)."""
    return ["nsenter", "-t", str(pid), *(_NSENTER_FLAG[n] for n in namespaces), "--",
            *argv]


def parent_of(pid: int, proc: str = "/proc") -> int | None:
    try:
        with open(f"{proc}/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def children_of(pid: int, proc: str = "/proc") -> list[int]:
    """Pids whose parent is `pid` (a scan of /proc: /proc/PID/task/*/children needs a
    kernel option not every machine has)."""
    found = []
    for entry in os.listdir(proc):
        if entry.isdigit() and parent_of(int(entry), proc) == pid:
            found.append(int(entry))
    return sorted(found)


@dataclass(frozen=True)
class Capsule:
    """A running capsule: `holder` (unshare) and `init` (tini), pids in our namespace."""

    dir: Path
    holder: int
    init: int
    namespaces: tuple[str, ...] = NAMESPACES

    def enter(self, argv: Sequence[str], namespaces: Iterable[str] | None = None) -> list[str]:
        """`argv` prefixed so that it runs inside this capsule."""
        return nsenter_argv(self.init, argv, self.namespaces if namespaces is None
                            else namespaces)

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 30.0,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the capsule and capture its output."""
        full = self.enter(argv)
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                              input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise CapsuleError(f"`{shlex.join(argv)}` in {self.dir.name} failed with status "
                               f"{proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def alive(self) -> bool:
        return pid_alive(self.init) and is_holder(self.holder, self.dir)

    def path(self, inside: str) -> Path:
        """A path of the capsule's mount namespace, as seen from ours."""
        return Path(f"/proc/{self.init}/root") / inside.lstrip("/")


def is_holder(pid: int | None, directory: Path) -> bool:
    """True if `pid` is alive and is the holder of the capsule kept in `directory`."""
    return bool(pid) and pid_alive(pid) and f"--wd={directory} " in cmdline(pid) + " "


def spawn(directory: str | os.PathLike, namespaces: Iterable[str] = NAMESPACES,
          timeout: float = 5.0) -> Capsule:
    """Start a capsule kept in `directory` (created; it must not hold a live one)."""
    directory = Path(directory).absolute()
    namespaces = tuple(namespaces)
    script = (f"echo $$ >{shlex.quote(str(directory / HOLDER_PID))} && "
              f"exec {shlex.join(holder_argv(directory, namespaces))}")
    directory.mkdir(parents=True, exist_ok=True)
    pidfile = directory / HOLDER_PID
    if is_holder(read_pid(pidfile), directory):
        raise CapsuleError(f"a capsule already runs in {directory}")
    pidfile.unlink(missing_ok=True)
    subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, cwd="/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        capsule = find(directory, namespaces)
        if capsule is not None:
            return capsule
        time.sleep(0.005)
    stop(directory)
    raise CapsuleError(f"capsule in {directory} did not start within {timeout} s "
                       "(are util-linux unshare and tini installed?)")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def find(directory: str | os.PathLike, namespaces: Iterable[str] = NAMESPACES,
         ) -> Capsule | None:
    """The capsule running in `directory`, or None (holder gone or not started yet)."""
    directory = Path(directory).absolute()
    holder = read_pid(directory / HOLDER_PID)
    if not is_holder(holder, directory):
        return None
    for child in children_of(holder):
        if pid_alive(child) and os.readlink(f"/proc/{child}/ns/pid") != \
                os.readlink(f"/proc/{holder}/ns/pid"):
            return Capsule(directory, holder, child, tuple(namespaces))
    return None


def stop(directory: str | os.PathLike, timeout: float = 10.0) -> bool:
    """Kill the capsule kept in `directory` (holder and init, so every process inside);
    wait until they are gone. False if none was running. Safe to repeat."""
    directory = Path(directory).absolute()
    holder = read_pid(directory / HOLDER_PID)
    if not is_holder(holder, directory):
        return False
    inits = children_of(holder)
    for pid in [holder, *inits]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in [holder, *inits]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True
