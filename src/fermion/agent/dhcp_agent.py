"""``fermion agent dhcp --host H``: DHCP and DNS (dnsmasq) for the networks scheduled here.

The loop is every agent's (`fermion.agent.loop.ReconcilingAgent`): report state (the report
makes the agent, and the scheduler puts networks with DHCP-enabled subnets on it), take the
host snapshot, converge (`dhcp_model.desired_networks` → `dhcp_apply.DhcpApplier`), wait for
the change feed or the timer. A pass only touches networks whose desired state differs from
what was applied, and checks that every dnsmasq/haproxy is alive (restarting a crashed one),
so the timer's passes (``poll_interval`` apart) cost a few file reads.

A restarted agent adopts what runs: same dnsmasq command line → no restart (leases stay in
its memory and lease file); files are rewritten only when their text differs.

Simulated hosts (tests, the lab): ``--namespace-prefix`` prefixes the qdhcp namespaces
(namespaces are global to the machine) and ``--ovs-netns`` names the namespace where the
host's ovs-vswitchd runs, where the OVS end of each DHCP veth goes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fermion.agent.dhcp_apply import ApplyResult, DhcpApplier
from fermion.agent.dhcp_model import DhcpConf, desired_networks
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.server_client import ServerClient
from fermion.linux.ovs import Ovs, detect_datapath_type, rundir_of

LOG = logging.getLogger(__name__)

AGENT_TYPE = "DHCP agent"
BINARY = "fermion-agent-dhcp"


class DhcpAgent(ReconcilingAgent):
    """The loop is `ReconcilingAgent`'s; a pass is `DhcpApplier.reconcile`."""

    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, host: str, client: ServerClient, applier: DhcpApplier, **kwargs):
        super().__init__(host, client, **kwargs)
        self.applier = applier

    def configurations(self) -> dict:
        served = list(self.applier.applied.values())
        conf = self.applier.conf
        return {"networks": len(served), "subnets": sum(len(n.subnets) for n in served),
                "ports": sum(len({h.port_id for h in n.hosts}) for n in served),
                "dhcp_driver": "dnsmasq", "dhcp_lease_duration": conf.dhcp_lease_duration}

    def converge(self) -> ApplyResult:
        assert self.snapshot is not None
        desired = desired_networks(self.snapshot, self.host, self.applier.conf)
        result = self.applier.reconcile(desired, self.snapshot)
        self.passes += 1
        summary = {k: (len(v) if k in ("networks", "unchanged") else v)
                   for k, v in result.summary().items() if v}
        did = set(summary) - {"networks", "unchanged"}
        LOG.log(logging.INFO if did or self.passes == 1 else logging.DEBUG,
                "pass %d at revision %d: %s", self.passes, self.revision,
                json.dumps(summary, sort_keys=True))
        return result


def build(args) -> tuple[DhcpAgent, ServerClient]:
    """The agent from the CLI's args (command line over dhcp_agent.ini over defaults)."""
    conf = args.conf
    dconf = DhcpConf(
        dns_domain=conf.get("DEFAULT", "dns_domain"),
        dnsmasq_dns_servers=tuple(conf.get("DEFAULT", "dnsmasq_dns_servers")),
        dnsmasq_local_resolv=conf.get("DEFAULT", "dnsmasq_local_resolv"),
        enable_isolated_metadata=conf.get("DEFAULT", "enable_isolated_metadata"),
        force_metadata=conf.get("DEFAULT", "force_metadata"),
        dhcp_lease_duration=conf.get("DEFAULT", "dhcp_lease_duration"),
        dnsmasq_lease_max=conf.get("DEFAULT", "dnsmasq_lease_max"))
    rundir = args.ovs_rundir or rundir_of(conf.get("ovs", "ovsdb_connection"))
    ovs = Ovs(rundir, datapath_type=conf.get("ovs", "datapath_type") or detect_datapath_type())
    headers = {"X-Auth-Token": args.os_token} if args.os_token else {}
    client = ServerClient(args.server, headers=headers)
    applier = DhcpApplier(
        args.host, client, ovs, dconf,
        state_dir=str(Path(conf.get("DEFAULT", "state_path")) / "dhcp"),
        metadata_socket=conf.get("DEFAULT", "metadata_proxy_socket"),
        namespace_prefix=args.namespace_prefix, ovs_netns=args.ovs_netns,
        threads=conf.get("DEFAULT", "num_sync_threads"))
    report = args.report_interval or conf.get("agent", "report_interval")
    poll = args.poll_interval or conf.get("agent", "polling_interval")
    agent = DhcpAgent(args.host, client, applier, report_interval=report, poll_interval=poll)
    return agent, client


def main(args) -> int:
    """Entry point for ``fermion agent dhcp``."""
    agent, client = build(args)
    if args.cleanup:
        try:
            print(json.dumps({"removed": agent.applier.remove_all()}))
        finally:
            client.close()
        return 0
    return agent.serve(args.once)
