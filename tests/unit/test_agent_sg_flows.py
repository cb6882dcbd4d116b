"""Security group rules compiled to flows, checked by walking packets through br-int.

Protocols reach the agent as numbers the server computed (``sg_rules.agent_protocol_number``);
every protocol the API accepts must be enforced by that number.
"""

import dataclasses

import pytest

from fermion.agent.l2_flows import br_int_flows
from fermion.agent.l2_model import SGRule
from fermion.agent.walk import ETH_IP, ETH_IPV6, walk
from fermion.model import attributes_sg
from fermion.plugin import sg_rules
from tests.unit import agent_fixture as fx

LV_VX = 3
PEER_MAC = "fa:16:3e:00:00:99"


def with_rules(*rules: SGRule, group: str = fx.SG_SSH):
    m = fx.model()
    return dataclasses.replace(m, sg_rules={**m.sg_rules, group: tuple(rules)})


def to_d(proto: int, v6: bool = False, **fields) -> dict:
    """A new packet from the tunnel to port D (group SG_SSH), ``proto`` as nw_proto."""
    pkt = {"in_port": fx.PATCH_TUN, "dl_src": PEER_MAC, "dl_dst": fx.MAC_D, "dl_vlan": LV_VX,
           "dl_type": ETH_IPV6 if v6 else ETH_IP, "nw_proto": proto, "ct": "+trk+new"}
    if v6:
        pkt.update(ipv6_src="2001:db8::7", ipv6_dst="2001:db8::8")
    else:
        pkt.update(nw_src="192.0.2.7", nw_dst="10.1.0.8")
    return {**pkt, **fields}


def admitted(flows, pkt) -> bool:
    return walk(flows, pkt).is_output(fx.OF_D)


def api_rule(protocol, ethertype="IPv4", **kw) -> dict:
    """A rule as the API stores it, with the number the server hands the agent."""
    stored = sg_rules.normalize({"direction": "ingress", "ethertype": ethertype,
                                 "protocol": attributes_sg.convert_protocol(protocol), **kw})
    return stored


@pytest.mark.parametrize("name", sorted(attributes_sg.PROTOCOLS))
def test_every_protocol_name_is_enforced_by_its_number(name):
    ethertype = "IPv6" if name in sg_rules.IPV6_ONLY else "IPv4"
    stored = api_rule(name, ethertype)
    number = sg_rules.agent_protocol_number(stored)
    flows = br_int_flows(with_rules(SGRule("r", "ingress", ethertype, number,
                                           remote_ip_prefix="::/0" if ethertype == "IPv6"
                                           else "0.0.0.0/0")))
    v6 = ethertype == "IPv6"
    if number == 0:  # "ip"/"hopopt": every protocol of the ethertype
        assert admitted(flows, to_d(6, v6)) and admitted(flows, to_d(47, v6))
        return
    assert admitted(flows, to_d(number, v6)), name
    other = 6 if number != 6 else 17
    assert not admitted(flows, to_d(other, v6)), f"{name} admitted protocol {other}"


def test_the_issue_example_vrrp_from_anywhere_admits_only_vrrp():
    flows = br_int_flows(with_rules(SGRule("r", "ingress", "IPv4", 112,
                                           remote_ip_prefix="0.0.0.0/0")))
    assert admitted(flows, to_d(112))
    assert not admitted(flows, to_d(6, tp_dst=22))
    assert not admitted(flows, to_d(1, icmp_type=8))


def test_ipv6_legacy_icmp_names_and_number_mean_icmpv6():
    for protocol in ("icmp", "icmpv6", "ipv6-icmp", "1", "58"):
        rule = {"ethertype": "IPv6", "protocol": protocol}
        assert sg_rules.agent_protocol_number(rule) == 58, protocol
    assert sg_rules.agent_protocol_number({"ethertype": "IPv4", "protocol": "icmp"}) == 1
    assert sg_rules.agent_protocol_number({"ethertype": "IPv4", "protocol": None}) is None
    assert sg_rules.agent_protocol_number({"ethertype": "IPv4", "protocol": "200"}) == 200


@pytest.mark.parametrize("number", [6, 17, 132])
def test_port_ranges_of_tcp_udp_sctp(number):
    flows = br_int_flows(with_rules(SGRule("r", "ingress", "IPv4", number, 1000, 1999)))
    for port, inside in ((999, False), (1000, True), (1500, True), (1999, True), (2000, False)):
        assert admitted(flows, to_d(number, tp_dst=port)) == inside, port
    assert not admitted(flows, to_d(17 if number != 17 else 6, tp_dst=1500))


