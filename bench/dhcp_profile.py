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

import sys
from collections.abc import Sequence

from bench.l3_profile import Recorder, run_profiled, time_commands, wrap_spans

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


def install(rec: Recorder, spans: Sequence[tuple[str, str, str]] = SPANS) -> None:
    time_commands(rec)
    wrap_spans(rec, spans)


def main(argv: Sequence[str]) -> int:
    return run_profiled(argv, install, "agent dhcp")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
