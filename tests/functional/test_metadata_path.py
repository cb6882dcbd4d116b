"""Instance metadata end to end on real namespaces: instance -> 169.254.169.254 -> the
router's iptables REDIRECT (or the DHCP namespace on an isolated network) -> haproxy ->
the metadata agent's unix socket -> `fermion compute-api`'s metadata service.

The lab of the L3 agent's tests (a network node `net` and a compute node `cmp` joined by a
VXLAN underlay, a real `fermion server`, L3 and L2 agents run as `--once` passes) plus a
real `fermion compute-api` and the real `fermion agent metadata` (a daemon on `net`).
Servers are created through the Compute API (which makes and binds their ports); the test
plugs each server's port into `cmp` as the compute agent will (an instance namespace).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from fermion.compute import catalog
from fermion.lab.host import plug_instance
from fermion.linux import netns as ns
from tests.fixtures.compute import SECRET, signed
from tests.functional.test_dhcp_agent import DhcpSetup, Vm
from tests.functional.test_l3_agent import make_lab

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not all(shutil.which(b) for b in
                                         ("haproxy", "curl", "dnsmasq", "busybox")),
                                 reason="needs haproxy, curl, dnsmasq, busybox "
                                        "(scripts/install-deps.sh)")]

MD = "http://169.254.169.254"
READER = Path(__file__).resolve().parents[1] / "fixtures" / "cloudinit_reader.py"
WAIT = 30.0


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def curl(vm, path: str, *extra: str, settle: float = 0.0):
    """curl from the instance; with ``settle``, retry until HTTP answers at all."""
    deadline = time.monotonic() + settle
    while True:
        out = vm.exec(["curl", "-sS", "-m", "10", "-w", "\n%{http_code}", *extra, MD + path],
                      check=False)
        if out.returncode == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    assert out.returncode == 0, out.stderr
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


class MetadataSetup:
    """compute-api next to the lab's server, and the metadata agent on the network node
    serving the socket the L3 agent's (and DHCP agent's) haproxy forward to."""

    def __init__(self, lab, compute_for, agent_procs):
        self.lab = lab
        self.cloud = compute_for(lab.server)
        self.socket = lab.net.rundir / "md.sock"  # what lab.l3_args() gives the L3 agent
        ini = lab.net.rundir / "metadata_agent.ini"
        ini.write_text("[DEFAULT]\n"
                       f"metadata_proxy_shared_secret = {SECRET}\n"
                       f"nova_metadata_port = {self.cloud.compute_server.metadata_port}\n")
        self.agent = agent_procs.start(lab.net, "metadata", lab.server, "--config-file",
                                       str(ini), "--metadata-proxy-socket", str(self.socket))
        self.agent.wait_for_log("serving")
        self.cloud.report_host(lab.cmp.name)

    def server(self, name: str, network_id: str, key_name: str) -> tuple[dict, dict]:
        """A server made through the Compute API, and its port."""
        r = self.cloud.compute.post("/v2.1/servers", json={"server": {
            "name": name, "imageRef": catalog.IMAGES[0].id, "flavorRef": "42",
            "key_name": key_name, "networks": [{"uuid": network_id}]}})
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        (port,) = self.cloud.network.get("/v2.0/ports", params={"device_id": sid}
                                         ).json()["ports"]
        assert port["binding:host_id"] == self.lab.cmp.name
        return self.cloud.compute.get(f"/v2.1/servers/{sid}").json()["server"], port

    def keypair(self, name: str) -> str:
        key = public_key()
        r = self.cloud.compute.post("/v2.1/os-keypairs",
                                    json={"keypair": {"name": name, "public_key": key}})
        assert r.status_code == 200, r.text
        return key


def plug(lab, name: str, server: dict, port: dict):
    ip = port["fixed_ips"][0]["ip_address"]
    return plug_instance(lab.cmp, name, port["mac_address"], f"{ip}/24", iface_id=port["id"],
                         vm_uuid=server["id"], gateway=ip.rsplit(".", 1)[0] + ".1", mtu=1450)


def test_router_path(lab_hosts, fermion_server, agent_procs, compute_for):
    """Acceptance 2 and 4 on the router path: each instance reads its own key and
    network_data.json (MAC, MTU 1450) through its router; cloud-init's reader works from
    inside; a spoofed X-Forwarded-For/X-Instance-ID or source address gets nobody else's
    data; an address without a port gets 404; forged or missing signatures are refused."""
    lab = make_lab(lab_hosts, fermion_server)
    md = MetadataSetup(lab, compute_for, agent_procs)
    net_id, subnet = lab.tenant_network("private", "10.0.0.0/24")
    lab.router("r1", subnet)
    keys = {"k1": md.keypair("k1"), "k2": md.keypair("k2")}
    s1, p1 = md.server("vm1", net_id, "k1")
    s2, p2 = md.server("vm2", net_id, "k2")
    vm1, vm2 = plug(lab, "vm1", s1, p1), plug(lab, "vm2", s2, p2)
    lax = lab.post("/v2.0/ports", {"port": {"network_id": net_id, "port_security_enabled": False,
                                            "binding:host_id": lab.cmp.name}})
    # an instance on a port without port security, using an address no port has
    vm3 = plug_instance(lab.cmp, "vm3", lax["mac_address"], "10.0.0.200/24",
                        iface_id=lax["id"], gateway="10.0.0.1", mtu=1450)
    lab.converge()

    for vm, server, port, key in ((vm1, s1, p1, "k1"), (vm2, s2, p2, "k2")):
        code, body = curl(vm, "/latest/meta-data/public-keys/0/openssh-key", settle=WAIT)
        assert (code, body) == (200, keys[key]), (vm.name, body)
        code, body = curl(vm, "/openstack/latest/network_data.json")
        (link,) = json.loads(body)["links"]
        assert (link["ethernet_mac_address"], link["mtu"]) == (port["mac_address"], 1450)
        assert link["vif_id"] == port["id"]
        code, body = curl(vm, "/openstack/latest/meta_data.json")
        assert json.loads(body)["uuid"] == server["id"]

    # the instance's own headers are not believed: haproxy's last X-Forwarded-For and the
    # router id it set decide, and the agent's own X-Instance-ID replaces the instance's
    code, body = curl(vm1, "/openstack/latest/meta_data.json",
                      "-H", f"X-Forwarded-For: {vm2.ip}", "-H", f"X-Instance-ID: {s2['id']}",
                      "-H", f"X-Tenant-ID: {s2['tenant_id']}",
                      "-H", "X-Neutron-Router-ID: nope")
    assert code == 200 and json.loads(body)["uuid"] == s1["id"]
    # a source address that is not the instance's: port security drops it
    ns.add_address("eth0", f"{vm2.ip}/32", netns=vm1.ns)
    out = vm1.exec(["curl", "-sS", "-m", "3", "--interface", vm2.ip,
                    MD + "/latest/meta-data/instance-id"], check=False)
    assert out.returncode != 0, out.stdout
    # an address with no port behind it: nobody's metadata
    assert curl(vm3, "/latest/meta-data/instance-id", settle=WAIT)[0] == 404

    # the service itself: no headers, or a forged signature
    service = md.cloud
    assert service.metadata("/latest/meta-data/", headers={}).status_code == 400
    forged = {**signed(s1["id"], s1["tenant_id"], secret="guess")}
    assert service.metadata("/latest/meta-data/", headers=forged).status_code == 403

    # cloud-init's own reader, inside the instance (both trees through the whole path)
    out = vm1.exec(["/usr/bin/python3", str(READER), MD], check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["uuid"] == s1["id"] and seen["public_keys"] == {"k1": keys["k1"]}
    assert seen["networkdata"]["links"][0]["ethernet_mac_address"] == p1["mac_address"]
    assert {"instance-id", "local-ipv4", "public-keys"} <= set(seen["ec2_from_v2"])
    assert seen["ec2"]["local-ipv4"] == vm1.ip

    # the guest read its metadata; with its host's report it is ACTIVE
    (state,) = service.report(lab.cmp.name, {"id": s1["id"], "power_state": "running",
                                             "lease": True})
    assert state["status"] == "ACTIVE"
    assert md.agent.alive()


def test_isolated_network_path(lab_hosts, fermion_server, agent_procs, compute_for):
    """Acceptance 2 on an isolated network: the lease routes 169.254.169.254 via the DHCP
    port, whose namespace's haproxy reaches the same metadata agent."""
    lab = make_lab(lab_hosts, fermion_server)
    md = MetadataSetup(lab, compute_for, agent_procs)
    r = httpx.post(lab.server.url + "/v2.0/networks", json={"network": {"name": "iso"}})
    net_id = r.json()["network"]["id"]
    r = httpx.post(lab.server.url + "/v2.0/subnets", json={"subnet": {
        "network_id": net_id, "cidr": "10.40.0.0/24", "ip_version": 4}})
    assert r.status_code == 201, r.text
    dhcp = DhcpSetup(lab.net, lab.server, agent_procs, enable_isolated_metadata="true",
                     metadata_proxy_socket=str(md.socket))
    dhcp.start()
    dhcp.wait_serving(net_id)
    key = md.keypair("iso-key")
    server, port = md.server("iso-vm", net_id, "iso-key")
    vm = Vm(lab.cmp, "iso-vm", port)
    lab.l2(lab.net), lab.l2(lab.cmp)  # wire the DHCP port and the instance's
    lease = vm.udhcpc()
    assert lease is not None
    routes = lease["staticroutes"].split()
    assert routes[:1] == ["169.254.169.254/32"], routes
    vm.configure(lease)
    assert int(lease["mtu"]) == 1450
    code, body = curl(vm, "/latest/meta-data/public-keys/0/openssh-key", settle=WAIT)
    assert (code, body) == (200, key)
    code, body = curl(vm, "/openstack/2018-08-27/network_data.json")
    (link,) = json.loads(body)["links"]
    assert (link["ethernet_mac_address"], link["mtu"]) == (port["mac_address"], 1450)
    assert json.loads(body)["networks"][0]["type"] == "ipv4_dhcp"
    code, body = curl(vm, "/openstack/latest/meta_data.json")
    assert json.loads(body)["uuid"] == server["id"]
