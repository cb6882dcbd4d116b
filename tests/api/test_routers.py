"""Routers and floating IPs, as the seed uses them and as Neutron answers when misused.

The seed's "building virtual routers" and floating IP steps run through the real CLI
(``router create``, ``router set --external-gateway``, ``router add subnet``, ``floating ip
create --subnet``, ``floating ip set --port``, ``port list --router``); the demo user's view
(a member of the demo project, who must not see the gateway port) and every error case are
checked over HTTP, in NeutronError form.

One server serves the module (the CLI costs about a second per call); each test makes its
own networks, routers and projects, so the tests do not depend on each other. Only one flat
network can exist on ``physnet``; the other tests use VXLAN networks marked external.
"""

from __future__ import annotations

import ipaddress
import itertools
import uuid

import httpx
import pytest

from tests.fixtures.server import FermionServer, module_server

_cidrs = itertools.count(10)


srv, _server_log_on_failure = module_server("fermion-l3")


@pytest.fixture
def admin(srv) -> httpx.Client:
    return srv.client()


def project_client(srv: FermionServer, roles: str = "member",
                   project: str | None = None) -> httpx.Client:
    return srv.client(project_id=project or uuid.uuid4().hex, roles=roles)


def project_of(client: httpx.Client) -> str:
    return client.headers["X-Project-Id"]


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def error(response: httpx.Response, status: int, kind: str, text: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert body["type"] == kind, body
    assert set(body) == {"type", "message", "detail"}
    if text is not None:
        assert text in body["message"], body["message"]
    return body["message"]


def network(c: httpx.Client, cidr: str | None = None, external: bool = False,
            project: str | None = None, **subnet) -> tuple[dict, dict | None]:
    """A VXLAN network (external when asked) with one IPv4 subnet when cidr is given."""
    body = {"name": f"net-{uuid.uuid4().hex[:6]}"}
    if external:
        body["router:external"] = True
    if project:
        body["project_id"] = project
    net = ok(c.post("/v2.0/networks", json={"network": body}), 201)["network"]
    if cidr is None:
        return net, None
    sub_body = {"network_id": net["id"], "ip_version": subnet.pop("ip_version", 4),
                "cidr": cidr, **subnet}
    if project:
        sub_body["project_id"] = project
    sub = ok(c.post("/v2.0/subnets", json={"subnet": sub_body}), 201)["subnet"]
    return net, sub


def fresh_cidr() -> str:
    return f"10.{next(_cidrs)}.0.0/24"


def router(c: httpx.Client, **attrs) -> dict:
    return ok(c.post("/v2.0/routers", json={"router": {"name": "r", **attrs}}), 201)["router"]


def set_gateway(c: httpx.Client, router_id: str, info: dict | None) -> httpx.Response:
    return c.put(f"/v2.0/routers/{router_id}",
                 json={"router": {"external_gateway_info": info}})


def add_interface(c: httpx.Client, router_id: str, **body) -> httpx.Response:
    return c.put(f"/v2.0/routers/{router_id}/add_router_interface", json=body)


def remove_interface(c: httpx.Client, router_id: str, **body) -> httpx.Response:
    return c.put(f"/v2.0/routers/{router_id}/remove_router_interface", json=body)


def port(c: httpx.Client, network_id: str, **attrs) -> dict:
    return ok(c.post("/v2.0/ports", json={"port": {"network_id": network_id, **attrs}}),
              201)["port"]


def fip(c: httpx.Client, network_id: str, **attrs) -> httpx.Response:
    return c.post("/v2.0/floatingips",
                  json={"floatingip": {"floating_network_id": network_id, **attrs}})


def ports_of(c: httpx.Client, **filters) -> list[dict]:
    return ok(c.get("/v2.0/ports", params=filters))["ports"]


@pytest.fixture
def topology(srv, admin):
    """An external network, a demo project with a network and a router gatewayed out, a VM
    port on the demo network, and the router's interface on the demo subnet."""
    ext, ext_sub = network(admin, "192.0.2.0/24", external=True)
    demo = project_client(srv)
    net, sub = network(demo, fresh_cidr())
    rtr = router(demo)
    ok(set_gateway(demo, rtr["id"], {"network_id": ext["id"]}))
    ok(add_interface(demo, rtr["id"], subnet_id=sub["id"]))
    vm = port(demo, net["id"], device_owner="compute:nova", device_id=uuid.uuid4().hex)
    return {"ext": ext, "ext_sub": ext_sub, "demo": demo, "net": net, "sub": sub,
            "router": rtr, "vm": vm}


# -- the seed, through the CLI ------------------------------------------------------------------


def test_seed_router_and_floating_ip_with_the_cli(srv, admin):
    flat = ok(admin.post("/v2.0/networks", json={"network": {
        "name": "flat-network", "shared": True, "router:external": True,
        "provider:network_type": "flat", "provider:physical_network": "physnet"}}),
        201)["network"]
    flat_sub = ok(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": flat["id"], "name": "flat-subnet", "ip_version": 4,
        "cidr": "172.16.0.0/24", "gateway_ip": "172.16.0.1",
        "allocation_pools": [{"start": "172.16.0.100", "end": "172.16.0.150"}]}}),
        201)["subnet"]
    vlan = ok(admin.post("/v2.0/networks", json={"network": {
        "name": "vlan-network", "provider:network_type": "vlan",
        "provider:physical_network": "physnet", "provider:segmentation_id": 100}}),
        201)["network"]
    vlan_sub = ok(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": vlan["id"], "name": "vlan-subnet", "ip_version": 4,
        "cidr": "172.18.0.0/24"}}), 201)["subnet"]
    pool = (ipaddress.ip_address("172.16.0.100"), ipaddress.ip_address("172.16.0.150"))

    rtr = srv.openstack("router", "create", "demo-router")
    assert rtr["name"] == "demo-router" and rtr["status"] == "ACTIVE"
    assert not rtr["external_gateway_info"]

    assert srv.openstack("router", "set", "--external-gateway", "flat-network",
                         "demo-router", fmt=None).strip() == ""
    shown = srv.openstack("router", "show", "demo-router")
    gateway = shown["external_gateway_info"]
    assert gateway["network_id"] == flat["id"] and gateway["enable_snat"] is True
    [gw_ip] = gateway["external_fixed_ips"]
    assert gw_ip["subnet_id"] == flat_sub["id"]
    assert pool[0] <= ipaddress.ip_address(gw_ip["ip_address"]) <= pool[1]

    # The gateway is a real port on the flat network, owned by the router.
    [gw_port] = srv.openstack("port", "list", "--router", "demo-router",
                              "--device-owner", "network:router_gateway")
    assert gw_port["Fixed IP Addresses"] == [gw_ip]
    shown_port = ok(admin.get(f"/v2.0/ports/{gw_port['ID']}"))["port"]
    assert shown_port["network_id"] == flat["id"]
    assert shown_port["device_id"] == rtr["id"] and shown_port["project_id"] == ""

    assert srv.openstack("router", "add", "subnet", "demo-router", "vlan-subnet",
                         fmt=None).strip() == ""
    listed = srv.openstack("port", "list", "--router", "demo-router", "--long")
    owners = {p["Device Owner"]: p["Fixed IP Addresses"] for p in listed}
    assert owners["network:router_interface"] == [{"subnet_id": vlan_sub["id"],
                                                   "ip_address": "172.18.0.1"}]
    assert set(owners) == {"network:router_gateway", "network:router_interface"}

    vm = port(admin, vlan["id"], name="demo-instance-1-port", device_owner="compute:nova",
              device_id=uuid.uuid4().hex)
    created = srv.openstack("floating", "ip", "create", "--subnet", "flat-subnet",
                            "flat-network")
    address = ipaddress.ip_address(created["floating_ip_address"])
    assert pool[0] <= address <= pool[1] and str(address) != gw_ip["ip_address"]
    assert created["floating_network_id"] == flat["id"]
    assert created["port_id"] is None and created["router_id"] is None
    assert created["status"] == "DOWN"

    assert srv.openstack("floating", "ip", "set", "--port", vm["id"], created["id"],
                         fmt=None).strip() == ""
    shown = srv.openstack("floating", "ip", "show", created["floating_ip_address"])
    assert shown["id"] == created["id"]
    assert shown["port_id"] == vm["id"]
    assert shown["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert shown["router_id"] == rtr["id"]
    assert shown["port_details"]["device_owner"] == "compute:nova"
    assert [f["ID"] for f in srv.openstack("floating", "ip", "list", "--router",
                                           "demo-router")] == [created["id"]]

    srv.openstack("floating", "ip", "unset", "--port", created["id"], fmt=None)
    after = ok(admin.get(f"/v2.0/floatingips/{created['id']}"))["floatingip"]
    assert after["port_id"] is None and after["fixed_ip_address"] is None
    assert after["router_id"] is None

    # Tear down in the order Neutron requires, through the CLI.
    srv.openstack("floating", "ip", "delete", created["id"], fmt=None)
    srv.openstack("router", "remove", "subnet", "demo-router", "vlan-subnet", fmt=None)
    srv.openstack("router", "delete", "demo-router", fmt=None)
    assert ports_of(admin, network_id=flat["id"]) == []
    assert ports_of(admin, network_id=vlan["id"]) == [ok(admin.get(
        f"/v2.0/ports/{vm['id']}"))["port"]]


# -- the demo user --------------------------------------------------------------------------------


def test_demo_user_router_gateway_port_hidden_and_admin_adds_interface(srv, admin):
    ext, ext_sub = network(admin, "198.51.100.0/24", external=True)
    demo = project_client(srv)
    demo_project = project_of(demo)
    rtr = router(demo, name="demo-router")
    assert rtr["project_id"] == demo_project
    assert "distributed" not in rtr and "ha" not in rtr  # admin-only attributes
    ok(set_gateway(demo, rtr["id"], {"network_id": ext["id"]}))
    shown = ok(demo.get(f"/v2.0/routers/{rtr['id']}"))["router"]
    [gw_ip] = shown["external_gateway_info"]["external_fixed_ips"]
    assert gw_ip["subnet_id"] == ext_sub["id"]
    assert shown["revision_number"] > rtr["revision_number"]

    # The gateway port exists (admin sees it, without a project) but the demo user does not.
    [gw] = ports_of(admin, device_id=rtr["id"])
    assert gw["device_owner"] == "network:router_gateway" and gw["project_id"] == ""
    assert gw["fixed_ips"] == [gw_ip]
    assert ports_of(demo, device_id=rtr["id"]) == []
    error(demo.get(f"/v2.0/ports/{gw['id']}"), 404, "PortNotFound")

    # The admin connects the demo router to a subnet (the seed's `router add subnet`).
    net, sub = network(admin, fresh_cidr(), project=demo_project)
    info = ok(add_interface(admin, rtr["id"], subnet_id=sub["id"]))
    assert set(info) == {"id", "tenant_id", "project_id", "port_id", "subnet_id",
                         "subnet_ids", "network_id"}
    assert info["id"] == rtr["id"] and info["project_id"] == demo_project
    assert info["tenant_id"] == demo_project
    assert info["subnet_id"] == sub["id"] and info["subnet_ids"] == [sub["id"]]
    assert info["network_id"] == net["id"]
    [interface] = ports_of(demo, device_id=rtr["id"])
    assert interface["id"] == info["port_id"]
    assert interface["device_owner"] == "network:router_interface"
    assert interface["fixed_ips"] == [{"subnet_id": sub["id"],
                                       "ip_address": sub["gateway_ip"]}]

    # A floating IP of the demo project, on the demo VM's port.
    vm = port(demo, net["id"], device_owner="compute:nova", device_id="vm-1")
    created = ok(fip(demo, ext["id"], subnet_id=ext_sub["id"]), 201)["floatingip"]
    assert created["project_id"] == demo_project and created["status"] == "DOWN"
    assert "subnet_id" not in created
    fip_ports = ports_of(admin, device_owner="network:floatingip", network_id=ext["id"])
    assert [p["device_id"] for p in fip_ports] == [created["id"]]
    assert fip_ports[0]["project_id"] == "" and fip_ports[0]["status"] == "N/A"
    assert fip_ports[0]["fixed_ips"][0]["ip_address"] == created["floating_ip_address"]
    assert ports_of(demo, network_id=ext["id"]) == []
    updated = ok(demo.put(f"/v2.0/floatingips/{created['id']}",
                          json={"floatingip": {"port_id": vm["id"]}}))["floatingip"]
    assert updated["router_id"] == rtr["id"]
    assert updated["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert updated["port_details"] == {
        "name": "", "network_id": net["id"], "mac_address": vm["mac_address"],
        "admin_state_up": True, "status": "DOWN", "device_id": "vm-1",
        "device_owner": "compute:nova"}

    # Another project sees none of it.
    other = project_client(srv)
    error(other.get(f"/v2.0/routers/{rtr['id']}"), 404, "RouterNotFound",
          f"Router {rtr['id']} could not be found")
    error(add_interface(other, rtr["id"], subnet_id=sub["id"]), 404, "RouterNotFound")
    error(other.put(f"/v2.0/routers/{rtr['id']}", json={"router": {"name": "x"}}), 404,
          "RouterNotFound")
    error(other.delete(f"/v2.0/routers/{rtr['id']}"), 404, "RouterNotFound")
    error(other.get(f"/v2.0/floatingips/{created['id']}"), 404, "FloatingIPNotFound")
    assert ok(other.get("/v2.0/routers"))["routers"] == []
    assert ok(other.get("/v2.0/floatingips"))["floatingips"] == []
    assert {r["id"] for r in ok(demo.get("/v2.0/routers"))["routers"]} == {rtr["id"]}
    # A reader of the demo project reads, and writes nothing.
    reader = project_client(srv, roles="reader", project=demo_project)
    assert ok(reader.get(f"/v2.0/routers/{rtr['id']}"))["router"]["id"] == rtr["id"]
    error(reader.post("/v2.0/routers", json={"router": {"name": "r"}}), 403,
          "PolicyNotAuthorized")
    error(remove_interface(reader, rtr["id"], subnet_id=sub["id"]), 403,
          "PolicyNotAuthorized", "rule:remove_router_interface is disallowed by policy")

    # Admins see the legacy-router attributes.
    admin_view = ok(admin.get(f"/v2.0/routers/{rtr['id']}"))["router"]
    assert admin_view["distributed"] is False and admin_view["ha"] is False


def test_gateway_policy_snat_and_fixed_ips(srv, admin):
    ext, ext_sub = network(admin, "203.0.113.0/24", external=True)
    demo = project_client(srv)
    rtr = router(demo)
    for key, value in (("enable_snat", False), ("enable_snat", True),
                       ("external_fixed_ips", [{"subnet_id": ext_sub["id"]}])):
        message = error(set_gateway(demo, rtr["id"], {"network_id": ext["id"], key: value}),
                        403, "PolicyNotAuthorized")
        assert f"rule:update_router:external_gateway_info:{key}" in message
        error(demo.post("/v2.0/routers", json={"router": {
            "external_gateway_info": {"network_id": ext["id"], key: value}}}),
            403, "PolicyNotAuthorized", f"rule:create_router:external_gateway_info:{key}")
    error(demo.post("/v2.0/routers", json={"router": {"distributed": False}}), 403,
          "PolicyNotAuthorized")
    assert ports_of(admin, network_id=ext["id"]) == []

    # The admin may choose SNAT and the address; a router made with its gateway at once.
    created = router(admin, external_gateway_info={
        "network_id": ext["id"], "enable_snat": False,
        "external_fixed_ips": [{"ip_address": "203.0.113.50"}]})
    assert created["external_gateway_info"] == {
        "network_id": ext["id"], "enable_snat": False,
        "external_fixed_ips": [{"subnet_id": ext_sub["id"], "ip_address": "203.0.113.50"}]}
    assert created["revision_number"] == 0
    # Changing just the address keeps the port; without enable_snat it returns to default.
    [before] = ports_of(admin, device_id=created["id"])
    changed = ok(set_gateway(admin, created["id"], {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": "203.0.113.51"}]}))
    gateway = changed["router"]["external_gateway_info"]
    assert gateway["external_fixed_ips"][0]["ip_address"] == "203.0.113.51"
    assert gateway["enable_snat"] is True
    [after] = ports_of(admin, device_id=created["id"])
    assert after["id"] == before["id"]
    error(set_gateway(admin, created["id"], {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": "203.0.113.1"}]}),
        400, "BadRequest", "External IP 203.0.113.1 is the same as the gateway IP")
    error(set_gateway(admin, rtr["id"], {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": "203.0.113.51"}]}),
        409, "IpAddressInUse")

    # Moving the gateway to another external network replaces the port; clearing removes it.
    ext2, ext2_sub = network(admin, "100.64.0.0/24", external=True)
    moved = ok(set_gateway(admin, created["id"], {"network_id": ext2["id"]}))["router"]
    assert moved["external_gateway_info"]["network_id"] == ext2["id"]
    assert ports_of(admin, device_id=created["id"], network_id=ext["id"]) == []
    [new_port] = ports_of(admin, device_id=created["id"])
    assert new_port["network_id"] == ext2["id"]
    cleared = ok(set_gateway(admin, created["id"], None))["router"]
    assert cleared["external_gateway_info"] is None
    assert ports_of(admin, device_id=created["id"]) == []
    ok(set_gateway(admin, created["id"], {"network_id": ext2["id"]}))
    assert ok(set_gateway(admin, created["id"], {}))["router"]["external_gateway_info"] is None


def test_gateway_errors(srv, admin):
    demo = project_client(srv)
    rtr = router(demo)
    internal, _ = network(demo, fresh_cidr())
    error(set_gateway(demo, rtr["id"], {"network_id": internal["id"]}), 400, "BadRequest",
          f"Bad router request: Network {internal['id']} is not an external network.")
    missing = str(uuid.uuid4())
    error(set_gateway(demo, rtr["id"], {"network_id": missing}), 404, "NetworkNotFound")
    error(set_gateway(demo, rtr["id"], {"enable_snat": True}), 400, "HTTPBadRequest",
          "Invalid input for external_gateway_info")
    error(set_gateway(demo, rtr["id"], {"network_id": "nope"}), 400, "HTTPBadRequest")
    error(demo.post("/v2.0/routers", json={"router": {"external_gateway_info": {
        "network_id": internal["id"]}}}), 400, "BadRequest", "is not an external network")
    assert {r["id"] for r in ok(demo.get("/v2.0/routers"))["routers"]} == {rtr["id"]}
    error(demo.post("/v2.0/routers", json={"router": {"routes": []}}), 400, "HTTPBadRequest",
          "Attribute 'routes' not allowed in POST")
    error(admin.post("/v2.0/routers", json={"router": {"distributed": True}}), 400,
          "BadRequest")

    # An external network with a gateway port on it stays external.
    ext, _ = network(admin, "192.0.2.0/24", external=True)
    ok(set_gateway(demo, rtr["id"], {"network_id": ext["id"]}))
    error(admin.put(f"/v2.0/networks/{ext['id']}",
                    json={"network": {"router:external": False}}), 409,
          "ExternalNetworkInUse",
          f"External network {ext['id']} cannot be updated to be made non-external")
    # The router's deletion takes its gateway port along.
    ok(demo.delete(f"/v2.0/routers/{rtr['id']}"), 204)
    assert ports_of(admin, network_id=ext["id"]) == []
    ok(admin.put(f"/v2.0/networks/{ext['id']}", json={"network": {"router:external": False}}))


# -- interfaces -----------------------------------------------------------------------------------


def test_interface_errors(srv, admin):
    demo = project_client(srv)
    rtr = router(demo)
    net, sub = network(demo, "10.200.0.0/24")
    rid = rtr["id"]

    error(add_interface(demo, rid), 400, "BadRequest",
          "Bad router request: Either subnet_id or port_id must be specified.")
    error(add_interface(demo, rid, subnet_id=sub["id"], port_id=str(uuid.uuid4())), 400,
          "BadRequest", "Cannot specify both subnet-id and port-id")
    error(add_interface(demo, rid, subnet_id="not-a-uuid"), 400, "BadRequest",
          "'not-a-uuid' is not a valid UUID")
    error(demo.put(f"/v2.0/routers/{rid}/add_router_interface", content=b"[1]"), 400,
          "BadRequest")
    error(add_interface(demo, rid, subnet_id=str(uuid.uuid4())), 404, "SubnetNotFound")
    error(add_interface(demo, rid, port_id=str(uuid.uuid4())), 404, "PortNotFound")

    _, no_gw = network(demo, "10.201.0.0/24", gateway_ip=None)
    error(add_interface(demo, rid, subnet_id=no_gw["id"]), 400, "BadRequest",
          "Subnet for router interface must have a gateway IP")
    foreign_net, foreign_sub = network(admin, "10.202.0.0/24")
    ok(admin.put(f"/v2.0/networks/{foreign_net['id']}", json={"network": {"shared": True}}))
    error(add_interface(demo, rid, subnet_id=foreign_sub["id"]), 400, "BadRequest",
          f"subnet {foreign_sub['id']} is not owned by project making the request")

    info = ok(add_interface(demo, rid, subnet_id=sub["id"]))
    error(add_interface(demo, rid, subnet_id=sub["id"]), 400, "BadRequest",
          f"Router already has a port on subnet {sub['id']}")
    _, overlapping = network(demo, "10.200.0.0/16")
    error(add_interface(demo, rid, subnet_id=overlapping["id"]), 400, "BadRequest",
          f"Cidr 10.200.0.0/16 of subnet {overlapping['id']} overlaps with cidr "
          f"10.200.0.0/24 of subnet {sub['id']}")

    # By port: an unattached port with an address becomes an interface; others are refused.
    net2, sub2 = network(demo, "10.203.0.0/24")
    used = port(demo, net2["id"], device_id="vm-x", device_owner="compute:nova")
    error(add_interface(demo, rid, port_id=used["id"]), 409, "PortInUse",
          f"Unable to complete operation on port {used['id']} for network {net2['id']}. "
          "Port already has an attached device vm-x.")
    bare_net, _ = network(demo)
    bare = port(demo, bare_net["id"])
    error(add_interface(demo, rid, port_id=bare["id"]), 400, "BadRequest",
          "Router port must have at least one fixed IP")
    free = port(demo, net2["id"])
    by_port = ok(add_interface(demo, rid, port_id=free["id"]))
    assert by_port["port_id"] == free["id"] and by_port["subnet_ids"] == [sub2["id"]]
    attached = ok(demo.get(f"/v2.0/ports/{free['id']}"))["port"]
    assert attached["device_id"] == rid
    assert attached["device_owner"] == "network:router_interface"
    assert attached["fixed_ips"] == free["fixed_ips"]  # its own address, not the gateway

    # Router ports cannot be deleted through the port API; what they hold cannot go either.
    error(demo.delete(f"/v2.0/ports/{info['port_id']}"), 409, "L3PortInUse")
    error(demo.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    error(demo.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    message = error(demo.delete(f"/v2.0/routers/{rid}"), 409, "RouterInUse")
    assert message.startswith(f"Router {rid} has ports still attached: ")
    assert info["port_id"] in message and free["id"] in message

    # Removal: wrong port, wrong subnet, mismatch, then for real.
    error(remove_interface(demo, rid, port_id=used["id"]), 404, "RouterInterfaceNotFound",
          f"Router {rid} does not have an interface with id {used['id']}")
    error(remove_interface(demo, rid, subnet_id=no_gw["id"]), 404,
          "RouterInterfaceNotFoundForSubnet",
          f"Router {rid} has no interface on subnet {no_gw['id']}")
    error(remove_interface(demo, rid, port_id=free["id"], subnet_id=sub["id"]), 400,
          "SubnetMismatchForPort",
          f"Subnet on port {free['id']} does not match the requested subnet {sub['id']}")
    removed = ok(remove_interface(demo, rid, port_id=free["id"], subnet_id=sub2["id"]))
    assert removed["port_id"] == free["id"] and removed["subnet_id"] == sub2["id"]
    error(demo.get(f"/v2.0/ports/{free['id']}"), 404, "PortNotFound")
    removed = ok(remove_interface(demo, rid, subnet_id=sub["id"]))
    assert removed == {**info, "subnet_id": sub["id"]}
    assert ports_of(demo, device_id=rid) == []
    revision = ok(demo.get(f"/v2.0/routers/{rid}"))["router"]["revision_number"]
    assert revision == 4  # every attach and detach is a change of the router
    ok(demo.delete(f"/v2.0/subnets/{sub['id']}"), 204)
    ok(demo.delete(f"/v2.0/routers/{rid}"), 204)
    error(demo.get(f"/v2.0/routers/{rid}"), 404, "RouterNotFound")


def test_router_owned_ports_are_protected_only_while_their_owner_exists(srv, admin):
    """Neutron's rule: a network:router_* / network:floatingip port goes through its owner's
    API while the router or floating IP its device_id names exists; a stale one (the owner
    gone, or never there) can be deleted through the port API."""
    demo = project_client(srv)
    net, _ = network(demo, fresh_cidr())
    rtr = router(demo)
    claimed = port(demo, net["id"], device_owner="network:router_interface",
                   device_id=rtr["id"])
    error(demo.delete(f"/v2.0/ports/{claimed['id']}"), 409, "L3PortInUse",
          f"Port {claimed['id']} has owner network:router_interface and therefore cannot be "
          "deleted directly via the port API.")
    for owner in ("network:router_interface", "network:router_gateway", "network:floatingip"):
        stale = port(demo, net["id"], device_owner=owner, device_id=str(uuid.uuid4()))
        ok(demo.delete(f"/v2.0/ports/{stale['id']}"), 204)
        error(demo.get(f"/v2.0/ports/{stale['id']}"), 404, "PortNotFound")
    ok(demo.delete(f"/v2.0/routers/{rtr['id']}"), 204)
    ok(demo.delete(f"/v2.0/ports/{claimed['id']}"), 204)  # its router is gone now


def test_interface_overlapping_the_gateway_network_and_ipv6_sharing_a_port(srv, admin):
    ext, ext_sub = network(admin, "10.210.0.0/24", external=True)
    demo = project_client(srv)
    rtr = router(demo)
    ok(set_gateway(demo, rtr["id"], {"network_id": ext["id"]}))
    _, inside = network(demo, "10.210.0.0/25")
    error(add_interface(demo, rtr["id"], subnet_id=inside["id"]), 400, "BadRequest",
          f"overlaps with cidr 10.210.0.0/24 of subnet {ext_sub['id']}")

    # Two IPv6 subnets of one network end up on one router port.
    net, v6a = network(demo, "fd00:1::/64", ip_version=6)
    v6b = ok(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "ip_version": 6, "cidr": "fd00:2::/64"}}), 201)["subnet"]
    first = ok(add_interface(demo, rtr["id"], subnet_id=v6a["id"]))
    second = ok(add_interface(demo, rtr["id"], subnet_id=v6b["id"]))
    assert second["port_id"] == first["port_id"]
    [v6port] = ports_of(demo, device_id=rtr["id"])
    assert sorted(f["ip_address"] for f in v6port["fixed_ips"]) == ["fd00:1::1", "fd00:2::1"]
    ok(remove_interface(demo, rtr["id"], subnet_id=v6a["id"]))
    [v6port] = ports_of(demo, device_id=rtr["id"])
    assert [f["ip_address"] for f in v6port["fixed_ips"]] == ["fd00:2::1"]
    ok(remove_interface(demo, rtr["id"], subnet_id=v6b["id"]))
    assert ports_of(demo, device_id=rtr["id"]) == []


# -- extra routes ---------------------------------------------------------------------------------


def test_extra_routes(srv, admin, topology):
    demo, rid, sub = topology["demo"], topology["router"]["id"], topology["sub"]
    base = ipaddress.ip_network(sub["cidr"])
    hop = str(base[20])

    def put_routes(routes):
        return demo.put(f"/v2.0/routers/{rid}", json={"router": {"routes": routes}})

    message = error(put_routes([{"destination": "10.99.0.0/16", "nexthop": "10.250.0.1"}]),
                    400, "InvalidRoutes")
    assert message == ("Invalid format for routes: [{'destination': '10.99.0.0/16', "
                       "'nexthop': '10.250.0.1'}], the nexthop is not connected with router")
    error(put_routes([{"destination": "10.99.0.0/16", "nexthop": sub["gateway_ip"]}]), 400,
          "InvalidRoutes", "the nexthop is used by router")
    error(put_routes([{"destination": "10.99.0.1/16", "nexthop": hop}]), 400,
          "HTTPBadRequest", "Invalid input for routes")
    error(put_routes([{"destination": "10.99.0.0/16"}]), 400, "HTTPBadRequest")
    error(put_routes([{"destination": f"10.99.{i}.0/24", "nexthop": hop}
                      for i in range(31)]), 400, "RoutesExhausted",
          "The number of routes exceeds the maximum 30.")

    route = {"destination": "10.99.0.0/16", "nexthop": hop}
    assert ok(put_routes([route]))["router"]["routes"] == [route]
    error(remove_interface(demo, rid, subnet_id=sub["id"]), 409,
          "RouterInterfaceInUseByRoute",
          f"Router interface for subnet {sub['id']} on router {rid} cannot be deleted, as it "
          "is required by one or more routes.")

    # extraroute-atomic: add and remove, merging with what is there.
    more = {"destination": "10.98.0.0/16", "nexthop": hop}
    added = ok(demo.put(f"/v2.0/routers/{rid}/add_extraroutes",
                        json={"router": {"routes": [more, route]}}))["router"]
    assert added["routes"] == [route, more]
    removed = ok(demo.put(f"/v2.0/routers/{rid}/remove_extraroutes",
                          json={"router": {"routes": [route]}}))["router"]
    assert removed["routes"] == [more]
    error(demo.put(f"/v2.0/routers/{rid}/add_extraroutes", json={"router": {}}), 400,
          "HTTPBadRequest")
    error(demo.put(f"/v2.0/routers/{rid}/add_extraroutes", json={"router": {"routes": [
        {"destination": "10.97.0.0/16", "nexthop": "10.250.0.1"}]}}), 400, "InvalidRoutes")
    assert ok(put_routes(None))["router"]["routes"] == []
    ok(remove_interface(demo, rid, subnet_id=sub["id"]))


# -- floating IPs ---------------------------------------------------------------------------------


def test_floating_ip_association_rules(srv, admin, topology):
    ext, demo, vm, rtr = topology["ext"], topology["demo"], topology["vm"], topology["router"]
    net, sub = topology["net"], topology["sub"]

    # Create and associate in one step.
    created = ok(fip(demo, ext["id"], port_id=vm["id"]), 201)["floatingip"]
    assert created["port_id"] == vm["id"] and created["router_id"] == rtr["id"]
    assert created["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    # One fixed IP, one floating IP per external network.
    second = ok(fip(demo, ext["id"]), 201)["floatingip"]
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": vm["id"]}}), 409,
          "FloatingIPPortAlreadyAssociated",
          f"Cannot associate floating IP {second['floating_ip_address']} ({second['id']}) "
          f"with port {vm['id']} using fixed IP {created['fixed_ip_address']}, as that fixed "
          f"IP already has a floating IP on external network {ext['id']}.")
    error(fip(demo, ext["id"], port_id=vm["id"]), 409, "FloatingIPPortAlreadyAssociated")
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"fixed_ip_address": "10.0.0.5"}}), 400, "BadRequest",
          "Bad floatingip request: fixed_ip_address cannot be specified without a port_id.")

    # A port with two IPv4 addresses needs fixed_ip_address.
    two = port(demo, net["id"], fixed_ips=[{"subnet_id": sub["id"]}, {"subnet_id": sub["id"]}])
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": two["id"]}}), 400, "BadRequest",
          f"Port {two['id']} has multiple fixed IPv4 addresses.  Must provide a specific "
          "IPv4 address when assigning a floating IP")
    error(demo.put(f"/v2.0/floatingips/{second['id']}", json={"floatingip": {
        "port_id": two["id"], "fixed_ip_address": "10.255.255.1"}}), 400, "BadRequest",
          f"Port {two['id']} does not have fixed ip 10.255.255.1")
    chosen = two["fixed_ips"][1]["ip_address"]
    assoc = ok(demo.put(f"/v2.0/floatingips/{second['id']}", json={"floatingip": {
        "port_id": two["id"], "fixed_ip_address": chosen}}))["floatingip"]
    assert assoc["fixed_ip_address"] == chosen and assoc["router_id"] == rtr["id"]

    # The associated fixed IP cannot be changed away; deleting the port disassociates.
    error(demo.put(f"/v2.0/ports/{two['id']}", json={"port": {"fixed_ips": [
        {"subnet_id": sub["id"]}]}}), 400, "BadRequest",
          f"Cannot update the fixed_ips of the port {two['id']}, because its original "
          "fixed_ip has been associated to a floating ip")
    ok(demo.delete(f"/v2.0/ports/{two['id']}"), 204)
    gone = ok(demo.get(f"/v2.0/floatingips/{second['id']}"))["floatingip"]
    assert gone["port_id"] is None and gone["router_id"] is None
    assert gone["fixed_ip_address"] is None and gone["port_details"] is None

    # Ports a floating IP cannot go to.
    dhcp = port(admin, net["id"], device_owner="network:dhcp", project_id=project_of(demo))
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": dhcp["id"]}}), 400, "BadRequest",
          f"Port {dhcp['id']} is unable to be assigned a floating IP")
    other_project_port = port(admin, net["id"], project_id=uuid.uuid4().hex)
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": other_project_port["id"]}}), 400,
          "BadRequest", "since that port is owned by a different project")
    isolated_net, isolated_sub = network(demo, fresh_cidr())
    isolated = port(demo, isolated_net["id"])
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": isolated["id"]}}), 404,
          "ExternalGatewayForFloatingIPNotFound",
          f"External network {ext['id']} is not reachable from subnet {isolated_sub['id']}."
          f"  Therefore, cannot associate Port {isolated['id']} with a Floating IP.")
    v6_net, _ = network(demo, "fd00:9::/64", ip_version=6)
    v6_port = port(demo, v6_net["id"])
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": v6_port["id"]}}), 400, "BadRequest",
          "that has no fixed IPv4 addresses")
    error(demo.put(f"/v2.0/floatingips/{second['id']}",
                   json={"floatingip": {"port_id": str(uuid.uuid4())}}), 404, "PortNotFound")

    # What the floating IPs hold up.
    error(remove_interface(demo, rtr["id"], subnet_id=sub["id"]), 409,
          "RouterInterfaceInUseByFloatingIP",
          f"Router interface for subnet {sub['id']} on router {rtr['id']} cannot be deleted, "
          "as it is required by one or more floating IPs.")
    error(set_gateway(demo, rtr["id"], None), 409, "RouterExternalGatewayInUseByFloatingIp",
          f"Gateway cannot be updated for router {rtr['id']}, since a gateway to external "
          f"network {ext['id']} is required by one or more floating IPs.")
    error(demo.delete(f"/v2.0/ports/{fip_port(admin, created)['id']}"), 404, "PortNotFound")
    error(admin.delete(f"/v2.0/ports/{fip_port(admin, created)['id']}"), 409, "L3PortInUse")

    # Disassociate, then the interface and gateway can go; delete releases the address.
    ok(demo.put(f"/v2.0/floatingips/{created['id']}", json={"floatingip": {"port_id": None}}))
    ok(remove_interface(demo, rtr["id"], subnet_id=sub["id"]))
    ok(set_gateway(demo, rtr["id"], None))
    held = fip_port(admin, created)
    ok(demo.delete(f"/v2.0/floatingips/{created['id']}"), 204)
    error(admin.get(f"/v2.0/ports/{held['id']}"), 404, "PortNotFound")
    error(demo.get(f"/v2.0/floatingips/{created['id']}"), 404, "FloatingIPNotFound",
          f"Floating IP {created['id']} could not be found")
    again = ok(fip(admin, ext["id"], floating_ip_address=created["floating_ip_address"]),
               201)["floatingip"]
    assert again["floating_ip_address"] == created["floating_ip_address"]


