"""The L2 agent's decisions: pure functions of the snapshot, the agent's settings and what
OVSDB holds (``OvsState``, read once per pass). ``l2_apply`` carries them out with ``Ovs``
verbs; nothing here touches the system.

- :func:`bridge_plan`: bridges ``br-int`` (fail_mode secure), ``br-tun`` when tunnelling,
  one per ``bridge_mappings`` entry, joined by the seed's patch ports (``int-<br>``/
  ``phy-<br>``, ``patch-tun``/``patch-int``); tunnel ports ``<type>-<hex peer IP>`` on br-tun
  for every remote endpoint of the snapshot, stale ones removed. Existing ones stay as they are.
- :func:`port_plan`: which snapshot ports are wired (an OVS port on br-int whose
  ``external_ids:iface-id`` is the port id, bound here or unbound, with an ofport), which
  fail (OVS could not open the interface; no free local VLAN) and why, the local VLAN of
  each network (kept across restarts: each OVS port records its network in
  ``other_config:net_uuid`` beside its ``tag``; new networks get the lowest free one), and
  the tags to write: the network's VLAN, or the dead VLAN 4095 for a plugged port no
  snapshot port claims (or one that fails), whose traffic table 0 drops.
- :func:`host_model`: the flow compiler's input (``l2_model.HostModel``).
- :func:`compile_ports`: each port's flows compiled on its own; a port whose flows cannot be
  compiled fails alone (it is dropped, as a dead port, instead of stopping the pass).
- :func:`owners`: which ports a flow cookie stands for, to tell which port a rejected flow
  bundle was about.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fermion.agent import cookies
from fermion.agent.l2_flows import PortFlowCache
from fermion.agent.l2_model import (
    MAX_LOCAL_VLAN,
    MIN_LOCAL_VLAN,
    HostModel,
    PhysBridge,
    allocate_local_vlans,
)
from fermion.agent.pipeline import BR_INT, BR_TUN
from fermion.agent.sg_flows import host_conj_ids

DEAD_VLAN = 4095
PATCH_TUN, PATCH_INT = "patch-tun", "patch-int"
TUNNEL_PREFIXES = tuple(f"{t}-" for t in ("vxlan", "gre", "geneve"))
NO_VLAN = "no free local VLAN on this host"


@dataclass(frozen=True)
class L2Config:
    """What the agent was told (command line and ml2_conf.ini)."""

    host: str
    bridge_mappings: Mapping[str, str] = field(default_factory=dict)  # physnet -> bridge
    tunnel_types: tuple[str, ...] = ()
    local_ip: str | None = None
    l2_population: bool = False
    arp_responder: bool = False  # only with l2_population


@dataclass(frozen=True)
class OvsPort:
    """A port on br-int as OVSDB shows it."""

    name: str
    ofport: int
    iface_id: str | None
    tag: int | None
    net_uuid: str | None
    error: str | None = None  # why OVS could not open the interface


# ------------------------------------------------------------------------------ bridges

@dataclass(frozen=True)
class Patch:
    bridge_a: str
    port_a: str
    bridge_b: str
    port_b: str


@dataclass(frozen=True)
class Tunnel:
    name: str
    type: str
    remote_ip: str


@dataclass(frozen=True)
class BridgePlan:
    add_bridges: tuple[str, ...] = ()
    add_patches: tuple[Patch, ...] = ()
    del_tunnels: tuple[str, ...] = ()
    add_tunnels: tuple[Tunnel, ...] = ()
    tunnels: tuple[Tunnel, ...] = ()  # every tunnel port wanted

    @property
    def changes(self) -> int:
        return (len(self.add_bridges) + len(self.add_patches) + len(self.del_tunnels)
                + len(self.add_tunnels))


def phys_patch(bridge: str) -> Patch:
    return Patch(BR_INT, f"int-{bridge}"[:15], bridge, f"phy-{bridge}"[:15])


def tunnel_port_name(tunnel_type: str, remote_ip: str) -> str:
    """``vxlan-c0a80064`` for 192.168.0.100, as Neutron's agent names them (<= 15 chars)."""
    ip = ipaddress.ip_address(remote_ip)
    hexip = f"{int(ip):08x}" if ip.version == 4 else f"{int(ip):032x}"[-8:]
    return f"{tunnel_type}-{hexip}"[:15]


