"""What an agent made on a simulated host that the host's own teardown does not know about.

A host's `Teardown` records what the lab made (namespace, OVS, instances). Agents run on it
as processes make more: the L3 agent's `<host ns>-qrouter-<id>` namespaces (whose veths take
their OVS ends along when deleted) and a haproxy metadata proxy per router, daemonized, known
by its pid file. `remove_routers` removes those, for tests and benchmarks alike:

    host.teardown.add("L3 agent leftovers", remove_routers, host, host.rundir / "l3")

Processes are signalled only by the pid in their pid file, and only when that process runs
haproxy with the config file next to the pid file (`fermion.linux.process.Daemon.stop`).
Only `fermion.linux` is used here.
"""

from __future__ import annotations

from pathlib import Path

from fermion.linux import netns as ns
from fermion.linux.process import Daemon


def remove_routers(host, state_path: Path) -> None:
    """Stop the metadata proxies under `state_path`/ns-metadata-proxy (the L3 agent's
    `--state-path`) and delete the host's qrouter namespaces (`--namespace-prefix` is
    `<host ns>-`)."""
    for pidfile in sorted((Path(state_path) / "ns-metadata-proxy").glob("*.pid")):
        config = str(pidfile.with_suffix(".cfg"))  # haproxy's argv names it, not the pid file
        Daemon(["haproxy", "-f", config], pidfile=pidfile, identity=config).stop()
    for name in ns.list_netns():
        if name.startswith(f"{host.ns}-qrouter-"):
            ns.delete_netns(name)
