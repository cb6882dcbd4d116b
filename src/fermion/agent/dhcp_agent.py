"""``fermion agent dhcp --host H``: DHCP and DNS (dnsmasq) for the networks scheduled here.

The loop is every agent's (`fermion.agent.loop.ReconcilingAgent`): report state (the report
makes the agent, and the scheduler puts networks with DHCP-enabled subnets on it), take the
host snapshot, converge (`dhcp_model.desired_networks` → `dhcp_apply.DhcpApplier`), wait for
the change feed or the timer. A pass only touches networks whose desired state differs from
what was applied, and checks that every dnsmasq/haproxy is alive (restarting a crashed one),
so the timer's passes (``poll_interval`` apart) cost a few file reads.

A restarted agent adopts what runs: same dnsmasq command line → no restart (leases stay in
its memory and lease file); files are rewritten only when their text differs. A network that
fails is retried on its own (after a backoff, or at once when it changes) while the others
are served.

Simulated hosts (tests, the lab): ``--namespace-prefix`` prefixes the qdhcp namespaces
(namespaces are global to the machine) and ``--ovs-netns`` names the namespace where the
host's ovs-vswitchd runs, where the OVS end of each DHCP veth goes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fermion.agent.command import host_ovs, server_client
from fermion.agent.dhcp_apply import ApplyResult, DhcpApplier
from fermion.agent.dhcp_model import DhcpConf, desired_networks
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.retry import earliest
from fermion.agent.server_client import ServerClient

LOG = logging.getLogger(__name__)

AGENT_TYPE = "DHCP agent"
BINARY = "neutron-dhcp-agent"


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

    def cleanup(self) -> int:
        """``--cleanup``: remove every network of ours on this host; print which."""
        try:
            print(json.dumps({"removed": self.applier.remove_all()}))
        finally:
            self.client.close()
        return 0

    def next_retry(self) -> float | None:
        return earliest(self.applier.failures, self.applier.removals)

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


def build(args) -> DhcpAgent:
    """The agent from the resolved command line (flags over dhcp_agent.ini over defaults)."""
    conf = args.conf
    dconf = DhcpConf(
        dns_domain=conf.get("DEFAULT", "dns_domain"),
        dnsmasq_dns_servers=tuple(conf.get("DEFAULT", "dnsmasq_dns_servers")),
        dnsmasq_local_resolv=conf.get("DEFAULT", "dnsmasq_local_resolv"),
        enable_isolated_metadata=conf.get("DEFAULT", "enable_isolated_metadata"),
        force_metadata=conf.get("DEFAULT", "force_metadata"),
        dhcp_lease_duration=conf.get("DEFAULT", "dhcp_lease_duration"),
        dnsmasq_lease_max=conf.get("DEFAULT", "dnsmasq_lease_max"))
    client = server_client(args)
    applier = DhcpApplier(
        args.host, client, host_ovs(args), dconf,
        state_dir=str(Path(conf.get("DEFAULT", "state_path")) / "dhcp"),
        metadata_socket=conf.get("DEFAULT", "metadata_proxy_socket"),
        namespace_prefix=args.namespace_prefix, ovs_netns=args.ovs_netns,
        threads=conf.get("DEFAULT", "num_sync_threads"))
    return DhcpAgent(args.host, client, applier, report_interval=args.report_interval,
                     poll_interval=args.poll_interval)
