"""``fermion agent l2 --host H``: the Open vSwitch L2 agent.

The loop is :class:`fermion.agent.loop.ReconcilingAgent`'s (snapshot, converge, watch the
change feed); a pass converges OVS to the snapshot (:class:`~fermion.agent.l2_apply.L2Applier`)
and reports port status. A hypervisor plugging or unplugging a port wakes the loop at once
through ``ovsdb-client monitor`` of the Interface table
(:class:`~fermion.linux.ovsdb_monitor.OvsdbMonitor`); a local pass is a few OVSDB reads and
one ``dump-flows`` per bridge and writes nothing when nothing differs.

Port status: a snapshot port bound to this host (or unbound) with an OVS port on br-int whose
``external_ids:iface-id`` is its id is reported ACTIVE; one that was ACTIVE and has no OVS
port any more is reported DOWN. Reports are only sent for ports whose status differs from
what the server (or our last report) says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fermion.agent.l2_apply import ApplyResult, L2Applier
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.server_client import ServerClient
from fermion.linux.ovs import Ovs, detect_datapath_type, rundir_of
from fermion.linux.ovsdb_monitor import OvsdbMonitor

LOG = logging.getLogger(__name__)

AGENT_TYPE = "Open vSwitch agent"
BINARY = "fermion-agent-l2"


class L2Agent(ReconcilingAgent):
    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, host: str, client: ServerClient, ovs: Ovs, *,
                 bridge_mappings: Mapping[str, str] | None = None,
                 tunnel_types: Sequence[str] = (), local_ip: str | None = None,
                 report_interval: float = 30.0, poll_interval: float = 2.0,
                 l2_population: bool = False, arp_responder: bool = False):
        super().__init__(host, client, report_interval=report_interval,
                         poll_interval=poll_interval)
        self.ovs = ovs
        self.bridge_mappings = dict(bridge_mappings or {})
        self.tunnel_types = list(tunnel_types)
        self.local_ip = local_ip
        self.l2_population = l2_population
        self.arp_responder = arp_responder and l2_population
        self.applier = L2Applier(ovs, host=host, bridge_mappings=self.bridge_mappings,
                                 tunnel_types=self.tunnel_types, local_ip=local_ip,
                                 l2_population=l2_population, arp_responder=arp_responder)
        self.reported: dict[str, str] = {}  # port id -> status we last reported
        self.monitor: OvsdbMonitor | None = None

    def start_watchers(self) -> None:
        """Plugs and unplugs wake the loop at once (``ovsdb-client monitor``)."""
        self.monitor = OvsdbMonitor(self.ovs.rundir / "db.sock", self.wake.set).start()

    def stop_watchers(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()

    def configurations(self) -> dict:
        conf: dict = {"bridge_mappings": self.bridge_mappings, "integration_bridge": "br-int",
                      "datapath_type": self.ovs.datapath_type,
                      "tunnel_types": self.tunnel_types, "l2_population": self.l2_population,
                      "arp_responder_enabled": self.arp_responder}
        if self.local_ip and self.tunnel_types:
            conf["tunneling_ip"] = self.local_ip
        return conf

    # ---------------------------------------------------------------- one pass
    def converge(self) -> ApplyResult:
        assert self.snapshot is not None
        result = self.applier.reconcile(self.snapshot)
        self.passes += 1
        if result.changed or self.passes == 1:
            LOG.info("pass %d at revision %d: %d ports wired, %d OVSDB changes, flows +%d -%d",
                     self.passes, self.revision, len(result.wired), result.ovs_changes,
                     sum(result.flows_added.values()), sum(result.flows_deleted.values()))
        self.report_ports(result)
        return result

    def report_ports(self, result: ApplyResult) -> None:
        statuses = []
        for p in self.snapshot.get("ports", []):
            bound = p.get("binding:host_id")
            if bound and bound != self.host:
                continue
            known = self.reported.get(p["id"], p.get("status"))
            if p["id"] in result.wired:
                if known != "ACTIVE":
                    statuses.append((p["id"], "ACTIVE"))
            elif bound == self.host and known == "ACTIVE":
                statuses.append((p["id"], "DOWN"))  # unplugged (maybe while we were down)
        if not statuses:
            return
        answer = self.client.report_ports(self.host, statuses)
        sent = dict(statuses)
        for entry in answer:
            if entry.get("result") in ("updated", "unchanged") and entry.get("id") in sent:
                self.reported[entry["id"]] = sent[entry["id"]]
        LOG.info("reported port status: %s", statuses)


@dataclass(frozen=True)
class L2Options:
    """The agent's settings: command line over INI files ([ovs], [agent]) over defaults."""

    host: str
    ovs_rundir: str
    datapath_type: str
    bridge_mappings: dict[str, str]
    tunnel_types: list[str]
    local_ip: str | None
    l2_population: bool
    arp_responder: bool
    report_interval: float
    poll_interval: float

    @classmethod
    def from_args(cls, args) -> L2Options:
        conf = args.conf

        def pick(value, section, name):
            return value if value is not None else conf.get(section, name)

        for section, name, only in (("ovs", "integration_bridge", "br-int"),
                                    ("ovs", "tunnel_bridge", "br-tun")):
            if conf.get(section, name) != only:
                raise ValueError(f"[{section}] {name} must be {only} (other names are not "
                                 "supported)")
        mappings = args.bridge_mappings if args.bridge_mappings is not None \
            else conf.get("ovs", "bridge_mappings")
        types = args.tunnel_types if args.tunnel_types is not None \
            else conf.get("agent", "tunnel_types")
        return cls(
            host=args.host,
            ovs_rundir=args.ovs_rundir or rundir_of(conf.get("ovs", "ovsdb_connection")),
            datapath_type=pick(args.datapath_type, "ovs", "datapath_type")
            or detect_datapath_type(),
            bridge_mappings=parse_mappings(mappings),
            tunnel_types=[t.strip() for v in types for t in v.split(",") if t.strip()],
            local_ip=pick(args.local_ip, "ovs", "local_ip") or None,
            l2_population=pick(args.l2_population, "agent", "l2_population"),
            arp_responder=pick(args.arp_responder, "agent", "arp_responder"),
            report_interval=pick(args.report_interval, "agent", "report_interval"),
            poll_interval=pick(args.poll_interval, "agent", "polling_interval"))


def parse_mappings(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            physnet, sep, bridge = item.partition(":")
            if not sep or not physnet or not bridge:
                raise ValueError(f"bad bridge mapping {item!r} (expected physnet:bridge)")
            out[physnet] = bridge
    return out


def main(args) -> int:
    """Entry point for ``fermion agent l2`` (args from the CLI parser)."""
    opts = L2Options.from_args(args)
    ovs = Ovs(opts.ovs_rundir, datapath_type=opts.datapath_type)
    headers = {"X-Auth-Token": args.os_token} if args.os_token else {}
    client = ServerClient(args.server, headers=headers)
    agent = L2Agent(opts.host, client, ovs, bridge_mappings=opts.bridge_mappings,
                    tunnel_types=opts.tunnel_types, local_ip=opts.local_ip,
                    report_interval=opts.report_interval, poll_interval=opts.poll_interval,
                    l2_population=opts.l2_population, arp_responder=opts.arp_responder)
    return agent.serve(args.once)
