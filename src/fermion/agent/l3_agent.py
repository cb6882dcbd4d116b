"""``fermion agent l3 --host H``: the L3 agent's loop (legacy routers, as in the seed).

The loop is :class:`fermion.agent.loop.ReconcilingAgent`'s: report state (agent_type
"L3 agent", so the server schedules routers here), take the host's snapshot, build the
router models (:mod:`fermion.agent.l3_model`), converge the ``qrouter-`` namespaces to them
(:class:`~fermion.agent.l3_apply.L3Applier`) and report floating IP status (ACTIVE once set
up, DOWN when disassociated). Any change in the feed means a new snapshot first; the timer
(``periodic_interval``) passes again anyway, so a namespace someone broke by hand is
repaired. A pass over a correct host writes nothing, so a restarted agent (even after
``kill -9``) disturbs no traffic: namespaces, devices, addresses, rules and haproxy are
adopted as they are.

Where the data plane lives: ``--ovs-rundir`` points at the ovs-vswitchd of this host, and
``--ovs-netns`` names the namespace it runs in (the OVS ends of the routers' veths go there;
default: the agent's own). ``--namespace-prefix`` is put before every ``qrouter-`` name, so
simulated hosts sharing one kernel keep their routers apart (default: none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fermion.agent.l3_apply import L3Applier, L3Result
from fermion.agent.l3_model import routers_from_snapshot
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.server_client import ServerClient
from fermion.linux.iptables import Iptables, detect_backend
from fermion.linux.ovs import Ovs, detect_datapath_type, rundir_of

LOG = logging.getLogger(__name__)

AGENT_TYPE = "L3 agent"
BINARY = "neutron-l3-agent"


@dataclass(frozen=True)
class L3Options:
    """The agent's settings: command line over l3_agent.ini over defaults."""

    host: str
    ovs_rundir: str
    ovs_netns: str | None
    datapath_type: str
    namespace_prefix: str
    state_path: str
    iptables_backend: str
    enable_metadata_proxy: bool
    metadata_port: int
    metadata_socket: str
    handle_internal_only_routers: bool
    send_arp_for_ha: int
    report_interval: float
    periodic_interval: float

    @classmethod
    def from_args(cls, args) -> L3Options:
        conf = args.conf

        def pick(value, section, name):
            return value if value is not None else conf.get(section, name)

        return cls(
            host=args.host,
            ovs_rundir=args.ovs_rundir or rundir_of(conf.get("ovs", "ovsdb_connection")),
            ovs_netns=args.ovs_netns,
            datapath_type=pick(args.datapath_type, "ovs", "datapath_type")
            or detect_datapath_type(),
            namespace_prefix=args.namespace_prefix or "",
            state_path=pick(args.state_path, "DEFAULT", "state_path"),
            iptables_backend=detect_backend(args.iptables_backend),
            enable_metadata_proxy=pick(args.enable_metadata_proxy, "DEFAULT",
                                       "enable_metadata_proxy"),
            metadata_port=conf.get("DEFAULT", "metadata_port"),
            metadata_socket=pick(args.metadata_proxy_socket, "DEFAULT",
                                 "metadata_proxy_socket"),
            handle_internal_only_routers=conf.get("DEFAULT", "handle_internal_only_routers"),
            send_arp_for_ha=conf.get("DEFAULT", "send_arp_for_ha"),
            report_interval=pick(args.report_interval, "agent", "report_interval"),
            periodic_interval=pick(args.periodic_interval, "DEFAULT", "periodic_interval"))


class L3Agent(ReconcilingAgent):
    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, opts: L3Options, client: ServerClient, applier: L3Applier):
        super().__init__(opts.host, client, report_interval=opts.report_interval,
                         poll_interval=opts.periodic_interval)
        self.opts = opts
        self.applier = applier
        self.fip_reported: dict[str, str] = {}  # floating IP id -> status we last reported

    def configurations(self) -> dict:
        return {"agent_mode": "legacy", "interface_driver": "openvswitch",
                "handle_internal_only_routers": self.opts.handle_internal_only_routers,
                "enable_metadata_proxy": self.opts.enable_metadata_proxy,
                "iptables_backend": self.opts.iptables_backend,
                "routers": len((self.snapshot or {}).get("routers", []))}

    def converge(self) -> L3Result:
        assert self.snapshot is not None
        routers = routers_from_snapshot(
            self.snapshot, namespace_prefix=self.opts.namespace_prefix,
            handle_internal_only_routers=self.opts.handle_internal_only_routers,
            enable_metadata_proxy=self.opts.enable_metadata_proxy)
        result = self.applier.reconcile(routers)
        self.passes += 1
        if result.changed or self.passes == 1:
            LOG.info("pass %d at revision %d: %d routers, %d removed, changed: %s",
                     self.passes, self.revision, len(routers), len(result.removed),
                     result.changed)
        self.report_floatingips(routers)
        return result

    def report_floatingips(self, routers) -> None:
        """ACTIVE for every floating IP a router here has set up; DOWN for one we reported
        ACTIVE that is no longer set up here (the server itself marks a floating IP DOWN
        when its association changes). Only what differs from the server's view is sent."""
        configured = {f.id for r in routers for f in r.floating_ips}
        known = {f["id"]: f.get("status") for f in self.snapshot.get("floatingips", [])}
        statuses = [(fid, "ACTIVE") for fid in sorted(configured)
                    if self.fip_reported.get(fid, known.get(fid)) != "ACTIVE"]
        statuses += [(fid, "DOWN") for fid, status in sorted(self.fip_reported.items())
                     if status == "ACTIVE" and fid not in configured]
        if not statuses:
            return
        answer = self.client.report_floatingips(self.host, statuses)
        sent = dict(statuses)
        for entry in answer:
            if entry.get("id") not in sent:
                continue
            if entry.get("result") in ("updated", "unchanged"):
                self.fip_reported[entry["id"]] = sent[entry["id"]]
            elif entry.get("result") in ("not_found", "wrong_host"):
                self.fip_reported.pop(entry["id"], None)
        LOG.info("reported floating IP status: %s", statuses)


def build(args) -> tuple[L3Agent, ServerClient]:
    opts = L3Options.from_args(args)
    ovs = Ovs(opts.ovs_rundir, datapath_type=opts.datapath_type)
    applier = L3Applier(ovs, Iptables(opts.iptables_backend), state_path=opts.state_path,
                        ovs_netns=opts.ovs_netns, namespace_prefix=opts.namespace_prefix,
                        metadata_port=opts.metadata_port, metadata_socket=opts.metadata_socket,
                        send_arp_count=opts.send_arp_for_ha)
    headers = {"X-Auth-Token": args.os_token} if args.os_token else {}
    client = ServerClient(args.server, headers=headers)
    return L3Agent(opts, client, applier), client


def main(args) -> int:
    """Entry point for ``fermion agent l3`` (args from the CLI parser)."""
    agent, _client = build(args)
    return agent.serve(args.once)
