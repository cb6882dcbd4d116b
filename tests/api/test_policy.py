"""Neutron's default policy, as a real server applies it to noauth identities.

Personas: admin (no identity headers, or ``X-Roles: admin``), member and reader of a
project (``X-Project-Id`` + ``X-Roles``). What is checked:
- project scoping: another project's objects are not found (404) and absent from lists;
- shared and external networks (and their subnets) are visible to every project;
- on a shared network a member may create ports but not subnets, and not choose addresses,
  MACs or network:* owners; the network's owner sees and manages those ports;
- admin-only attributes (provider:*, shared, router:external, binding:*) can be neither set
  (403 PolicyNotAuthorized) nor seen by members;
- readers read, every write is 403;
- project_id of another project: 400 for members, allowed for admins;
- quotas: only admins set them; over the limit is 409 OverQuota.

One server serves the whole module; each test uses fresh project ids, so tests do not see
each other's objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.fixtures.server import module_server

ADMIN_ONLY_NETWORK_ATTRS = ("provider:network_type", "provider:physical_network",
                            "provider:segmentation_id", "segments")
ADMIN_ONLY_PORT_ATTRS = ("binding:host_id", "binding:vif_type", "binding:vif_details",
                         "binding:profile")


srv, _server_log_on_failure = module_server("fermion-policy")


def new_project() -> str:
    return uuid.uuid4().hex


def error_type(response: httpx.Response) -> str:
    return response.json()["NeutronError"]["type"]


def as_project(world: World, project: str, roles: str) -> httpx.Client:
    """One more client on the world's server, for a project and roles of the test's choice."""
    return httpx.Client(base_url=world.admin.base_url, timeout=30.0,
                        headers={"X-Project-Id": project, "X-Roles": roles})


def created(response: httpx.Response, member: str) -> dict:
    assert response.status_code == 201, response.text
    return response.json()[member]


def ids(response: httpx.Response, collection: str) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()[collection]}


@dataclass
class World:
    """Two projects, with private, shared and external networks made by an admin."""

    admin: httpx.Client
    a: httpx.Client  # member of project A
    b: httpx.Client  # member of project B
    a_reader: httpx.Client  # reader of project A
    project_a: str
    project_b: str
    net_a: dict  # A's private network, subnet and port
    subnet_a: dict
    port_a: dict
    shared: dict  # owned by A, shared (created by an admin on A's behalf)
    shared_subnet: dict
    external: dict  # admin-owned, router:external
    external_subnet: dict


@pytest.fixture
def world(srv) -> World:
    project_a, project_b = new_project(), new_project()
    admin = srv.client()
    a = srv.client(project_id=project_a, roles="member")
    b = srv.client(project_id=project_b, roles="member")
    a_reader = srv.client(project_id=project_a, roles="reader")

    net_a = created(a.post("/v2.0/networks", json={"network": {"name": "a-private"}}),
                    "network")
    subnet_a = created(a.post("/v2.0/subnets", json={"subnet": {
        "network_id": net_a["id"], "ip_version": 4, "cidr": "10.1.0.0/24"}}), "subnet")
    port_a = created(a.post("/v2.0/ports", json={"port": {"network_id": net_a["id"]}}),
                     "port")
    shared = created(admin.post("/v2.0/networks", json={"network": {
        "name": "a-shared", "shared": True, "project_id": project_a}}), "network")
    shared_subnet = created(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": shared["id"], "ip_version": 4, "cidr": "10.2.0.0/24",
        "project_id": project_a}}), "subnet")
    external = created(admin.post("/v2.0/networks", json={"network": {
        "name": "public", "router:external": True}}), "network")
    external_subnet = created(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": external["id"], "ip_version": 4, "cidr": "203.0.113.0/24"}}),
        "subnet")
    world = World(admin, a, b, a_reader, project_a, project_b, net_a, subnet_a, port_a,
                  shared, shared_subnet, external, external_subnet)
    yield world
    # Admin removes what was made, so the module's server stays small; ports first.
    for port in admin.get("/v2.0/ports", params={"network_id": [
            net_a["id"], shared["id"], external["id"]]}).json()["ports"]:
        admin.delete(f"/v2.0/ports/{port['id']}")
    for network in (net_a, shared, external):
        admin.delete(f"/v2.0/networks/{network['id']}")
    for client in (admin, a, b, a_reader):
        client.close()


# -- project scoping ---------------------------------------------------------------------


@pytest.mark.parametrize("collection,member,key,not_found", [
    ("networks", "network", "net_a", "NetworkNotFound"),
    ("subnets", "subnet", "subnet_a", "SubnetNotFound"),
    ("ports", "port", "port_a", "PortNotFound"),
])
def test_other_projects_objects_are_not_found(world, collection, member, key, not_found):
    obj = getattr(world, key)
    path = f"/v2.0/{collection}/{obj['id']}"
    with as_project(world, world.project_b, "reader") as b_reader:
        for client in (world.b, b_reader):
            r = client.get(path)
            assert r.status_code == 404, r.text
            assert error_type(r) == not_found
            assert obj["id"] not in ids(client.get(f"/v2.0/{collection}"), collection)
            assert client.get(f"/v2.0/{collection}", params={"id": obj["id"]}).json()[
                collection] == []
            r = client.get(f"/v2.0/{collection}/{obj['id']}/tags")
            assert r.status_code == 404, r.text
    r = world.b.put(path, json={member: {"name": "stolen"}})
    assert r.status_code == 404, r.text
    assert error_type(r) == not_found
    r = world.b.put(f"{path}/tags/mine")
    assert r.status_code == 404, r.text
    r = world.b.delete(path)
    assert r.status_code == 404, r.text
    assert error_type(r) == not_found
    # Nothing happened to it.
    mine = world.a.get(path)
    assert mine.status_code == 200, mine.text
    assert mine.json()[member]["name"] == obj["name"]
    assert mine.json()[member]["tags"] == []


def test_owner_and_admin_see_the_projects_objects(world):
    for client in (world.a, world.a_reader, world.admin):
        assert world.net_a["id"] in ids(client.get("/v2.0/networks"), "networks")
        assert world.subnet_a["id"] in ids(client.get("/v2.0/subnets"), "subnets")
        assert world.port_a["id"] in ids(client.get("/v2.0/ports"), "ports")
    # Listing by project: a member filtering on another project gets nothing of it.
    r = world.b.get("/v2.0/networks", params={"project_id": world.project_a})
    assert ids(r, "networks") == {world.shared["id"]}
    r = world.b.get("/v2.0/networks", params={"tenant_id": world.project_a})
    assert ids(r, "networks") == {world.shared["id"]}


def test_member_cannot_create_on_another_projects_private_network(world):
    r = world.b.post("/v2.0/ports", json={"port": {"network_id": world.net_a["id"]}})
    assert r.status_code == 404, r.text
    assert error_type(r) == "NetworkNotFound"
    r = world.b.post("/v2.0/subnets", json={"subnet": {
        "network_id": world.net_a["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}})
    assert r.status_code == 404, r.text
    assert error_type(r) == "NetworkNotFound"


# -- shared and external networks ------------------------------------------------------------


def test_shared_and_external_networks_are_visible_to_every_project(world):
    b = world.b
    networks = ids(b.get("/v2.0/networks"), "networks")
    assert {world.shared["id"], world.external["id"]} <= networks
    assert world.net_a["id"] not in networks
    assert ids(b.get("/v2.0/networks", params={"shared": "true"}), "networks") == {
        world.shared["id"]}
    assert ids(b.get("/v2.0/networks", params={"router:external": "true"}), "networks") == {
        world.external["id"]}
    for network in (world.shared, world.external):
        r = b.get(f"/v2.0/networks/{network['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["network"]["project_id"] == network["project_id"]
    assert b.get(f"/v2.0/networks/{world.shared['id']}").json()["network"]["subnets"] == [
        world.shared_subnet["id"]]
    # Their subnets too.
    subnets = ids(b.get("/v2.0/subnets"), "subnets")
    assert {world.shared_subnet["id"], world.external_subnet["id"]} <= subnets
    assert world.subnet_a["id"] not in subnets
    for subnet in (world.shared_subnet, world.external_subnet):
        r = b.get(f"/v2.0/subnets/{subnet['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["subnet"]["cidr"] == subnet["cidr"]
    # A reader of yet another project sees them as well.
    with as_project(world, new_project(), "reader") as other:
        assert {world.shared["id"], world.external["id"]} <= ids(
            other.get("/v2.0/networks"), "networks")


def test_visible_but_not_owned_is_forbidden_to_change(world):
    b = world.b
    for path, member in ((f"/v2.0/networks/{world.shared['id']}", "network"),
                         (f"/v2.0/networks/{world.external['id']}", "network"),
                         (f"/v2.0/subnets/{world.shared_subnet['id']}", "subnet"),
                         (f"/v2.0/subnets/{world.external_subnet['id']}", "subnet")):
        r = b.put(path, json={member: {"name": "mine-now"}})
        assert r.status_code == 403, (path, r.text)
        assert error_type(r) == "PolicyNotAuthorized"
        r = b.delete(path)
        assert r.status_code == 403, (path, r.text)
        assert error_type(r) == "PolicyNotAuthorized"
        r = b.put(path + "/tags/x")
        assert r.status_code == 403, (path, r.text)
        assert world.admin.get(path).json()[member]["name"] != "mine-now"


def test_member_creates_a_port_on_a_shared_network_but_not_a_subnet(world):
    b = world.b
    port = created(b.post("/v2.0/ports", json={"port": {
        "network_id": world.shared["id"], "name": "b-port"}}), "port")
    assert port["project_id"] == world.project_b
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [world.shared_subnet["id"]]
    # Choosing the subnet is fine; the address, the MAC and network:* owners are the
    # network owner's to choose.
    created(b.post("/v2.0/ports", json={"port": {
        "network_id": world.shared["id"],
        "fixed_ips": [{"subnet_id": world.shared_subnet["id"]}]}}), "port")
    for extra in ({"fixed_ips": [{"ip_address": "10.2.0.50"}]},
                  {"fixed_ips": [{"subnet_id": world.shared_subnet["id"],
                                  "ip_address": "10.2.0.51"}]},
                  {"mac_address": "fa:16:3e:12:34:56"},
                  {"device_owner": "network:dhcp"},
                  {"port_security_enabled": False}):
        r = b.post("/v2.0/ports", json={"port": {"network_id": world.shared["id"], **extra}})
        assert r.status_code == 403, (extra, r.text)
        assert error_type(r) == "PolicyNotAuthorized"
    # ...and the same on update of its own port.
    r = b.put(f"/v2.0/ports/{port['id']}", json={"port": {
        "fixed_ips": [{"ip_address": "10.2.0.52"}]}})
    assert r.status_code == 403, r.text
    r = b.put(f"/v2.0/ports/{port['id']}", json={"port": {"mac_address": "fa:16:3e:12:34:57"}})
    assert r.status_code == 403, r.text
    r = b.put(f"/v2.0/ports/{port['id']}", json={"port": {"name": "renamed"}})
    assert r.status_code == 200, r.text
    # A subnet on somebody else's shared network: forbidden (it is visible, so 403).
    r = b.post("/v2.0/subnets", json={"subnet": {
        "network_id": world.shared["id"], "ip_version": 4, "cidr": "10.3.0.0/24"}})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    # The network's owner may add subnets to its shared network.
    created(world.a.post("/v2.0/subnets", json={"subnet": {
        "network_id": world.shared["id"], "ip_version": 4, "cidr": "10.3.0.0/24"}}), "subnet")


def test_network_owner_sees_and_manages_ports_others_made_on_its_network(world):
    b_port = created(world.b.post("/v2.0/ports", json={"port": {
        "network_id": world.shared["id"], "name": "b-port"}}), "port")
    b_port_2 = created(world.b.post("/v2.0/ports", json={"port": {
        "network_id": world.shared["id"], "name": "b-port-2"}}), "port")
    # The owner (A) sees B's ports on its network, in lists and one by one.
    a_ports = ids(world.a.get("/v2.0/ports", params={"network_id": world.shared["id"]}),
                  "ports")
    assert {b_port["id"], b_port_2["id"]} <= a_ports
    r = world.a.get(f"/v2.0/ports/{b_port['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["port"]["project_id"] == world.project_b
    assert b_port["id"] in ids(world.a_reader.get("/v2.0/ports"), "ports")
    # B sees its own ports there, not A's or anyone else's.
    with as_project(world, new_project(), "member") as c:
        c_port = created(c.post("/v2.0/ports", json={"port": {
            "network_id": world.shared["id"]}}), "port")
        b_sees = ids(world.b.get("/v2.0/ports"), "ports")
        assert {b_port["id"], b_port_2["id"]} <= b_sees
        assert c_port["id"] not in b_sees
        assert world.port_a["id"] not in b_sees
        assert world.b.get(f"/v2.0/ports/{c_port['id']}").status_code == 404
    # The owner may change and delete them (admin_or_network_owner).
    r = world.a.put(f"/v2.0/ports/{b_port['id']}", json={"port": {"admin_state_up": False}})
    assert r.status_code == 200, r.text
    assert r.json()["port"]["admin_state_up"] is False
    assert world.a.delete(f"/v2.0/ports/{b_port_2['id']}").status_code == 204
    assert world.b.get(f"/v2.0/ports/{b_port_2['id']}").status_code == 404
    # But a reader of the owning project may not.
    r = world.a_reader.delete(f"/v2.0/ports/{b_port['id']}")
    assert r.status_code == 403, r.text


def test_unsharing_a_network_with_other_projects_ports_is_refused(world):
    created(world.b.post("/v2.0/ports", json={"port": {"network_id": world.shared["id"]}}),
            "port")
    r = world.admin.put(f"/v2.0/networks/{world.shared['id']}",
                        json={"network": {"shared": False}})
    assert r.status_code == 409, r.text
    assert error_type(r) == "InvalidSharedSetting"


# -- admin-only attributes -------------------------------------------------------------------


@pytest.mark.parametrize("attrs", [
    {"provider:network_type": "vlan"},
    {"provider:network_type": "vlan", "provider:physical_network": "physnet",
     "provider:segmentation_id": 150},
    {"provider:physical_network": "physnet"},
    {"provider:segmentation_id": 7},
    {"segments": [{"provider:network_type": "vxlan"}]},
    {"shared": True},
    {"router:external": True},
])
def test_member_cannot_set_admin_only_network_attributes(world, attrs):
    r = world.a.post("/v2.0/networks", json={"network": {"name": "x", **attrs}})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    assert "create_network" in r.json()["NeutronError"]["message"]
    names = {n["name"] for n in world.a.get("/v2.0/networks").json()["networks"]}
    assert "x" not in names


@pytest.mark.parametrize("attrs", [{"shared": True}, {"shared": False},
                                   {"router:external": True}, {"router:external": False}])
def test_member_cannot_update_admin_only_network_attributes(world, attrs):
    # On update even the current value is refused: the attribute may not be touched.
    r = world.a.put(f"/v2.0/networks/{world.net_a['id']}", json={"network": attrs})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    r = world.admin.put(f"/v2.0/networks/{world.net_a['id']}", json={"network": attrs})
    assert r.status_code == 200, r.text


def test_member_may_state_the_default_of_an_admin_only_attribute(world):
    network = created(world.a.post("/v2.0/networks", json={"network": {
        "name": "explicit", "shared": False, "router:external": False}}), "network")
    assert (network["shared"], network["router:external"]) == (False, False)


@pytest.mark.parametrize("attrs", [{"binding:host_id": "compute-1"},
                                   {"binding:profile": {"local_link_information": []}}])
def test_member_cannot_set_port_binding(world, attrs):
    r = world.a.post("/v2.0/ports", json={"port": {"network_id": world.net_a["id"], **attrs}})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    r = world.a.put(f"/v2.0/ports/{world.port_a['id']}", json={"port": attrs})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    # The admin binds it; the member still does not see the binding.
    r = world.admin.put(f"/v2.0/ports/{world.port_a['id']}", json={"port": attrs})
    assert r.status_code == 200, r.text
    for key, value in attrs.items():
        assert r.json()["port"][key] == value
    port = world.a.get(f"/v2.0/ports/{world.port_a['id']}").json()["port"]
    assert not set(ADMIN_ONLY_PORT_ATTRS) & set(port)


def test_member_does_not_see_admin_only_attributes(world):
    provider = created(world.admin.post("/v2.0/networks", json={"network": {
        "name": "prov", "shared": True, "provider:network_type": "vlan",
        "provider:physical_network": "physnet", "provider:segmentation_id": 142}}),
        "network")
    assert provider["provider:segmentation_id"] == 142
    try:
        shown = world.admin.get(f"/v2.0/networks/{world.net_a['id']}").json()["network"]
        assert shown["provider:network_type"] == "vxlan"  # the tenant type of the fixture
        for client in (world.a, world.b, world.a_reader):
            for network in client.get("/v2.0/networks").json()["networks"]:
                assert not set(ADMIN_ONLY_NETWORK_ATTRS) & set(network), network
            network = client.get(f"/v2.0/networks/{provider['id']}").json()["network"]
            assert not set(ADMIN_ONLY_NETWORK_ATTRS) & set(network)
            # Asking for them by name does not reveal them either.
            r = client.get(f"/v2.0/networks/{provider['id']}",
                           params={"fields": ["id", "provider:segmentation_id"]})
            assert r.json()["network"] == {"id": provider["id"]}
        port = world.a.get(f"/v2.0/ports/{world.port_a['id']}").json()["port"]
        assert not set(ADMIN_ONLY_PORT_ATTRS) & set(port)
        assert port["binding:vnic_type"] == "normal"  # not admin-only
        for port in world.a.get("/v2.0/ports").json()["ports"]:
            assert not set(ADMIN_ONLY_PORT_ATTRS) & set(port)
        admin_port = world.admin.get(f"/v2.0/ports/{world.port_a['id']}").json()["port"]
        assert set(ADMIN_ONLY_PORT_ATTRS) <= set(admin_port)
        assert admin_port["binding:vif_type"] == "unbound"
    finally:
        world.admin.delete(f"/v2.0/networks/{provider['id']}")


# -- readers ---------------------------------------------------------------------------------


def test_reader_reads_everything_its_project_has(world):
    r = world.a_reader
    assert world.net_a["id"] in ids(r.get("/v2.0/networks"), "networks")
    assert world.subnet_a["id"] in ids(r.get("/v2.0/subnets"), "subnets")
    assert world.port_a["id"] in ids(r.get("/v2.0/ports"), "ports")
    for path in (f"/v2.0/networks/{world.net_a['id']}", f"/v2.0/subnets/{world.subnet_a['id']}",
                 f"/v2.0/ports/{world.port_a['id']}", f"/v2.0/networks/{world.net_a['id']}/tags",
                 f"/v2.0/quotas/{world.project_a}", "/v2.0/extensions", "/v2.0/subnetpools"):
        assert r.get(path).status_code == 200, path


def test_reader_writes_nothing(world):
    r = world.a_reader
    writes = [
        ("POST", "/v2.0/networks", {"network": {"name": "r"}}),
        ("POST", "/v2.0/networks", {"networks": [{"name": "r1"}, {"name": "r2"}]}),
        ("POST", "/v2.0/subnets", {"subnet": {"network_id": world.net_a["id"],
                                              "ip_version": 4, "cidr": "10.1.1.0/24"}}),
        ("POST", "/v2.0/ports", {"port": {"network_id": world.net_a["id"]}}),
        ("POST", "/v2.0/ports", {"port": {"network_id": world.shared["id"]}}),
        ("POST", "/v2.0/subnetpools", {"subnetpool": {"name": "p",
                                                      "prefixes": ["10.128.0.0/16"]}}),
        ("PUT", f"/v2.0/networks/{world.net_a['id']}", {"network": {"name": "r"}}),
        ("PUT", f"/v2.0/subnets/{world.subnet_a['id']}", {"subnet": {"name": "r"}}),
        ("PUT", f"/v2.0/ports/{world.port_a['id']}", {"port": {"name": "r"}}),
        ("PUT", f"/v2.0/networks/{world.net_a['id']}/tags", {"tags": ["r"]}),
        ("PUT", f"/v2.0/networks/{world.net_a['id']}/tags/r", None),
        ("DELETE", f"/v2.0/networks/{world.net_a['id']}/tags", None),
        ("DELETE", f"/v2.0/ports/{world.port_a['id']}", None),
        ("DELETE", f"/v2.0/subnets/{world.subnet_a['id']}", None),
        ("DELETE", f"/v2.0/networks/{world.net_a['id']}", None),
        ("PUT", f"/v2.0/quotas/{world.project_a}", {"quota": {"network": 5}}),
        ("DELETE", f"/v2.0/quotas/{world.project_a}", None),
    ]
    for method, path, body in writes:
        resp = r.request(method, path, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert error_type(resp) == "PolicyNotAuthorized", (method, path, resp.text)
    # Nothing changed.
    assert world.a.get(f"/v2.0/ports/{world.port_a['id']}").json()["port"]["name"] == ""
    assert world.a.get(f"/v2.0/networks/{world.net_a['id']}").json()["network"]["name"] == (
        "a-private")
    assert {n["name"] for n in world.a.get("/v2.0/networks").json()["networks"]}.isdisjoint(
        {"r", "r1", "r2"})
    # A reader of another project gets 404 for A's objects, not 403: they stay hidden.
    with as_project(world, world.project_b, "reader") as other:
        assert other.delete(f"/v2.0/ports/{world.port_a['id']}").status_code == 404


def test_roles_are_case_insensitive_and_member_is_the_default(srv):
    project = new_project()
    with srv.client(project_id=project, roles="Reader") as reader:
        r = reader.post("/v2.0/networks", json={"network": {"name": "n"}})
        assert r.status_code == 403, r.text
    with srv.client(project_id=project) as member:  # no X-Roles
        network = created(member.post("/v2.0/networks", json={"network": {"name": "n"}}),
                          "network")
        assert network["project_id"] == project
        assert "provider:network_type" not in network
        assert member.delete(f"/v2.0/networks/{network['id']}").status_code == 204


def test_admin_role_in_a_project_acts_as_admin(world):
    with as_project(world, world.project_b, "admin,member") as admin_b:
        r = admin_b.get(f"/v2.0/networks/{world.net_a['id']}")
        assert r.status_code == 200, r.text
        assert "provider:network_type" in r.json()["network"]
        assert world.port_a["id"] in ids(admin_b.get("/v2.0/ports"), "ports")


# -- ownership on create ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["project_id", "tenant_id"])
def test_member_cannot_create_for_another_project(world, key):
    for path, body in (
            ("/v2.0/networks", {"network": {"name": "for-b", key: world.project_b}}),
            ("/v2.0/subnets", {"subnet": {"network_id": world.net_a["id"], "ip_version": 4,
                                          "cidr": "10.1.7.0/24", key: world.project_b}}),
            ("/v2.0/ports", {"port": {"network_id": world.net_a["id"],
                                      key: world.project_b}})):
        r = world.a.post(path, json=body)
        assert r.status_code == 400, (path, r.text)
        assert "admin" in r.json()["NeutronError"]["message"]
    assert world.b.get("/v2.0/networks", params={"name": "for-b"}).json()["networks"] == []
    # Naming one's own project explicitly is fine.
    network = created(world.a.post("/v2.0/networks", json={"network": {
        "name": "own", key: world.project_a}}), "network")
    assert network["project_id"] == network["tenant_id"] == world.project_a


def test_project_id_and_tenant_id_must_agree(world):
    r = world.admin.post("/v2.0/networks", json={"network": {
        "project_id": world.project_a, "tenant_id": world.project_b}})
    assert r.status_code == 400, r.text


def test_admin_creates_for_another_project(world):
    network = created(world.admin.post("/v2.0/networks", json={"network": {
        "name": "given-to-b", "project_id": world.project_b}}), "network")
    assert network["project_id"] == network["tenant_id"] == world.project_b
    subnet = created(world.admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": network["id"], "ip_version": 4, "cidr": "10.5.0.0/24",
        "tenant_id": world.project_b}}), "subnet")
    port = created(world.admin.post("/v2.0/ports", json={"port": {
        "network_id": network["id"], "project_id": world.project_b}}), "port")
    # B owns them now: sees them, may change and delete them; A does not see them.
    assert network["id"] in ids(world.b.get("/v2.0/networks"), "networks")
    assert world.a.get(f"/v2.0/networks/{network['id']}").status_code == 404
    assert world.a.get(f"/v2.0/subnets/{subnet['id']}").status_code == 404
    assert world.a.get(f"/v2.0/ports/{port['id']}").status_code == 404
    assert world.b.put(f"/v2.0/ports/{port['id']}",
                       json={"port": {"name": "b"}}).status_code == 200
    assert world.b.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert world.b.delete(f"/v2.0/subnets/{subnet['id']}").status_code == 204
    assert world.b.delete(f"/v2.0/networks/{network['id']}").status_code == 204


# -- subnet pools ----------------------------------------------------------------------------


def test_subnetpool_sharing_is_admin_only(world):
    r = world.a.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "p", "prefixes": ["10.200.0.0/16"], "shared": True}})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    pool = created(world.admin.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "p", "prefixes": ["10.200.0.0/16"], "shared": True}}), "subnetpool")
    private = created(world.a.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "a-pool", "prefixes": ["10.201.0.0/16"]}}), "subnetpool")
    try:
        visible = ids(world.b.get("/v2.0/subnetpools"), "subnetpools")
        assert pool["id"] in visible
        assert private["id"] not in visible
        assert world.b.get(f"/v2.0/subnetpools/{private['id']}").status_code == 404
        r = world.b.put(f"/v2.0/subnetpools/{pool['id']}", json={"subnetpool": {"name": "x"}})
        assert r.status_code == 403, r.text
    finally:
        world.admin.delete(f"/v2.0/subnetpools/{pool['id']}")
        world.a.delete(f"/v2.0/subnetpools/{private['id']}")


# -- quotas ----------------------------------------------------------------------------------


def test_quotas_are_set_by_admins_and_enforced(world):
    a, admin, project = world.a, world.admin, world.project_a
    r = a.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 100}})
    assert r.status_code == 403, r.text
    assert error_type(r) == "PolicyNotAuthorized"
    r = a.delete(f"/v2.0/quotas/{project}")
    assert r.status_code == 403, r.text
    # A member reads its own quota, not another project's.
    assert a.get(f"/v2.0/quotas/{project}").status_code == 200
    r = a.get(f"/v2.0/quotas/{world.project_b}")
    assert r.status_code == 403, r.text

    # A already has two networks (the fixture's private and shared ones): 3 leaves one.
    r = admin.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 3}})
    assert r.status_code == 200, r.text
    assert r.json()["quota"]["network"] == 3
    assert a.get(f"/v2.0/quotas/{project}").json()["quota"]["network"] == 3
    created(a.post("/v2.0/networks", json={"network": {"name": "second"}}), "network")
    r = a.post("/v2.0/networks", json={"network": {"name": "third"}})
    assert r.status_code == 409, r.text
    assert error_type(r) == "OverQuota"
    # The quota binds the admin creating on the project's behalf too, and bulk creates.
    r = admin.post("/v2.0/networks", json={"network": {"name": "third",
                                                       "project_id": project}})
    assert r.status_code == 409, r.text
    assert error_type(r) == "OverQuota"
    # Other projects are not affected.
    created(world.b.post("/v2.0/networks", json={"network": {"name": "b-net"}}), "network")
    # Reset: back to the default.
    assert admin.delete(f"/v2.0/quotas/{project}").status_code == 204
    created(a.post("/v2.0/networks", json={"network": {"name": "third"}}), "network")


def test_quota_of_one_allows_exactly_one(srv):
    project = new_project()
    with srv.client() as admin, srv.client(project_id=project, roles="member") as member:
        r = admin.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 1}})
        assert r.status_code == 200, r.text
        first = created(member.post("/v2.0/networks", json={"network": {"name": "1"}}),
                        "network")
        r = member.post("/v2.0/networks", json={"network": {"name": "2"}})
        assert r.status_code == 409, r.text
        assert error_type(r) == "OverQuota"
        r = member.post("/v2.0/networks", json={"networks": [{"name": "b1"}, {"name": "b2"}]})
        assert r.status_code == 409, r.text
        assert len(member.get("/v2.0/networks", params={"project_id": project})
                   .json()["networks"]) == 1
        # Freeing one makes room again.
        assert member.delete(f"/v2.0/networks/{first['id']}").status_code == 204
        created(member.post("/v2.0/networks", json={"network": {"name": "2"}}), "network")
        admin.delete(f"/v2.0/quotas/{project}")


def test_port_quota_counts_the_projects_ports(world):
    project = world.project_b
    r = world.admin.put(f"/v2.0/quotas/{project}", json={"quota": {"port": 1}})
    assert r.status_code == 200, r.text
    try:
        created(world.b.post("/v2.0/ports", json={"port": {"network_id": world.shared["id"]}}),
                "port")
        r = world.b.post("/v2.0/ports", json={"port": {"network_id": world.shared["id"]}})
        assert r.status_code == 409, r.text
        assert error_type(r) == "OverQuota"
        # A's port quota is its own: A can still create on its own shared network.
        created(world.a.post("/v2.0/ports", json={"port": {"network_id": world.shared["id"]}}),
                "port")
    finally:
        world.admin.delete(f"/v2.0/quotas/{project}")
