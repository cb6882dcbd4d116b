"""The host model the L2 agent compiles flows from: plain values, no behaviour.

``HostModel.from_snapshot`` joins the change feed's snapshot (``GET /v2.0/fermion/snapshot``)
with what only the agent knows about its host: the ofport of every plugged port, the local
VLAN of every network, the physnet bridges and patch ports, the tunnel ports per peer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MIN_LOCAL_VLAN = 1
MAX_LOCAL_VLAN = 4094
TUNNEL_TYPES = ("vxlan", "gre", "geneve")


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True)
class Network:
    id: str
    local_vlan: int
    segments: tuple[Segment, ...]

    @property
    def segment(self) -> Segment:
        """The segment this host uses: the first one it can reach (see ``from_snapshot``)."""
        return self.segments[0]


@dataclass(frozen=True)
class AddressPair:
    ip_address: str
    mac_address: str


@dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    ofport: int
    mac: str
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    port_security_enabled: bool = True
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemotePort:
    """An ACTIVE port of one of this host's networks bound to another host (l2population:
    br-tun unicast and ARP responder entries, and which peers a network floods to)."""

    id: str
    network_id: str
    mac: str
    ips: tuple[str, ...]
    host_ip: str  # tunneling IP of its host


@dataclass(frozen=True)
class TunnelPeer:
    ip: str
    ofport: int
    host: str = ""
    tunnel_type: str = "vxlan"


@dataclass(frozen=True)
class PhysBridge:
    physnet: str
    bridge: str
    int_ofport: int  # int-<bridge> on br-int
    phy_ofport: int  # phy-<bridge> on the physnet bridge


@dataclass(frozen=True)
class SGRule:
    id: str
    direction: str  # ingress | egress
    ethertype: str = "IPv4"
    protocol: int | None = None  # IANA number from the server (0 or None: every protocol)
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class HostModel:
    host: str
    networks: Mapping[str, Network] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    phys_bridges: tuple[PhysBridge, ...] = ()
    tunnel_peers: tuple[TunnelPeer, ...] = ()
    remote_ports: tuple[RemotePort, ...] = ()
    patch_tun_ofport: int | None = None  # patch-tun on br-int
    patch_int_ofport: int | None = None  # patch-int on br-tun
    local_ip: str | None = None
    l2_population: bool = False
    arp_responder: bool = False
    sg_rules: Mapping[str, tuple[SGRule, ...]] = field(default_factory=dict)
    sg_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dead_ofports: tuple[int, ...] = ()  # plugged ports the model does not know: dropped
    sg_stateful: Mapping[str, bool] = field(default_factory=dict)  # group -> stateful

    def stateful(self, port: Port) -> bool:
        """A port's firewall uses conntrack unless all its groups are stateless.

        The API refuses a port in both kinds of group (409, as Neutron); a port without
        groups is stateful (it only passes replies to what it sent, i.e. nothing)."""
        groups = port.security_groups
        return not groups or any(self.sg_stateful.get(g, True) for g in groups)

    def bridge_for(self, physnet: str | None) -> PhysBridge | None:
        for b in self.phys_bridges:
            if b.physnet == physnet:
                return b
        return None

    @classmethod
    def from_snapshot(cls, snapshot: Mapping, *, ofports: Mapping[str, int],
                      local_vlans: Mapping[str, int], phys_bridges: Iterable[PhysBridge] = (),
                      tunnel_ofports: Mapping[str, int] = (), patch_tun_ofport=None,
                      patch_int_ofport=None, local_ip=None, l2_population=False,
                      arp_responder=False, dead_ofports: Iterable[int] = ()) -> HostModel:
        """Build the model; ``ofports`` maps port id -> ofport of the plugged ports.

        Only ports present in ``ofports`` (plugged on this host) are wired; networks without
        a local VLAN in ``local_vlans`` are left out (call :func:`allocate_local_vlans`).
        """
        host = snapshot["host"]
        phys_bridges = tuple(phys_bridges)
        tunnel_ofports = dict(tunnel_ofports)
        networks = {}
        for net in snapshot.get("networks", []):
            if net["id"] not in local_vlans:
                continue
            segs = tuple(_segment(s) for s in (net.get("segments") or [net]))
            # the segment this host can reach comes first (Network.segment)
            usable = {b.physnet for b in phys_bridges}
            segs = tuple(sorted(segs, key=lambda s: not (
                s.network_type in TUNNEL_TYPES or s.physical_network in usable)))
            networks[net["id"]] = Network(net["id"], local_vlans[net["id"]], segs)
        ports, remote = [], []
        for p in snapshot.get("ports", []):
            ips = tuple(ip["ip_address"] for ip in p.get("fixed_ips", []))
            if p["id"] in ofports and p["network_id"] in networks:
                pairs = tuple(AddressPair(a["ip_address"], a.get("mac_address") or p["mac_address"])
                              for a in p.get("allowed_address_pairs") or [])
                ports.append(Port(p["id"], p["network_id"], ofports[p["id"]],
                                  p["mac_address"].lower(), ips, pairs,
                                  bool(p.get("port_security_enabled", True)),
                                  tuple(p.get("security_groups") or ())))
        peers_by_host = {e["host"]: e["tunneling_ip"]
                         for e in snapshot.get("tunnel_endpoints", []) if e.get("tunneling_ip")}
        seen = set()
        for p in [*snapshot.get("remote_ports", []), *snapshot.get("ports", [])]:
            bound = p.get("binding:host_id")
            if p["id"] in seen or not bound or bound == host or bound not in peers_by_host \
                    or p["network_id"] not in networks or p.get("status") != "ACTIVE":
                continue
            seen.add(p["id"])
            ips = tuple(ip["ip_address"] for ip in p.get("fixed_ips", []))
            remote.append(RemotePort(p["id"], p["network_id"], p["mac_address"].lower(),
                                     ips, peers_by_host[bound]))
        peers = tuple(TunnelPeer(e["tunneling_ip"], tunnel_ofports[e["tunneling_ip"]], e["host"],
                                 (e.get("tunnel_types") or ["vxlan"])[0])
                      for e in snapshot.get("tunnel_endpoints", [])
                      if e.get("tunneling_ip") in tunnel_ofports and e["host"] != host)
        sg_rules = {g["id"]: tuple(r for r in map(_rule, g.get("security_group_rules", []))
                                   if r is not None)
                    for g in snapshot.get("security_groups", [])}
        sg_members = {g: tuple(ips)
                      for g, ips in (snapshot.get("security_group_members") or {}).items()}
        sg_stateful = {g["id"]: bool(g.get("stateful", True))
                       for g in snapshot.get("security_groups", [])}
        return cls(host, networks, tuple(ports), tuple(phys_bridges), peers, tuple(remote),
                   patch_tun_ofport, patch_int_ofport, local_ip, l2_population, arp_responder,
                   sg_rules, sg_members, tuple(sorted(dead_ofports)), sg_stateful)


def _rule(r: Mapping) -> SGRule | None:
    """The rule with the protocol number the server computed (``_protocol_number``).

    The agent never reads protocol names: a rule naming a protocol without its number
    (a server that does not send it) is left out, so it admits nothing rather than all IP.
    """
    number = r.get("_protocol_number")
    if r.get("protocol") is not None and number is None:
        return None
    return SGRule(r["id"], r["direction"], r.get("ethertype") or "IPv4", number,
                  r.get("port_range_min"), r.get("port_range_max"), r.get("remote_ip_prefix"),
                  r.get("remote_group_id"))


def _segment(seg: Mapping) -> Segment:
    sid = seg.get("provider:segmentation_id")
    return Segment(seg["provider:network_type"], seg.get("provider:physical_network"),
                   None if sid is None else int(sid))


def allocate_local_vlans(network_ids: Iterable[str], existing: Mapping[str, int]) -> dict[str, int]:
    """Local VLANs for ``network_ids``: keep the existing ones, give new ones the lowest free.

    ``existing`` is what the agent recorded on OVS ports, so VLANs survive a restart;
    networks no longer present are dropped (their VLAN is free again).
    """
    wanted = sorted(set(network_ids))
    out = {n: v for n, v in existing.items() if n in wanted}
    used = set(out.values())
    free = (v for v in range(MIN_LOCAL_VLAN, MAX_LOCAL_VLAN + 1) if v not in used)
    for net in wanted:
        if net not in out:
            try:
                out[net] = next(free)
            except StopIteration:
                raise ValueError("no free local VLAN on this host") from None
    return out