@pytest.mark.parametrize("number", [33, 136])
def test_dccp_and_udplite_port_ranges_admit_the_protocol_on_every_port(number):
    """OVS does not parse their ports: like Neutron's OVS firewall, the protocol is matched
    and the range is not (a tp_dst would be dropped by OVS from the flow anyway)."""
    flows = br_int_flows(with_rules(SGRule("r", "ingress", "IPv4", number, 5000, 5001)))
    rule_flows = [f for f in flows if f.table == 82 and f.get("nw_proto") == str(number)]
    assert rule_flows and all(f.get("tp_dst") is None for f in rule_flows)
    assert admitted(flows, to_d(number))
    assert not admitted(flows, to_d(17, tp_dst=5000))


def test_icmp_type_and_code():
    flows = br_int_flows(with_rules(SGRule("t", "ingress", "IPv4", 1, 8),
                                    SGRule("tc", "ingress", "IPv6", 58, 1, 4)))
    assert admitted(flows, to_d(1, icmp_type=8, icmp_code=0))
    assert not admitted(flows, to_d(1, icmp_type=13, icmp_code=0))
    assert admitted(flows, to_d(58, True, icmp_type=1, icmp_code=4))
    assert not admitted(flows, to_d(58, True, icmp_type=1, icmp_code=3))
    assert not admitted(flows, to_d(1, icmp_type=1, icmp_code=4))  # IPv4 ICMP: no rule


def test_any_protocol_is_all_ip_of_the_rule_ethertype_only():
    flows = br_int_flows(with_rules(SGRule("any", "ingress", "IPv6", None)))
    assert admitted(flows, to_d(6, True)) and admitted(flows, to_d(50, True))
    assert not admitted(flows, to_d(6))


def test_a_rule_naming_a_protocol_without_its_number_admits_nothing():
    snap = {**fx.SNAPSHOT, "security_groups": [{"id": fx.SG_SSH, "security_group_rules": [
        {"id": "r", "direction": "ingress", "ethertype": "IPv4", "protocol": "vrrp"}]}]}
    m = fx.model(snapshot=snap)
    assert m.sg_rules[fx.SG_SSH] == ()
    assert not admitted(br_int_flows(m), to_d(112))


# ------------------------------------------------------------------ stateless groups

def from_s(proto: int, dst_ip: str, dst_mac: str = PEER_MAC, ct: str = "+trk+new", **kw):
    return {"in_port": fx.OF_S, "dl_src": fx.MAC_S, "dl_dst": dst_mac, "dl_vlan": None,
            "dl_type": ETH_IP, "nw_proto": proto, "nw_src": "10.1.0.11", "nw_dst": dst_ip,
            "ct": ct, **kw}


def to_s(proto: int, src_ip: str = "192.0.2.7", ct: str = "+trk+new", **kw):
    return {"in_port": fx.PATCH_TUN, "dl_src": PEER_MAC, "dl_dst": fx.MAC_S, "dl_vlan": LV_VX,
            "dl_type": ETH_IP, "nw_proto": proto, "nw_src": src_ip, "nw_dst": "10.1.0.11",
            "ct": ct, **kw}


def test_a_stateless_port_never_meets_conntrack_and_its_rules_judge_every_packet():
    flows = br_int_flows(fx.model())  # S: ingress ICMP echo request, egress TCP to 10.1.0.0/24
    ping = walk(flows, to_s(1, icmp_type=8, icmp_code=0))
    assert ping.is_output(fx.OF_S) and not ping.tracked and not ping.committed
    out = walk(flows, from_s(6, "10.1.0.9", tp_src=40000, tp_dst=80))
    assert out.is_output("NORMAL") and not out.tracked and not out.committed
    assert walk(flows, from_s(6, "8.8.8.8", tp_dst=80)).dropped
    # replies are not "established" for a stateless port: they need rules of their own
    assert walk(flows, to_s(6, "10.1.0.9", ct="+trk+est", tp_src=80, tp_dst=40000)).dropped
    assert walk(flows, from_s(1, "10.1.0.9", ct="+trk+est", icmp_type=0)).dropped


def test_a_local_stateful_sender_to_a_stateless_port():
    flows = br_int_flows(fx.model())
    # C (egress anywhere, stateful) pings S: C's conntrack commits it, S's rules admit it
    ping = {"in_port": fx.OF_C, "dl_src": fx.MAC_C, "dl_dst": fx.MAC_S, "dl_vlan": None,
            "dl_type": ETH_IP, "nw_proto": 1, "nw_src": "10.1.0.7", "nw_dst": "10.1.0.11",
            "icmp_type": 8, "icmp_code": 0, "ct": "+trk+new"}
    w = walk(flows, ping)
    assert w.is_output(fx.OF_S) and w.committed
    assert 81 in w.tables and w.tables[-2:] == [82, 92]
    # TCP from C is tracked as established by C's side, yet S's rules refuse it
    est = dict(ping, nw_proto=6, tp_src=40000, tp_dst=22, ct="+trk+est")
    del est["icmp_type"], est["icmp_code"]
    assert walk(flows, est).dropped


