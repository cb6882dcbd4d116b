"""Address scopes: the resource, its policy, and what subnet pools and networks make of it.

A scope is visible to its project and, when shared (admins only), to everyone; a pool may
join a visible scope of its own IP version whose other pools' prefixes it does not overlap;
a network's ``ipv4_address_scope`` / ``ipv6_address_scope`` come from its subnets' pools.
One server serves the module; each test uses its own projects and prefixes.
"""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.server import FermionServer, module_server

srv, _server_log_on_failure = module_server("fermion-scopes")


def member(srv: FermionServer, roles: str = "member", project: str | None = None):
    return srv.client(project_id=project or uuid.uuid4().hex, roles=roles)


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def error(response: httpx.Response, status: int, kind: str, text: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert body["type"] == kind, body
    if text is not None:
        assert text in body["message"], body["message"]
    return body["message"]


def scope(c: httpx.Client, version: int = 4, **attrs) -> dict:
    return ok(c.post("/v2.0/address-scopes", json={"address_scope": {
        "name": attrs.pop("name", "scope"), "ip_version": version, **attrs}}),
        201)["address_scope"]


def pool(c: httpx.Client, prefixes: list[str], **attrs) -> httpx.Response:
    return c.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "pool", "prefixes": prefixes, **attrs}})


def test_cli_crud(srv):
    created = srv.openstack("address", "scope", "create", "--ip-version", "4", "--share",
                            "cli-scope")
    assert created["name"] == "cli-scope" and created["ip_version"] == 4
    assert created["shared"] is True
    assert set(created) >= {"id", "name", "ip_version", "shared", "project_id"}

    listed = srv.openstack("address", "scope", "list", "--ip-version", "4")
    assert [s["ID"] for s in listed] == [created["id"]]
    assert listed[0]["Shared"] is True

    srv.openstack("address", "scope", "set", "--name", "renamed", "cli-scope", fmt=None)
    shown = srv.openstack("address", "scope", "show", "renamed")
    assert shown["id"] == created["id"] and shown["name"] == "renamed"

    made = srv.openstack("subnet", "pool", "create", "--pool-prefix", "10.128.0.0/16",
                         "--address-scope", "renamed", "cli-pool")
    assert made["address_scope_id"] == created["id"]
    srv.openstack("subnet", "pool", "delete", "cli-pool", fmt=None)
    srv.openstack("address", "scope", "delete", "renamed", fmt=None)
    assert srv.client().get(f"/v2.0/address-scopes/{created['id']}").status_code == 404


def test_http_crud_view_and_validation(srv):
    admin = srv.client()
    demo = member(srv)
    project = demo.headers["X-Project-Id"]
    created = scope(demo, 6, name="v6")
    # Not a standard-attribute resource: no description, timestamps, revision or tags.
    assert created == {"id": created["id"], "name": "v6", "project_id": project,
                       "tenant_id": project, "shared": False, "ip_version": 6}
    assert ok(demo.get(f"/v2.0/address-scopes/{created['id']}"))["address_scope"] == created
    assert ok(demo.put(f"/v2.0/address-scopes/{created['id']}",
                       json={"address_scope": {"name": "v6b"}}))["address_scope"]["name"] == "v6b"
    error(demo.post("/v2.0/address-scopes", json={"address_scope": {"name": "x"}}), 400,
          "HTTPBadRequest", "Required attribute 'ip_version' not specified")
    error(demo.post("/v2.0/address-scopes", json={"address_scope": {"ip_version": 5}}), 400,
          "HTTPBadRequest", "Invalid input for ip_version")
    error(demo.post("/v2.0/address-scopes", json={"address_scope": {
        "ip_version": 4, "description": "d"}}), 400, "HTTPBadRequest",
          "Unrecognized attribute(s) 'description'")
    error(demo.put(f"/v2.0/address-scopes/{created['id']}",
                   json={"address_scope": {"ip_version": 4}}), 400, "HTTPBadRequest",
          "Cannot update read-only attribute ip_version")
    assert demo.get(f"/v2.0/address-scopes/{created['id']}/tags").status_code == 404
    error(demo.get(f"/v2.0/address-scopes/{uuid.uuid4()}"), 404, "AddressScopeNotFound")

    # Filters, sorting, paging are the generic ones.
    other = scope(demo, 4, name="v4")
    names = [s["name"] for s in ok(demo.get("/v2.0/address-scopes", params={
        "project_id": project, "sort_key": "name", "sort_dir": "asc"}))["address_scopes"]]
    assert names == ["v4", "v6b"]
    assert [s["id"] for s in ok(demo.get("/v2.0/address-scopes", params={
        "project_id": project, "ip_version": 4}))["address_scopes"]] == [other["id"]]
    page = ok(demo.get("/v2.0/address-scopes", params={"project_id": project, "limit": 1}))
    assert len(page["address_scopes"]) == 1 and page["address_scopes_links"]

    ok(demo.delete(f"/v2.0/address-scopes/{created['id']}"), 204)
    error(demo.delete(f"/v2.0/address-scopes/{created['id']}"), 404, "AddressScopeNotFound")
    ok(admin.delete(f"/v2.0/address-scopes/{other['id']}"), 204)


