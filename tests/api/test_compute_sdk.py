"""openstacksdk against the Compute, Image and Networking APIs (auth_type none, endpoint
overrides): ``create_server(wait=True)`` and the calls Ansible's ``openstack.cloud.server``
module makes (present, then absent), with the test playing the compute host."""

from __future__ import annotations

import threading

import pytest

from tests.fixtures.compute import module_cloud

cloud, _cloud_log_on_failure = module_cloud("compute-sdk")


@pytest.fixture
def conn(cloud):
    """A new connection per test, as each Ansible task makes (openstacksdk caches the
    network list it reads private_v4 from)."""
    connection = cloud.sdk()
    yield connection
    connection.close()


class FakeHost:
    """Plays the compute agent of `name` in a thread: every server of its snapshot gets
    reported running with its lease, and its metadata is read through the service."""

    def __init__(self, cloud, name: str):
        self.cloud, self.name = cloud, name
        self.stop = threading.Event()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.cloud.report_host(self.name)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)

    def run(self) -> None:
        while not self.stop.is_set():
            snap = self.cloud.compute.get("/v2.1/fermion/snapshot",
                                          params={"host": self.name}).json()["snapshot"]
            for guest in snap["instances"]:
                if guest["status"] == "BUILD" and guest["ports"]:
                    r = self.cloud.metadata("/openstack/latest/meta_data.json", guest["id"],
                                            guest["project_id"])
                    assert r.status_code == 200, r.text
                    self.cloud.report(self.name, {"id": guest["id"], "lease": True,
                                                  "power_state": "running"})
                    self.seen.append(guest["id"])
            self.stop.wait(0.2)


def test_create_server_wait(cloud, conn):
    net, _ = cloud.network_and_subnet("sdk-net", "10.70.0.0/24")
    kp = conn.compute.create_keypair(name="sdk-key")
    assert kp.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert len(kp.fingerprint.split(":")) == 16
    with FakeHost(cloud, "sdk-cmp1") as host:
        server = conn.create_server("sdk-s1", image="cirros", flavor="m1.tiny",
                                    network="sdk-net", key_name="sdk-key",
                                    userdata="#!/bin/sh\necho hi\n", meta={"role": "web"},
                                    wait=True, timeout=60, auto_ip=False)
    assert server.id in host.seen
    assert server.status == "ACTIVE"
    assert server.metadata == {"role": "web"}
    assert server.key_name == "sdk-key"
    (address,) = server.addresses["sdk-net"]
    port = conn.network.ports(device_id=server.id).__next__()
    assert address["addr"] == port.fixed_ips[0]["ip_address"]
    assert server.private_v4 == address["addr"]
    user_data = cloud.metadata("/latest/user-data", server.id, server.project_id)
    assert user_data.text == "#!/bin/sh\necho hi\n"
    assert conn.delete_server(server.id, wait=True, timeout=60)
    assert conn.compute.find_server(server.id) is None
    assert list(conn.network.ports(device_id=server.id)) == []
    conn.compute.delete_keypair("sdk-key")


def test_ansible_server_module_sequence(cloud, conn):
    """What openstack.cloud.server does for state=present, then state=absent."""
    net, _ = cloud.network_and_subnet("ansible-net", "10.71.0.0/24")
    assert conn.get_server("ansible-s1") is None                       # _get_server_state
    image_id = conn.get_image_id("cirros", "(deprecated)")             # _create_server
    flavor = conn.get_flavor("m1.nano")
    assert image_id and flavor["id"] == "42"
    with FakeHost(cloud, "ansible-cmp1"):
        server = conn.create_server(
            ip_pool=None, ips=None, auto_ip=True, boot_volume=None, boot_from_volume=False,
            terminate_volume=False, reuse_ips=True, wait=True, timeout=60,
            name="ansible-s1", image=image_id, flavor=flavor["id"],
            nics=[{"net-id": net["id"]}], meta={}, security_groups=["default"],
            userdata="#cloud-config\n", config_drive=False)
    hostvars = conn.get_openstack_vars(server)                          # _exit_hostvars
    assert hostvars["status"] == "ACTIVE"
    assert hostvars["private_v4"]
    assert hostvars["image"]["id"] == image_id
    assert hostvars["flavor"]["name"] == "m1.nano"
    again = conn.get_server("ansible-s1")                               # idempotent rerun
    assert again.status == "ACTIVE" and [g["name"] for g in again.security_groups] == [
        "default"]
    assert conn.delete_server("ansible-s1", wait=True, timeout=60, delete_ips=False)
    assert conn.get_server("ansible-s1") is None


def test_list_paging_and_filters(cloud, conn):
    cloud.network_and_subnet("page-net", "10.72.0.0/24")
    cloud.report_host("page-cmp")
    ids = []
    for i in range(3):
        r = cloud.compute.post("/v2.1/servers", json={"server": {
            "name": f"page-{i}", "imageRef": conn.get_image_id("cirros"), "flavorRef": "42",
            "networks": [{"uuid": conn.network.find_network("page-net").id}]}})
        assert r.status_code == 202, r.text
        assert r.headers["location"].endswith(f"/v2.1/servers/{r.json()['server']['id']}")
        ids.append(r.json()["server"]["id"])
    page = cloud.compute.get("/v2.1/servers/detail", params={"limit": 2,
                                                               "name": "^page-"}).json()
    assert [s["id"] for s in page["servers"]] == ids[::-1][:2]
    assert page["servers_links"][0]["rel"] == "next"
    rest = cloud.compute.get("/v2.1/servers", params={"name": "^page-",
                                                        "marker": ids[1]}).json()
    assert [s["id"] for s in rest["servers"]] == [ids[0]]
    names = sorted(s.name for s in conn.compute.servers(name="^page-"))
    assert names == ["page-0", "page-1", "page-2"]
    assert cloud.compute.get("/v2.1/servers", params={"status": "ACTIVE", "name": "^page"}
                             ).json()["servers"] == []
    for server_id in ids:
        assert cloud.compute.delete(f"/v2.1/servers/{server_id}").status_code == 204
