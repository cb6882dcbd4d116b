"""The servers the benchmark compares, behind one interface (``bench.proc.ManagedServer``).

``FermionServer`` runs ``.venv/bin/fermion server --config-file neutron.conf
--config-file ml2_conf.ini`` with a private SQLite file and a free port on 127.0.0.1 —
the same ML2 options as the upstream peer (``bench.peer_neutron.NeutronPeer``) — waits
for ``GET /`` → 200 and stops it by its tracked pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.peer_neutron import NeutronPeer
from bench.proc import ML2_CONF, QUOTAS_CONF, Log, ManagedServer

REPO = Path(__file__).resolve().parent.parent


def fermion_executable() -> Path:
    """``fermion`` next to the running Python (the repo's .venv), else the repo's .venv."""
    here = Path(sys.executable).parent / "fermion"
    return here if here.exists() else REPO / ".venv" / "bin" / "fermion"


class FermionServer(ManagedServer):
    name = "fermion"
    ready_timeout = 60.0

    def prepare(self) -> None:
        wd = self.workdir
        assert wd is not None
        (wd / "neutron.conf").write_text(f"""\
[DEFAULT]
bind_host = {self.host}
bind_port = {self.port}
auth_strategy = noauth
core_plugin = ml2
service_plugins = router
debug = false

[database]
connection = sqlite:///{wd / "fermion.sqlite"}

""" + QUOTAS_CONF)
        (wd / "ml2_conf.ini").write_text(ML2_CONF)

    def command(self) -> list[str]:
        assert self.workdir is not None
        return [str(fermion_executable()), "server",
                "--config-file", str(self.workdir / "neutron.conf"),
                "--config-file", str(self.workdir / "ml2_conf.ini")]

    def version(self) -> str:
        try:
            rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "src"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            rev, dirty = "", ""
        rev = (rev or "unknown") + ("+dirty" if dirty else "")
        return f"fermion {rev} (SQLite)"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        return env


SERVERS: dict[str, type[ManagedServer]] = {"fermion": FermionServer, "neutron": NeutronPeer}


def make_server(name: str, log: Log = print) -> ManagedServer:
    return SERVERS[name](log=log)
