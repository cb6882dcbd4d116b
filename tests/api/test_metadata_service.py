"""The metadata service (port 8775 of `fermion compute-api`) as the metadata agent and
cloud-init see it: the agent's headers and signature, the EC2 and OpenStack trees with
their listings, versions, content types and 404s, the password, and cloud-init's own
reader (Debian's package, /usr/bin/python3) going through a stand-in for the agent that
signs every request for one instance."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from fermion.compute import catalog
from tests.fixtures.compute import module_cloud, signed

cloud, _cloud_log_on_failure = module_cloud("metadata")
READER = Path(__file__).resolve().parents[1] / "fixtures" / "cloudinit_reader.py"
SYSTEM_PYTHON = "/usr/bin/python3"
USER_DATA = "#cloud-config\nwrite_files:\n-   content: bar\n    path: /tmp/foo\n"


@pytest.fixture(scope="module")
def instance(cloud):
    """A server with a key, user data and metadata on a DHCP network with DNS servers."""
    net, subnet = cloud.network_and_subnet("md-net", "10.90.0.0/24",
                                           dns_nameservers=["10.90.0.53"])
    cloud.report_host("md-cmp")
    key = cloud.compute.post("/v2.1/os-keypairs", json={"keypair": {"name": "md-key"}})
    assert key.status_code == 200, key.text
    r = cloud.compute.post("/v2.1/servers", json={"server": {
        "name": "md_Server 1", "imageRef": catalog.IMAGES[1].id, "flavorRef": "1",
        "key_name": "md-key", "metadata": {"role": "db"},
        "user_data": base64.b64encode(USER_DATA.encode()).decode(),
        "networks": [{"uuid": net["id"]}]}})
    assert r.status_code == 202, r.text
    server = cloud.compute.get(f"/v2.1/servers/{r.json()['server']['id']}").json()["server"]
    port = cloud.network.get("/v2.0/ports", params={"device_id": server["id"]}).json()
    return {"server": server, "port": port["ports"][0], "net": net, "subnet": subnet,
            "key": key.json()["keypair"]}


def get(cloud, instance, path, **kw):
    s = instance["server"]
    return cloud.metadata(path, s["id"], s["tenant_id"], **kw)


def test_headers_and_signature(cloud, instance):
    s = instance["server"]
    root = cloud.metadata("/", headers={})
    assert root.status_code == 200 and root.text.splitlines()[-2:] == ["2009-04-04", "latest"]
    good = signed(s["id"], s["tenant_id"])
    for missing, message in (("X-Instance-ID", "X-Instance-ID header is missing"),
                             ("X-Instance-ID-Signature", "X-Instance-ID-Signature header is "
                                                         "missing"),
                             ("X-Tenant-ID", "X-Tenant-ID header is missing")):
        headers = {k: v for k, v in good.items() if k != missing}
        r = cloud.metadata("/latest/meta-data/", headers=headers)
        assert r.status_code == 400 and message in r.text, r.text
    forged = {**good, "X-Instance-ID-Signature": signed(s["id"], s["tenant_id"],
                                                        secret="guess")[
        "X-Instance-ID-Signature"]}
    r = cloud.metadata("/latest/meta-data/", headers=forged)
    assert r.status_code == 403 and "Invalid proxy request signature." in r.text
    # a correct signature for another project's id: not found (never another's data)
    r = cloud.metadata("/latest/meta-data/", s["id"], "some-other-project")
    assert r.status_code == 404
    r = cloud.metadata("/latest/meta-data/", "6d1b5f9e-2b2e-4c1a-8f86-00000000000a",
                       s["tenant_id"])
    assert r.status_code == 404


def test_ec2_tree(cloud, instance):
    port = instance["port"]
    ip = port["fixed_ips"][0]["ip_address"]
    listing = get(cloud, instance, "/latest/meta-data/")
    assert listing.headers["content-type"].startswith("text/plain")
    for name in ("ami-id", "ami-launch-index", "hostname", "instance-id", "instance-type",
                 "local-hostname", "local-ipv4", "public-ipv4", "public-keys/",
                 "placement/", "reservation-id", "security-groups", "block-device-mapping/"):
        assert name in listing.text.splitlines()
    expect = {"hostname": "md-server-1.novalocal", "local-ipv4": ip, "public-ipv4": "",
              "instance-type": "m1.tiny", "security-groups": "default",
              "placement/availability-zone": "nova", "ami-launch-index": "0",
              "public-keys/": "0=md-key", "public-keys/0/": "openssh-key",
              "public-keys/0/openssh-key": instance["key"]["public_key"],
              "block-device-mapping/": "ami\nroot"}
    for path, value in expect.items():
        for version in ("latest", "2009-04-04"):
            r = get(cloud, instance, f"/{version}/meta-data/{path}")
            assert (r.status_code, r.text) == (200, value), (version, path)
    assert get(cloud, instance, "/latest/meta-data/instance-id").text.startswith("i-")
    assert get(cloud, instance, "/latest/meta-data/ami-id").text == "ami-00000002"
    assert get(cloud, instance, "/latest").text == "meta-data/\nuser-data"
    assert get(cloud, instance, "/latest/user-data").text == USER_DATA
    assert get(cloud, instance, "//latest//meta-data//hostname/").text == \
        "md-server-1.novalocal"
    # older versions show less: no instance-type before 2007-08-29
    assert "instance-type" not in get(cloud, instance, "/2007-01-19/meta-data/").text
    for missing in ("/latest/meta-data/nope", "/2010-01-01/meta-data/", "/latest/foo/bar",
                    "/latest/meta-data/public-keys/1", "/latest/meta-data/hostname/x"):
        assert get(cloud, instance, missing).status_code == 404, missing


def test_openstack_tree(cloud, instance):
    s, port, net = instance["server"], instance["port"], instance["net"]
    versions = get(cloud, instance, "/openstack").text.splitlines()
    assert "2018-08-27" in versions and versions[-1] == "latest"
    assert get(cloud, instance, "/openstack/").text.splitlines() == versions
    listing = get(cloud, instance, "/openstack/2018-08-27/").text.splitlines()
    assert listing == ["meta_data.json", "user_data", "password", "vendor_data.json",
                       "network_data.json", "vendor_data2.json"]
    assert get(cloud, instance, "/openstack/2012-08-10").text.splitlines() == [
        "meta_data.json", "user_data"]
    md = get(cloud, instance, "/openstack/2018-08-27/meta_data.json")
    assert md.headers["content-type"] == "application/json"
    md = md.json()
    assert md["uuid"] == s["id"] and md["name"] == "md_Server 1"
    assert md["hostname"] == "md-server-1.novalocal"
    assert md["public_keys"] == {"md-key": instance["key"]["public_key"]}
    assert md["keys"] == [{"name": "md-key", "type": "ssh",
                           "data": instance["key"]["public_key"]}]
    assert md["meta"] == {"role": "db"} and md["project_id"] == s["tenant_id"]
    assert md["availability_zone"] == "nova" and md["devices"] == []
    assert len(base64.b64decode(md["random_seed"])) == 512
    assert "dedicated_cpus" not in md  # 2020-10-14 and later
    assert "dedicated_cpus" in get(cloud, instance, "/openstack/latest/meta_data.json").json()
    nd = get(cloud, instance, "/openstack/latest/network_data.json").json()
    assert nd == {
        "links": [{"id": "tap" + port["id"][:11], "vif_id": port["id"], "type": "ovs",
                   "mtu": net["mtu"], "ethernet_mac_address": port["mac_address"]}],
        "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap" + port["id"][:11],
                      "network_id": net["id"]}],
        "services": [{"type": "dns", "address": "10.90.0.53"}]}
    assert get(cloud, instance, "/openstack/latest/user_data").text == USER_DATA
    assert get(cloud, instance, "/openstack/latest/vendor_data.json").json() == {}
    assert get(cloud, instance, "/openstack/latest/vendor_data2.json").json() == {}
    for missing in ("/openstack/2011-01-01/meta_data.json", "/openstack/latest/nope",
                    "/openstack/latest/meta_data.json/x", "/openstack/2013-04-04/"
                    "network_data.json"):
        assert get(cloud, instance, missing).status_code == 404, missing


def test_password_is_posted_once(cloud, instance):
    assert get(cloud, instance, "/openstack/latest/password").text == ""
    too_long = get(cloud, instance, "/openstack/latest/password", method="POST",
                   content=b"x" * 2000)
    assert too_long.status_code == 400
    r = get(cloud, instance, "/openstack/latest/password", method="POST", content=b"enc-pw")
    assert r.status_code == 200
    again = get(cloud, instance, "/openstack/latest/password", method="POST", content=b"x")
    assert again.status_code == 409
    assert get(cloud, instance, "/openstack/2013-04-04/password").text == "enc-pw"
    assert get(cloud, instance, "/openstack/2012-08-10/password").status_code == 404


class _Signer(http.server.BaseHTTPRequestHandler):
    """The metadata agent's part for one instance: add its signed headers, forward."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        r = httpx.get(self.server.target + self.path, headers=self.server.headers)
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("content-type", "text/plain"))
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON) or subprocess.run(
    [SYSTEM_PYTHON, "-c", "import cloudinit"], capture_output=True).returncode != 0,
    reason="needs Debian's cloud-init (scripts/install-deps.sh)")
