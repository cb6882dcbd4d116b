"""The seed's workflow through openstacksdk (`openstack.connect(auth_type="none", ...)`).

One server for the module; each test makes its own resources under its own names, tags
and projects, so the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, urlparse

import openstack
import pytest
from openstack import exceptions as os_exc

from tests.fixtures.server import module_server

srv, _server_log_on_failure = module_server("fermion-sdk")


@pytest.fixture(scope="module")
def conn(srv):
    connection = openstack.connect(auth_type="none", auth={"endpoint": srv.url})
    yield connection
    connection.close()


def test_provider_and_tenant_networks(conn):
    net = conn.network
    flat = net.create_network(name="sdk-provider", is_shared=True, is_router_external=True,
                              provider_network_type="flat",
                              provider_physical_network="physnet")
    assert flat.provider_network_type == "flat"
    assert flat.provider_physical_network == "physnet"
    assert flat.provider_segmentation_id is None
    assert flat.is_shared is True and flat.is_router_external is True
    assert flat.mtu == 1500

    with pytest.raises(os_exc.ConflictException) as info:
        net.create_network(name="sdk-provider2", provider_network_type="flat",
                           provider_physical_network="physnet")
    assert info.value.status_code == 409
    assert "Physical network physnet is in use" in info.value.details

    vlan = net.create_network(name="sdk-vlan100", provider_network_type="vlan",
                              provider_physical_network="physnet",
                              provider_segmentation_id=100)
    assert (vlan.provider_network_type, vlan.provider_physical_network,
            vlan.provider_segmentation_id) == ("vlan", "physnet", 100)
    with pytest.raises(os_exc.ConflictException) as info:
        net.create_network(name="sdk-vlan100-again", provider_network_type="vlan",
                           provider_physical_network="physnet", provider_segmentation_id=100)
    assert "The VLAN 100 on physical network physnet is in use" in info.value.details

    tenants = [net.create_network(name=f"sdk-tenant-{i}") for i in range(2)]
    for tenant in tenants:
        assert tenant.provider_network_type == "vxlan"
        assert tenant.provider_physical_network is None
        assert 1 <= tenant.provider_segmentation_id <= 1000
        assert tenant.mtu == 1450
    assert tenants[0].provider_segmentation_id != tenants[1].provider_segmentation_id

    # Filters on provider attributes and flags.
    assert [n.id for n in net.networks(provider_network_type="vlan")] == [vlan.id]
    assert [n.id for n in net.networks(is_router_external=True)] == [flat.id]
    assert [n.id for n in net.networks(provider_network_type="flat",
                                       provider_physical_network="physnet")] == [flat.id]
    assert net.find_network("sdk-provider2") is None


def test_subnets_ports_find_filter_update_delete(conn):
    net = conn.network
    network = net.create_network(name="sdk-crud")
    subnet = net.create_subnet(network_id=network.id, ip_version=4, cidr="10.30.0.0/24",
                               name="sdk-crud-sub", gateway_ip="10.30.0.1",
                               allocation_pools=[{"start": "10.30.0.50", "end": "10.30.0.99"}],
                               dns_nameservers=["8.8.8.8"],
                               host_routes=[{"destination": "10.40.0.0/16",
                                             "nexthop": "10.30.0.254"}])
    assert subnet.cidr == "10.30.0.0/24" and subnet.gateway_ip == "10.30.0.1"
    assert subnet.allocation_pools == [{"start": "10.30.0.50", "end": "10.30.0.99"}]
    assert subnet.dns_nameservers == ["8.8.8.8"]
    assert subnet.host_routes == [{"destination": "10.40.0.0/16", "nexthop": "10.30.0.254"}]
    assert subnet.is_dhcp_enabled is True

    vm = net.create_port(network_id=network.id, name="sdk-vm", device_owner="compute:nova")
    dhcp = net.create_port(network_id=network.id, name="sdk-dhcp", device_owner="network:dhcp")
    fixed = net.create_port(network_id=network.id, name="sdk-fixed",
                            fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.30.0.77"}])
    low, high = ipaddress.ip_address("10.30.0.50"), ipaddress.ip_address("10.30.0.99")
    for port in (vm, dhcp):
        [ip] = port.fixed_ips
        assert ip["subnet_id"] == subnet.id
        assert low <= ipaddress.ip_address(ip["ip_address"]) <= high
    assert fixed.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.30.0.77"}]

    # find: by name and by id; a missing name is None, or NotFound with ignore_missing=False.
    assert net.find_network("sdk-crud").id == network.id
    assert net.find_network(network.id).name == "sdk-crud"
    assert net.find_subnet("sdk-crud-sub").id == subnet.id
    assert net.find_port("sdk-dhcp").id == dhcp.id
    assert net.find_port("no-such-port") is None
    with pytest.raises(os_exc.NotFoundException):
        net.find_network("no-such-network", ignore_missing=False)

    # list with filters
    assert [p.id for p in net.ports(device_owner="network:dhcp", network_id=network.id)] == [
        dhcp.id]
    assert {p.id for p in net.ports(network_id=network.id)} == {vm.id, dhcp.id, fixed.id}
    assert [p.id for p in net.ports(fixed_ips="ip_address=10.30.0.77")] == [fixed.id]
    assert [s.id for s in net.subnets(network_id=network.id)] == [subnet.id]
    assert [s.id for s in net.subnets(cidr="10.30.0.0/24")] == [subnet.id]

    # update (the SDK updates the object it is given in place)
    revision = network.revision_number
    updated = net.update_network(network, name="sdk-crud-renamed", mtu=1400)
    assert updated.name == "sdk-crud-renamed" and updated.mtu == 1400
    assert updated.revision_number > revision
    shown = net.get_network(network.id)
    assert (shown.name, shown.mtu) == ("sdk-crud-renamed", 1400)
    with pytest.raises(os_exc.BadRequestException) as info:
        net.update_network(network, mtu=1451)
    assert "maximum is 1450" in info.value.details
    sub2 = net.update_subnet(subnet, dns_nameservers=["9.9.9.9", "1.1.1.1"])
    assert sub2.dns_nameservers == ["9.9.9.9", "1.1.1.1"]
    assert net.get_subnet(subnet.id).dns_nameservers == ["9.9.9.9", "1.1.1.1"]
    moved = net.update_port(fixed, name="sdk-fixed2",
                            fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.30.0.88"}])
    assert moved.name == "sdk-fixed2"
    assert moved.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.30.0.88"}]

    # delete: in-use errors first, then everything in order
    with pytest.raises(os_exc.ConflictException) as info:
        net.delete_network(network)
    assert "There are one or more ports still in use on the network" in info.value.details
    with pytest.raises(os_exc.ConflictException) as info:
        net.delete_subnet(subnet)
    assert "One or more ports have an IP allocation from this subnet" in info.value.details
    net.delete_port(vm)
    net.delete_port(fixed)
    with pytest.raises(os_exc.NotFoundException):
        net.get_port(vm.id)
    net.delete_port("no-such-port")  # ignore_missing=True by default
    net.delete_subnet(subnet)
    net.delete_network(network)  # the DHCP port goes with it
    with pytest.raises(os_exc.NotFoundException):
        net.get_network(network.id)
    with pytest.raises(os_exc.NotFoundException):
        net.get_port(dhcp.id)


def test_full_subnet_is_409(conn):
    net = conn.network
    network = net.create_network(name="sdk-tiny")
    net.create_subnet(network_id=network.id, ip_version=4, cidr="10.31.0.0/29")
    got = {net.create_port(network_id=network.id).fixed_ips[0]["ip_address"] for _ in range(5)}
    assert got == {f"10.31.0.{i}" for i in range(2, 7)}
    with pytest.raises(os_exc.ConflictException) as info:
        net.create_port(network_id=network.id)
    assert info.value.details == f"No more IP addresses available on network {network.id}."


def test_tags(conn):
    net = conn.network
    a = net.create_network(name="sdk-tag-a")
    b = net.create_network(name="sdk-tag-b")
    c = net.create_network(name="sdk-tag-c")
    net.set_tags(a, ["sdk-red", "sdk-blue"])
    net.set_tags(b, ["sdk-red"])
    net.set_tags(c, ["sdk-green"])
    assert sorted(net.get_network(a.id).tags) == ["sdk-blue", "sdk-red"]

    def names(**query) -> set[str]:
        return {n.name for n in net.networks(**query) if n.name.startswith("sdk-tag-")}

    assert names(tags="sdk-red,sdk-blue") == {"sdk-tag-a"}
    assert names(tags="sdk-red") == {"sdk-tag-a", "sdk-tag-b"}
    assert names(any_tags="sdk-blue,sdk-green") == {"sdk-tag-a", "sdk-tag-c"}
    assert names(not_tags="sdk-red") == {"sdk-tag-c"}
    assert names(not_any_tags="sdk-blue,sdk-green") == {"sdk-tag-b"}

    # The resource's own tag calls: add, check, remove, remove all.
    b.add_tag(net, "sdk-extra")
    b.check_tag(net, "sdk-extra")  # raises NotFoundException when the tag is absent
    with pytest.raises(os_exc.NotFoundException):
        b.check_tag(net, "sdk-absent")
    assert sorted(net.get_network(b.id).tags) == ["sdk-extra", "sdk-red"]
    b.remove_tag(net, "sdk-red")
    assert net.get_network(b.id).tags == ["sdk-extra"]
    net.set_tags(a, [])
    assert net.get_network(a.id).tags == []
    c.remove_all_tags(net)
    assert names(any_tags="sdk-red,sdk-blue,sdk-green") == set()

    # Tags on subnets and ports too.
    sub = net.create_subnet(network_id=a.id, ip_version=4, cidr="10.32.0.0/24")
    port = net.create_port(network_id=a.id)
    net.set_tags(sub, ["sdk-sub"])
    net.set_tags(port, ["sdk-port"])
    assert [s.id for s in net.subnets(tags="sdk-sub")] == [sub.id]
    assert [p.id for p in net.ports(tags="sdk-port")] == [port.id]


def test_pagination_follows_links(conn, srv):
    net = conn.network
    network = net.create_network(name="sdk-pages")
    net.create_subnet(network_id=network.id, ip_version=4, cidr="10.33.0.0/24")
    r = srv.client().post("/v2.0/ports", json={"ports": [
        {"network_id": network.id, "name": f"page-{i:02d}"} for i in range(25)]})
    assert r.status_code == 201, r.text
    created = {p["id"] for p in r.json()["ports"]}

    seen_urls: list[str] = []

    def hook(response, *args, **kwargs):
        seen_urls.append(response.url)

    hooks = conn.session.session.hooks["response"]
    hooks.append(hook)
    try:
        ports = list(net.ports(network_id=network.id, paginated=True, limit=10))
    finally:
        hooks.remove(hook)
    ids = [p.id for p in ports]
    assert len(ids) == 25
    assert set(ids) == created

    # It really went page by page: limit=10 each time, a marker from the second page on.
    queries = [parse_qs(urlparse(u).query) for u in seen_urls if "/v2.0/ports" in u]
    assert len(queries) >= 3
    assert all(q.get("limit") == ["10"] for q in queries)
    assert "marker" not in queries[0]
    assert all("marker" in q for q in queries[1:])

    # Sorted paging (the shape the CLI's --sort-column uses) gives the same set in order.
    names = [p.name for p in net.ports(network_id=network.id, paginated=True, limit=7,
                                       sort_key="name", sort_dir="desc")]
    assert names == sorted((f"page-{i:02d}" for i in range(25)), reverse=True)


def test_network_ip_availability(conn):
    net = conn.network
    network = net.create_network(name="sdk-avail")
    sub = net.create_subnet(network_id=network.id, ip_version=4, cidr="10.34.0.0/28")
    for _ in range(3):
        net.create_port(network_id=network.id)
    net.create_port(network_id=network.id, fixed_ips=[])  # no address, not counted

    avail = net.get_network_ip_availability(network.id)
    assert avail.network_id == network.id
    assert avail.network_name == "sdk-avail"
    assert avail.total_ips == 13  # .2 - .14
    assert avail.used_ips == 3
    [per_subnet] = avail.subnet_ip_availability
    assert per_subnet["subnet_id"] == sub.id
    assert per_subnet["cidr"] == "10.34.0.0/28"
    assert (per_subnet["total_ips"], per_subnet["used_ips"]) == (13, 3)

    listed = list(net.network_ip_availabilities(network_name="sdk-avail"))
    assert [a.network_id for a in listed] == [network.id]
    with pytest.raises(os_exc.NotFoundException):
        net.get_network_ip_availability("00000000-0000-0000-0000-000000000000")


def test_quotas(conn):
    net = conn.network
    project = "sdk-quota-project"
    default = net.get_quota_default(project)
    quota = net.get_quota(project)
    assert quota.networks == default.networks and quota.ports == default.ports

    updated = net.update_quota(project, networks=2, ports=1)
    assert (updated.networks, updated.ports) == (2, 1)
    again = net.get_quota(project)
    assert (again.networks, again.ports, again.subnets) == (2, 1, default.subnets)
    assert project in {q.project_id for q in net.quotas()}

    first = net.create_network(name="sdk-q1", project_id=project)
    net.create_network(name="sdk-q2", project_id=project)
    with pytest.raises(os_exc.ConflictException) as info:
        net.create_network(name="sdk-q3", project_id=project)
    assert info.value.status_code == 409
    assert info.value.response.json()["NeutronError"]["type"] == "OverQuota"
    assert "Quota exceeded for resources" in info.value.details
    assert "network" in info.value.details
    assert net.find_network("sdk-q3") is None

    net.create_port(network_id=first.id, project_id=project)
    with pytest.raises(os_exc.ConflictException) as info:
        net.create_port(network_id=first.id, project_id=project)
    assert info.value.response.json()["NeutronError"]["type"] == "OverQuota"

    details = net.get_quota(project, details=True)
    assert details.networks == {"limit": 2, "used": 2, "reserved": 0}
    assert details.ports == {"limit": 1, "used": 1, "reserved": 0}

    # Another project is unaffected; resetting restores the defaults.
    assert net.get_quota("sdk-other-project").networks == default.networks
    net.delete_quota(project)
    assert net.get_quota(project).networks == default.networks
    net.create_network(name="sdk-q3", project_id=project)


def test_cloud_layer_calls_ansible_uses(conn):
    """openstack.cloud functions (what Ansible's openstack.cloud modules call)."""
    network = conn.create_network(
        "sdk-cloud", provider={"network_type": "vlan", "physical_network": "physnet",
                               "segmentation_id": 150}, mtu_size=1400)
    assert network["provider:network_type"] == "vlan"
    assert network["provider:segmentation_id"] == 150 and network.mtu == 1400
    subnet = conn.create_subnet("sdk-cloud", cidr="10.35.0.0/24", subnet_name="sdk-cloud-sub",
                                dns_nameservers=["8.8.8.8"],
                                allocation_pools=[{"start": "10.35.0.10", "end": "10.35.0.20"}],
                                host_routes=[{"destination": "10.36.0.0/16",
                                              "nexthop": "10.35.0.5"}])
    assert subnet.network_id == network.id
    assert subnet.allocation_pools == [{"start": "10.35.0.10", "end": "10.35.0.20"}]
    port = conn.create_port(network.id, name="sdk-cloud-port")
    assert port.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.35.0.10"}]

    assert [n.id for n in conn.list_networks(filters={"name": "sdk-cloud"})] == [network.id]
    assert [p.id for p in conn.search_ports(filters={"network_id": network.id})] == [port.id]
    assert conn.get_subnet("sdk-cloud-sub").id == subnet.id
    assert conn.update_subnet(subnet.id, dns_nameservers=["1.1.1.1"]).dns_nameservers == [
        "1.1.1.1"]

    assert conn.delete_port(port.id) is True
    assert conn.delete_subnet(subnet.id) is True
    assert conn.delete_network("sdk-cloud") is True
    assert conn.get_network("sdk-cloud") is None
    assert conn.delete_network("sdk-cloud") is False  # already gone
