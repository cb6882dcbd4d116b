"""The Compute API's pure logic: the server state machine, views, network_data.json for
static subnets, image filters, hostnames, console tails, validation messages."""

from __future__ import annotations

import pytest

from fermion.compute import catalog, netinfo, views
from fermion.compute.http import ComputeError
from fermion.compute.routes_servers import tail
from fermion.compute.server_request import sanitize_hostname
from fermion.compute.validation import KEYPAIR_CREATE, SERVER_CREATE, validate

RUNNING, SHUTDOWN = views.POWER["running"], views.POWER["shutdown"]


@pytest.mark.parametrize("before, power, lease, read, fault, after", [
    (("building", "spawning"), RUNNING, True, True, None, ("active", None)),
    (("building", "spawning"), RUNNING, True, False, None, ("building", "spawning")),
    (("building", "spawning"), RUNNING, False, True, None, ("building", "spawning")),
    (("building", "spawning"), SHUTDOWN, True, True, None, ("building", "spawning")),
    (("building", "spawning"), 0, False, False, "no lease", ("error", None)),
    (("active", None), SHUTDOWN, True, True, None, ("stopped", None)),
    (("stopped", None), RUNNING, True, True, None, ("active", None)),
    (("active", "deleting"), 0, False, False, "gone", ("active", "deleting")),
    (("error", None), RUNNING, True, True, None, ("error", None)),
])
def test_after_report(before, power, lease, read, fault, after):
    assert views.after_report(*before, power, lease, read, fault) == after


def test_host_id_is_per_project_and_host():
    assert views.host_id("p", None) == ""
    assert views.host_id("p", "h1") == views.host_id("p", "h1") != views.host_id("q", "h1")
    assert len(views.host_id("p", "h1")) == 56


def test_hostname_from_display_name():
    assert sanitize_hostname("My Server_1.example", "x") == "my-server-1-example"
    assert sanitize_hostname("---", "abc") == "server-abc"
    assert len(sanitize_hostname("a" * 100, "x")) == 63


def test_console_tail():
    assert tail("a\nb\nc\n", None) == "a\nb\nc\n"
    assert tail("a\nb\nc\n", -1) == "a\nb\nc\n"
    assert tail("a\nb\nc\n", "2") == "b\nc\n"
    assert tail("a\nb\nc\n", 0) == ""


def test_network_data_static_and_ipv6():
    port = {"id": "0123456789abcdef", "mac_address": "fa:16:3e:00:00:01", "network_id": "n1",
            "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"},
                          {"subnet_id": "s6", "ip_address": "2001:db8::5"}]}
    info = netinfo.NetInfo(
        ports=[port], networks={"n1": {"id": "n1", "name": "net", "mtu": 1450}},
        subnets={"s4": {"id": "s4", "ip_version": 4, "cidr": "10.0.0.0/24",
                        "enable_dhcp": False, "gateway_ip": "10.0.0.1",
                        "dns_nameservers": ["10.0.0.53"],
                        "host_routes": [{"destination": "192.168.0.0/16",
                                         "nexthop": "10.0.0.254"}]},
                 "s6": {"id": "s6", "ip_version": 6, "cidr": "2001:db8::/64",
                        "enable_dhcp": True, "ipv6_address_mode": "slaac",
                        "gateway_ip": None}},
        floatingips={"0123456789abcdef": ["172.24.4.9"]})
    nd = netinfo.network_data(info)
    assert nd["links"] == [{"id": "tap0123456789a", "vif_id": port["id"], "type": "ovs",
                            "mtu": 1450, "ethernet_mac_address": port["mac_address"]}]
    v4, v6 = nd["networks"]
    assert v4 == {"id": "network0", "type": "ipv4", "link": "tap0123456789a",
                  "ip_address": "10.0.0.5", "netmask": "255.255.255.0",
                  "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0",
                              "gateway": "10.0.0.1"},
                             {"network": "192.168.0.0", "netmask": "255.255.0.0",
                              "gateway": "10.0.0.254"}],
                  "network_id": "n1", "services": [{"type": "dns", "address": "10.0.0.53"}]}
    assert v6["type"] == "ipv6_slaac" and v6["routes"] == []
    assert nd["services"] == [{"type": "dns", "address": "10.0.0.53"}]
    assert netinfo.addresses(info) == {"net": [
        {"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]},
        {"version": 6, "addr": "2001:db8::5", "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]},
        {"version": 4, "addr": "172.24.4.9", "OS-EXT-IPS:type": "floating",
         "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]}]}
    assert info.fixed_ips(4) == ["10.0.0.5"] and info.floating() == ["172.24.4.9"]


def test_gather_keeps_the_servers_port_order():
    class FakeNetworking:  # the four lists gather makes
        def ports_of(self, ids):
            return [{"id": "b", "device_id": "s", "network_id": "n", "mac_address": "m2",
                     "fixed_ips": []},
                    {"id": "a", "device_id": "s", "network_id": "n", "mac_address": "m1",
                     "fixed_ips": []}]

        def networks_by_id(self, ids):
            return [{"id": "n", "name": "net", "mtu": 1500}]

        def subnets_by_id(self, ids):
            return []

        def floatingips_of(self, ids):
            return []

    infos = netinfo.gather(FakeNetworking(), ["s", "t"], {"s": ["b", "a"]})
    assert [p["id"] for p in infos["s"].ports] == ["b", "a"]
    assert infos["t"].ports == []
    assert netinfo.gather(FakeNetworking(), []) == {}


def test_image_filters():
    view = catalog.image_view(catalog.IMAGES[0])
    assert catalog.image_matches(view, {"name": "cirros", "status": "active"})
    assert catalog.image_matches(view, {"id": f"in:x,{view['id']}"})
    assert not catalog.image_matches(view, {"name": "in:a,b"})
    assert catalog.image_matches(view, {"visibility": "all", "os_distro": "cirros"})
    assert not catalog.image_matches(view, {"protected": "false"})


@pytest.mark.parametrize("body, message", [
    ({"server": {"name": "x", "flavorRef": "1", "min_count": 0}},
     "Invalid input for field/attribute min_count. Value: 0. 0 is less than the minimum of 1"),
    ({"server": {"name": "", "flavorRef": "1"}},
     "Invalid input for field/attribute name. Value: . '' should be non-empty"),
    ({"server": {"name": "x", "flavorRef": "1", "networks": [{"uuid": "u", "tag": "t"}]}},
     "Additional properties are not allowed ('tag' was unexpected)"),
    ({"server": {"name": "x", "flavorRef": "1", "config_drive": "maybe"}},
     "Invalid input for field/attribute config_drive. Value: maybe."),
    ({"server": {"name": "x", "flavorRef": "1", "metadata": {"bad/key": "v"}}},
     "'bad/key' does not match any of the regexes"),
])
def test_server_schema_messages(body, message):
    with pytest.raises(ComputeError) as info:
        validate(SERVER_CREATE, body)
    assert info.value.status == 400
    assert message in info.value.message


def test_keypair_schema():
    validate(KEYPAIR_CREATE, {"keypair": {"name": "k", "public_key": "ssh-rsa AAA"}})
    with pytest.raises(ComputeError, match="'name' is a required property"):
        validate(KEYPAIR_CREATE, {"keypair": {}})
