"""Where a lab keeps what it made: one state directory and one log directory per lab.

    <state root>/<lab>.lock            held (flock) by `up` and `down` of that lab
    <state root>/<lab>/lab.json        phase, topology, api, hosts' pids, instances, smoke
    <state root>/<lab>/topology.yaml   the topology file as given (``--computes`` etc. in
                                       lab.json), so later commands see the same lab
    <state root>/<lab>/fabric/capsule  the capsule holding the lab's network segments
    <state root>/<lab>/hosts/<host>/capsule   a host's capsule (holder.pid)
    <state root>/<lab>/hosts/<host>/fs        its /etc and /var layers, its guests
    <log root>/<lab>/<host>/           the host's /var/log (kept by `down`)

Defaults: /var/lib/fermion/lab and /var/log/fermion/lab (``--state-dir``/``--log-dir``, or
FERMION_LAB_STATE_DIR/FERMION_LAB_LOG_DIR). Every capsule's pid is on disk before the capsule
exists (see `fermion.linux.capsule`), so `down` finds everything by walking these
directories, whatever state `up` was killed in.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_ROOT = Path(os.environ.get("FERMION_LAB_STATE_DIR", "/var/lib/fermion/lab"))
LOG_ROOT = Path(os.environ.get("FERMION_LAB_LOG_DIR", "/var/log/fermion/lab"))


class LabBusy(RuntimeError):
    """Another `fermion lab up`/`down` of this lab is running."""


@dataclass(frozen=True)
class LabPaths:
    name: str
    state_root: Path = STATE_ROOT
    log_root: Path = LOG_ROOT

    @property
    def dir(self) -> Path:
        return self.state_root / self.name

    @property
    def state_file(self) -> Path:
        return self.dir / "lab.json"

    @property
    def topology_file(self) -> Path:
        return self.dir / "topology.yaml"

    @property
    def logs(self) -> Path:
        return self.log_root / self.name

    @property
    def fabric(self) -> Path:
        return self.dir / "fabric" / "capsule"

    def capsule(self, host: str) -> Path:
        return self.dir / "hosts" / host / "capsule"

    def fs(self, host: str) -> Path:
        return self.dir / "hosts" / host / "fs"

    def host_logs(self, host: str) -> Path:
        return self.logs / host

    def capsules(self) -> list[Path]:
        """Every capsule directory this lab has, made or half-made (hosts, then fabric)."""
        hosts = sorted(p.parent for p in (self.dir / "hosts").glob("*/capsule/holder.pid"))
        fabric = [self.fabric] if (self.fabric / "holder.pid").exists() else []
        return hosts + fabric

    def read(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def write(self, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(self.state_file)

    def update(self, **changes) -> dict:
        state = self.read()
        state.update(changes)
        self.write(state)
        return state


class Lock:
    """An exclusive lock on one lab (released by the kernel if its holder dies)."""

    def __init__(self, paths: LabPaths):
        self.path = paths.state_root / f"{paths.name}.lock"
        self.fd: int | None = None

    def __enter__(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise LabBusy(f"another `fermion lab` command is working on lab "
                          f"{self.path.stem} (lock {self.path})") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def labs(state_root: Path = STATE_ROOT) -> list[str]:
    """Names of the labs with a state directory under `state_root`."""
    if not state_root.is_dir():
        return []
    return sorted(p.parent.name for p in state_root.glob("*/lab.json"))


def pick(name: str | None, state_root: Path = STATE_ROOT) -> str:
    """The lab a command is about: `name`, or the only one there is."""
    if name:
        return name
    found = labs(state_root)
    if len(found) == 1:
        return found[0]
    if not found:
        raise LookupError(f"no lab is up (nothing in {state_root}); `fermion lab up` makes one")
    raise LookupError(f"several labs: {', '.join(found)}; say which with --lab NAME")
