"""Snapshots of this machine's own state, to prove `fermion lab down` leaves it as it was.

A snapshot is what a user of the machine sees from its root namespaces: ``ip netns list``,
``ip link``, ``iptables-save`` (both backends, counters dropped), the system Open vSwitch
(``ovs-vsctl show``, if it runs) and the processes. Two kinds of noise are left out, so the
comparison can hold while other test suites run on the same machine:

- named namespaces of functional tests' host groups (``fm<6 hex>-…``), which the lab never
  makes (it names no namespace here);
- processes: zombies (the machine's init reaps our exited capsules a moment later) and
  processes that are not the lab's. A process is the lab's if it lives in one of the lab's
  namespaces (recorded while the lab is up: every host's, guest's, qrouter's and qdhcp's
  network, PID and mount namespaces) or its command line names the lab's directories.
  Without concurrent work, `after == before` holds for processes too (checked by
  `new_processes`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FOREIGN_NETNS = re.compile(r"^fm[0-9a-f]{6}-")


def _out(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return done.stdout if done.returncode == 0 else f"(exit {done.returncode})"


def processes() -> dict[tuple[int, str], str]:
    """(pid, start time) -> command line, for every live, non-zombie process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            continue
        out[(int(entry), fields[19])] = cmd.decode(errors="replace").strip()
    return out


def namespaces_of(pid: int) -> set[str]:
    found = set()
    for kind in ("net", "pid", "mnt"):
        try:
            found.add(os.readlink(f"/proc/{pid}/ns/{kind}"))
        except OSError:
            pass
    return found


@dataclass
class Snapshot:
    netns: list[str]
    links: list[str]
    iptables: str
    ovs: str
    procs: dict = field(default_factory=dict)

    @classmethod
    def take(cls) -> Snapshot:
        netns = [n.split()[0] for n in _out(["ip", "netns", "list"]).splitlines()
                 if n.strip() and not FOREIGN_NETNS.match(n)]
        links = sorted(re.sub(r"^\d+: ", "", line.split("\\")[0]).split()[0]
                       for line in _out(["ip", "-o", "link", "show"]).splitlines())
        rules = []
        for tool in ("iptables-nft-save", "iptables-legacy-save"):
            if shutil.which(tool):
                rules += [re.sub(r"\[\d+:\d+\]", "", line) for line in _out([tool]).splitlines()
                          if not line.startswith("#")]
        ovs = _out(["ovs-vsctl", "--timeout=5", "show"]) \
            if Path("/run/openvswitch/db.sock").exists() else "(no system OVS)"
        return cls(sorted(netns), links, "\n".join(rules), ovs, processes())


def new_processes(before: Snapshot, after: Snapshot) -> dict:
    return {k: v for k, v in after.procs.items() if k not in before.procs}


def lab_leftovers(before: Snapshot, after: Snapshot, lab_namespaces: set[str],
                  lab_dirs: list[str]) -> list[str]:
    """Processes present after `down` that were not there before and belong to the lab."""
    left = []
    for (pid, _), cmd in new_processes(before, after).items():
        if namespaces_of(pid) & lab_namespaces or any(d in cmd for d in lab_dirs):
            left.append(f"{pid}: {cmd}")
    return left
