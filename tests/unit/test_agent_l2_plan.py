"""The L2 agent's decisions (fermion.agent.l2_plan): bridges, tunnels, wiring, local VLANs,
tags, per-port compile failures — pure functions of the snapshot and OVSDB's state."""

from __future__ import annotations

import copy
import dataclasses

from fermion.agent import cookies
from fermion.agent import l2_plan as plan
from fermion.agent.l2_flows import PortFlowCache, compile_all
from fermion.agent.l2_plan import DEAD_VLAN, L2Config, OvsPort, Patch, Tunnel
from tests.unit import agent_fixture as fx

CFG = L2Config("compute1", {"physnet": "br-phys"}, ("vxlan",), "192.168.0.11")


def test_bridges_patches_and_tunnels_on_a_new_host():
    p = plan.bridge_plan(CFG, fx.SNAPSHOT, {})
    assert p.add_bridges == ("br-int", "br-phys", "br-tun")
    assert p.add_patches == (Patch("br-int", "int-br-phys", "br-phys", "phy-br-phys"),
                             Patch("br-int", "patch-tun", "br-tun", "patch-int"))
    # one tunnel per other endpoint (not our own host, not our own address)
    assert p.add_tunnels == (Tunnel("vxlan-c0a8000a", "vxlan", "192.168.0.10"),
                             Tunnel("vxlan-c0a8000c", "vxlan", "192.168.0.12"))
    assert p.del_tunnels == () and p.changes == 7


def test_nothing_to_do_when_all_is_there_and_stale_tunnels_go():
    bridges = {"br-int": ["br-int", "int-br-phys", "patch-tun", "tapx"],
               "br-phys": ["br-phys", "phy-br-phys"],
               "br-tun": ["br-tun", "patch-int", "vxlan-c0a8000a", "vxlan-c0a8000c"]}
    assert plan.bridge_plan(CFG, fx.SNAPSHOT, bridges).changes == 0
    bridges["br-tun"].append("vxlan-c0a80063")  # a host that left
    p = plan.bridge_plan(CFG, fx.SNAPSHOT, bridges)
    assert p.del_tunnels == ("vxlan-c0a80063",) and p.changes == 1
    # no tunnelling: no br-tun, and tunnel ports are none of our business
    flat = dataclasses.replace(CFG, tunnel_types=())
    assert plan.bridge_plan(flat, fx.SNAPSHOT, bridges).changes == 0


def _plugged(*ports: OvsPort) -> dict[str, OvsPort]:
    return {p.name: p for p in ports}


def test_wiring_vlans_and_tags():
    plugged = _plugged(
        OvsPort("tapa", 5, fx.PORT_A, None, None),            # new: its network's VLAN
        OvsPort("tapc", 7, fx.PORT_C, 7, fx.NET_VX),          # kept VLAN 7: no write
        OvsPort("tapd", 8, fx.PORT_D, 3, "some-old-net"),     # retagged to VLAN 7
        OvsPort("tapr", 9, fx.PORT_R, None, None),            # bound to compute2: dead
        OvsPort("tapz", 10, "no-such-port", 7, fx.NET_VX),    # unknown: dead
        OvsPort("tapu", -1, fx.PORT_U, None, None),           # not opened yet: left alone
        OvsPort("taps", -1, fx.PORT_S, None, None, "could not open network device taps"))
    p = plan.port_plan(CFG, fx.SNAPSHOT, plugged)
    assert sorted(p.wired) == sorted([fx.PORT_A, fx.PORT_C, fx.PORT_D])
    assert p.failed == {fx.PORT_S: "OVS port taps: could not open network device taps"}
    assert p.local_vlans == {fx.NET_FLAT: 1, fx.NET_VX: 7}
    assert p.tags == {"tapa": (1, fx.NET_FLAT), "tapd": (7, fx.NET_VX),
                      "tapr": (DEAD_VLAN, None), "tapz": (DEAD_VLAN, None)}
    assert p.dead_ofports == [9, 10]
    # the same port plugged again on a device OVS can open: wired, the broken one ignored
    plugged["tapa2"] = OvsPort("tapa2", -1, fx.PORT_A, None, None, "no such device")
    assert fx.PORT_A not in plan.port_plan(CFG, fx.SNAPSHOT, plugged).failed


def test_ports_of_a_network_without_a_free_vlan_fail_and_are_dropped():
    full = {f"net{v:04}": v for v in range(1, 4095)}  # every local VLAN in use
    vlans, unallocated = plan.local_vlans({*full, "n-new"}, full)
    assert vlans == full and unallocated == {"n-new"}
    snapshot = {"host": "compute1", "networks": [{"id": n} for n in [*full, fx.NET_FLAT]],
                "ports": [{"id": f"p-{n}", "network_id": n} for n in full]
                + [fx.SNAPSHOT["ports"][0]]}
    plugged = _plugged(*(OvsPort(f"t{v}", 100 + v, f"p-{n}", v, n) for n, v in full.items()),
                       OvsPort("tapa", 5, fx.PORT_A, None, None))
    p = plan.port_plan(CFG, snapshot, plugged)
    assert p.failed == {fx.PORT_A: plan.NO_VLAN}
    assert len(p.wired) == 4094 and fx.PORT_A not in p.wired
    assert p.tags == {"tapa": (DEAD_VLAN, None)} and p.dead_ofports == [5]


def test_without_unwires_and_drops():
    plugged = _plugged(OvsPort("tapa", 5, fx.PORT_A, None, None),
                       OvsPort("tapc", 7, fx.PORT_C, None, None))
    p = plan.without(plan.port_plan(CFG, fx.SNAPSHOT, plugged), {fx.PORT_A: "tag refused"})
    assert list(p.wired) == [fx.PORT_C] and p.dead_ofports == [5]


def test_a_port_whose_flows_cannot_be_compiled_fails_alone():
    snapshot = copy.deepcopy(fx.SNAPSHOT)
    snapshot["ports"][2]["fixed_ips"][0]["ip_address"] = "10.1.0.300"  # PORT_C: no address
    model = fx.model(snapshot=snapshot)
    cache = PortFlowCache()
    kept, failed = plan.compile_ports(model, cache)
    assert list(failed) == [fx.PORT_C] and isinstance(failed[fx.PORT_C], ValueError)
    assert fx.PORT_C not in {p.id for p in kept.ports}
    assert fx.OF_C in kept.dead_ofports  # fail closed: its traffic is dropped
    flows = compile_all(kept, cache)["br-int"]
    port_c = cookies.cookie(cookies.Kind.PORT, fx.PORT_C)
    assert not [f for f in flows if f.cookie == port_c]
    assert [f for f in flows if f.cookie == cookies.cookie(cookies.Kind.PORT, fx.PORT_D)]
    assert plan.owners(kept)[cookies.cookie(cookies.Kind.PORT, fx.PORT_D)] == [fx.PORT_D]
