"""Behaviour of the compiled pipelines, checked by walking packets through the flows."""

import dataclasses

from fermion.agent import cookies
from fermion.agent.flows import diff
from fermion.agent.l2_flows import (
    br_int_flows,
    br_phys_flows,
    br_tun_flows,
    compile_all,
    link_local,
)
from fermion.agent.l2_model import allocate_local_vlans
from fermion.agent.sg_flows import port_range_masks
from fermion.agent.walk import ETH_ARP, ETH_IP, ETH_IPV6, field_matches, walk
from tests.unit import agent_fixture as fx

LV_FLAT, LV_VLAN, LV_VX = 1, 2, 3  # allocate_local_vlans sorts network ids
BCAST = "ff:ff:ff:ff:ff:ff"


def arp(in_port, src, spa, tpa="10.0.0.1", dl_vlan=None, dst=BCAST, op=1):
    return {"in_port": in_port, "dl_src": src, "dl_dst": dst, "dl_vlan": dl_vlan,
            "dl_type": ETH_ARP, "arp_op": op, "arp_spa": spa, "arp_tpa": tpa}


def tcp(in_port, src, dst, nw_src, nw_dst, dport, dl_vlan=None, ct="+trk+new"):
    return {"in_port": in_port, "dl_src": src, "dl_dst": dst, "dl_vlan": dl_vlan,
            "dl_type": ETH_IP, "nw_proto": 6, "nw_src": nw_src, "nw_dst": nw_dst,
            "tp_src": 40000, "tp_dst": dport, "ct": ct}


def test_local_vlans_are_stable_and_freed():
    first = allocate_local_vlans(["n1", "n2", "n3"], {})
    assert first == {"n1": 1, "n2": 2, "n3": 3}
    again = allocate_local_vlans(["n3", "n4"], first)
    assert again == {"n3": 3, "n4": 1}
    assert fx.model().networks[fx.NET_VX].local_vlan == LV_VX


# ------------------------------------------------------------------ br-phys / br-int VLANs

def test_br_phys_strips_the_local_tag_for_flat_and_rewrites_it_for_vlan():
    flows = br_phys_flows(fx.model(), "br-phys")
    flat = walk(flows, {"in_port": fx.PHY_PHYS, "dl_vlan": LV_FLAT, "dl_dst": BCAST})
    assert flat.is_output("NORMAL", vlan=None)
    vlan = walk(flows, {"in_port": fx.PHY_PHYS, "dl_vlan": LV_VLAN, "dl_dst": BCAST})
    assert vlan.is_output("NORMAL", vlan=100)
    assert walk(flows, {"in_port": fx.PHY_PHYS, "dl_vlan": LV_VX}).dropped
    # traffic from the wire towards br-int is plain switching
    assert walk(flows, {"in_port": 7, "dl_vlan": 100}).is_output("NORMAL", vlan=100)


def test_br_int_translates_global_to_local_for_traffic_from_the_physnet():
    flows = br_int_flows(fx.model())
    untagged = walk(flows, {"in_port": fx.INT_PHYS, "dl_vlan": None, "dl_dst": BCAST})
    assert untagged.is_output("NORMAL", vlan=LV_FLAT) and untagged.tables == [0, 60]
    tagged = walk(flows, {"in_port": fx.INT_PHYS, "dl_vlan": 100, "dl_dst": BCAST})
    assert tagged.is_output("NORMAL", vlan=LV_VLAN)
    assert walk(flows, {"in_port": fx.INT_PHYS, "dl_vlan": 101}).dropped
    assert walk(flows, {"in_port": fx.PATCH_TUN, "dl_vlan": 4095}).dropped


def test_without_flat_network_untagged_physnet_traffic_is_dropped():
    m = fx.model()
    m = dataclasses.replace(m, networks={k: v for k, v in m.networks.items()
                                         if k != fx.NET_FLAT})
    assert walk(br_int_flows(m), {"in_port": fx.INT_PHYS, "dl_vlan": None}).dropped
    assert walk(br_phys_flows(m, "br-phys"), {"in_port": fx.PHY_PHYS, "dl_vlan": LV_FLAT}).dropped


# ------------------------------------------------------------------ anti-spoofing

