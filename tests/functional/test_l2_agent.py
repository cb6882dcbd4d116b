"""The L2 agent (`fermion agent l2`) wires instances on a simulated host through a real server.

A real `fermion server`, a host = namespace + its own userspace OVS, instances plugged as
os-vif does (external_ids iface-id / attached-mac). The agent runs as the real command
(`--once` passes), so the CLI, the HTTP client, the applier and the pure flow compiler are
all exercised together.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from fermion.agent import cookies
from fermion.lab.host import plug_instance
from fermion.linux import netns as ns
from tests.fixtures.server import venv_bin
from tests.functional.test_hosts import PING, ping, tcpdump_listening

pytestmark = pytest.mark.root


def run_agent(server, host, *extra: str) -> dict:
    """One `fermion agent l2 --once` pass for `host`; returns its JSON summary."""
    argv = [venv_bin("fermion"), "agent", "l2", "--once", "--host", host.name,
            "--server", server.url, "--ovs-rundir", str(host.rundir),
            "--datapath-type", host.ovs.datapath_type, *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_network(client, name: str, cidr: str) -> str:
    r = client.post("/v2.0/networks", json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    r = client.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}})
    assert r.status_code == 201, r.text
    return net["id"]


def make_port(client, network_id: str, host: str) -> dict:
    r = client.post("/v2.0/ports", json={"port": {"network_id": network_id,
                                                  "binding:host_id": host}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def plug(host, name: str, port: dict):
    ip = port["fixed_ips"][0]["ip_address"]
    return plug_instance(host, name, port["mac_address"], f"{ip}/24", iface_id=port["id"])


def no_reply(src, dst) -> bool:
    # one probe, 2 s for its answer (busybox ping's -w runs far longer while ARP fails)
    out = src.exec([*PING, "-c", "1", "-W", "2", dst.ip], check=False)
    return out.returncode != 0


def test_one_host_agent_wires_ports(lab_hosts, fermion_server):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")

    net1 = make_network(api, "net1", "10.0.1.0/24")
    net2 = make_network(api, "net2", "10.0.2.0/24")
    p1, p2 = make_port(api, net1, host.name), make_port(api, net1, host.name)
    p3 = make_port(api, net2, host.name)

    first = run_agent(server, host, "--tunnel-types", "vxlan")  # bridges, nothing wired
    assert first["wired"] == []
    assert {"br-int", "br-tun"} <= set(host.ovs.list_bridges())
    assert "patch-tun" in host.ovs.list_ports("br-int")
    assert "patch-int" in host.ovs.list_ports("br-tun")

    vm1, vm2, vm3 = plug(host, "vm1", p1), plug(host, "vm2", p2), plug(host, "vm3", p3)
    second = run_agent(server, host, "--tunnel-types", "vxlan")
    assert sorted(second["wired"]) == sorted([p1["id"], p2["id"], p3["id"]])
    vlans = second["local_vlans"]
    assert vlans[net1] != vlans[net2]
    # the local VLAN is recorded on the OVS port, next to the network it stands for
    row = host.ovs.vsctl("--format=json", "--columns=tag,other_config", "list", "Port",
                         vm1.port)
    assert str(vlans[net1]) in row and net1 in row

    ping(vm1, vm2)
    ping(vm2, vm1)
    assert no_reply(vm3, vm1), "an instance on another network reached net1"

    for p in (p1, p2, p3):
        port = api.get(f"/v2.0/ports/{p['id']}").json()["port"]
        assert port["status"] == "ACTIVE", port
        assert port["binding:vif_type"] == "ovs"

    dump = host.ovs.ofctl("br-int", "dump-flows")
    ours = f"cookie=0x{cookies.AGENT_MARK:04x}"
    tables = {int(m) for m in re.findall(rf"{ours}\w*, .*?table=(\d+)", dump)}
    assert {0, 24, 25, 60} <= tables, dump

    # a further pass finds nothing to change
    third = run_agent(server, host, "--tunnel-types", "vxlan")
    assert third["ovs_changes"] == 0, third
    assert not any(third["flows_added"].values()), third
    assert not any(third["flows_deleted"].values()), third
    ping(vm1, vm2)

    # unplugging vm2: its flows go, its port is reported DOWN
    from fermion.lab.host import unplug_instance

    unplug_instance(vm2)
    fourth = run_agent(server, host, "--tunnel-types", "vxlan")
    assert p2["id"] not in fourth["wired"]
    assert sum(fourth["flows_deleted"].values()) > 0
    port = api.get(f"/v2.0/ports/{p2['id']}").json()["port"]
    assert port["status"] == "DOWN"
    assert not [n for n in ns.list_netns() if n == vm2.ns]


def test_two_hosts_vxlan(lab_hosts, fermion_server):
    server = fermion_server()
    api = server.client()
    h1, h2 = lab_hosts.add_host("h1"), lab_hosts.add_host("h2")
    ul = lab_hosts.add_underlay("ul")
    ul.attach(h1, "192.168.100.1/24")
    ul.attach(h2, "192.168.100.2/24")

    net = make_network(api, "vx", "10.0.5.0/24")
    p1, p2 = make_port(api, net, h1.name), make_port(api, net, h2.name)

    def agent(host):
        return run_agent(server, host, "--tunnel-types", "vxlan", "--local-ip", host.local_ip)

    agent(h1), agent(h2)  # both report their tunneling_ip; bridges exist
    vm1, vm2 = plug(h1, "vm1", p1), plug(h2, "vm2", p2)
    agent(h1), agent(h2)
    assert "vxlan-c0a86402" in h1.ovs.list_ports("br-tun")
    assert "vxlan-c0a86401" in h2.ovs.list_ports("br-tun")
    ping(vm1, vm2, settle=8)
    # on the underlay: UDP 4789 with the network's VNI between the hosts' local_ips
    vni = api.get(f"/v2.0/networks/{net}").json()["network"]["provider:segmentation_id"]
    cap = ns.popen_in(ul.ns, ul.tcpdump_argv(h1, "-n", "-l", "-c", "2", "udp", "port", "4789"),
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tcpdump_listening(cap)
        ping(vm1, vm2)
        out, _ = cap.communicate(timeout=10)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    assert "192.168.100.1" in out and "192.168.100.2" in out, out
    assert f"vni {vni}" in out, out
    for p in (p1, p2):
        assert api.get(f"/v2.0/ports/{p['id']}").json()["port"]["status"] == "ACTIVE"
    tun = h1.ovs.ofctl("br-tun", "dump-flows", "table=4")
    assert f"tun_id={vni:#x}" in tun, tun
    again = agent(h1)
    assert not any(again["flows_added"].values()) and again["ovs_changes"] == 0, again


def test_agent_loop_wires_a_port_plugged_while_it_runs(lab_hosts, fermion_server):
    """The agent as a daemon: heartbeat, change feed, local passes; a port plugged while it
    runs becomes ACTIVE and passes traffic within a bounded wait."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    argv = [venv_bin("fermion"), "agent", "l2", "--host", host.name, "--server", server.url,
            "--ovs-rundir", str(host.rundir), "--datapath-type", host.ovs.datapath_type,
            "--tunnel-types", "vxlan", "--poll-interval", "0.5"]
    log = open(host.rundir / "l2-agent.log", "w")  # noqa: SIM115 - closed below
    agent = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while "br-int" not in host.ovs.list_bridges() or "patch-tun" not in \
                host.ovs.list_ports("br-int"):
            assert agent.poll() is None, (host.rundir / "l2-agent.log").read_text()
            assert time.monotonic() < deadline, "agent made no br-int"
            time.sleep(0.1)
        agents = api.get("/v2.0/agents", params={"host": host.name}).json()["agents"]
        assert [a["agent_type"] for a in agents] == ["Open vSwitch agent"]
        assert agents[0]["alive"] is True

        net = make_network(api, "net1", "10.0.1.0/24")
        p1, p2 = make_port(api, net, host.name), make_port(api, net, host.name)
        vm1, vm2 = plug(host, "vm1", p1), plug(host, "vm2", p2)
        deadline = time.monotonic() + 15
        while True:
            statuses = [api.get(f"/v2.0/ports/{p['id']}").json()["port"]["status"]
                        for p in (p1, p2)]
            if statuses == ["ACTIVE", "ACTIVE"]:
                break
            assert agent.poll() is None, (host.rundir / "l2-agent.log").read_text()
            assert time.monotonic() < deadline, statuses
            time.sleep(0.2)
        ping(vm1, vm2)
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        log.close()


