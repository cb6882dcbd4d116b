"""The L3 agent's model: routers from a host snapshot (pure, no system access)."""

from __future__ import annotations

import copy

from fermion.agent.l3_model import routers_from_snapshot

R1 = "11111111-aaaa-4aaa-8aaa-000000000001"
R2 = "22222222-bbbb-4bbb-8bbb-000000000002"
EXT, INT, INT2 = "e0000000-0000-4000-8000-00000000000e", "10000000-0000-4000-8000-000000000001", \
    "20000000-0000-4000-8000-000000000002"
GW_PORT, QR_PORT, QR2_PORT = "9a000000-0000-4000-8000-0000000000a9", \
    "3b000000-0000-4000-8000-0000000000b3", "4c000000-0000-4000-8000-0000000000c4"


def snapshot() -> dict:
    """A network node hosting R1 (gateway, one interface, one floating IP, an extra route)
    and R2 (internal only)."""
    return {
        "revision": 7, "host": "net",
        "networks": [
            {"id": EXT, "mtu": 1500, "router:external": True, "ipv4_address_scope": None},
            {"id": INT, "mtu": 1450, "ipv4_address_scope": "scope-a"},
            {"id": INT2, "mtu": 1450, "ipv4_address_scope": None},
        ],
        "subnets": [
            {"id": "s-ext", "network_id": EXT, "cidr": "172.24.4.0/24", "gateway_ip": "172.24.4.1"},
            {"id": "s-int", "network_id": INT, "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1"},
            {"id": "s-int2", "network_id": INT2, "cidr": "10.1.0.0/26", "gateway_ip": "10.1.0.1"},
        ],
        "ports": [
            {"id": GW_PORT, "network_id": EXT, "mac_address": "fa:16:3e:00:00:0e",
             "fixed_ips": [{"subnet_id": "s-ext", "ip_address": "172.24.4.10"}]},
            {"id": QR_PORT, "network_id": INT, "mac_address": "fa:16:3e:00:00:01",
             "fixed_ips": [{"subnet_id": "s-int", "ip_address": "10.0.0.1"}]},
            {"id": QR2_PORT, "network_id": INT2, "mac_address": "fa:16:3e:00:00:02",
             "fixed_ips": [{"subnet_id": "s-int2", "ip_address": "10.1.0.1"}]},
        ],
        "routers": [
            {"id": R1, "admin_state_up": True, "gw_port_id": GW_PORT,
             "external_gateway_info": {"network_id": EXT, "enable_snat": True},
             "routes": [{"destination": "192.168.50.0/24", "nexthop": "10.0.0.254"}],
             "_interfaces": [QR_PORT], "_floatingips": ["f1", "f2"]},
            {"id": R2, "admin_state_up": True, "gw_port_id": None,
             "external_gateway_info": None, "routes": [],
             "_interfaces": [QR2_PORT], "_floatingips": []},
        ],
        "floatingips": [
            {"id": "f1", "floating_ip_address": "172.24.4.20", "fixed_ip_address": "10.0.0.5",
             "port_id": "vm-port", "router_id": R1, "status": "DOWN"},
            {"id": "f2", "floating_ip_address": "172.24.4.21", "fixed_ip_address": None,
             "port_id": None, "router_id": R1, "status": "DOWN"},  # not associated
        ],
    }


def test_router_with_gateway_interfaces_floating_ips_and_routes():
    r1, r2 = routers_from_snapshot(snapshot(), namespace_prefix="h1-")
    assert r1.id == R1 and r1.namespace == f"h1-qrouter-{R1}"
    (qr,) = r1.interfaces
    assert qr.device == "qr-3b000000-00" and len(qr.device) <= 15
    assert qr.cidrs == ("10.0.0.1/24",) and qr.mtu == 1450 and qr.mac == "fa:16:3e:00:00:01"
    assert qr.address_scope == "scope-a"
    gw = r1.gateway
    assert gw.port.device == "qg-9a000000-00" and gw.port.cidrs == ("172.24.4.10/24",)
    assert gw.gateway_ips == ("172.24.4.1",) and gw.ipv4 == "172.24.4.10" and gw.enable_snat
    (fip,) = r1.floating_ips  # the unassociated one is not set up
    assert (fip.floating_ip, fip.fixed_ip, fip.fixed_scope) == ("172.24.4.20", "10.0.0.5",
                                                                "scope-a")
    assert [(x.destination, x.nexthop) for x in r1.routes] == [("192.168.50.0/24",
                                                                 "10.0.0.254")]
    assert r1.metadata_proxy
    assert r2.gateway is None and r2.floating_ips == () and r2.interfaces[0].cidrs == (
        "10.1.0.1/26",)


def test_routers_left_out():
    snap = copy.deepcopy(snapshot())
    assert [r.id for r in routers_from_snapshot(snap, handle_internal_only_routers=False)] \
        == [R1]
    snap["routers"][0]["admin_state_up"] = False
    assert [r.id for r in routers_from_snapshot(snap)] == [R2]


def test_no_snat_and_no_metadata():
    snap = snapshot()
    snap["routers"][0]["external_gateway_info"]["enable_snat"] = False
    r1 = routers_from_snapshot(snap, enable_metadata_proxy=False)[0]
    assert not r1.gateway.enable_snat and not r1.metadata_proxy


def test_router_without_interfaces_runs_no_metadata_proxy():
    snap = snapshot()
    snap["routers"][0]["_interfaces"] = []
    r1 = routers_from_snapshot(snap)[0]
    assert r1.interfaces == () and not r1.metadata_proxy
    assert r1.floating_ips[0].fixed_scope is None  # no interface holds the fixed IP's subnet
