"""Desired flows of br-int, br-tun and the physnet bridges: pure functions of the host model.

Each function returns a list of :class:`~fermion.agent.flows.Flow` with typed actions
(:mod:`~fermion.agent.actions`); every jump is checked against the declared pipeline, so a
flow can only go where the pipeline allows, and every flow carries a cookie naming its owner
(:mod:`fermion.agent.cookies`). This module holds br-int's skeleton and each port's
anti-spoofing and marking; the firewall is in :mod:`firewall_flows`, security group rules in
:mod:`sg_flows`, br-tun and the physnet bridges in :mod:`tun_flows`.

br-int walk for an instance's packet (port security on)::

    0 --arp/na--> 24 (sender/target is ours) --> 25 (source MAC is ours) --> 60 (reg5=ofport,
    reg6=local VLAN) --> 71 (source IP is ours; ct) --> 72 (SG egress rules) --> 73 (commit)
    --> 91 --> 94 NORMAL, or 73 --> 81 when the destination MAC is a protected local port.

Traffic for a protected port arriving tagged (from patch-tun / int-<br>): 60 (dl_vlan +
dl_dst, strip the tag) --> 81 (ARP/ND/DHCP replies pass; ct) --> 82 (SG ingress rules,
commit) --> 92 output:ofport. Broadcast and multicast stay on NORMAL.

Table 0 drops everything from a plugged port the model does not know (it is also tagged with
the dead VLAN 4095, as Neutron's agent does), and frames tagged with the reserved VID 4095
(``dl_vlan=4095``; Neutron writes ``vlan_tci=0x0fff/0x1fff``, which with the CFI bit clear
never matches a tagged frame).

Without port security the port skips 24/25 and its own firewall: 0 --> 60 (reg5/reg6) --> 73
--> 91 --> 94 NORMAL, as the seed's "port security off" dumps show; traffic it sends to a
protected local port still enters that port's ingress firewall from 73.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from fermion.agent import cookies
from fermion.agent.actions import NORMAL, LoadReg, SetVlan, StripVlan
from fermion.agent.cookies import Kind
from fermion.agent.firewall_flows import firewall_base, port_firewall
from fermion.agent.flows import Flow, dedupe, make
from fermion.agent.l2_model import HostModel, Network, Port
from fermion.agent.pipeline import BR_INT, BR_TUN, goto
from fermion.agent.sg_flows import ConjKey, host_conj_ids, port_sg_flows, shared_sg_flows
from fermion.agent.tun_flows import br_phys_flows, br_tun_flows

UNTAGGED_MATCH = "0x0000/0x1fff"


class PortFlowCache:
    """Each local port's compiled flows, kept between passes.

    A port's flows (anti-spoofing, transient marks, its firewall and security group rules)
    depend only on the port itself, its network's local VLAN, its groups' rules and
    statefulness, and the conjunction ids of its remote group rules — not on the groups'
    members, whose address flows are shared by all ports; that tuple is the key. A pass
    then compiles only the ports whose key changed, instead of all of them (most of a
    pass's CPU with 1,000 ports). Entries not used by the last compile are dropped.
    """

    def __init__(self) -> None:
        self._flows: dict[tuple, list[Flow]] = {}
        self._used: set[tuple] = set()

    @staticmethod
    def key(model: HostModel, port: Port, ids: Mapping[ConjKey, int]) -> tuple:
        rules = tuple((sg, model.sg_rules.get(sg, ())) for sg in port.security_groups)
        conj = tuple(sorted((k, v) for k, v in ids.items() if k[0] in port.security_groups))
        return (port, model.networks[port.network_id].local_vlan, rules,
                model.stateful(port), conj)

    def port_flows(self, model: HostModel, port: Port, ids: Mapping[ConjKey, int]
                   ) -> list[Flow]:
        key = self.key(model, port, ids)
        self._used.add(key)
        flows = self._flows.get(key)
        if flows is None:
            flows = self._flows[key] = port_flows(model, port, ids)
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
    ids = host_conj_ids(model)
    flows = _br_int_base()
    for phys in model.phys_bridges:
        flows.append(make(BR_INT, 0, 2, {"in_port": phys.int_ofport}, [], cookies.BASE))
    flows += [make(BR_INT, 0, 2, {"in_port": ofport}, [], cookies.DEAD_PORT)
              for ofport in model.dead_ofports]
    for net in model.networks.values():
        flows += _br_int_network(model, net)
    for port in model.ports:
        if port.network_id in model.networks:
            flows += (port_flows(model, port, ids) if cache is None
                      else cache.port_flows(model, port, ids))
    flows += shared_sg_flows(model, ids)
    return dedupe(flows)


def _br_int_base() -> list[Flow]:
    B, c = BR_INT, cookies.BASE
    return [
        make(B, 0, 65535, {"dl_vlan": 4095}, [], c),
        make(B, 0, 0, {}, [goto(B, 0, 60)], c),
        make(B, 23, 0, {}, [], c),
        make(B, 24, 0, {}, [], c),
        make(B, 25, 0, {}, [], c),
        make(B, 60, 3, {}, [NORMAL], c),
        make(B, 71, 0, {}, [goto(B, 71, 93)], c),
        make(B, 72, 0, {}, [goto(B, 72, 93)], c),
        make(B, 73, 0, {}, [goto(B, 73, 91)], c),
        make(B, 81, 0, {}, [goto(B, 81, 93)], c),
        make(B, 82, 0, {}, [goto(B, 82, 93)], c),
        make(B, 91, 1, {}, [goto(B, 91, 94)], c),
        make(B, 92, 0, {}, [], c),
        make(B, 93, 0, {}, [], c),
        make(B, 94, 1, {}, [NORMAL], c),
        *firewall_base(),
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
    return [make(BR_INT, 0, 3, match, [SetVlan(net.local_vlan), goto(BR_INT, 0, 60)], c)]


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


def port_flows(model: HostModel, port: Port, ids: Mapping[ConjKey, int] | None = None
               ) -> list[Flow]:
    """Anti-spoofing (0, 24, 25), marks (60), firewall and rule flows of one local port.

    ``ids``: the host's conjunction ids (:func:`sg_flows.host_conj_ids`); computed for
    this model when not given."""
    B, P = BR_INT, port.ofport
    c = cookies.cookie(Kind.PORT, port.id)
    lv = model.networks[port.network_id].local_vlan
    mark = [LoadReg(5, P), LoadReg(6, lv)]
    if not port.port_security_enabled:
        # the seed's "port security off" path: 60 marks and skips to 73 (so a protected
        # local destination still gets its ingress firewall), then 91 -> 94 NORMAL
        return [make(B, 60, 100, {"in_port": P}, [*mark, goto(B, 60, 73)], c)]
    v4, v6 = _split_ips([*port.fixed_ips, *(p.ip_address for p in port.allowed_address_pairs)])
    v6.append(link_local(port.mac))
    macs = [port.mac, *(p.mac_address.lower() for p in port.allowed_address_pairs)]
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
                   [*mark, StripVlan(), goto(B, 60, 81)], c) for mac in macs]
    # IP source anti-spoofing: only the port's addresses (fixed IPs, address pairs, IPv6
    # link-local) reach the rules; any other source is dropped (p85)
    flows += port_firewall(P, lv, macs, v4, v6, model.stateful(port), c)
    flows += port_sg_flows(model, port, host_conj_ids(model) if ids is None else ids)
    return flows
