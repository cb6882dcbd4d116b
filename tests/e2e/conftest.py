"""End-to-end tests: whole labs built by the real `fermion lab` command, as a user runs it.

Each module shares one lab (`up` once, tests, then `down` as the module's last test). A lab
gets its own state and log directories under pytest's tmp dir; the machine is snapshotted
before `up` (see machine.py) and compared after `down`. `lab down` also runs at module
teardown, whatever happened, so nothing is left even when a test fails.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fermion.lab.live import LiveLab
from fermion.lab.state import LabPaths
from tests.e2e.machine import Snapshot, lab_leftovers
from tests.fixtures.hosts import host_tools_missing
from tests.fixtures.server import venv_bin

UP_TIMEOUT = 600
# Labs take the management range 198.18.0.0/24 and one device on this machine, so two test
# runs on one machine (e.g. two checkouts) take turns: one lab at a time, machine-wide.
MACHINE_LOCK = Path("/run/lock/fermion-e2e.lock")


def lab_tools_missing() -> str | None:
    import shutil

    reason = host_tools_missing()
    if reason:
        return reason
    missing = [t for t in ("tini", "unshare", "nsenter", "dnsmasq", "haproxy", "ping")
               if shutil.which(t) is None]
    return f"missing {', '.join(missing)}; run `make deps`" if missing else None


@dataclass
class LabRun:
    name: str
    state_dir: Path
    log_dir: Path
    before: Snapshot
    up: subprocess.CompletedProcess | None = None
    namespaces: set = field(default_factory=set)
    lock_fd: int | None = None

    def cli(self, *args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess:
        argv = [venv_bin("fermion"), "lab", *args, "--state-dir", str(self.state_dir),
                "--log-dir", str(self.log_dir)]
        if args and args[0] == "exec":  # exec's own options go before the target
            argv = [venv_bin("fermion"), "lab", "exec", "--state-dir", str(self.state_dir),
                    "--log-dir", str(self.log_dir), *args[1:]]
        env = {**os.environ, "COLUMNS": "200"}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def exec(self, target: str, *argv: str) -> subprocess.CompletedProcess:
        return self.cli("exec", target, "--", *argv, timeout=60)

    def live(self) -> LiveLab:
        return LiveLab(LabPaths(self.name, self.state_dir, self.log_dir))

    def record_namespaces(self) -> None:
        """Every namespace of the lab (hosts, their qrouter-/qdhcp- namespaces, guests), to
        recognise any process left in one after `down`."""
        live = self.live()
        for host in live.topo.hosts:
            c = live.capsule(host.name)
            if c is None:
                continue
            for kind in ("net", "pid", "mnt"):
                self.namespaces.add(os.readlink(f"/proc/{c.init}/ns/{kind}"))
            netns_dir = c.path("/run/netns")
            for entry in (netns_dir.iterdir() if netns_dir.is_dir() else []):
                self.namespaces.add(f"net:[{entry.stat().st_ino}]")
            for name, inst in live.state.get("resources", {}).get("instances", {}).items():
                record = live.guest_record(name) if inst["host"] == host.name else None
                if record:
                    guest = c.path(f"/proc/{record['pid']}/ns")
                    for kind in ("net", "pid", "mnt"):
                        self.namespaces.add(os.readlink(guest / kind))

    def leftovers(self) -> list[str]:
        """What `down` left: differences to the snapshot taken before `up`."""
        deadline = time.monotonic() + 15
        while True:  # the kernel frees namespaces and the init reaps zombies a bit later
            after = Snapshot.take()
            problems = []
            for what in ("netns", "links", "iptables", "ovs"):
                if getattr(after, what) != getattr(self.before, what):
                    problems.append(f"{what} differs:\nbefore: {getattr(self.before, what)}"
                                    f"\nafter:  {getattr(after, what)}")
            problems += lab_leftovers(self.before, after, self.namespaces,
                                      [str(self.state_dir), str(self.log_dir)])
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(0.2)


def new_run(name: str, base: Path) -> LabRun:
    """A lab run holding the machine lock (waits for another run's lab to come down);
    `stop_lab` releases it."""
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(MACHINE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    return LabRun(name, base / "state", base / "logs", Snapshot.take(), lock_fd=lock_fd)


def start_lab(tmp_path_factory, name: str, *up_args: str) -> LabRun:
    reason = lab_tools_missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp(f"lab-{name}")
    run = new_run(name, base)
    try:
        run.up = run.cli("up", *up_args)
        run.record_namespaces()
    except BaseException:
        stop_lab(run)
        raise
    return run


def stop_lab(run: LabRun) -> None:
    try:
        run.cli("down", "--lab", run.name, timeout=120)
    finally:
        if run.lock_fd is not None:
            os.close(run.lock_fd)  # releases the machine lock
            run.lock_fd = None


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.root)