def test_two_hosts_flat_and_vlan(lab_hosts, fermion_server):
    """Flat and VLAN networks on physnet (br-phys, a NIC on a shared link): untagged frames
    for flat, VLAN <segmentation id> on the link for VLAN; instances on both hosts reach
    each other on both."""
    server = fermion_server()
    api = server.client()
    h1, h2 = lab_hosts.add_host("h1"), lab_hosts.add_host("h2")
    link = lab_hosts.add_underlay("ph")
    for h in (h1, h2):
        link.attach(h, ifname="ph0", ovs_bridge=None)

    def agent(host):
        return run_agent(server, host, "--bridge-mappings", "physnet:br-phys")

    for h in (h1, h2):
        agent(h)
        assert "phy-br-phys" in h.ovs.list_ports("br-phys")
        assert "int-br-phys" in h.ovs.list_ports("br-int")
        h.ovs.add_port("br-phys", "ph0")  # the operator's part: the NIC on the physnet bridge

    nets = {}
    for kind, extra, cidr in (("flat", {}, "10.0.7.0/24"),
                              ("vlan", {"provider:segmentation_id": 100}, "10.0.8.0/24")):
        r = api.post("/v2.0/networks", json={"network": {
            "name": kind, "provider:network_type": kind,
            "provider:physical_network": "physnet", **extra}})
        assert r.status_code == 201, r.text
        nid = r.json()["network"]["id"]
        r = api.post("/v2.0/subnets", json={"subnet": {
            "network_id": nid, "cidr": cidr, "ip_version": 4, "enable_dhcp": False}})
        assert r.status_code == 201, r.text
        nets[kind] = nid
    vms = {}
    for kind, nid in nets.items():
        for h in (h1, h2):
            vms[kind, h.name] = plug(h, f"{kind[0]}{h.name}", make_port(api, nid, h.name))
    agent(h1), agent(h2)

    for kind, vlan_expected in (("flat", False), ("vlan", True)):
        src, dst = vms[kind, "h1"], vms[kind, "h2"]
        ping(src, dst, settle=8)
        cap = ns.popen_in(link.ns, link.tcpdump_argv(h1, "-e", "-n", "-l", "-c", "2", "icmp",
                                                     "or", "(vlan", "and", "icmp)",
                                                     ifname="ph0"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            tcpdump_listening(cap)
            ping(src, dst)
            out, _ = cap.communicate(timeout=10)
        finally:
            if cap.poll() is None:
                cap.kill()
                cap.wait()
        assert dst.ip in out, out
        if vlan_expected:
            assert "vlan 100" in out, out
        else:
            assert "vlan" not in out, out
    again = agent(h1)
    assert not any(again["flows_added"].values()) and again["ovs_changes"] == 0, again


def set_ip(vm, cidr: str) -> None:
    vm.exec(["ip", "addr", "flush", "dev", vm.dev])
    vm.exec(["ip", "addr", "add", cidr, "dev", vm.dev])
    vm.exec(["ip", "neigh", "flush", "all"], check=False)


def test_anti_spoofing_and_address_pairs(lab_hosts, fermion_server):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    net = make_network(api, "net1", "10.0.1.0/24")
    p1, p2 = make_port(api, net, host.name), make_port(api, net, host.name)
    run_agent(server, host)
    vm1, vm2 = plug(host, "vm1", p1), plug(host, "vm2", p2)
    run_agent(server, host)
    ping(vm1, vm2)

    real = vm1.cidr
    set_ip(vm1, "10.0.1.99/24")  # an address the port does not have
    assert no_reply(vm1, vm2), "a spoofed source address got through"

    r = api.put(f"/v2.0/ports/{p1['id']}", json={"port": {
        "allowed_address_pairs": [{"ip_address": "10.0.1.99"}]}})
    assert r.status_code == 200, r.text
    run_agent(server, host)
    vm1.exec(["ip", "neigh", "flush", "all"], check=False)  # forget the failed ARP
    ping(vm1, vm2)  # the pair's address now passes ...
    set_ip(vm1, "10.0.1.98/24")
    assert no_reply(vm1, vm2), "only the pair's address may pass"  # ... and only that one

    set_ip(vm1, real)
    ping(vm1, vm2)
    vm1.exec(["ip", "link", "set", vm1.dev, "address", "fa:16:3e:99:99:99"])
    vm1.exec(["ip", "neigh", "flush", "all"], check=False)
    vm2.exec(["ip", "neigh", "flush", "all"], check=False)
    assert no_reply(vm1, vm2), "a spoofed MAC got through"


ECHO_ONCE = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8); print("READY", flush=True)
s.settimeout(15)
while True:
    c, _ = s.accept(); c.sendall(b"hi"); c.close()
"""
CONNECT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print("OK" if c.recv(2) == b"hi" else "BAD")
except OSError as e:
    print("FAIL", e)
"""


def tcp_ok(client, server_vm, port: int) -> bool:
    out = client.exec([sys.executable, "-c", CONNECT, server_vm.ip, str(port)], timeout=10)
    return out.stdout.strip() == "OK"


def test_security_groups(lab_hosts, fermion_server):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    net = make_network(api, "net1", "10.0.1.0/24")
    web = api.post("/v2.0/security-groups", json={"security_group": {"name": "web"}})
    assert web.status_code == 201, web.text
    web = web.json()["security_group"]
    opened = api.post("/v2.0/security-groups", json={"security_group": {"name": "open"}})
    opened = opened.json()["security_group"]
    r = api.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": opened["id"], "direction": "ingress", "ethertype": "IPv4",
        "remote_ip_prefix": "0.0.0.0/0"}})
    assert r.status_code == 201, r.text

    def port(sg):
        r = api.post("/v2.0/ports", json={"port": {"network_id": net, "binding:host_id":
                                                   host.name, "security_groups": [sg]}})
        assert r.status_code == 201, r.text
        return r.json()["port"]

    ps, pc = port(web["id"]), port(opened["id"])
    run_agent(server, host)
    srv, cli = plug(host, "srv", ps), plug(host, "cli", pc)
    run_agent(server, host)

    procs = []
    try:
        for vm, ports in ((srv, (22, 23)), (cli, (8000,))):
            for p in ports:
                proc = vm.popen([sys.executable, "-c", ECHO_ONCE, vm.ip, str(p)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                procs.append(proc)
                assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        assert not tcp_ok(cli, srv, 22), "no ingress rule, yet TCP got in"
        assert tcp_ok(srv, cli, 8000), "replies to the server's own connection were dropped"

        r = api.post("/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": web["id"], "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_ip_prefix": "10.0.1.0/24"}})
        assert r.status_code == 201, r.text
        run_agent(server, host)
        assert tcp_ok(cli, srv, 22), "the TCP 22 rule did not open port 22"
        assert not tcp_ok(cli, srv, 23), "the TCP 22 rule opened port 23 too"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
