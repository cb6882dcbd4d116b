"""The L2 agent's applier: converge one host's Open vSwitch to the compiled model.

This is the only L2 module that talks to OVS (through :class:`fermion.linux.ovs.Ovs`); what
to install is computed by the pure modules (``l2_model``, ``l2_flows``, ``flows``).

One :meth:`L2Applier.reconcile` pass, given the host's snapshot:

1. bridges ``br-int`` (fail_mode secure), ``br-tun`` when tunnelling, one bridge per
   ``bridge_mappings`` entry, joined by patch ports named as in the seed
   (``int-<br>``/``phy-<br>``, ``patch-tun``/``patch-int``); existing ones are left as they are;
2. tunnel ports ``<type>-<hex of peer IP>`` on br-tun, one per remote endpoint the snapshot
   lists (``key=flow``); stale ones are removed;
3. local VLANs: one per network that has a plugged port, kept across restarts because each
   OVS port records its network in ``other_config:net_uuid`` next to its ``tag``; a plugged
   port unknown to the snapshot gets the dead VLAN 4095;
4. flows: per bridge, the desired flows are compared with the bridge's and only the
   difference is sent, in one ``ovs-ofctl --bundle`` transaction. Nothing is flushed; flows
   with other cookies and learned flows are left alone. The bridge's flows are what the
   last pass applied, kept in memory, re-read with ``dump-flows`` on the first pass, every
   ``audit_interval`` seconds, and whenever br-int's canary flow (table 23) is missing.

OVSDB is read once per pass (bridges, ports, interfaces in one ``ovsdb-client transact``),
again only after the pass created something.

It returns which snapshot ports are wired (an OVS port on br-int with ``external_ids:iface-id``
equal to the port id and a valid ofport) so the agent can report them ACTIVE.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fermion.agent import cookies
from fermion.agent import flows as fl
from fermion.agent.l2_flows import PortFlowCache, compile_all
from fermion.agent.l2_model import HostModel, PhysBridge, allocate_local_vlans
from fermion.agent.pipeline import BR_INT, BR_TUN
from fermion.linux.ovs import Ovs, OvsState

LOG = logging.getLogger(__name__)

DEAD_VLAN = 4095
AUDIT_INTERVAL = 60.0  # seconds between full flow dumps (the cache is checked in between)
PATCH_TUN, PATCH_INT = "patch-tun", "patch-int"


@dataclass
class OvsPort:
    name: str
    ofport: int
    iface_id: str | None
    tag: int | None
    net_uuid: str | None


@dataclass
class ApplyResult:
    wired: dict[str, OvsPort] = field(default_factory=dict)  # port id -> OVS port
    local_vlans: dict[str, int] = field(default_factory=dict)
    flows_added: dict[str, int] = field(default_factory=dict)
    flows_deleted: dict[str, int] = field(default_factory=dict)
    ovs_changes: int = 0  # OVSDB writes (bridges, patch/tunnel ports, tags)

    @property
    def changed(self) -> bool:
        return bool(self.ovs_changes or sum(self.flows_added.values())
                    or sum(self.flows_deleted.values()))

    def summary(self) -> dict:
        return {"wired": sorted(self.wired), "local_vlans": self.local_vlans,
                "flows_added": self.flows_added, "flows_deleted": self.flows_deleted,
                "ovs_changes": self.ovs_changes}


def tunnel_port_name(tunnel_type: str, remote_ip: str) -> str:
    """``vxlan-c0a80064`` for 192.168.0.100, as Neutron's agent names them (<= 15 chars)."""
    ip = ipaddress.ip_address(remote_ip)
    hexip = f"{int(ip):08x}" if ip.version == 4 else f"{int(ip):032x}"[-8:]
    return f"{tunnel_type}-{hexip}"[:15]