# ------------------------------------------------------------------ remote groups

def test_remote_group_rules_are_conjunctions_shared_by_the_group_ports():
    flows = br_int_flows(fx.model())
    conj = [f for f in flows if any(a.startswith("conjunction(") for a in f.actions)]
    accept = [f for f in flows if f.get("conj_id") is not None]
    # D's tcp-from-web rule: one dimension-2 flow (D's port), one address flow (C's IP),
    # one accept flow; none of them per (port, member)
    assert sorted((f.table, f.get("reg5", ""), f.get("nw_src", "")) for f in conj) == [
        (82, "", "10.1.0.7"), (82, "0x8", "")]
    assert len(accept) == 1 and accept[0].actions[0] == "ct(commit,zone=NXM_NX_REG6[0..15])"


def test_rules_of_two_groups_with_the_same_match_share_one_flow():
    rule_a = SGRule("ra", "ingress", "IPv4", 6, 22, 22, remote_group_id=fx.SG_WEB)
    rule_b = SGRule("rb", "ingress", "IPv4", 6, 22, 22, remote_group_id=fx.SG_FREE)
    m = fx.model()
    port_d = next(p for p in m.ports if p.id == fx.PORT_D)
    port_d = dataclasses.replace(port_d, security_groups=(fx.SG_SSH, "g2"))
    m = dataclasses.replace(
        m, ports=tuple(port_d if p.id == fx.PORT_D else p for p in m.ports),
        sg_rules={**m.sg_rules, fx.SG_SSH: (rule_a,), "g2": (rule_b,)},
        sg_members={fx.SG_WEB: ("10.1.0.7",), fx.SG_FREE: ("10.1.0.11",)})
    flows = br_int_flows(m)
    dim2 = [f for f in flows if f.table == 82 and f.get("reg5") == "0x8"
            and f.get("conj_id") is None and f.priority == 71]
    assert len(dim2) == 1 and len(dim2[0].actions) == 2
    for src in ("10.1.0.7", "10.1.0.11"):
        assert admitted(flows, to_d(6, nw_src=src, tp_dst=22)), src
        assert not admitted(flows, to_d(6, nw_src=src, tp_dst=23)), src
    assert not admitted(flows, to_d(6, nw_src="10.1.0.9", tp_dst=22))


# ------------------------------------------------------------------ scale (issue 11, 3)

def default_group_host(n: int, extra_members: tuple[str, ...] = ()):
    """``n`` ports of one VXLAN network on one host, all in a default group (egress
    anywhere, ingress from the group, IPv4 and IPv6), as the API makes it."""
    from fermion.agent.l2_model import HostModel, Network, Port, Segment

    group = "77777777-0000-4000-8000-000000000007"
    net = Network("66666666-0000-4000-8000-000000000006", 1, (Segment("vxlan", None, 1001),))
    ports = tuple(Port(f"{i:08x}-1111-4000-8000-000000000000", net.id, 10 + i,
                       f"fa:16:3e:00:{i >> 8:02x}:{i & 0xff:02x}", (f"10.0.{i >> 8}.{i & 0xff}",),
                       security_groups=(group,)) for i in range(1, n + 1))
    rules = tuple(SGRule(f"{d}-{e}", d, e, None, remote_group_id=group if d == "ingress"
                         else None)
                  for d in ("egress", "ingress") for e in ("IPv4", "IPv6"))
    members = tuple(ip for p in ports for ip in p.fixed_ips) + extra_members
    return HostModel("h", {net.id: net}, ports, sg_rules={group: rules},
                     sg_members={group: members}, sg_stateful={group: True})


def test_200_ports_in_one_default_group_cost_fewer_than_20_flows_each():
    flows = br_int_flows(default_group_host(200))
    assert len(flows) / 200 < 20, len(flows)


def test_a_member_joining_changes_flows_independent_of_the_group_size():
    from fermion.agent.flows import diff

    def delta(model_before, model_after) -> tuple[int, int]:
        add, delete = diff(br_int_flows(model_after), br_int_flows(model_before))
        return len(add), len(delete)

    for n in (20, 200):
        # a member on another host: only its address flow
        assert delta(default_group_host(n), default_group_host(n, ("10.9.9.9",))) == (1, 0)
        # a new local port of the group: its own flows and its address flow, nobody else's
        added, deleted = delta(default_group_host(n), default_group_host(n + 1))
        assert deleted == 0 and added == delta(default_group_host(20),
                                               default_group_host(21))[0]


def test_a_member_joining_leaves_other_ports_cached_flows_alone():
    from fermion.agent.l2_flows import PortFlowCache, compile_all

    cache = PortFlowCache()
    compile_all(default_group_host(50), cache)
    before = dict(cache._flows)
    compile_all(default_group_host(50, ("10.9.9.9",)), cache)
    assert cache._flows == before  # no port recompiled: members are not part of the key