def test_arp_from_own_address_or_address_pair_passes_others_are_dropped():
    flows = br_int_flows(fx.model())
    ok = walk(flows, arp(fx.OF_A, fx.MAC_A, "10.0.0.5"))
    assert ok.is_output("NORMAL") and ok.tables[:3] == [0, 24, 25]
    assert walk(flows, arp(fx.OF_A, fx.MAC_PAIR, "10.0.0.100")).is_output("NORMAL")
    assert walk(flows, arp(fx.OF_A, fx.MAC_A, "10.0.0.6")).dropped
    assert walk(flows, arp(fx.OF_A, "fa:16:3e:99:99:99", "10.0.0.5")).dropped


def test_ipv6_neighbour_advertisements_are_checked():
    flows = br_int_flows(fx.model())

    def na(target):
        return {"in_port": fx.OF_A, "dl_src": fx.MAC_A, "dl_dst": BCAST, "dl_type": ETH_IPV6,
                "nw_proto": 58, "icmp_type": 136, "nd_target": target}
    assert not walk(flows, na("2001:db8::5")).dropped
    assert not walk(flows, na(link_local(fx.MAC_A))).dropped
    assert walk(flows, na("2001:db8::6")).dropped
    assert link_local("fa:16:3e:00:00:0a") == "fe80::f816:3eff:fe00:a"


def test_mac_spoofing_is_dropped_and_port_security_off_lets_anything_through():
    flows = br_int_flows(fx.model())
    spoof = tcp(fx.OF_A, "fa:16:3e:99:99:99", fx.MAC_D, "10.0.0.5", "10.0.0.9", 80)
    assert walk(flows, spoof).dropped
    free = tcp(fx.OF_B, "fa:16:3e:99:99:99", BCAST, "1.2.3.4", "10.2.0.1", 80)
    assert walk(flows, free).is_output("NORMAL")
    assert walk(flows, free).tables == [0, 60, 73, 91, 94]
    assert walk(flows, arp(fx.OF_B, fx.MAC_B, "9.9.9.9")).is_output("NORMAL")


# ------------------------------------------------------------------ security groups

def test_egress_is_tracked_committed_and_normal_switched():
    flows = br_int_flows(fx.model())
    out = walk(flows, tcp(fx.OF_C, fx.MAC_C, "fa:16:3e:00:00:99", "10.1.0.7", "8.8.8.8", 443))
    assert out.is_output("NORMAL") and out.committed
    assert out.tables == [0, 25, 60, 71, 72, 73, 91, 94]


def test_no_egress_rule_means_no_new_connections_out():
    flows = br_int_flows(fx.model())  # D's group has ingress rules only
    out = walk(flows, tcp(fx.OF_D, fx.MAC_D, "fa:16:3e:00:00:99", "10.1.0.8", "8.8.8.8", 443))
    assert out.dropped and out.tables[-1] == 93
    reply = tcp(fx.OF_D, fx.MAC_D, "fa:16:3e:00:00:99", "10.1.0.8", "8.8.8.8", 443,
                ct="+trk+est")
    assert walk(flows, reply).is_output("NORMAL")


def test_ingress_tcp_22_from_the_allowed_prefix_only():
    flows = br_int_flows(fx.model())

    def to_d(src_ip, dport, ct="+trk+new"):
        return tcp(fx.PATCH_TUN, "fa:16:3e:00:00:99", fx.MAC_D, src_ip, "10.1.0.8", dport,
                   dl_vlan=LV_VX, ct=ct)
    ok = walk(flows, to_d("192.168.0.5", 22))
    assert ok.is_output(fx.OF_D, vlan=None) and ok.committed
    assert ok.tables == [0, 60, 81, 82, 92]
    assert walk(flows, to_d("10.9.9.9", 22)).dropped
    assert walk(flows, to_d("192.168.0.5", 80)).dropped
    assert walk(flows, to_d("10.9.9.9", 80, ct="+trk+est")).is_output(fx.OF_D)
    assert walk(flows, to_d("192.168.0.5", 22, ct="+trk+inv")).dropped