def wanted_tunnels(cfg: L2Config, snapshot: Mapping) -> tuple[Tunnel, ...]:
    """One tunnel port per remote endpoint of the snapshot, of the first common type."""
    if not cfg.tunnel_types:
        return ()
    want: dict[str, Tunnel] = {}
    for ep in snapshot.get("tunnel_endpoints", []):
        ip = ep.get("tunneling_ip")
        if not ip or ep.get("host") == cfg.host or ip == cfg.local_ip:
            continue
        types = [t for t in (ep.get("tunnel_types") or ["vxlan"]) if t in cfg.tunnel_types]
        if types:
            name = tunnel_port_name(types[0], ip)
            want[name] = Tunnel(name, types[0], ip)
    return tuple(want[n] for n in sorted(want))


def bridge_plan(cfg: L2Config, snapshot: Mapping, bridges: Mapping[str, Sequence[str]]
                ) -> BridgePlan:
    """What to add to (or remove from) the bridges; ``bridges``: bridge -> its port names."""
    want_bridges = [BR_INT, *sorted(cfg.bridge_mappings.values())]
    patches = [phys_patch(b) for b in sorted(cfg.bridge_mappings.values())]
    if cfg.tunnel_types:
        want_bridges.append(BR_TUN)
        patches.append(Patch(BR_INT, PATCH_TUN, BR_TUN, PATCH_INT))
    tunnels = wanted_tunnels(cfg, snapshot)
    have_tunnels = {p for p in bridges.get(BR_TUN, ()) if p.startswith(TUNNEL_PREFIXES)} \
        if cfg.tunnel_types else set()
    names = {t.name for t in tunnels}
    return BridgePlan(
        add_bridges=tuple(b for b in want_bridges if b not in bridges),
        add_patches=tuple(p for p in patches if p.port_a not in bridges.get(p.bridge_a, ())
                          or p.port_b not in bridges.get(p.bridge_b, ())),
        del_tunnels=tuple(sorted(have_tunnels - names)),
        add_tunnels=tuple(t for t in tunnels if t.name not in have_tunnels),
        tunnels=tunnels)


# ------------------------------------------------------------------------------ ports

@dataclass
class PortPlan:
    wired: dict[str, OvsPort]  # snapshot port id -> its OVS port
    failed: dict[str, str]  # snapshot port id -> why it cannot be wired
    local_vlans: dict[str, int]  # network id -> local VLAN
    tags: dict[str, tuple[int, str | None]]  # OVS port -> (tag, network) to write
    dead_ofports: list[int]  # plugged ports dropped on entry (unknown or failing)


def port_plan(cfg: L2Config, snapshot: Mapping, plugged: Mapping[str, OvsPort]) -> PortPlan:
    """Wiring, local VLANs and tags for the OVS ports on br-int (``plugged``, by name)."""
    by_id = {p["id"]: p for p in snapshot.get("ports", [])}
    networks = {n["id"] for n in snapshot.get("networks", [])}
    candidates: dict[str, OvsPort] = {}
    failed: dict[str, str] = {}
    for port in plugged.values():
        sp = by_id.get(port.iface_id or "")
        if sp is None or sp["network_id"] not in networks:
            continue
        bound = sp.get("binding:host_id")
        if bound and bound != cfg.host:
            continue
        if port.ofport <= 0:
            if port.error:  # OVS could not open it (no such device, …): the port fails
                failed[sp["id"]] = f"OVS port {port.name}: {port.error}"
            continue  # else OVS has not opened it yet: the pass its plug wakes will
        candidates[sp["id"]] = port
    for pid in candidates:  # a stale broken OVS port beside a working one: no failure
        failed.pop(pid, None)
    existing = {p.net_uuid: p.tag for p in plugged.values()
                if p.net_uuid and p.tag is not None and p.tag != DEAD_VLAN}
    vlans, unallocated = local_vlans({by_id[i]["network_id"] for i in candidates}, existing)
    wired = {}
    for pid, port in candidates.items():
        if by_id[pid]["network_id"] in unallocated:
            failed[pid] = NO_VLAN
        else:
            wired[pid] = port
    tags, dead = port_tags(plugged, {p.name: by_id[pid]["network_id"]
                                     for pid, p in wired.items()}, vlans)
    return PortPlan(wired, failed, vlans, tags, dead)


