"""Invalid Compute API requests: Nova's status codes and fault bodies, and nothing made
(no server, no port, no key pair); identity and policy between projects."""

from __future__ import annotations

import base64

import pytest

from fermion.compute import catalog
from tests.fixtures.compute import module_cloud

cloud, _cloud_log_on_failure = module_cloud("compute-bad")
CIRROS = catalog.IMAGES[0].id


@pytest.fixture(scope="module")
def world(cloud):
    net, _ = cloud.network_and_subnet("bad-net", "10.80.0.0/24")
    assert cloud.network.put(f"/v2.0/networks/{net['id']}",
                             json={"network": {"shared": True}}).status_code == 200
    bare = cloud.network.post("/v2.0/networks", json={"network": {
        "name": "bare", "shared": True}}).json()
    ext = cloud.network.post("/v2.0/networks", json={"network": {
        "name": "ext", "router:external": True}}).json()["network"]
    cloud.network.post("/v2.0/subnets", json={"subnet": {
        "network_id": ext["id"], "cidr": "172.30.0.0/24", "ip_version": 4}})
    used = cloud.network.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "device_id": "someone-else", "project_id": "p-member"}})
    free = cloud.network.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    key = cloud.compute.post("/v2.1/os-keypairs", json={"keypair": {"name": "bad-key"}})
    assert used.status_code == free.status_code == 201 and key.status_code == 200
    return {"net": net["id"], "bare": bare["network"]["id"], "ext": ext["id"],
            "used": used.json()["port"]["id"], "free": free.json()["port"]["id"]}


def server(**fields) -> dict:
    return {"server": {"name": "bad", "imageRef": CIRROS, "flavorRef": "42", **fields}}


def counts(cloud) -> tuple[int, int]:
    servers = cloud.compute.get("/v2.1/servers", params={"all_tenants": "1"}).json()
    ports = cloud.network.get("/v2.0/ports").json()["ports"]
    return len(servers["servers"]), len(ports)