def test_local_port_to_port_goes_through_both_firewalls_and_remote_group():
    flows = br_int_flows(fx.model())
    # C is a member of the group D's ingress rule names as remote_group_id
    c_to_d = walk(flows, tcp(fx.OF_C, fx.MAC_C, fx.MAC_D, "10.1.0.7", "10.1.0.8", 8080))
    assert c_to_d.is_output(fx.OF_D) and c_to_d.tables == [0, 25, 60, 71, 72, 73, 81, 82, 92]
    # the same from an address outside the group (spoof-free: B's network has no rule) fails
    m = fx.model()
    m = dataclasses.replace(m, sg_members={})
    assert walk(br_int_flows(m), tcp(fx.OF_C, fx.MAC_C, fx.MAC_D, "10.1.0.7", "10.1.0.8",
                                     8080)).dropped


def test_an_unprotected_local_port_still_meets_the_destination_ingress_firewall():
    flows = br_int_flows(fx.model())
    new = walk(flows, tcp(fx.OF_U, fx.MAC_U, fx.MAC_D, "10.1.0.10", "10.1.0.8", 80))
    assert new.dropped and new.tables[-1] == 93
    est = walk(flows, tcp(fx.OF_U, fx.MAC_U, fx.MAC_D, "10.1.0.10", "10.1.0.8", 80,
                          ct="+trk+est"))
    assert est.is_output(fx.OF_D) and est.tables == [0, 60, 73, 81, 82, 92]
    # and anything it sends elsewhere is plain switching
    assert walk(flows, tcp(fx.OF_U, fx.MAC_U, BCAST, "1.1.1.1", "10.1.0.8", 80)).is_output(
        "NORMAL")


def test_dhcp_arp_and_nd_reach_a_protected_port():
    flows = br_int_flows(fx.model())
    dhcp = {"in_port": fx.PATCH_TUN, "dl_src": "fa:16:3e:00:00:99", "dl_dst": fx.MAC_D,
            "dl_vlan": LV_VX, "dl_type": ETH_IP, "nw_proto": 17, "nw_src": "10.1.0.2",
            "nw_dst": "10.1.0.8", "tp_src": 67, "tp_dst": 68}
    assert walk(flows, dhcp).is_output(fx.OF_D)
    reply = arp(fx.PATCH_TUN, "fa:16:3e:00:00:99", "10.1.0.1", "10.1.0.8", dl_vlan=LV_VX,
                dst=fx.MAC_D, op=2)
    assert walk(flows, reply).is_output(fx.OF_D, vlan=None)
    # an instance answering as a DHCP server is dropped
    rogue = dict(dhcp, in_port=fx.OF_D, dl_src=fx.MAC_D, dl_dst=BCAST, dl_vlan=None,
                 nw_src="10.1.0.8", tp_src=67, tp_dst=68)
    assert walk(flows, rogue).dropped


def test_port_range_masks_cover_exactly_the_range():
    for lo, hi in ((22, 22), (1, 65535), (1000, 1999), (8080, 8089), (0, 0), (65535, 65535)):
        masks = port_range_masks(lo, hi)
        for port in list(range(max(0, lo - 40), min(65535, hi + 40) + 1, 1 if hi - lo < 3000
                                                                         else 97)) + [lo, hi]:
            inside = any(field_matches("tp_dst", m, {"tp_dst": port}) for m in masks)
            assert inside == (lo <= port <= hi), (lo, hi, port)


# ------------------------------------------------------------------ br-tun

def test_vxlan_from_a_tunnel_maps_vni_to_local_vlan_learns_and_goes_to_br_int():
    flows = br_tun_flows(fx.model())
    pkt = {"in_port": fx.VX_COMPUTE2, "tun_id": 1001, "dl_src": fx.MAC_R, "dl_dst": fx.MAC_C,
           "dl_vlan": None}
    w = walk(flows, pkt)
    assert w.is_output(fx.PATCH_INT, vlan=LV_VX) and w.tables == [0, 4, 10]
    assert len(w.learned) == 1 and "table=20" in w.learned[0]
    assert f"cookie={cookies.LEARNED:#x}" in w.learned[0]
    assert walk(flows, dict(pkt, tun_id=2002)).dropped
    assert walk(flows, dict(pkt, in_port=99)).dropped