class L2Applier:
    def __init__(self, ovs: Ovs, *, host: str, bridge_mappings: Mapping[str, str] | None = None,
                 tunnel_types: Sequence[str] = (), local_ip: str | None = None,
                 integration_bridge: str = BR_INT, tunnel_bridge: str = BR_TUN,
                 l2_population: bool = False, arp_responder: bool = False,
                 audit_interval: float = AUDIT_INTERVAL):
        self.ovs = ovs
        self.l2_population = l2_population
        self.arp_responder = arp_responder and l2_population
        self.audit_interval = audit_interval
        self._known: dict[str, dict[tuple, fl.Flow]] = {}  # bridge -> flow key -> flow
        self._compiled = PortFlowCache()
        self._audited = 0.0
        self.host = host
        self.bridge_mappings = dict(bridge_mappings or {})
        self.tunnel_types = tuple(tunnel_types)
        self.local_ip = local_ip
        self.br_int = integration_bridge
        self.br_tun = tunnel_bridge
        if self.br_int != BR_INT or self.br_tun != BR_TUN:
            raise ValueError("only br-int / br-tun are supported as bridge names for now")

    # ------------------------------------------------------------------ OVSDB state
    def int_ports(self, state: OvsState) -> dict[str, OvsPort]:
        """OVS ports on br-int (besides the bridge's own and patch ports), by name."""
        out = {}
        for name in state.ports_of(self.br_int):
            iface = state.interfaces.get(name, {})
            if iface.get("type") == "patch":
                continue
            port = state.ports.get(name, {})
            out[name] = OvsPort(name, state.ofport(name),
                                (iface.get("external_ids") or {}).get("iface-id"),
                                port.get("tag"), (port.get("other_config") or {}).get("net_uuid"))
        return out

    # ------------------------------------------------------------------ bridges & ports
    def _ensure_bridge(self, name: str, state: OvsState, result: ApplyResult, **kw) -> None:
        if name not in state.bridges:
            self.ovs.add_bridge(name, **kw)
            result.ovs_changes += 1

    def _ensure_patch(self, br_a: str, port_a: str, br_b: str, port_b: str, state: OvsState,
                      result: ApplyResult) -> None:
        if port_a not in state.ports_of(br_a) or port_b not in state.ports_of(br_b):
            self.ovs.add_patch_pair(br_a, port_a, br_b, port_b)
            result.ovs_changes += 1

    def ensure_bridges(self, state: OvsState, result: ApplyResult) -> None:
        self._ensure_bridge(self.br_int, state, result, fail_mode="secure")
        for bridge in sorted(self.bridge_mappings.values()):
            self._ensure_bridge(bridge, state, result, fail_mode="secure")
            self._ensure_patch(self.br_int, f"int-{bridge}"[:15], bridge, f"phy-{bridge}"[:15],
                               state, result)
        if self.tunnel_types:
            self._ensure_bridge(self.br_tun, state, result, fail_mode="secure")
            self._ensure_patch(self.br_int, PATCH_TUN, self.br_tun, PATCH_INT, state, result)

    def bridge_facts(self, state: OvsState) -> dict:
        """The ofports of the patch ports, for the flow compiler."""
        facts: dict = {"phys": [], "patch_tun": None, "patch_int": None}
        for physnet, bridge in sorted(self.bridge_mappings.items()):
            facts["phys"].append(PhysBridge(physnet, bridge, state.ofport(f"int-{bridge}"[:15]),
                                            state.ofport(f"phy-{bridge}"[:15])))
        if self.tunnel_types:
            facts["patch_tun"] = state.ofport(PATCH_TUN)
            facts["patch_int"] = state.ofport(PATCH_INT)
        return facts

    def wanted_tunnels(self, snapshot: Mapping) -> dict[str, tuple[str, str]]:
        """Tunnel port name -> (type, remote IP), one per remote endpoint in the snapshot."""
        if not self.tunnel_types:
            return {}
        want: dict[str, tuple[str, str]] = {}
        for ep in snapshot.get("tunnel_endpoints", []):
            ip = ep.get("tunneling_ip")
            if not ip or ep.get("host") == self.host or ip == self.local_ip:
                continue
            types = [t for t in (ep.get("tunnel_types") or ["vxlan"]) if t in self.tunnel_types]
            if types:
                want[tunnel_port_name(types[0], ip)] = (types[0], ip)
        return want

    def ensure_tunnels(self, want: Mapping[str, tuple[str, str]], state: OvsState,
                       result: ApplyResult) -> None:
        if not self.tunnel_types:
            return
        have = {p for p in state.ports_of(self.br_tun)
                if any(p.startswith(f"{t}-") for t in ("vxlan", "gre", "geneve"))}
        for name in sorted(have - set(want)):
            self.ovs.del_port(name, bridge=self.br_tun)
            result.ovs_changes += 1
        for name, (ttype, ip) in sorted(want.items()):
            if name not in have:
                self.ovs.add_tunnel_port(self.br_tun, name, ip, type=ttype,
                                         local_ip=self.local_ip,
                                         options={"df_default": "true"})
                result.ovs_changes += 1

    # ------------------------------------------------------------------ the pass
    def reconcile(self, snapshot: Mapping) -> ApplyResult:
        result = ApplyResult()
        state = self.ovs.state()
        tunnels = self.wanted_tunnels(snapshot)
        self.ensure_bridges(state, result)
        self.ensure_tunnels(tunnels, state, result)
        if result.ovs_changes:  # something was created: read the new ofports
            state = self.ovs.state()
            self.forget_flows()  # a new bridge may be a restarted OVS: trust no cache
        facts = self.bridge_facts(state)
        tunnel_ofports = {ip: state.ofport(name) for name, (_, ip) in tunnels.items()
                          if state.ofport(name) > 0}

        by_id = {p["id"]: p for p in snapshot.get("ports", [])}
        networks = {n["id"] for n in snapshot.get("networks", [])}
        plugged = self.int_ports(state)
        wired: dict[str, OvsPort] = {}
        for port in plugged.values():
            sp = by_id.get(port.iface_id or "")
            if sp is None or port.ofport <= 0 or sp["network_id"] not in networks:
                continue
            bound = sp.get("binding:host_id")
            if bound and bound != self.host:
                continue
            wired[sp["id"]] = port
        existing = {p.net_uuid: p.tag for p in plugged.values()
                    if p.net_uuid and p.tag is not None and p.tag != DEAD_VLAN}
        vlans = allocate_local_vlans({by_id[i]["network_id"] for i in wired}, existing)

        # tags (and the network they stand for) on the OVS ports, in one OVSDB transaction;
        # a port OVS has not opened yet (no ofport) is left for the pass its plug wakes
        sets: list[str] = []
        port_id_of = {p.name: pid for pid, p in wired.items()}
        for port in plugged.values():
            if port.ofport <= 0:
                continue
            pid = port_id_of.get(port.name)
            if pid is not None:
                net = by_id[pid]["network_id"]
                tag, net_uuid = vlans[net], net
            else:
                tag, net_uuid = DEAD_VLAN, None
            if port.tag == tag and port.net_uuid == net_uuid:
                continue
            sets += ["--", "set", "Port", port.name, f"tag={tag}"]
            if net_uuid:
                sets.append(f'other_config:net_uuid="{net_uuid}"')
            else:
                sets += ["--", "remove", "Port", port.name, "other_config", "net_uuid"]
            port.tag, port.net_uuid = tag, net_uuid
            result.ovs_changes += 1
        if sets:
            # --no-wait: ovs-vswitchd applies the tags within its next iteration; waiting
            # for it costs ~0.3 s per pass on a busy host and orders nothing we rely on
            self.ovs.vsctl("--no-wait", *sets[1:])

        model = HostModel.from_snapshot(
            snapshot, ofports={pid: p.ofport for pid, p in wired.items()}, local_vlans=vlans,
            phys_bridges=facts["phys"], tunnel_ofports=tunnel_ofports,
            patch_tun_ofport=facts["patch_tun"], patch_int_ofport=facts["patch_int"],
            local_ip=self.local_ip, l2_population=self.l2_population,
            arp_responder=self.arp_responder,
            dead_ofports=[p.ofport for p in plugged.values()
                          if p.tag == DEAD_VLAN and p.ofport > 0])
        self._check_flow_cache()
        for bridge, desired in compile_all(model, self._compiled).items():
            added, deleted = self.apply_flows(bridge, desired)
            result.flows_added[bridge] = added
            result.flows_deleted[bridge] = deleted
        result.wired = wired
        result.local_vlans = vlans
        return result

    # ------------------------------------------------------------------ flows
    def forget_flows(self) -> None:
        """Next pass dumps every bridge's flows instead of trusting what we last applied."""
        self._known.clear()

    def _check_flow_cache(self) -> None:
        """The cache of applied flows is trusted between audits (``audit_interval``) as long
        as br-int's canary flow (table 23) is there: OVS restarted or flows flushed by hand
        lose it, and the next diff is against a fresh dump."""
        if not self._known:
            return
        if time.monotonic() - self._audited >= self.audit_interval:
            self.forget_flows()
            return
        canary = fl.parse_dump(self.br_int, self.ovs.ofctl(self.br_int, "dump-flows",
                                                           "table=23"))
        if not any(f.cookie == cookies.BASE for f in canary):
            LOG.warning("br-int lost its canary flow (OVS restarted?): full resync of flows")
            self.forget_flows()

    def actual_flows(self, bridge: str) -> list[fl.Flow]:
        return fl.parse_dump(bridge, self.ovs.ofctl(bridge, "dump-flows"))

    def apply_flows(self, bridge: str, desired: Sequence[fl.Flow]) -> tuple[int, int]:
        """Send the difference between ``desired`` and the bridge's flows as one bundle.

        The bridge's flows are those we last applied (kept in memory) or, after
        :meth:`forget_flows`, a fresh ``dump-flows``."""
        known = self._known.get(bridge)
        if known is None:
            known = {f.key: f for f in self.actual_flows(bridge)}
            if not self._known:
                self._audited = time.monotonic()
        to_add, to_delete = fl.diff(desired, known)
        if to_add or to_delete:
            lines = [f"delete_strict {f.render_delete()}" for f in to_delete]
            lines += [f"add {f.render()}" for f in to_add]
            try:
                self.ovs.ofctl(bridge, "add-flows", "-", options=["--bundle"],
                               input="\n".join(lines) + "\n")
            except Exception:
                self._known.pop(bridge, None)  # the bundle was rolled back; dump next time
                raise
            LOG.info("%s: %d flows added/replaced, %d deleted", bridge, len(to_add),
                     len(to_delete))
            LOG.debug("%s bundle:\n%s", bridge, "\n".join(lines))
            for f in to_delete:
                known.pop(f.key, None)
            for f in to_add:
                known[f.key] = f
        self._known[bridge] = known
        return len(to_add), len(to_delete)
