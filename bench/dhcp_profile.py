"""``python -m bench.dhcp_profile OUT.json -- agent dhcp --once …``: the DHCP agent, profiled.

Runs ``fermion.cli.main`` with the arguments after ``--`` in this process (the same code
path as the ``fermion`` command) after wrapping, without changing them:

- ``subprocess.run`` — every external command the agent runs (``fermion.linux.cmd.run``
  goes through it), grouped by ``bench.l3_profile.command_kind`` (``ip netns exec NS
  dnsmasq …`` is ``[ns] dnsmasq``);
- the steps of a pass (``SPANS``): report, snapshot, the desired model, each network's
  ``apply_network`` and its parts (DHCP port, plug, addresses, files, dnsmasq), the checks
  after it — and every call the agent makes to the server (``ServerClient``).

The applier works on ``num_sync_threads`` networks at once (4 by default), so the times of
commands and of per-network steps add up to more than the wall time. The agent's own stdout
(its JSON summary) is left as it is; the profile goes to OUT.json when the agent returns.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.l3_profile import Recorder, _timed

# (module, attribute path, label): wrapped in place, timed as a span; labels starting with
# spaces are parts of "apply one network"; "API:" rows are the calls to the server
SPANS = (
    ("fermion.agent.loop", "ReconcilingAgent.report_state", "report state"),
    ("fermion.agent.loop", "ReconcilingAgent.resync", "snapshot"),
    ("fermion.agent.dhcp_agent", "desired_networks", "desired model (dhcp_model)"),
    ("fermion.agent.dhcp_apply", "DhcpApplier.reconcile", "reconcile (all networks)"),
    ("fermion.agent.dhcp_apply", "DhcpApplier.apply_network", "apply one network"),
    ("fermion.agent.dhcp_apply", "DhcpApplier._ensure_port", "  DHCP port (create/update)"),
    ("fermion.linux.interface", "plug", "  plug tap (namespace, veth, OVS port)"),
    ("fermion.linux.interface", "set_addresses", "  addresses"),
    ("fermion.agent.dnsmasq", "render_files", "  render hosts/opts files"),
    ("fermion.agent.dhcp_apply", "_replace_if_different", "  write files (if changed)"),
    ("fermion.linux.process", "Daemon.ensure", "  dnsmasq: adopt or start"),
    ("fermion.linux.process", "Daemon._find_in_netns", "    look for it in the namespace"),
    ("fermion.linux.process", "Daemon.start", "    start, wait for its pid file"),
    ("fermion.agent.dhcp_apply", "DhcpApplier._release_ports", "release stale DHCP ports"),
    ("fermion.agent.dhcp_apply", "DhcpApplier.check_daemons", "check daemons alive"),
    ("fermion.agent.server_client", "ServerClient.report_state", "API: report_state"),
    ("fermion.agent.server_client", "ServerClient.snapshot", "API: snapshot"),
    ("fermion.agent.server_client", "ServerClient.create_port", "API: create_port"),
    ("fermion.agent.server_client", "ServerClient.update_port", "API: update_port"),
    ("fermion.agent.server_client", "ServerClient.delete_port", "API: delete_port"),
    ("fermion.agent.server_client", "ServerClient.list_ports", "API: list_ports"),
)


class LockedRecorder(Recorder):
    """``bench.l3_profile.Recorder`` safe to call from the applier's threads."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def command(self, argv: Sequence[str], seconds: float) -> None:
        with self.lock:
            super().command(argv, seconds)

    def span(self, label: str, seconds: float) -> None:
        with self.lock:
            super().span(label, seconds)


def install(rec: Recorder, spans: Sequence[tuple[str, str, str]] = SPANS) -> None:
    real_run = subprocess.run

    def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return real_run(argv, *args, **kwargs)
        finally:
            rec.command([str(a) for a in argv] if not isinstance(argv, str) else [argv],
                        time.monotonic() - t0)

    subprocess.run = run  # type: ignore[assignment]
    for module, path, label in spans:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        setattr(owner, name, _timed(getattr(owner, name), label, rec))


def main(argv: Sequence[str]) -> int:
    out, sep, *agent = argv
    if sep != "--":
        raise SystemExit("usage: python -m bench.dhcp_profile OUT.json -- agent dhcp …")
    rec = LockedRecorder()
    t0 = time.monotonic()
    from fermion import cli

    imported = time.monotonic() - t0
    install(rec)
    t1 = time.monotonic()
    try:
        return cli.main(list(agent))
    finally:
        result = {"import_s": round(imported, 3), "main_s": round(time.monotonic() - t1, 3),
                  **rec.as_dict()}
        with open(out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
