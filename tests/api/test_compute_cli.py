"""The Compute and Image APIs through the real `openstack` CLI (noauth, clouds.yaml with
endpoint overrides), with the test playing the compute agent through the internal
endpoints: the seed's `server create ... --wait` stays in BUILD until the host reports the
guest running with its lease and the guest has read its metadata, then ACTIVE.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time

import pytest

from tests.fixtures.compute import module_cloud
from tests.fixtures.server import OpenStackCLIError, venv_bin

cloud, _cloud_log_on_failure = module_cloud("compute-cli")

SEED_USER_DATA = "#cloud-config\nwrite_files:\n-   content: bar\n    path: /tmp/foo\n"


def wait_for(what: str, check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_flavors_and_images(cloud):
    flavors = {f["Name"]: f for f in cloud.openstack("flavor", "list")}
    assert {"m1.nano", "m1.tiny", "m1.small"} <= set(flavors)
    tiny = cloud.openstack("flavor", "show", "m1.tiny")
    assert (tiny["id"], tiny["ram"], tiny["disk"], tiny["vcpus"]) == ("1", 512, 1, 1)
    images = {i["Name"]: i for i in cloud.openstack("image", "list")}
    assert set(images) == {"cirros", "debian-cloud-init"}
    assert all(i["Status"] == "active" for i in images.values())
    cirros = cloud.openstack("image", "show", "cirros")
    assert cirros["id"] == images["cirros"]["ID"]
    assert cirros["properties"]["fermion_guest_init"] == "cirros"
    err = _fails(cloud, "image", "show", "no-such-image")
    assert "No Image found for no-such-image" in err


def test_keypairs(cloud, tmp_path):
    private = cloud.openstack("keypair", "create", "cli-key", fmt=None)
    assert "PRIVATE KEY-----" in private
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    (tmp_path / "k.pub").write_text(key + " me@here\n")
    shown = cloud.openstack("keypair", "create", "--public-key", tmp_path / "k.pub", "cli-key2")
    digest = hashlib.md5(base64.b64decode(key.split()[1])).hexdigest()
    assert shown["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, 32, 2))
    names = {k["Name"] for k in cloud.openstack("keypair", "list")}
    assert {"cli-key", "cli-key2"} <= names
    assert "already exists" in _fails(cloud, "keypair", "create", "--public-key",
                                      tmp_path / "k.pub", "cli-key2")
    cloud.openstack("keypair", "delete", "cli-key2", fmt=None)
    assert "cli-key2" not in {k["Name"] for k in cloud.openstack("keypair", "list")}


def test_seed_server_create_wait_until_active_then_delete(cloud, tmp_path):
    """The seed's example: BUILD while the host has not reported, ACTIVE once the guest
    runs with its lease and has read its metadata; addresses from the port; console log;
    delete --wait leaves no server and no port."""
    net, subnet = cloud.network_and_subnet("cli-net", "10.60.0.0/24")
    cloud.report_host("cli-cmp1")
    cloud.openstack("keypair", "create", "demo-key", fmt=None)
    (tmp_path / "ud.yaml").write_text(SEED_USER_DATA)
    create = subprocess.Popen(
        [venv_bin("openstack"), "server", "create", "--image", "cirros", "--flavor", "m1.nano",
         "--network", "cli-net", "--key-name", "demo-key", "--user-data", str(tmp_path / "ud.yaml"),
         "--wait", "-f", "json", "s1"],
        env=cloud.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        server = wait_for("s1 in the server list", lambda: next(
            (s for s in cloud.compute.get("/v2.1/servers/detail").json()["servers"]
             if s["name"] == "s1" and s["OS-EXT-STS:task_state"] == "spawning"), None))
        assert server["status"] == "BUILD"
        assert server["OS-EXT-SRV-ATTR:host"] == "cli-cmp1"
        ports = cloud.network.get("/v2.0/ports", params={"device_id": server["id"]}).json()
        (port,) = ports["ports"]
        assert port["device_owner"] == "compute:nova"
        assert port["binding:host_id"] == "cli-cmp1"
        assert port["network_id"] == net["id"]
        ip = port["fixed_ips"][0]["ip_address"]
        assert server["addresses"] == {"cli-net": [{
            "version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed",
            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]}]}

        # the compute agent's view: the server, its port and image
        snap = cloud.compute.get("/v2.1/fermion/snapshot", params={"host": "cli-cmp1"}).json()
        (guest,) = [i for i in snap["snapshot"]["instances"] if i["id"] == server["id"]]
        assert guest["image"]["init"] == "cirros"
        assert [p["id"] for p in guest["ports"]] == [port["id"]]
        assert guest["ports"][0]["devname"] == "tap" + port["id"][:11]

        # running with a lease, but the guest has not read its metadata: still BUILD
        (state,) = cloud.report("cli-cmp1", {"id": server["id"], "power_state": "running",
                                             "lease": True, "console": "boot\nlogin:\n"})
        assert state["status"] == "BUILD"
        assert create.poll() is None
        md = cloud.metadata("/latest/meta-data/public-keys/0/openssh-key", server["id"],
                            server["tenant_id"])
        assert md.status_code == 200 and md.text.startswith("ssh-"), md.text
        out, err = create.communicate(timeout=60)
    finally:
        if create.poll() is None:
            create.kill()
            create.communicate()
    assert create.returncode == 0, err
    shown = cloud.openstack("server", "show", "s1")
    assert shown["status"] == "ACTIVE"
    assert shown["key_name"] == "demo-key"
    assert shown["addresses"] == {"cli-net": [ip]}
    assert shown["OS-SRV-USG:launched_at"]
    listed = {s["Name"]: s for s in cloud.openstack("server", "list")}
    assert listed["s1"]["Status"] == "ACTIVE"
    assert listed["s1"]["Image"] == "cirros" and listed["s1"]["Flavor"] == "m1.nano"
    assert cloud.openstack("console", "log", "show", "s1", fmt=None) == "boot\nlogin:\n"
    user_data = cloud.metadata("/openstack/latest/user_data", shown["id"],
                               shown["project_id"])
    assert user_data.text == SEED_USER_DATA

    cloud.openstack("server", "delete", "--wait", "s1", fmt=None)
    assert cloud.compute.get(f"/v2.1/servers/{shown['id']}").status_code == 404
    assert cloud.network.get(f"/v2.0/ports/{port['id']}").status_code == 404
    assert subnet["id"]  # the network stays; only the server's port went


def test_no_live_host_means_error_with_fault(compute_cloud):
    """No compute host has reported: the server goes to ERROR with Nova's NoValidHost
    fault and gets no port; --wait reports the error. An unknown zone is a 400."""
    cloud = compute_cloud()
    net, _ = cloud.network_and_subnet("nohost", "10.61.0.0/24")
    err = _fails(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.nano",
                 "--network", net["id"], "--availability-zone", "elsewhere", "s2")
    assert "The requested availability zone is not available" in err
    assert cloud.compute.get("/v2.1/servers").json()["servers"] == []
    err = _fails(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.nano",
                 "--network", net["id"], "--wait", "s3")
    assert "ERROR" in err or "Error" in err
    shown = cloud.openstack("server", "show", "s3")
    assert shown["status"] == "ERROR"
    assert "No valid host was found" in shown["fault"]["message"]
    assert cloud.network.get("/v2.0/ports",
                             params={"device_id": shown["id"]}).json()["ports"] == []
    cloud.openstack("server", "delete", "--wait", "s3", fmt=None)
    assert cloud.compute.get("/v2.1/servers").json()["servers"] == []


def _fails(cloud, *args) -> str:
    with pytest.raises(OpenStackCLIError) as info:
        cloud.openstack(*args)
    return info.value.stderr