def test_flooding_from_br_int_goes_to_every_peer_with_the_vni():
    m = fx.model(l2_population=False, arp_responder=False)
    w = walk(br_tun_flows(m), {"in_port": fx.PATCH_INT, "dl_vlan": LV_VX, "dl_dst": BCAST,
                               "dl_src": fx.MAC_C})
    assert w.is_output(fx.VX_NET1, vlan=None) and w.is_output(fx.VX_COMPUTE2, vlan=None)
    assert all(pkt["tun_id"] == 1001 for _, pkt in w.outputs)
    # unknown unicast floods too (20 -> 22)
    u = walk(br_tun_flows(m), {"in_port": fx.PATCH_INT, "dl_vlan": LV_VX,
                               "dl_dst": "fa:16:3e:12:34:56"})
    assert u.tables == [0, 2, 20, 22] and len(u.outputs) == 2
    # a VLAN that is not a tunnelled network goes nowhere
    assert walk(br_tun_flows(m), {"in_port": fx.PATCH_INT, "dl_vlan": LV_FLAT,
                                  "dl_dst": BCAST}).dropped


def test_l2population_unicast_flooding_scope_and_arp_responder():
    flows = br_tun_flows(fx.model())
    uni = walk(flows, {"in_port": fx.PATCH_INT, "dl_vlan": LV_VX, "dl_dst": fx.MAC_R})
    assert uni.outputs == [(fx.VX_COMPUTE2, uni.outputs[0][1])]
    assert uni.outputs[0][1]["tun_id"] == 1001 and uni.outputs[0][1]["dl_vlan"] is None
    # flooding only to hosts with ports on the network (network1 has none)
    flood = walk(flows, {"in_port": fx.PATCH_INT, "dl_vlan": LV_VX, "dl_dst": "01:00:5e:00:00:01"})
    assert [p for p, _ in flood.outputs] == [fx.VX_COMPUTE2]
    who_has = arp(fx.PATCH_INT, fx.MAC_C, "10.1.0.7", "10.1.0.9", dl_vlan=LV_VX)
    answered = walk(flows, who_has)
    assert answered.is_output(fx.PATCH_INT, vlan=LV_VX) and answered.tables == [0, 2, 21]
    assert answered.outputs[0][1]["dl_src"] == fx.MAC_R
    unknown = walk(flows, arp(fx.PATCH_INT, fx.MAC_C, "10.1.0.7", "10.1.0.77", dl_vlan=LV_VX))
    assert unknown.tables == [0, 2, 21, 22]


# ------------------------------------------------------------------ reconciliation

def test_unplugging_a_port_deletes_exactly_its_flows():
    before = compile_all(fx.model())
    ofports = {fx.PORT_A: fx.OF_A, fx.PORT_B: fx.OF_B, fx.PORT_C: fx.OF_C, fx.PORT_U: fx.OF_U,
               fx.PORT_S: fx.OF_S}
    after = compile_all(fx.model(ofports=ofports))
    to_add, to_delete = diff(after["br-int"], before["br-int"])
    assert to_add == []
    known = [fx.PORT_D, fx.RULE_SSH, fx.RULE_GRP, fx.SG_SSH, "10.1.0.7"]
    owners = {cookies.resolve(f.cookie, known) for f in to_delete}
    # D's own flows, its group's rules and conjunction, and the address flow of the
    # remote group member (C, 10.1.0.7) that no local port's rule needs any more
    assert owners == set(known)
    assert diff(after["br-tun"], before["br-tun"]) == ([], [])


def test_compiling_is_deterministic():
    assert compile_all(fx.model()) == compile_all(fx.model())


def test_trace_explains_who_forwarded_or_dropped_a_packet():
    m = fx.model()
    w = walk(br_int_flows(m), arp(fx.OF_A, fx.MAC_A, "10.0.0.6"))
    lines = w.explain([fx.PORT_A, *m.networks])
    assert lines[-1] == "=> dropped"
    assert f"port:{fx.PORT_A}" in lines[0] and "ARP_SPOOF" in lines[-2] and "base" in lines[-2]