def fip_port(admin: httpx.Client, floating: dict) -> dict:
    [found] = ports_of(admin, device_id=floating["id"], device_owner="network:floatingip")
    return found


def test_floating_ip_create_errors_policy_and_filters(srv, admin, topology):
    ext, ext_sub, demo, vm = (topology[k] for k in ("ext", "ext_sub", "demo", "vm"))
    internal, _ = network(demo, fresh_cidr())
    error(fip(demo, internal["id"]), 400, "BadRequest",
          f"Bad floatingip request: Network {internal['id']} is not a valid external "
          "network.")
    v6_ext, _ = network(admin, "fd00:7::/64", external=True, ip_version=6)
    error(fip(demo, v6_ext["id"]), 400, "BadRequest",
          f"Network {v6_ext['id']} does not contain any IPv4 subnet")
    error(fip(demo, str(uuid.uuid4())), 404, "NetworkNotFound")
    error(demo.post("/v2.0/floatingips", json={"floatingip": {}}), 400, "HTTPBadRequest",
          "Required attribute 'floating_network_id' not specified")
    error(fip(demo, ext["id"], floating_ip_address="192.0.2.77"), 403,
          "PolicyNotAuthorized", "rule:create_floatingip:floating_ip_address")
    error(fip(demo, ext["id"], subnet_id=topology["sub"]["id"]), 400, "InvalidInput")
    error(fip(demo, ext["id"], router_id=topology["router"]["id"]), 400, "HTTPBadRequest",
          "Attribute 'router_id' not allowed in POST")
    gateway_ip = ports_of(admin, device_id=topology["router"]["id"],
                          device_owner="network:router_gateway")[0]["fixed_ips"][0]
    error(fip(admin, ext["id"], floating_ip_address=gateway_ip["ip_address"]), 409,
          "IpAddressInUse")
    error(fip(admin, ext["id"], floating_ip_address="198.18.0.1"), 400,
          "InvalidIpForNetwork")
    v6_sub = ok(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": ext["id"], "ip_version": 6, "cidr": "fd00:8::/64"}}), 201)["subnet"]
    error(fip(admin, ext["id"], subnet_id=v6_sub["id"]), 400, "ExternalIpAddressExhausted",
          f"Unable to find any IP address on external network {ext['id']}.")

    chosen = ok(fip(admin, ext["id"], floating_ip_address="192.0.2.200",
                    project_id=project_of(demo), description="mine", tags=["web"]),
                201)["floatingip"]
    assert chosen["project_id"] == project_of(demo) and chosen["description"] == "mine"
    assert chosen["tags"] == ["web"] and "name" not in chosen
    assoc = ok(fip(demo, ext["id"], port_id=vm["id"]), 201)["floatingip"]
    plain = ok(fip(demo, ext["id"]), 201)["floatingip"]

    def listed(**filters) -> set[str]:
        return {f["id"] for f in ok(demo.get("/v2.0/floatingips", params=filters))[
            "floatingips"]}

    mine = {chosen["id"], assoc["id"], plain["id"]}
    assert listed() == mine
    assert listed(port_id=vm["id"]) == {assoc["id"]}
    assert listed(router_id=topology["router"]["id"]) == {assoc["id"]}
    assert listed(fixed_ip_address=vm["fixed_ips"][0]["ip_address"]) == {assoc["id"]}
    assert listed(floating_ip_address="192.0.2.200") == {chosen["id"]}
    assert listed(floating_network_id=ext["id"]) == mine
    assert listed(status="DOWN") == mine and listed(status="ACTIVE") == set()
    assert listed(tags="web") == {chosen["id"]}
    assert listed(description="mine") == {chosen["id"]}
    error(demo.get("/v2.0/floatingips", params={"subnet_id": ext_sub["id"]}), 400,
          "HTTPBadRequest", "[subnet_id] is invalid attribute for filtering")
    shown = ok(demo.get(f"/v2.0/floatingips/{assoc['id']}",
                        params={"fields": ["id", "router_id"]}))["floatingip"]
    assert shown == {"id": assoc["id"], "router_id": topology["router"]["id"]}
    sorted_ips = [f["floating_ip_address"] for f in ok(demo.get(
        "/v2.0/floatingips", params={"sort_key": "floating_ip_address",
                                     "sort_dir": "desc"}))["floatingips"]]
    assert sorted_ips == sorted(sorted_ips, reverse=True)  # as text, as Neutron sorts

    # Tags and description change like any standard-attribute resource.
    ok(demo.put(f"/v2.0/floatingips/{plain['id']}/tags/blue"), 201)
    changed = ok(demo.put(f"/v2.0/floatingips/{plain['id']}",
                          json={"floatingip": {"description": "x"}}))["floatingip"]
    assert changed["tags"] == ["blue"] and changed["description"] == "x"
    assert changed["revision_number"] == plain["revision_number"] + 2
    error(demo.put(f"/v2.0/floatingips/{plain['id']}",
                   json={"floatingip": {"floating_network_id": ext["id"]}}), 400,
          "HTTPBadRequest", "Cannot update read-only attribute floating_network_id")


def test_network_delete_takes_unassociated_floating_ips(srv, admin):
    ext, _ = network(admin, "192.0.2.0/24", external=True)
    demo = project_client(srv)
    loose = ok(fip(demo, ext["id"]), 201)["floatingip"]
    ok(admin.delete(f"/v2.0/networks/{ext['id']}"), 204)
    error(demo.get(f"/v2.0/floatingips/{loose['id']}"), 404, "FloatingIPNotFound")


def test_quotas_for_routers_and_floating_ips(srv, admin):
    ext, _ = network(admin, "192.0.2.0/24", external=True)
    demo = project_client(srv)
    project = project_of(demo)
    ok(admin.put(f"/v2.0/quotas/{project}", json={"quota": {"router": 1, "floatingip": 1}}))
    router(demo)
    error(demo.post("/v2.0/routers", json={"router": {"name": "two"}}), 409, "OverQuota",
          "Quota exceeded for resources: ['router'].")
    ok(fip(demo, ext["id"]), 201)
    error(fip(demo, ext["id"]), 409, "OverQuota", "['floatingip']")
    assert len(ports_of(admin, network_id=ext["id"])) == 1  # the refused one left no port
    details = ok(demo.get(f"/v2.0/quotas/{project}/details"))["quota"]
    assert details["router"] == {"limit": 1, "used": 1, "reserved": 0}
    assert details["floatingip"] == {"limit": 1, "used": 1, "reserved": 0}


def test_extensions_and_resources(srv, admin):
    aliases = {e["alias"] for e in ok(admin.get("/v2.0/extensions"))["extensions"]}
    assert {"router", "ext-gw-mode", "extraroute", "extraroute-atomic", "fip-port-details",
            "address-scope"} <= aliases
    assert not aliases & {"dvr", "l3-ha", "router-interface-fip", "l3-flavors"}
    ok(admin.get("/v2.0/extensions/ext-gw-mode"))
    collections = {r["collection"] for r in ok(admin.get("/v2.0"))["resources"]}
    assert {"routers", "floatingips", "address_scopes"} <= collections