def without(ports: PortPlan, failed: Mapping[str, object]) -> PortPlan:
    """``ports`` with the wired ports in ``failed`` unwired and dropped on entry."""
    gone = [p.ofport for pid, p in ports.wired.items() if pid in failed]
    if not gone:
        return ports
    return dataclasses.replace(
        ports, wired={pid: p for pid, p in ports.wired.items() if pid not in failed},
        dead_ofports=sorted({*ports.dead_ofports, *gone}))


def local_vlans(network_ids: set[str], existing: Mapping[str, int]
                ) -> tuple[dict[str, int], set[str]]:
    """A local VLAN per network (existing ones kept, new ones the lowest free), and the
    networks that find none free (4094 at most per host)."""
    wanted = sorted(network_ids)
    kept = [n for n in wanted if n in existing]
    room = MAX_LOCAL_VLAN - MIN_LOCAL_VLAN + 1 - len(kept)
    fits = kept + [n for n in wanted if n not in existing][:max(0, room)]
    vlans = allocate_local_vlans(fits, existing)
    return vlans, set(wanted) - set(vlans)


def port_tags(plugged: Mapping[str, OvsPort], network_of: Mapping[str, str],
              vlans: Mapping[str, int]) -> tuple[dict[str, tuple[int, str | None]], list[int]]:
    """The (tag, network) each opened OVS port should carry, for those that differ, and the
    ofports of the dead ones (no wired snapshot port: VLAN 4095, dropped)."""
    tags: dict[str, tuple[int, str | None]] = {}
    dead = []
    for port in plugged.values():
        if port.ofport <= 0:
            continue
        net = network_of.get(port.name)
        tag, net_uuid = (vlans[net], net) if net is not None else (DEAD_VLAN, None)
        if net is None:
            dead.append(port.ofport)
        if (port.tag, port.net_uuid) != (tag, net_uuid):
            tags[port.name] = (tag, net_uuid)
    return tags, sorted(dead)


# ------------------------------------------------------------------------------ flows

def host_model(cfg: L2Config, snapshot: Mapping, plan: PortPlan, *,
               phys: Sequence[PhysBridge], tunnel_ofports: Mapping[str, int],
               patch_tun: int | None, patch_int: int | None) -> HostModel:
    return HostModel.from_snapshot(
        snapshot, ofports={pid: p.ofport for pid, p in plan.wired.items()},
        local_vlans=plan.local_vlans, phys_bridges=phys, tunnel_ofports=tunnel_ofports,
        patch_tun_ofport=patch_tun, patch_int_ofport=patch_int, local_ip=cfg.local_ip,
        l2_population=cfg.l2_population, arp_responder=cfg.arp_responder and cfg.l2_population,
        dead_ofports=plan.dead_ofports)


def compile_ports(model: HostModel, cache: PortFlowCache
                  ) -> tuple[HostModel, dict[str, Exception]]:
    """Compile each port's flows into ``cache`` on its own. A port whose flows cannot be
    compiled leaves the model and is dropped on entry (fail closed); returns the model
    without those ports and why each failed."""
    failed: dict[str, Exception] = {}
    ids = host_conj_ids(model)
    for port in model.ports:
        try:
            cache.port_flows(model, port, ids)
        except Exception as exc:  # noqa: BLE001 - the one port fails, not the pass
            failed[port.id] = exc
    if not failed:
        return model, failed
    gone = [p for p in model.ports if p.id in failed]
    return dataclasses.replace(
        model, ports=tuple(p for p in model.ports if p.id not in failed),
        dead_ofports=tuple(sorted({*model.dead_ofports, *(p.ofport for p in gone)}))), failed


def owners(model: HostModel) -> dict[int, list[str]]:
    """Port flow cookie -> the ids of the ports it stands for."""
    out: dict[int, list[str]] = {}
    for port in model.ports:
        out.setdefault(cookies.cookie(cookies.Kind.PORT, port.id), []).append(port.id)
    return out
