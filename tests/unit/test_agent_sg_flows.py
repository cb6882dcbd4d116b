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
