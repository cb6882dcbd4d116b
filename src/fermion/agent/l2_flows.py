"""Desired flows of br-int, br-tun and the physnet bridges: pure functions of the host model.

Each function returns a list of :class:`~fermion.agent.flows.Flow`; every jump goes through
:func:`~fermion.agent.pipeline.goto`, so a flow can only go where the pipeline allows, and
every flow carries a cookie naming its owner (:mod:`fermion.agent.cookies`).

br-int walk for an instance's packet (port security on)::

    0 --arp/na--> 24 (sender/target is ours) --> 25 (source MAC is ours) --> 60 (reg5=ofport,
    reg6=local VLAN) --> 71 (source IP is ours; ct) --> 72 (SG egress rules) --> 73 (commit)
    --> 91 --> 94 NORMAL, or 73 --> 81 when the destination MAC is a protected local port.

Traffic for a protected port arriving tagged (from patch-tun / int-<br>): 60 (dl_vlan +
dl_dst, strip the tag) --> 81 (ARP/ND/DHCP replies pass; ct) --> 82 (SG ingress rules,
commit) --> 92 output:ofport. Broadcast and multicast stay on NORMAL.

Table 0 drops everything from a plugged port the model does not know (it is also tagged with
the dead VLAN 4095, as Neutron's agent does), and frames tagged with the reserved VID 4095 (``dl_vlan=4095``; Neutron writes
``vlan_tci=0x0fff/0x1fff``, which with the CFI bit clear never matches a tagged frame).

Without port security the port skips 24/25 and its own firewall: 0 --> 60 (reg5/reg6) --> 73
--> 91 --> 94 NORMAL, as the seed's "port security off" dumps show; traffic it sends to a
protected local port still enters that port's ingress firewall from 73.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from fermion.agent import cookies
from fermion.agent.cookies import Kind
from fermion.agent.flows import Flow, make
from fermion.agent.l2_model import HostModel, Network, Port
from fermion.agent.pipeline import BR_INT, BR_TUN, check_learn, goto
from fermion.agent.sg_flows import ZONE, sg_rule_flows

UNTAGGED_MATCH = "0x0000/0x1fff"
UNICAST = "00:00:00:00:00:00/01:00:00:00:00:00"
MULTICAST = "01:00:00:00:00:00/01:00:00:00:00:00"
TUN_TABLE = {"gre": 3, "vxlan": 4, "geneve": 6}
LEARN_TIMEOUT = 300
ICMPV6_INGRESS = (130, 134, 135, 136)  # MLD query, RA, NS, NA: pass without rules


def _dedupe(flows: Iterable[Flow]) -> list[Flow]:
    seen: dict[tuple, Flow] = {}
    for f in flows:
        seen.setdefault(f.key, f)
    return list(seen.values())


class PortFlowCache:
    """Each local port's compiled flows, kept between passes.

    A port's flows (anti-spoofing, transient marks, its firewall and security group rules)
    depend only on the port itself, its network's local VLAN, its groups' rules and the
    members of the groups those rules name; that tuple is the key. A pass then compiles
    only the ports whose key changed, instead of all of them (most of a pass's CPU with
    1,000 ports). Entries not used by the last compile are dropped.
    """

    def __init__(self) -> None:
        self._flows: dict[tuple, list[Flow]] = {}
        self._used: set[tuple] = set()

    @staticmethod
    def key(model: HostModel, port: Port) -> tuple:
        rules = tuple((sg, model.sg_rules.get(sg, ())) for sg in port.security_groups)
        remote = sorted({r.remote_group_id for _, group in rules for r in group
                         if r.remote_group_id})
        members = tuple((g, model.sg_members.get(g, ())) for g in remote)
        return (port, model.networks[port.network_id].local_vlan, rules, members)

    def port_flows(self, model: HostModel, port: Port) -> list[Flow]:
        key = self.key(model, port)
        self._used.add(key)
        flows = self._flows.get(key)
        if flows is None:
            flows = self._flows[key] = port_flows(model, port)
        return flows

    def prune(self) -> None:
        """Forget what the compile since the last prune did not use."""
        self._flows = {k: v for k, v in self._flows.items() if k in self._used}
        self._used = set()

    def __len__(self) -> int:
        return len(self._flows)


def compile_all(model: HostModel, cache: PortFlowCache | None = None) -> dict[str, list[Flow]]:
    """Desired flows per bridge name (``cache``: reuse ports' flows from earlier passes)."""
    out = {BR_INT: br_int_flows(model, cache)}
    if cache is not None:
        cache.prune()
    for phys in model.phys_bridges:
        out[phys.bridge] = br_phys_flows(model, phys.bridge)
    if model.patch_int_ofport is not None:
        out[BR_TUN] = br_tun_flows(model)
    return out


# --------------------------------------------------------------------------- br-int


def br_int_flows(model: HostModel, cache: PortFlowCache | None = None) -> list[Flow]:
    flows = _br_int_base()
    for phys in model.phys_bridges:
        flows.append(make(BR_INT, 0, 2, {"in_port": phys.int_ofport}, ["drop"], cookies.BASE))
    flows += [make(BR_INT, 0, 2, {"in_port": ofport}, ["drop"], cookies.DEAD_PORT)
              for ofport in model.dead_ofports]
    for net in model.networks.values():
        flows += _br_int_network(model, net)
    for port in model.ports:
        if port.network_id in model.networks:
            flows += (port_flows(model, port) if cache is None
                      else cache.port_flows(model, port))
    return _dedupe(flows)


def _br_int_base() -> list[Flow]:
    B, c = BR_INT, cookies.BASE
    return [
        make(B, 0, 65535, {"dl_vlan": 4095}, ["drop"], c),
        make(B, 0, 0, {}, [goto(B, 0, 60)], c),
        make(B, 23, 0, {}, ["drop"], c),
        make(B, 24, 0, {}, ["drop"], c),
        make(B, 25, 0, {}, ["drop"], c),
        make(B, 60, 3, {}, ["NORMAL"], c),
        make(B, 71, 0, {}, [goto(B, 71, 93)], c),
        make(B, 72, 0, {}, [goto(B, 72, 93)], c),
        make(B, 73, 0, {}, [goto(B, 73, 93)], c),
        make(B, 81, 0, {}, [goto(B, 81, 93)], c),
        make(B, 82, 0, {}, [goto(B, 82, 93)], c),
        make(B, 91, 1, {}, [goto(B, 91, 94)], c),
        make(B, 92, 0, {}, ["drop"], c),
        make(B, 93, 0, {}, ["drop"], c),
        make(B, 94, 1, {}, ["NORMAL"], c),
    ]


def _br_int_network(model: HostModel, net: Network) -> list[Flow]:
    """Table 0: global -> local VLAN for traffic coming from a physnet bridge."""
    seg = net.segment
    phys = model.bridge_for(seg.physical_network)
    if seg.network_type not in ("flat", "vlan") or phys is None:
        return []
    c = cookies.cookie(Kind.NETWORK, net.id)
    if seg.network_type == "flat":
        match = {"in_port": phys.int_ofport, "vlan_tci": UNTAGGED_MATCH}
    else:
        match = {"in_port": phys.int_ofport, "dl_vlan": seg.segmentation_id}
    return [make(BR_INT, 0, 3, match, [f"mod_vlan_vid:{net.local_vlan}", goto(BR_INT, 0, 60)],
                 c)]


def _split_ips(addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    v4, v6 = [], []
    for a in addresses:
        net = ipaddress.ip_network(a, strict=False)
        text = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        (v4 if net.version == 4 else v6).append(text)
    return v4, v6


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of ``mac`` (allowed for ND like Neutron does)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def port_flows(model: HostModel, port: Port) -> list[Flow]:
    """Anti-spoofing (24/25) and firewall (60, 71-82, 92) flows of one local port."""
    B, P = BR_INT, port.ofport
    c = cookies.cookie(Kind.PORT, port.id)
    lv = model.networks[port.network_id].local_vlan
    if not port.port_security_enabled:
        # the seed's "port security off" path: 60 marks and skips to 73 (so a protected
        # local destination still gets its ingress firewall), then 91 -> 94 NORMAL
        mark = [f"load:{P:#x}->NXM_NX_REG5[]", f"load:{lv:#x}->NXM_NX_REG6[]"]
        return [make(B, 60, 100, {"in_port": P}, [*mark, goto(B, 60, 73)], c),
                make(B, 73, 80, {"reg5": P}, [goto(B, 73, 91)], c)]
    v4, v6 = _split_ips([*port.fixed_ips, *(p.ip_address for p in port.allowed_address_pairs)])
    v6.append(link_local(port.mac))
    macs = [port.mac, *(p.mac_address.lower() for p in port.allowed_address_pairs)]
    mark = [f"load:{P:#x}->NXM_NX_REG5[]", f"load:{lv:#x}->NXM_NX_REG6[]"]
    flows = [
        make(B, 0, 10, {"arp": None, "in_port": P}, [goto(B, 0, 24)], c),
        make(B, 0, 10, {"icmp6": None, "in_port": P, "icmp_type": 136}, [goto(B, 0, 24)], c),
        make(B, 0, 9, {"in_port": P}, [goto(B, 0, 25)], c),
    ]
    flows += [make(B, 24, 2, {"arp": None, "in_port": P, "arp_spa": ip}, [goto(B, 24, 25)], c)
              for ip in v4]
    flows += [make(B, 24, 2, {"icmp6": None, "in_port": P, "icmp_type": 136, "nd_target": ip},
                   [goto(B, 24, 25)], c) for ip in v6]
    flows += [make(B, 25, 2, {"in_port": P, "dl_src": mac}, [goto(B, 25, 60)], c)
              for mac in macs]
    # 60: mark the port's egress, and traffic for its MACs arriving tagged from NORMAL's peers
    flows.append(make(B, 60, 100, {"in_port": P}, [*mark, goto(B, 60, 71)], c))
    flows += [make(B, 60, 90, {"dl_vlan": lv, "dl_dst": mac},
                   [*mark, "strip_vlan", goto(B, 60, 81)], c) for mac in macs]
    flows += _firewall_base(port, mark, macs, c)
    # IP source anti-spoofing: only the port's addresses (fixed IPs, address pairs, IPv6
    # link-local) enter conntrack; any other source is dropped (p85)
    flows += [make(B, 71, 90, {"ip": None, "reg5": P, "nw_src": ip},
                   [f"ct(table=72,zone={ZONE})"], c) for ip in v4]
    flows += [make(B, 71, 90, {"ipv6": None, "reg5": P, "ipv6_src": ip},
                   [f"ct(table=72,zone={ZONE})"], c) for ip in v6]
    flows += sg_rule_flows(model, port)
    return flows


def _firewall_base(port: Port, mark: list[str], macs: list[str], c: int) -> list[Flow]:
    B, P = BR_INT, port.ofport
    reg = {"reg5": P}
    flows = [
        # egress: DHCP server replies from an instance are dropped, DHCP client allowed
        make(B, 71, 95, {"udp": None, **reg, "tp_src": 67}, [goto(B, 71, 93)], c),
        make(B, 71, 95, {"udp6": None, **reg, "tp_src": 547}, [goto(B, 71, 93)], c),
        *(make(B, 71, 95, {"icmp6": None, **reg, "icmp_type": t}, [goto(B, 71, 73)], c)
          for t in (130, 131, 132, 133, 135, 136)),  # MLD, RS, NS, NA (already anti-spoofed)
        make(B, 71, 95, {"udp": None, **reg, "tp_src": 68, "tp_dst": 67}, [goto(B, 71, 73)], c),
        make(B, 71, 95, {"udp6": None, **reg, "tp_src": 546, "tp_dst": 547},
             [goto(B, 71, 73)], c),
        make(B, 71, 85, {"ip": None, **reg}, [goto(B, 71, 93)], c),
        make(B, 71, 85, {"ipv6": None, **reg}, [goto(B, 71, 93)], c),
        make(B, 71, 80, reg, [goto(B, 71, 73)], c),  # ARP/non-IP, already anti-spoofed
        make(B, 73, 90, {"ct_state": "+new-est+trk", "ip": None, **reg},
             [f"ct(commit,zone={ZONE})", goto(B, 73, 91)], c),
        make(B, 73, 90, {"ct_state": "+new-est+trk", "ipv6": None, **reg},
             [f"ct(commit,zone={ZONE})", goto(B, 73, 91)], c),
        make(B, 73, 80, reg, [goto(B, 73, 91)], c),
        # ingress: ARP, ND (MLD query, RA, NS, NA, as Neutron's OVS firewall) and DHCP
        # replies pass; other IP (other ICMPv6 too) goes through conntrack and the rules
        make(B, 81, 100, {"arp": None, **reg}, [goto(B, 81, 92)], c),
        *(make(B, 81, 100, {"icmp6": None, **reg, "icmp_type": t}, [goto(B, 81, 92)], c)
          for t in ICMPV6_INGRESS),
        make(B, 81, 95, {"udp": None, **reg, "tp_src": 67, "tp_dst": 68}, [goto(B, 81, 92)], c),
        make(B, 81, 95, {"udp6": None, **reg, "tp_src": 547, "tp_dst": 546},
             [goto(B, 81, 92)], c),
        make(B, 81, 90, {"ip": None, **reg}, [f"ct(table=82,zone={ZONE})"], c),
        make(B, 81, 90, {"ipv6": None, **reg}, [f"ct(table=82,zone={ZONE})"], c),
        make(B, 92, 100, reg, [f"output:{P}"], c),
    ]
    for table, nxt in ((72, 73), (82, 92)):
        flows += [
            make(B, table, 80, {"ct_state": "+inv+trk", **reg}, [goto(B, table, 93)], c),
            make(B, table, 75, {"ct_state": "-new+est-inv+trk", **reg},
                 [goto(B, table, nxt)], c),
            make(B, table, 75, {"ct_state": "-new+rel-inv+trk", **reg},
                 [goto(B, table, nxt)], c),
        ]
    # egress to another local port on the same network turns into that port's ingress
    flows += [make(B, 73, 100, {"reg6": mark_value(mark[1]), "dl_dst": mac},
                   [mark[0], goto(B, 73, 81)], c) for mac in macs]
    return flows


def mark_value(load: str) -> int:
    return int(load.split(":")[1].split("->")[0], 16)


# --------------------------------------------------------------------------- br-phys


def br_phys_flows(model: HostModel, bridge: str) -> list[Flow]:
    phys = next(b for b in model.phys_bridges if b.bridge == bridge)
    c = cookies.BASE
    flows = [
        make(bridge, 0, 0, {}, ["NORMAL"], c),
        make(bridge, 0, 2, {"in_port": phys.phy_ofport}, ["drop"], c),
    ]
    for net in model.networks.values():
        seg = net.segment
        if seg.physical_network != phys.physnet or seg.network_type not in ("flat", "vlan"):
            continue
        tag = "strip_vlan" if seg.network_type == "flat" else f"mod_vlan_vid:{seg.segmentation_id}"
        flows.append(make(bridge, 0, 4, {"in_port": phys.phy_ofport, "dl_vlan": net.local_vlan},
                          [tag, "NORMAL"], cookies.cookie(Kind.NETWORK, net.id)))
    return flows


# --------------------------------------------------------------------------- br-tun


def learn_action(patch_int: int) -> list[str]:
    check_learn(BR_TUN, 10, 20)
    spec = ",".join([
        "table=20", f"hard_timeout={LEARN_TIMEOUT}", "priority=1",
        f"cookie={cookies.LEARNED:#x}", "NXM_OF_VLAN_TCI[0..11]",
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]", "load:0->NXM_OF_VLAN_TCI[]",
        "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[]", "output:OXM_OF_IN_PORT[]",
    ])
    return [f"learn({spec})", f"output:{patch_int}"]


def br_tun_flows(model: HostModel) -> list[Flow]:
    T, c = BR_TUN, cookies.BASE
    flows = [
        make(T, 0, 1, {"in_port": model.patch_int_ofport}, [goto(T, 0, 2)], c),
        make(T, 0, 0, {}, ["drop"], c),
        make(T, 2, 0, {"dl_dst": UNICAST}, [goto(T, 2, 20)], c),
        make(T, 2, 0, {"dl_dst": MULTICAST}, [goto(T, 2, 22)], c),
        make(T, 3, 0, {}, ["drop"], c),
        make(T, 4, 0, {}, ["drop"], c),
        make(T, 6, 0, {}, ["drop"], c),
        make(T, 10, 1, {}, learn_action(model.patch_int_ofport), c),
        make(T, 20, 0, {}, [goto(T, 20, 22)], c),
        make(T, 21, 0, {}, [goto(T, 21, 22)], c),
        make(T, 22, 0, {}, ["drop"], c),
    ]
    if model.arp_responder:
        flows.append(make(T, 2, 1, {"arp": None, "dl_dst": "ff:ff:ff:ff:ff:ff"},
                          [goto(T, 2, 21)], c))
    for peer in model.tunnel_peers:
        flows.append(make(T, 0, 1, {"in_port": peer.ofport},
                          [goto(T, 0, TUN_TABLE[peer.tunnel_type])],
                          cookies.cookie(Kind.TUNNEL, peer.ip)))
    for net in model.networks.values():
        flows += _br_tun_network(model, net)
    for rp in model.remote_ports if model.l2_population else ():
        flows += _l2pop_port(model, rp)
    return _dedupe(flows)


def _tunnelled(net: Network) -> bool:
    return net.segment.network_type in TUN_TABLE


def _br_tun_network(model: HostModel, net: Network) -> list[Flow]:
    if not _tunnelled(net):
        return []
    T, seg, lv = BR_TUN, net.segment, net.local_vlan
    c = cookies.cookie(Kind.NETWORK, net.id)
    table = TUN_TABLE[seg.network_type]
    flows = [make(T, table, 1, {"tun_id": seg.segmentation_id},
                  [f"mod_vlan_vid:{lv}", goto(T, table, 10)], c)]
    peers = [p for p in model.tunnel_peers if p.tunnel_type == seg.network_type]
    if model.l2_population:
        hosts = {rp.host_ip for rp in model.remote_ports if rp.network_id == net.id}
        peers = [p for p in peers if p.ip in hosts]
    if peers:
        outputs = [f"output:{p.ofport}" for p in sorted(peers, key=lambda p: p.ofport)]
        flows.append(make(T, 22, 1, {"dl_vlan": lv},
                          ["strip_vlan", f"set_tunnel:{seg.segmentation_id:#x}", *outputs], c))
    return flows


def _l2pop_port(model: HostModel, rp) -> list[Flow]:
    net = model.networks.get(rp.network_id)
    peer = next((p for p in model.tunnel_peers if p.ip == rp.host_ip), None)
    if net is None or peer is None or not _tunnelled(net):
        return []
    T, lv, c = BR_TUN, net.local_vlan, cookies.cookie(Kind.REMOTE_PORT, rp.id)
    flows = [make(T, 20, 2, {"dl_vlan": lv, "dl_dst": rp.mac},
                  ["strip_vlan", f"set_tunnel:{net.segment.segmentation_id:#x}",
                   f"output:{peer.ofport}"], c)]
    if model.arp_responder:
        mac_int = int(rp.mac.replace(":", ""), 16)
        for ip in rp.ips:
            if ":" in ip:
                continue
            flows.append(make(T, 21, 1, {"arp": None, "dl_vlan": lv, "arp_op": 1, "arp_tpa": ip}, [
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]", f"mod_dl_src:{rp.mac}",
                "load:0x2->NXM_OF_ARP_OP[]", "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]",
                "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]", f"load:{mac_int:#x}->NXM_NX_ARP_SHA[]",
                f"load:{int(ipaddress.IPv4Address(ip)):#x}->NXM_OF_ARP_SPA[]", "IN_PORT"], c))
    return flows
