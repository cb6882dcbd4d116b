"""The seed's `openstack` commands, run through the real CLI against a running server.

One server serves the whole module (the CLI costs about a second per call); every test makes
its own networks with its own names and tags, so the tests do not depend on each other.
Resources that only set the scene are made over HTTP; what the seed does with the CLI is
done with the CLI, and the assertions are on what the CLI shows.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.fixtures.server import (
    FermionServer,
    OpenStackCLIError,
    module_server,
)

srv, _server_log_on_failure = module_server("fermion-cli")


def cli_fails(srv: FermionServer, *args: str) -> str:
    """Run a CLI command that must fail; return its stderr."""
    with pytest.raises(OpenStackCLIError) as info:
        srv.openstack(*args, fmt=None)
    return info.value.stderr


def http_net(srv: FermionServer, name: str, cidr: str | None = None, **subnet) -> tuple:
    """A VXLAN network (and a subnet when cidr is given) made over HTTP, as admin."""
    c = srv.client()
    r = c.post("/v2.0/networks", json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    if cidr is None:
        return net, None
    r = c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                 "cidr": cidr, "name": name + "-sub", **subnet}})
    assert r.status_code == 201, r.text
    return net, r.json()["subnet"]


def http_port(srv: FermionServer, network_id: str, **attrs) -> dict:
    r = srv.client().post("/v2.0/ports", json={"port": {"network_id": network_id, **attrs}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def test_provider_networks_flat_and_vlan(srv):
    flat = srv.openstack("network", "create", "--share", "--external",
                         "--provider-network-type", "flat",
                         "--provider-physical-network", "physnet", "provider")
    assert flat["name"] == "provider"
    assert flat["provider:network_type"] == "flat"
    assert flat["provider:physical_network"] == "physnet"
    assert flat["provider:segmentation_id"] is None
    assert flat["shared"] is True and flat["router:external"] is True
    assert flat["mtu"] == 1500
    assert flat["status"] == "ACTIVE"

    # One flat network per physical network.
    err = cli_fails(srv, "network", "create", "--provider-network-type", "flat",
                    "--provider-physical-network", "physnet", "provider2")
    assert "409" in err
    assert "Unable to create the flat network. Physical network physnet is in use." in err

    vlan = srv.openstack("network", "create", "--provider-network-type", "vlan",
                         "--provider-physical-network", "physnet",
                         "--provider-segment", "100", "vlan100")
    assert vlan["provider:network_type"] == "vlan"
    assert vlan["provider:physical_network"] == "physnet"
    assert vlan["provider:segmentation_id"] == 100
    assert vlan["mtu"] == 1500
    assert vlan["shared"] is False and vlan["router:external"] is False

    err = cli_fails(srv, "network", "create", "--provider-network-type", "vlan",
                    "--provider-physical-network", "physnet",
                    "--provider-segment", "100", "vlan100-again")
    assert "409" in err
    assert "The VLAN 100 on physical network physnet is in use." in err

    # The failed creates left nothing behind; the provider filters of `network list` work.
    names = {n["name"] for n in srv.client().get("/v2.0/networks").json()["networks"]}
    assert {"provider", "vlan100"} <= names
    assert not names & {"provider2", "vlan100-again"}
    vlans = srv.openstack("network", "list", "--provider-network-type", "vlan")
    assert [n["ID"] for n in vlans] == [vlan["id"]]
    externals = srv.openstack("network", "list", "--external")
    assert [n["ID"] for n in externals] == [flat["id"]]


def test_vxlan_network_subnet_ports_and_dhcp_filter(srv):
    net = srv.openstack("network", "create", "selfservice")
    assert net["provider:network_type"] == "vxlan"
    assert net["provider:physical_network"] is None
    assert 1 <= net["provider:segmentation_id"] <= 1000
    assert net["mtu"] == 1450

    sub = srv.openstack("subnet", "create", "--network", "selfservice",
                        "--subnet-range", "172.16.1.0/24",
                        "--allocation-pool", "start=172.16.1.100,end=172.16.1.150",
                        "--gateway", "172.16.1.1",
                        "--dns-nameserver", "8.8.4.4", "--dns-nameserver", "1.1.1.1",
                        "--host-route", "destination=10.20.0.0/16,gateway=172.16.1.254",
                        "selfservice-sub")
    assert sub["network_id"] == net["id"]
    assert sub["cidr"] == "172.16.1.0/24"
    assert sub["ip_version"] == 4
    assert sub["gateway_ip"] == "172.16.1.1"
    assert sub["enable_dhcp"] is True
    assert sub["allocation_pools"] == [{"start": "172.16.1.100", "end": "172.16.1.150"}]
    assert sub["dns_nameservers"] == ["8.8.4.4", "1.1.1.1"]
    assert sub["host_routes"] == [{"destination": "10.20.0.0/16", "nexthop": "172.16.1.254"}]

    pool = (ipaddress.ip_address("172.16.1.100"), ipaddress.ip_address("172.16.1.150"))
    vm = srv.openstack("port", "create", "--network", "selfservice",
                       "--device-owner", "compute:nova", "vm-port")
    dhcp = srv.openstack("port", "create", "--network", "selfservice",
                         "--device-owner", "network:dhcp", "dhcp-port")
    fixed = [(p["fixed_ips"], p) for p in (vm, dhcp)]
    for ips, port in fixed:
        assert port["network_id"] == net["id"]
        assert port["status"] == "DOWN"
        assert len(ips) == 1 and ips[0]["subnet_id"] == sub["id"]
        assert pool[0] <= ipaddress.ip_address(ips[0]["ip_address"]) <= pool[1]
    assert vm["fixed_ips"][0]["ip_address"] != dhcp["fixed_ips"][0]["ip_address"]
    assert dhcp["device_owner"] == "network:dhcp"

    # A DHCP port on another network must not show up when filtering by --network.
    other, _ = http_net(srv, "other-dhcp-net", "172.16.2.0/24")
    http_port(srv, other["id"], device_owner="network:dhcp")
    listed = srv.openstack("port", "list", "--device-owner", "network:dhcp",
                           "--network", "selfservice")
    assert [p["ID"] for p in listed] == [dhcp["id"]]
    assert listed[0]["Fixed IP Addresses"] == dhcp["fixed_ips"]

    out = srv.openstack("subnet", "set", "--dns-nameserver", "9.9.9.9", "selfservice-sub",
                        fmt=None)
    assert out.strip() == ""
    shown = srv.client().get(f"/v2.0/subnets/{sub['id']}").json()["subnet"]
    assert sorted(shown["dns_nameservers"]) == ["1.1.1.1", "8.8.4.4", "9.9.9.9"]
    assert shown["revision_number"] > sub["revision_number"]
    # The rest of the subnet is untouched.
    assert shown["allocation_pools"] == sub["allocation_pools"]
    assert shown["host_routes"] == sub["host_routes"]


def test_delete_in_use_errors_then_deletes(srv):
    net, sub = http_net(srv, "inuse", "192.168.50.0/24")
    port = http_port(srv, net["id"], name="inuse-port", device_owner="compute:nova")
    http_port(srv, net["id"], name="inuse-dhcp", device_owner="network:dhcp")

    err = cli_fails(srv, "network", "delete", "inuse")
    assert "409" in err
    assert (f"Unable to complete operation on network {net['id']}. "
            "There are one or more ports still in use on the network.") in err
    r = srv.client().delete(f"/v2.0/networks/{net['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "NetworkInUse"

    err = cli_fails(srv, "subnet", "delete", sub["id"])
    assert "409" in err
    assert f"Unable to complete operation on subnet {sub['id']}" in err
    assert "One or more ports have an IP allocation from this subnet" in err
    r = srv.client().delete(f"/v2.0/subnets/{sub['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "SubnetInUse"

    # Only the DHCP port remains: it does not hold the subnet or the network.
    srv.openstack("port", "delete", port["id"], fmt=None)
    srv.openstack("subnet", "delete", sub["id"], fmt=None)
    srv.openstack("network", "delete", "inuse", fmt=None)
    assert srv.client().get(f"/v2.0/networks/{net['id']}").status_code == 404
    r = srv.client().get("/v2.0/ports", params={"network_id": net["id"]})
    assert r.json()["ports"] == []


def test_port_on_full_subnet_is_409(srv):
    # A /29 has 5 addresses to hand out after the network, broadcast and gateway addresses.
    net, sub = http_net(srv, "tiny", "10.99.0.0/29")
    assert sub["allocation_pools"] == [{"start": "10.99.0.2", "end": "10.99.0.6"}]
    r = srv.client().post("/v2.0/ports", json={"ports": [
        {"network_id": net["id"], "name": f"fill-{i}"} for i in range(5)]})
    assert r.status_code == 201, r.text
    taken = {p["fixed_ips"][0]["ip_address"] for p in r.json()["ports"]}
    assert taken == {f"10.99.0.{i}" for i in range(2, 7)}

    err = cli_fails(srv, "port", "create", "--network", "tiny", "one-too-many")
    assert "409" in err
    assert f"No more IP addresses available on network {net['id']}." in err
    r = srv.client().post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    names = {p["name"] for p in srv.client().get(
        "/v2.0/ports", params={"network_id": net["id"]}).json()["ports"]}
    assert "one-too-many" not in names and len(names) == 5


def test_network_tags_and_tag_filters(srv):
    nets = {name: http_net(srv, name)[0] for name in ("tag-a", "tag-b", "tag-c")}
    c = srv.client()

    def tags_of(name: str) -> list[str]:
        return c.get(f"/v2.0/networks/{nets[name]['id']}").json()["network"]["tags"]

    srv.openstack("network", "set", "--tag", "seed-red", "--tag", "seed-blue", "tag-a", fmt=None)
    srv.openstack("network", "set", "--tag", "seed-red", "tag-b", fmt=None)
    r = c.put(f"/v2.0/networks/{nets['tag-c']['id']}/tags", json={"tags": ["seed-green"]})
    assert r.status_code == 200, r.text
    assert sorted(tags_of("tag-a")) == ["seed-blue", "seed-red"]
    assert tags_of("tag-b") == ["seed-red"]

    def names(*filters: str) -> set[str]:
        return {n["Name"] for n in srv.openstack("network", "list", *filters)
                if n["Name"].startswith("tag-")}

    assert names("--tags", "seed-red,seed-blue") == {"tag-a"}
    assert names("--any-tags", "seed-blue,seed-green") == {"tag-a", "tag-c"}
    assert names("--not-tags", "seed-red") == {"tag-c"}
    assert names("--not-any-tags", "seed-blue,seed-green") == {"tag-b"}

    # `network unset --tag` removes just that tag.
    srv.openstack("network", "unset", "--tag", "seed-blue", "tag-a", fmt=None)
    assert tags_of("tag-a") == ["seed-red"]