CASES = [
    ("unknown flavor", lambda w: server(flavorRef="999", networks=[{"uuid": w["net"]}]),
     400, "badRequest", "Flavor 999 could not be found."),
    ("unknown image", lambda w: server(imageRef="6d1b5f9e-2b2e-4c1a-8f86-000000000000",
                                       networks=[{"uuid": w["net"]}]),
     400, "badRequest", "Can not find requested image"),
    ("no image", lambda w: {"server": {"name": "bad", "flavorRef": "1"}},
     400, "badRequest", "Missing imageRef attribute"),
    ("unknown network", lambda w: server(networks=[{"uuid":
                                                    "6d1b5f9e-2b2e-4c1a-8f86-000000000001"}]),
     400, "badRequest", "Network 6d1b5f9e-2b2e-4c1a-8f86-000000000001 could not be found."),
    ("network uuid malformed", lambda w: server(networks=[{"uuid": "net-1"}]),
     400, "badRequest", "Bad networks format: network uuid is not in proper format (net-1)"),
    ("network without subnet", lambda w: server(networks=[{"uuid": w["bare"]}]),
     400, "badRequest", "requires a subnet in order to boot instances on."),
    ("unknown key", lambda w: server(key_name="nope", networks=[{"uuid": w["net"]}]),
     400, "badRequest", "Invalid key_name provided."),
    ("unknown port", lambda w: server(networks=[{"port":
                                                 "6d1b5f9e-2b2e-4c1a-8f86-000000000002"}]),
     400, "badRequest", "Port id 6d1b5f9e-2b2e-4c1a-8f86-000000000002 could not be found."),
    ("port in use", lambda w: server(networks=[{"port": w["used"]}]),
     409, "conflictingRequest", "is still in use."),
    ("port twice", lambda w: server(networks=[{"port": w["free"]}, {"port": w["free"]}]),
     400, "badRequest", "was specified twice: you cannot attach a port multiple times."),
    ("unknown security group", lambda w: server(networks=[{"uuid": w["net"]}],
                                                security_groups=[{"name": "nope"}]),
     400, "badRequest", "Security group nope not found."),
    ("bad base64", lambda w: server(user_data="not base64!", networks=[{"uuid": w["net"]}]),
     400, "badRequest", "Invalid input for field/attribute user_data. Value: not base64!. "
                        "'not base64!' is not a 'base64'"),
    ("user data over 64 KiB", lambda w: server(
        user_data=base64.b64encode(b"x" * 49200).decode(), networks=[{"uuid": w["net"]}]),
     400, "badRequest", "is too long"),
    ("name too long", lambda w: server(name="n" * 256, networks=[{"uuid": w["net"]}]),
     400, "badRequest", "Invalid input for field/attribute name."),
    ("name with spaces around", lambda w: server(name=" padded ", networks=[{"uuid": w["net"]}]),
     400, "badRequest", "An invalid 'name' value was provided."),
    ("unknown attribute", lambda w: server(colour="blue"),
     400, "badRequest", "Additional properties are not allowed ('colour' was unexpected)"),
    ("metadata value too long", lambda w: server(metadata={"k": "v" * 256}),
     400, "badRequest", "Invalid input for field/attribute k."),
    ("no server", lambda w: {"servers": {}}, 400, "badRequest", "'server' is a required"),
    ("external network", lambda w: server(networks=[{"uuid": w["ext"]}]),
     403, "forbidden", "It is not allowed to create an interface on external network"),
    ("two servers", lambda w: server(min_count=2, networks=[{"uuid": w["net"]}]),
     400, "badRequest", "min_count and max_count must be 1"),
    ("volume boot", lambda w: server(block_device_mapping_v2=[
        {"source_type": "volume", "uuid": "v1", "destination_type": "volume"}]),
     400, "badRequest", "Fermion boots servers from images only"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_server_create_makes_nothing(cloud, world, case):
    _name, body, status, fault, message = case
    cloud.report_host("bad-cmp")
    before = counts(cloud)
    # as a member of its own project (the external network check is a member's)
    client = cloud.client(project_id="p-member", roles="member")
    r = client.post("/v2.1/servers", json=body(world))
    assert r.status_code == status, r.text
    assert list(r.json()) == [fault], r.text
    assert r.json()[fault]["code"] == status
    assert message in r.json()[fault]["message"]
    assert counts(cloud) == before


def test_malformed_bodies_and_versions(cloud):
    r = cloud.compute.post("/v2.1/servers", content=b"{not json")
    assert r.status_code == 400 and r.json() == {
        "badRequest": {"code": 400, "message": "Malformed request body"}}
    r = cloud.compute.get("/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.60"})
    assert r.status_code == 406
    assert "Minimum is 2.1 and maximum is 2.1" in r.json()["computeFault"]["message"]
    r = cloud.compute.get("/v2.1/servers", headers={"X-OpenStack-Nova-API-Version": "two"})
    assert r.status_code == 400 and "is of invalid format" in r.json()["badRequest"]["message"]
    r = cloud.compute.get("/v2.1/servers/detail",
                          headers={"OpenStack-API-Version": "compute latest"})
    assert r.status_code == 200 and r.headers["openstack-api-version"] == "compute 2.1"
    r = cloud.compute.get("/v2.1/nothing-here")
    assert r.status_code == 404 and r.json()["itemNotFound"]["code"] == 404
    r = cloud.compute.get("/v2.1/servers/6d1b5f9e-2b2e-4c1a-8f86-000000000003")
    assert r.json() == {"itemNotFound": {"code": 404, "message": "Instance "
                        "6d1b5f9e-2b2e-4c1a-8f86-000000000003 could not be found."}}
    r = cloud.compute.get("/v2.1/flavors/nope")
    assert r.json() == {"itemNotFound": {"code": 404,
                                         "message": "Flavor nope could not be found."}}
    r = cloud.compute.get("/v2.1/servers", params={"status": "WEIRD"})
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Invalid status value"
    r = cloud.compute.post("/v2.1/servers/x/action", json={"reboot": {"type": "SOFT"}})
    assert r.json()["badRequest"]["message"] == "There is no such action: reboot"


def test_keypair_errors(cloud):
    c = cloud.client(project_id="p-keys", roles="member")
    assert c.post("/v2.1/os-keypairs", json={"keypair": {"name": "k1"}}).status_code == 200
    r = c.post("/v2.1/os-keypairs", json={"keypair": {"name": "k1"}})
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"] == "Key pair 'k1' already exists."
    r = c.post("/v2.1/os-keypairs", json={"keypair": {"name": "k2", "public_key": "ssh-rsa xx"}})
    assert r.json() == {"badRequest": {"code": 400, "message": "Keypair data is invalid: "
                                                                "failed to generate fingerprint"}}
    r = c.post("/v2.1/os-keypairs", json={"keypair": {"name": "k/3"}})
    assert "Keypair name contains unsafe characters" in r.json()["badRequest"]["message"]
    r = c.get("/v2.1/os-keypairs/k9")
    assert r.json() == {"itemNotFound": {"code": 404,
                                         "message": "Keypair k9 not found for user p-keys"}}
    # key pairs are the user's: another project (user) sees none of them
    other = cloud.client(project_id="p-other", roles="member")
    assert other.get("/v2.1/os-keypairs").json() == {"keypairs": []}
    assert other.delete("/v2.1/os-keypairs/k1").status_code == 404
    reader = cloud.client(project_id="p-keys", roles="reader")
    assert reader.post("/v2.1/os-keypairs",
                       json={"keypair": {"name": "k4"}}).status_code == 403
    assert c.delete("/v2.1/os-keypairs/k1").status_code == 202


def test_projects_see_their_own_servers(cloud, world):
    cloud.report_host("bad-cmp")
    mine = cloud.client(project_id="p-a", roles="member")
    r = mine.post("/v2.1/servers", json=server(name="a1", networks=[{"uuid": world["net"]}]))
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    other = cloud.client(project_id="p-b", roles="member")
    assert other.get(f"/v2.1/servers/{sid}").status_code == 404
    assert other.delete(f"/v2.1/servers/{sid}").status_code == 404
    assert sid not in [s["id"] for s in other.get("/v2.1/servers").json()["servers"]]
    shown = mine.get(f"/v2.1/servers/{sid}").json()["server"]
    assert "OS-EXT-SRV-ATTR:host" not in shown  # admin only
    assert shown["tenant_id"] == "p-a"
    port = cloud.network.get("/v2.0/ports", params={"device_id": sid}).json()["ports"][0]
    assert port["project_id"] == "p-a"
    everyone = cloud.compute.get("/v2.1/servers", params={"all_tenants": "1"}).json()
    assert sid in [s["id"] for s in everyone["servers"]]
    reader = cloud.client(project_id="p-a", roles="reader")
    assert reader.delete(f"/v2.1/servers/{sid}").status_code == 403
    assert mine.delete(f"/v2.1/servers/{sid}").status_code == 204


def test_one_postgresql_database_for_both_services(compute_cloud, postgres_url):
    """The compute store's own Alembic chain lives next to the network server's tables in
    one PostgreSQL database; servers, ports and key pairs work as on SQLite."""
    both = compute_cloud(network_db=postgres_url, database={"connection": postgres_url})
    net, _ = both.network_and_subnet("pg-net", "10.85.0.0/24")
    both.report_host("pg-cmp")
    assert both.compute.post("/v2.1/os-keypairs",
                             json={"keypair": {"name": "pg-key"}}).status_code == 200
    assert both.compute.post("/v2.1/os-keypairs",
                             json={"keypair": {"name": "pg-key"}}).status_code == 409
    r = both.compute.post("/v2.1/servers", json=server(
        name="pg-1", key_name="pg-key", networks=[{"uuid": net["id"]}]))
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    shown = both.compute.get(f"/v2.1/servers/{sid}").json()["server"]
    assert shown["status"] == "BUILD" and list(shown["addresses"]) == ["pg-net"]
    assert both.compute.delete(f"/v2.1/servers/{sid}").status_code == 204
    assert both.network.get("/v2.0/ports", params={"device_id": sid}).json()["ports"] == []
