"""``fermion agent l3 --host H``: the L3 agent's loop (legacy routers, as in the seed).

The loop is :class:`fermion.agent.loop.ReconcilingAgent`'s: report state (agent_type
"L3 agent", so the server schedules routers here), take the host's snapshot, build the
router models (:mod:`fermion.agent.l3_model`), converge the ``qrouter-`` namespaces to them
(:class:`~fermion.agent.l3_apply.L3Applier`) and report floating IP status (ACTIVE once set
up, ERROR while their router fails, DOWN when disassociated). Any change in the feed means a new snapshot first; the timer
(``periodic_interval``) passes again anyway, so a namespace someone broke by hand is
repaired. A pass over a correct host writes nothing, so a restarted agent (even after
``kill -9``) disturbs no traffic: namespaces, devices, addresses, rules and haproxy are
adopted as they are. A router that fails is retried on its own (after a backoff, or at once
when it changes) while the others converge.

Where the data plane lives: ``--ovs-rundir`` points at the ovs-vswitchd of this host, and
``--ovs-netns`` names the namespace it runs in (the OVS ends of the routers' veths go there;
default: the agent's own). ``--namespace-prefix`` is put before every ``qrouter-`` name, so
simulated hosts sharing one kernel keep their routers apart (default: none).
"""

from __future__ import annotations

import logging

from fermion.agent.command import host_ovs, server_client
from fermion.agent.l3_apply import L3Applier, L3Result
from fermion.agent.l3_model import Router, routers_from_snapshot
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.retry import earliest
from fermion.agent.server_client import ServerClient
from fermion.agent.status import StatusReporter
from fermion.linux.iptables import Iptables, detect_backend

LOG = logging.getLogger(__name__)

AGENT_TYPE = "L3 agent"
BINARY = "neutron-l3-agent"


def floatingip_statuses(routers: list[Router], errors) -> dict[str, str]:
    """ACTIVE for the floating IPs of the routers set up here, ERROR for those of a router
    that failed (as Neutron's L3 agent reports them)."""
    return {f.id: "ERROR" if r.id in errors else "ACTIVE"
            for r in routers for f in r.floating_ips}


class L3Agent(ReconcilingAgent):
    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, host: str, client: ServerClient, applier: L3Applier, *,
                 handle_internal_only_routers: bool = True, enable_metadata_proxy: bool = True,
                 iptables_backend: str = "nft", report_interval: float = 30.0,
                 periodic_interval: float = 40.0):
        super().__init__(host, client, report_interval=report_interval,
                         poll_interval=periodic_interval)
        self.applier = applier
        self.handle_internal_only_routers = handle_internal_only_routers
        self.enable_metadata_proxy = enable_metadata_proxy
        self.iptables_backend = iptables_backend
        self.fips = StatusReporter("floating IP", lambda statuses: client.report_statuses(
            "floatingips", host, statuses))

    def configurations(self) -> dict:
        return {"agent_mode": "legacy", "interface_driver": "openvswitch",
                "handle_internal_only_routers": self.handle_internal_only_routers,
                "enable_metadata_proxy": self.enable_metadata_proxy,
                "iptables_backend": self.iptables_backend,
                "routers": len((self.snapshot or {}).get("routers", []))}

    def next_retry(self) -> float | None:
        return earliest(self.applier.failures, self.applier.removals)

    def converge(self) -> L3Result:
        assert self.snapshot is not None
        routers = routers_from_snapshot(
            self.snapshot, namespace_prefix=self.applier.namespace_prefix,
            handle_internal_only_routers=self.handle_internal_only_routers,
            enable_metadata_proxy=self.enable_metadata_proxy)
        result = self.applier.reconcile(routers)
        self.passes += 1
        if result.changed or result.errors or self.passes == 1:
            LOG.info("pass %d at revision %d: %d routers, %d removed, %d failing, changed: %s",
                     self.passes, self.revision, len(routers), len(result.removed),
                     len(result.errors), result.changed)
        server = {f["id"]: f.get("status") for f in self.snapshot.get("floatingips", [])}
        self.fips.report(floatingip_statuses(routers, result.errors), server)
        return result


def build(args) -> L3Agent:
    """The agent from the resolved command line (flags over l3_agent.ini over defaults)."""
    conf = args.conf
    backend = detect_backend(args.iptables_backend)
    applier = L3Applier(host_ovs(args), Iptables(backend), state_path=args.state_path,
                        ovs_netns=args.ovs_netns, namespace_prefix=args.namespace_prefix or "",
                        metadata_port=conf.get("DEFAULT", "metadata_port"),
                        metadata_socket=args.metadata_proxy_socket,
                        send_arp_count=conf.get("DEFAULT", "send_arp_for_ha"))
    return L3Agent(args.host, server_client(args), applier,
                   handle_internal_only_routers=conf.get("DEFAULT",
                                                         "handle_internal_only_routers"),
                   enable_metadata_proxy=args.enable_metadata_proxy,
                   iptables_backend=backend, report_interval=args.report_interval,
                   periodic_interval=args.periodic_interval)
