"""Desired flows of the physnet bridges and br-tun: pure functions of the host model.

br-phys (one per ``bridge_mappings`` entry): traffic from br-int (``phy-<br>``) carries the
network's local VLAN; it leaves untagged (flat) or with the segmentation id (VLAN); all else
is plain switching. br-tun: from ``patch-int``, unicast to 20 (learned or l2population
entries), broadcast ARP to the responder (21) with ``arp_responder``, the rest floods (22)
with the network's VNI to the peers that have its ports; from a tunnel, the VNI becomes the
local VLAN (3/4/6) and the source is learned into 20 on the way to ``patch-int`` (10).
"""

from __future__ import annotations

import ipaddress

from fermion.agent import cookies
from fermion.agent.actions import (
    IN_PORT,
    NORMAL,
    Learn,
    Load,
    Move,
    Output,
    SetDlSrc,
    SetTunnel,
    SetVlan,
    StripVlan,
)
from fermion.agent.cookies import Kind
from fermion.agent.flows import Flow, dedupe, make
from fermion.agent.l2_model import HostModel, Network, RemotePort
from fermion.agent.pipeline import BR_TUN, check_learn, goto

UNICAST = "00:00:00:00:00:00/01:00:00:00:00:00"
MULTICAST = "01:00:00:00:00:00/01:00:00:00:00:00"
TUN_TABLE = {"gre": 3, "vxlan": 4, "geneve": 6}
LEARN_TIMEOUT = 300


def br_phys_flows(model: HostModel, bridge: str) -> list[Flow]:
    phys = next(b for b in model.phys_bridges if b.bridge == bridge)
    c = cookies.BASE
    flows = [
        make(bridge, 0, 0, {}, [NORMAL], c),
        make(bridge, 0, 2, {"in_port": phys.phy_ofport}, [], c),
    ]
    for net in model.networks.values():
        seg = net.segment
        if seg.physical_network != phys.physnet or seg.network_type not in ("flat", "vlan"):
            continue
        tag = StripVlan() if seg.network_type == "flat" else SetVlan(seg.segmentation_id)
        flows.append(make(bridge, 0, 4, {"in_port": phys.phy_ofport, "dl_vlan": net.local_vlan},
                          [tag, NORMAL], cookies.cookie(Kind.NETWORK, net.id)))
    return flows


def learn_action(patch_int: int) -> list:
    check_learn(BR_TUN, 10, 20)
    spec = ",".join([
        "table=20", f"hard_timeout={LEARN_TIMEOUT}", "priority=1",
        f"cookie={cookies.LEARNED:#x}", "NXM_OF_VLAN_TCI[0..11]",
        "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[]", "load:0->NXM_OF_VLAN_TCI[]",
        "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[]", "output:OXM_OF_IN_PORT[]",
    ])
    return [Learn(spec), Output(patch_int)]


def br_tun_flows(model: HostModel) -> list[Flow]:
    T, c = BR_TUN, cookies.BASE
    flows = [
        make(T, 0, 1, {"in_port": model.patch_int_ofport}, [goto(T, 0, 2)], c),
        make(T, 0, 0, {}, [], c),
        make(T, 2, 0, {"dl_dst": UNICAST}, [goto(T, 2, 20)], c),
        make(T, 2, 0, {"dl_dst": MULTICAST}, [goto(T, 2, 22)], c),
        make(T, 3, 0, {}, [], c),
        make(T, 4, 0, {}, [], c),
        make(T, 6, 0, {}, [], c),
        make(T, 10, 1, {}, learn_action(model.patch_int_ofport), c),
        make(T, 20, 0, {}, [goto(T, 20, 22)], c),
        make(T, 21, 0, {}, [goto(T, 21, 22)], c),
        make(T, 22, 0, {}, [], c),
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
    return dedupe(flows)


def _tunnelled(net: Network) -> bool:
    return net.segment.network_type in TUN_TABLE


def _br_tun_network(model: HostModel, net: Network) -> list[Flow]:
    if not _tunnelled(net):
        return []
    T, seg, lv = BR_TUN, net.segment, net.local_vlan
    c = cookies.cookie(Kind.NETWORK, net.id)
    table = TUN_TABLE[seg.network_type]
    flows = [make(T, table, 1, {"tun_id": seg.segmentation_id},
                  [SetVlan(lv), goto(T, table, 10)], c)]
    peers = [p for p in model.tunnel_peers if p.tunnel_type == seg.network_type]
    if model.l2_population:
        hosts = {rp.host_ip for rp in model.remote_ports if rp.network_id == net.id}
        peers = [p for p in peers if p.ip in hosts]
    if peers:
        outputs = [Output(p.ofport) for p in sorted(peers, key=lambda p: p.ofport)]
        flows.append(make(T, 22, 1, {"dl_vlan": lv},
                          [StripVlan(), SetTunnel(seg.segmentation_id), *outputs], c))
    return flows


def _l2pop_port(model: HostModel, rp: RemotePort) -> list[Flow]:
    net = model.networks.get(rp.network_id)
    peer = next((p for p in model.tunnel_peers if p.ip == rp.host_ip), None)
    if net is None or peer is None or not _tunnelled(net):
        return []
    T, lv, c = BR_TUN, net.local_vlan, cookies.cookie(Kind.REMOTE_PORT, rp.id)
    flows = [make(T, 20, 2, {"dl_vlan": lv, "dl_dst": rp.mac},
                  [StripVlan(), SetTunnel(net.segment.segmentation_id), Output(peer.ofport)],
                  c)]
    if model.arp_responder:
        mac_int = int(rp.mac.replace(":", ""), 16)
        for ip in rp.ips:
            if ":" in ip:
                continue
            flows.append(make(T, 21, 1, {"arp": None, "dl_vlan": lv, "arp_op": 1, "arp_tpa": ip}, [
                Move("NXM_OF_ETH_SRC[]", "NXM_OF_ETH_DST[]"), SetDlSrc(rp.mac),
                Load(2, "NXM_OF_ARP_OP[]"), Move("NXM_NX_ARP_SHA[]", "NXM_NX_ARP_THA[]"),
                Move("NXM_OF_ARP_SPA[]", "NXM_OF_ARP_TPA[]"), Load(mac_int, "NXM_NX_ARP_SHA[]"),
                Load(int(ipaddress.IPv4Address(ip)), "NXM_OF_ARP_SPA[]"), IN_PORT], c))
    return flows
