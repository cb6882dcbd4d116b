"""Pure helpers of the L2 agent's applier and loop (no OVS, no server)."""

import pytest

from fermion.agent.flows import canon_action, parse_dump_line
from fermion.agent.l2_agent import parse_mappings
from fermion.agent.l2_plan import tunnel_port_name
from fermion.linux.ovsdb import atom as _atom


def test_tunnel_port_names_follow_neutron():
    assert tunnel_port_name("vxlan", "192.168.0.100") == "vxlan-c0a80064"
    assert tunnel_port_name("gre", "10.0.0.1") == "gre-0a000001"
    assert len(tunnel_port_name("geneve", "2001:db8::1")) <= 15


def test_ovs_prints_set_tunnel_as_a_load():
    # ovs-ofctl dump-flows shows set_tunnel:0x1 as a load into the tunnel id
    assert canon_action("load:0x1->NXM_NX_TUN_ID[]") == "set_tunnel:0x1"
    assert canon_action("set_field:0x3e9->tun_id") == "set_tunnel:0x3e9"
    flow = parse_dump_line("br-tun", " cookie=0xfe01, table=22, n_packets=3, priority=1,"
                                     "dl_vlan=1 actions=strip_vlan,load:0x1->NXM_NX_TUN_ID[],"
                                     "output:2")
    assert flow.actions == ("strip_vlan", "set_tunnel:0x1", "output:2")


def test_ovsdb_json_values():
    assert _atom(["map", [["iface-id", "x"]]]) == {"iface-id": "x"}
    assert _atom(["set", []]) == []
    assert _atom(["set", [["uuid", "u1"], ["uuid", "u2"]]]) == ["u1", "u2"]
    assert _atom(["uuid", "u1"]) == "u1"
    assert _atom(7) == 7 and _atom("br-int") == "br-int"


def test_bridge_mappings():
    assert parse_mappings(["physnet:br-phys,ext:br-ex", "p3:br3"]) == {
        "physnet": "br-phys", "ext": "br-ex", "p3": "br3"}
    with pytest.raises(ValueError):
        parse_mappings(["physnet"])
