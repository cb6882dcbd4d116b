"""``fermion agent l2 --host H``: the Open vSwitch L2 agent.

The loop is :class:`fermion.agent.loop.ReconcilingAgent`'s (snapshot, converge, watch the
change feed); a pass converges OVS to the snapshot (:class:`~fermion.agent.l2_apply.L2Applier`)
and reports port status. A hypervisor plugging or unplugging a port wakes the loop at once
through ``ovsdb-client monitor`` of the Interface table
(:class:`~fermion.linux.ovsdb_monitor.OvsdbMonitor`); a local pass is a few OVSDB reads and
one ``dump-flows`` per bridge and writes nothing when nothing differs.

Port status: a snapshot port bound to this host (or unbound) with an OVS port on br-int whose
``external_ids:iface-id`` is its id is reported ACTIVE; one that cannot be wired (OVS could
not open its interface, no free local VLAN, its flows or tag rejected) is reported ERROR
and its traffic dropped until it can; one that was ACTIVE (or ERROR) and has no OVS port any
more is reported DOWN. Reports are only sent for ports whose status differs from what the
server (or our last report) says (``fermion.agent.status``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fermion.agent.command import host_ovs, server_client
from fermion.agent.l2_apply import ApplyResult, L2Applier
from fermion.agent.l2_plan import L2Config
from fermion.agent.loop import ReconcilingAgent
from fermion.agent.server_client import ServerClient
from fermion.agent.status import StatusReporter
from fermion.linux.ovs import Ovs
from fermion.linux.ovsdb_monitor import OvsdbMonitor

LOG = logging.getLogger(__name__)

AGENT_TYPE = "Open vSwitch agent"
BINARY = "neutron-openvswitch-agent"


def port_statuses(snapshot: Mapping, host: str, result: ApplyResult) -> dict[str, str]:
    """ACTIVE for the wired ports, ERROR for the failing ones, DOWN for a port bound here
    that the server shows ACTIVE or ERROR and that is plugged no more."""
    out = {}
    for p in snapshot.get("ports", []):
        bound = p.get("binding:host_id")
        if bound and bound != host:
            continue
        if p["id"] in result.wired:
            out[p["id"]] = "ACTIVE"
        elif p["id"] in result.errors:
            out[p["id"]] = "ERROR"
        elif bound == host and p.get("status") in ("ACTIVE", "ERROR"):
            out[p["id"]] = "DOWN"  # unplugged (maybe while we were down)
    return out


class L2Agent(ReconcilingAgent):
    agent_type = AGENT_TYPE
    binary = BINARY

    def __init__(self, client: ServerClient, ovs: Ovs, cfg: L2Config, *,
                 report_interval: float = 30.0, poll_interval: float = 2.0):
        super().__init__(cfg.host, client, report_interval=report_interval,
                         poll_interval=poll_interval)
        self.ovs = ovs
        self.cfg = cfg
        self.applier = L2Applier(ovs, cfg)
        self.ports = StatusReporter("port", lambda statuses: client.report_statuses(
            "ports", cfg.host, statuses))
        self.monitor: OvsdbMonitor | None = None

    def start_watchers(self) -> None:
        """Plugs and unplugs wake the loop at once (``ovsdb-client monitor``)."""
        self.monitor = OvsdbMonitor(self.ovs.rundir / "db.sock", self.wake.set).start()

    def stop_watchers(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()

    def configurations(self) -> dict:
        conf: dict = {"bridge_mappings": dict(self.cfg.bridge_mappings),
                      "integration_bridge": "br-int",
                      "datapath_type": self.ovs.datapath_type,
                      "tunnel_types": list(self.cfg.tunnel_types),
                      "l2_population": self.cfg.l2_population,
                      "arp_responder_enabled": self.cfg.arp_responder}
        if self.cfg.local_ip and self.cfg.tunnel_types:
            conf["tunneling_ip"] = self.cfg.local_ip
        return conf

    def next_retry(self) -> float | None:
        return self.applier.failures.next_retry()

    # ---------------------------------------------------------------- one pass
    def converge(self) -> ApplyResult:
        assert self.snapshot is not None
        result = self.applier.reconcile(self.snapshot)
        self.passes += 1
        if result.changed or self.passes == 1:
            LOG.info("pass %d at revision %d: %d ports wired, %d failing, %d OVSDB changes, "
                     "flows +%d -%d", self.passes, self.revision, len(result.wired),
                     len(result.errors), result.ovs_changes,
                     sum(result.flows_added.values()), sum(result.flows_deleted.values()))
        server = {p["id"]: p.get("status") for p in self.snapshot.get("ports", [])}
        self.ports.report(port_statuses(self.snapshot, self.host, result), server)
        return result


def parse_mappings(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            physnet, sep, bridge = item.partition(":")
            if not sep or not physnet or not bridge:
                raise ValueError(f"bad bridge mapping {item!r} (expected physnet:bridge)")
            out[physnet] = bridge
    return out


def config(args) -> L2Config:
    """The agent's settings from the resolved command line (flags over ml2_conf.ini)."""
    for section, name, only in (("ovs", "integration_bridge", "br-int"),
                                ("ovs", "tunnel_bridge", "br-tun")):
        if args.conf.get(section, name) != only:
            raise ValueError(f"[{section}] {name} must be {only} (other names are not "
                             "supported)")
    return L2Config(
        host=args.host, bridge_mappings=parse_mappings(args.bridge_mappings),
        tunnel_types=tuple(t.strip() for v in args.tunnel_types for t in v.split(",")
                           if t.strip()),
        local_ip=args.local_ip or None, l2_population=bool(args.l2_population),
        arp_responder=bool(args.arp_responder and args.l2_population))


def build(args) -> L2Agent:
    """The agent from the resolved command line (flags over ml2_conf.ini over defaults)."""
    return L2Agent(server_client(args), host_ovs(args), config(args),
                   report_interval=args.report_interval, poll_interval=args.poll_interval)
