"""A lab that exists: its topology, its directories, its hosts' capsules and instances.

What `status`, `exec`, `logs`, the smoke checks and the builder share: how to find a host's
capsule (by the holder pid on disk), run a command inside a host or an instance, and read a
host's files from here (``/proc/<init>/root/...``, no process needed).

Entering an instance goes through its host, as one would on real machines: ``nsenter`` into
the compute host, then ``nsenter`` into the guest by its pid in the host's numbering.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from fermion.lab import topofile
from fermion.lab.state import LabPaths
from fermion.lab.topology import Topology, scaled
from fermion.linux import capsule
from fermion.linux.capsule import Capsule


class LabError(RuntimeError):
    """Something about a lab the user can act on (the message says what)."""


class LiveLab:
    def __init__(self, paths: LabPaths, topo: Topology | None = None):
        self.paths = paths
        self.state = paths.read()
        self.topo = topo or self._topology()

    def _topology(self) -> Topology:
        if not self.paths.topology_file.exists():
            raise LabError(f"lab {self.paths.name} has no topology in {self.paths.dir}")
        topo = topofile.loads(self.paths.topology_file.read_text(),
                              self.state.get("topology_source", str(self.paths.topology_file)))
        return scaled(topo, self.state.get("computes"), self.state.get("instances"))

    @property
    def api_url(self) -> str:
        return f"http://{self.topo.api_address()}:9696"

    # --- hosts -------------------------------------------------------------------------
    def capsule(self, host: str) -> Capsule | None:
        return capsule.find(self.paths.capsule(host))

    def need(self, host: str) -> Capsule:
        c = self.capsule(host)
        if c is None:
            raise LabError(f"host {host} of lab {self.paths.name} is not running "
                           "(`fermion lab status`)")
        return c

    def host_argv(self, host: str, argv: Sequence[str]) -> list[str]:
        return self.need(host).enter(argv)

    def run(self, host: str, argv: Sequence[str], *, check: bool = False,
            timeout: float = 30.0, input: str | None = None) -> subprocess.CompletedProcess:
        return self.need(host).run(argv, check=check, timeout=timeout, input=input)

    def python(self, host: str, module: str, step: str, payload: dict,
               timeout: float = 120.0) -> dict:
        """Run ``python -m module step`` inside `host` with a JSON payload; its JSON answer."""
        argv = [sys.executable, "-m", module, step]
        done = self.run(host, argv, input=json.dumps(payload), timeout=timeout)
        if done.returncode != 0:
            raise LabError(f"{module} {step} on {host} failed:\n{done.stderr.strip()[-3000:]}")
        return json.loads(done.stdout)

    def read(self, host: str, path: str) -> str | None:
        """A file of the host's file system as the host sees it."""
        c = self.capsule(host)
        try:
            return c.path(path).read_text() if c else None
        except OSError:
            return None

    def host_pids(self, host: str) -> dict[str, int | None]:
        """Daemons of `host` by name, with their pid in the host if they are alive."""
        c = self.capsule(host)
        if c is None:
            return {}
        out = {}
        for folder in ("run/fermion", "run/openvswitch"):
            for pidfile in sorted(c.path(folder).glob("*.pid")):
                try:
                    pid = int(pidfile.read_text().strip())
                except (OSError, ValueError):
                    continue
                stat = c.path(f"proc/{pid}/stat")
                alive = stat.exists() and ") Z " not in stat.read_text()
                out[pidfile.stem] = pid if alive else None
        return out

    # --- instances ---------------------------------------------------------------------
    def instance(self, name: str) -> dict | None:
        return self.state.get("resources", {}).get("instances", {}).get(name)

    def guest_record(self, name: str) -> dict | None:
        inst = self.instance(name)
        text = self.read(inst["host"], f"/run/fermion/guests/{name}.json") if inst else None
        return json.loads(text) if text else None

    def instance_argv(self, name: str, argv: Sequence[str]) -> list[str]:
        inst = self.instance(name)
        record = self.guest_record(name)
        if inst is None or record is None:
            raise LabError(f"no instance {name} in lab {self.paths.name}")
        inner = capsule.nsenter_argv(record["pid"], argv)
        return self.host_argv(inst["host"], inner)

    def target_argv(self, target: str, argv: Sequence[str]) -> list[str]:
        """`argv` inside host or instance `target`."""
        if any(h.name == target for h in self.topo.hosts):
            return self.host_argv(target, argv)
        if self.instance(target):
            return self.instance_argv(target, argv)
        names = [h.name for h in self.topo.hosts] + sorted(
            self.state.get("resources", {}).get("instances", {}))
        raise LabError(f"no host or instance {target!r} in lab {self.paths.name}; "
                       f"there are {', '.join(names)}")

    def exec_in(self, target: str, argv: Sequence[str], timeout: float = 30.0,
                ) -> subprocess.CompletedProcess:
        return subprocess.run(self.target_argv(target, argv), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


def shown(target: str, argv: Sequence[str]) -> str:
    """The command a user types to do the same: ``fermion lab exec TARGET -- ARGV``."""
    return f"fermion lab exec {target} -- {shlex.join(argv)}"


def log_file(paths: LabPaths, host: str, daemon: str | None) -> Path:
    return paths.host_logs(host) / (daemon or "")