def test_sharing_and_visibility(srv):
    admin = srv.client()
    a, b = member(srv), member(srv)
    mine = scope(a)
    error(a.post("/v2.0/address-scopes", json={"address_scope": {
        "ip_version": 4, "shared": True}}), 403, "PolicyNotAuthorized",
          "rule:create_address_scope:shared")
    error(a.put(f"/v2.0/address-scopes/{mine['id']}", json={"address_scope": {
        "shared": True}}), 403, "PolicyNotAuthorized", "rule:update_address_scope:shared")
    error(b.get(f"/v2.0/address-scopes/{mine['id']}"), 404, "AddressScopeNotFound",
          f"Address scope {mine['id']} could not be found.")
    error(b.delete(f"/v2.0/address-scopes/{mine['id']}"), 404, "AddressScopeNotFound")
    assert mine["id"] not in {s["id"] for s in ok(b.get("/v2.0/address-scopes"))[
        "address_scopes"]}

    shared = ok(admin.put(f"/v2.0/address-scopes/{mine['id']}", json={"address_scope": {
        "shared": True}}))["address_scope"]
    assert shared["shared"] is True
    assert ok(b.get(f"/v2.0/address-scopes/{mine['id']}"))["address_scope"]["shared"] is True
    error(b.put(f"/v2.0/address-scopes/{mine['id']}", json={"address_scope": {
        "name": "mine now"}}), 403, "PolicyNotAuthorized")
    error(admin.put(f"/v2.0/address-scopes/{mine['id']}", json={"address_scope": {
        "shared": False}}), 400, "AddressScopeUpdateError",
          f"Unable to update address scope {mine['id']} : Shared address scope can't be "
          "unshared.")
    reader = member(srv, roles="reader", project=a.headers["X-Project-Id"])
    error(reader.post("/v2.0/address-scopes", json={"address_scope": {"ip_version": 4}}),
          403, "PolicyNotAuthorized")

    # Another project's pool may join the shared scope, and is then frozen for it.
    joined = ok(pool(b, ["10.160.0.0/16"], address_scope_id=mine["id"]), 201)["subnetpool"]
    assert joined["address_scope_id"] == mine["id"]
    error(b.put(f"/v2.0/subnetpools/{joined['id']}", json={"subnetpool": {"name": "x"}}),
          400, "IllegalSubnetPoolUpdate",
          f"Illegal subnetpool update : subnetpool {joined['id']} cannot be updated when "
          f"associated with shared address scope {mine['id']}.")
    error(a.delete(f"/v2.0/address-scopes/{mine['id']}"), 409, "AddressScopeInUse",
          f"Unable to complete operation on address scope {mine['id']}. There are one or "
          "more subnet pools in use on the address scope.")
    ok(b.delete(f"/v2.0/subnetpools/{joined['id']}"), 204)
    ok(a.delete(f"/v2.0/address-scopes/{mine['id']}"), 204)