def test_cloud_init_reads_the_service(cloud, instance):
    s, port = instance["server"], instance["port"]
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Signer)
    proxy.target = cloud.compute_server.metadata_url
    proxy.headers = signed(s["id"], s["tenant_id"])
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        out = subprocess.run([SYSTEM_PYTHON, str(READER),
                              f"http://127.0.0.1:{proxy.server_address[1]}"],
                             capture_output=True, text=True, timeout=120)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["version"] == "2018-08-27"  # the newest cloud-init 22.4 knows
    assert seen["uuid"] == s["id"] and seen["hostname"] == "md-server-1.novalocal"
    assert seen["public_keys"] == {"md-key": instance["key"]["public_key"]}
    assert seen["random_seed_bytes"] == 512
    assert seen["userdata"] == USER_DATA and seen["ec2_userdata"] == USER_DATA
    assert seen["networkdata"]["links"][0]["ethernet_mac_address"] == port["mac_address"]
    (nic,) = seen["net_config"]["config"][:1]
    assert nic["mac_address"] == port["mac_address"] and nic["mtu"] == instance["net"]["mtu"]
    assert nic["subnets"] == [{"type": "dhcp4"}]
    assert seen["ec2"]["instance-type"] == "m1.tiny"
    assert seen["ec2"]["public-keys"] == {"md-key": instance["key"]["public_key"]}
    assert seen["ec2"]["local-ipv4"] == port["fixed_ips"][0]["ip_address"]
    # (read_v2's own EC2 read asks 169.254.169.254 itself: see the functional test)