def test_icmp_and_ipv6_rules():
    from fermion.agent.l2_model import SGRule
    m = fx.model()
    rules = (SGRule("r-icmp", "ingress", "IPv4", 1, 8, None),
             SGRule("r-v6", "ingress", "IPv6", 6, 80, 81, "2001:db8::/64"))
    m = dataclasses.replace(m, sg_rules={**m.sg_rules, fx.SG_SSH: rules})
    flows = br_int_flows(m)
    base = {"in_port": fx.PATCH_TUN, "dl_src": "fa:16:3e:00:00:99", "dl_dst": fx.MAC_D,
            "dl_vlan": LV_VX, "ct": "+trk+new"}
    ping = dict(base, dl_type=ETH_IP, nw_proto=1, nw_src="1.2.3.4", nw_dst="10.1.0.8")
    assert walk(flows, dict(ping, icmp_type=8)).is_output(fx.OF_D)
    assert walk(flows, dict(ping, icmp_type=13)).dropped
    web6 = dict(base, dl_type=ETH_IPV6, nw_proto=6, ipv6_src="2001:db8::7", tp_dst=81)
    assert walk(flows, web6).is_output(fx.OF_D)
    assert walk(flows, dict(web6, ipv6_src="2001:db9::7")).dropped
    assert walk(flows, dict(web6, tp_dst=82)).dropped


def test_a_multi_segment_network_uses_the_segment_this_host_reaches():
    snap = dict(fx.SNAPSHOT)
    net = {"id": fx.NET_VLAN, "segments": [
        {"provider:network_type": "vlan", "provider:physical_network": "elsewhere",
         "provider:segmentation_id": 7},
        {"provider:network_type": "vlan", "provider:physical_network": "physnet",
         "provider:segmentation_id": 100}]}
    snap["networks"] = [n for n in snap["networks"] if n["id"] != fx.NET_VLAN] + [net]
    m = fx.model(snapshot=snap)
    assert m.networks[fx.NET_VLAN].segment.segmentation_id == 100


def test_ip_source_spoofing_is_dropped_address_pairs_and_dhcp_discover_pass():
    flows = br_int_flows(fx.model())
    dst = "fa:16:3e:00:00:99"
    spoof = walk(flows, tcp(fx.OF_C, fx.MAC_C, dst, "10.1.0.99", "8.8.8.8", 443))
    assert spoof.dropped and spoof.tables[-2:] == [71, 93]
    # A's address pair 10.0.0.100 (with its MAC) may send; A has no egress rule, so use est
    pair = tcp(fx.OF_A, fx.MAC_PAIR, dst, "10.0.0.100", "8.8.8.8", 443, ct="+trk+est")
    assert walk(flows, pair).is_output("NORMAL")
    discover = {"in_port": fx.OF_D, "dl_src": fx.MAC_D, "dl_dst": BCAST, "dl_vlan": None,
                "dl_type": ETH_IP, "nw_proto": 17, "nw_src": "0.0.0.0",
                "nw_dst": "255.255.255.255", "tp_src": 68, "tp_dst": 67}
    assert walk(flows, discover).is_output("NORMAL")


def test_unknown_plugged_ports_are_dropped_in_table_0():
    m = dataclasses.replace(fx.model(), dead_ofports=(41, 42))
    drops = [f for f in br_int_flows(m) if f.table == 0 and f.get("in_port") in ("41", "42")]
    assert len(drops) == 2 and all(f.actions == ("drop",) for f in drops)
    assert all(f.priority > 0 and f.cookie == cookies.DEAD_PORT for f in drops)


def test_port_flow_cache_gives_the_same_flows_and_recompiles_only_what_changed():
    from fermion.agent.l2_flows import PortFlowCache

    m = fx.model()
    cache = PortFlowCache()
    assert compile_all(m, cache) == compile_all(m)
    cached = {k: list(v) for k, v in cache._flows.items()}
    assert compile_all(m, cache) == compile_all(m)
    assert all(cache._flows[k] is not None and cache._flows[k] == v for k, v in cached.items())
    # a changed security group rule set changes the key of the ports using the group
    group = next(iter(m.sg_rules))
    changed = dataclasses.replace(m, sg_rules={**m.sg_rules, group: ()})
    assert compile_all(changed, cache) == compile_all(changed)
    assert len(cache) == len(m.ports)  # stale entries pruned