def test_subnet_pools_in_scopes(srv):
    demo = member(srv)
    v4, v6 = scope(demo, 4), scope(demo, 6)
    first = ok(pool(demo, ["10.170.0.0/16"], address_scope_id=v4["id"]), 201)["subnetpool"]
    assert first["address_scope_id"] == v4["id"]

    error(pool(demo, ["10.170.128.0/17", "10.171.0.0/16"], address_scope_id=v4["id"]), 409,
          "AddressScopePrefixConflict",
          "Failed to associate address scope: subnetpools within an address scope must "
          "have unique prefixes.")
    message = error(pool(demo, ["fd00:170::/48"], address_scope_id=v4["id"]), 400,
                    "IllegalSubnetPoolIpVersionAssociationToAddressScope")
    assert message.startswith("Illegal subnetpool association: subnetpool ")
    assert message.endswith(f"cannot associate with address scope {v4['id']} because "
                            "subnetpool ip_version is not 4.")
    error(pool(demo, ["10.172.0.0/16"], address_scope_id=str(uuid.uuid4())), 404,
          "AddressScopeNotFound")
    stranger = scope(member(srv), 4)
    error(pool(demo, ["10.172.0.0/16"], address_scope_id=stranger["id"]), 404,
          "AddressScopeNotFound")
    error(pool(demo, ["10.172.0.0/16"], address_scope_id="nope"), 400, "HTTPBadRequest")

    # Joining, growing into a neighbour, leaving.
    second = ok(pool(demo, ["10.172.0.0/16"]), 201)["subnetpool"]
    assert second["address_scope_id"] is None
    joined = ok(demo.put(f"/v2.0/subnetpools/{second['id']}", json={"subnetpool": {
        "address_scope_id": v4["id"]}}))["subnetpool"]
    assert joined["address_scope_id"] == v4["id"]
    error(demo.put(f"/v2.0/subnetpools/{second['id']}", json={"subnetpool": {
        "prefixes": ["10.172.0.0/16", "10.170.5.0/24"]}}), 409, "AddressScopePrefixConflict")
    error(demo.put(f"/v2.0/subnetpools/{second['id']}", json={"subnetpool": {
        "address_scope_id": v6["id"]}}), 400,
          "IllegalSubnetPoolIpVersionAssociationToAddressScope")
    left = ok(demo.put(f"/v2.0/subnetpools/{second['id']}", json={"subnetpool": {
        "address_scope_id": None}}))["subnetpool"]
    assert left["address_scope_id"] is None
    filtered = ok(demo.get("/v2.0/subnetpools", params={"address_scope_id": v4["id"]}))
    assert [p["id"] for p in filtered["subnetpools"]] == [first["id"]]


def test_network_address_scopes_come_from_subnet_pools(srv):
    demo = member(srv)
    v4, v6 = scope(demo, 4), scope(demo, 6)
    pool4 = ok(pool(demo, ["10.180.0.0/16"], address_scope_id=v4["id"]), 201)["subnetpool"]
    pool6 = ok(pool(demo, ["fd00:180::/48"], address_scope_id=v6["id"]), 201)["subnetpool"]
    plain = ok(pool(demo, ["10.181.0.0/16"]), 201)["subnetpool"]
    net = ok(demo.post("/v2.0/networks", json={"network": {"name": "scoped"}}),
             201)["network"]
    assert net["ipv4_address_scope"] is None and net["ipv6_address_scope"] is None

    def subnet(**attrs) -> httpx.Response:
        return demo.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], **attrs}})

    ok(subnet(ip_version=4, subnetpool_id=pool4["id"], prefixlen=24), 201)
    shown = ok(demo.get(f"/v2.0/networks/{net['id']}"))["network"]
    assert shown["ipv4_address_scope"] == v4["id"] and shown["ipv6_address_scope"] is None
    ok(subnet(ip_version=6, subnetpool_id=pool6["id"], prefixlen=64), 201)
    listed = ok(demo.get("/v2.0/networks", params={"id": net["id"]}))["networks"][0]
    assert listed["ipv4_address_scope"] == v4["id"]
    assert listed["ipv6_address_scope"] == v6["id"]

    # Subnets of one IP version on one network are all in the same scope.
    error(subnet(ip_version=4, cidr="192.168.180.0/24"), 400,
          "NetworkAddressScopeAffinityError",
          "Subnets of the same address family hosted on the same network must all "
          "participate in the same address scope.")
    error(subnet(ip_version=4, subnetpool_id=plain["id"], prefixlen=24), 400,
          "NetworkAddressScopeAffinityError")
    ok(subnet(ip_version=4, subnetpool_id=pool4["id"], prefixlen=24), 201)
    other = ok(demo.post("/v2.0/networks", json={"network": {"name": "unscoped"}}),
               201)["network"]
    ok(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": other["id"], "ip_version": 4, "cidr": "192.168.181.0/24"}}), 201)
    error(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": other["id"], "ip_version": 4, "subnetpool_id": pool4["id"],
        "prefixlen": 24}}), 400, "NetworkAddressScopeAffinityError")

    # Re-scoping a pool must not split a network between scopes.
    mixed = ok(pool(demo, ["10.182.0.0/16"]), 201)["subnetpool"]
    ok(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": other["id"], "ip_version": 4, "subnetpool_id": mixed["id"],
        "prefixlen": 24}}), 201)
    error(demo.put(f"/v2.0/subnetpools/{mixed['id']}", json={"subnetpool": {
        "address_scope_id": v4["id"]}}), 400, "NetworkAddressScopeAffinityError")
