"""The L3 agent (`fermion agent l3`) realises routers on a simulated network node.

Topology (the seed's "separate network node"): a real `fermion server`; host `net` runs
the L2 agent (br-int, br-tun, br-ex for the flat external network `physnet`, NIC `ex0` on
the external segment) and the L3 agent; host `cmp` runs the L2 agent and the instances on a
VXLAN tenant network; the two are joined by a VXLAN underlay. The external segment is an
underlay namespace whose bridge carries 172.24.4.1: the "external host", also the external
subnet's gateway. Agents run as the real command; routers live in `<host ns>-qrouter-<id>`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

from fermion.agent.iptables_rules import RuleSet
from fermion.agent.l3_apply import apply_iptables
from fermion.agent.l3_model import METADATA_IP
from fermion.agent.l3_rules import new_ruleset
from fermion.lab.host import Host, Instance, Underlay, plug_instance
from fermion.lab.leftovers import remove_routers
from fermion.linux import conntrack
from fermion.linux import netns as ns
from fermion.linux.iptables import Iptables, detect_backend
from fermion.linux.proc import pid_alive
from tests.fixtures.metadata_sink import MetadataSink
from tests.fixtures.server import venv_bin
from tests.functional.test_hosts import PING, Lines, tcpdump_listening

pytestmark = pytest.mark.root

EXT_CIDR, EXT_GW = "172.24.4.0/24", "172.24.4.1"

# TCP server in an instance: echoes every line back, prints each line it got (flushed).
LINE_ECHO = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4); print("READY", flush=True)
while True:
    c, peer = s.accept(); print("PEER", peer[0], flush=True)
    f = c.makefile("rwb", buffering=0)
    for line in f:
        print(line.decode().strip(), flush=True); f.write(line)
"""
# Client: one line, echo expected; "stream" keeps sending a line every 50 ms until the
# file argv[4] exists, failing on any echo slower than 3 s (and saying every 5th echo);
# "hold" sends "before", waits for argv[4] to exist, sends "after" and says whether its
# echo came back within 2 s (ECHOED) or not (NO ECHO, CLOSED).
CLIENT = """
import os, socket, sys, time
host, port, mode, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = socket.create_connection((host, port), timeout=3); f = c.makefile("rwb", buffering=0)
def say(text):
    f.write(text.encode() + b"\\n")
    return f.readline().decode().strip()
if mode == "once":
    print("OK" if say("hello") == "hello" else "BAD"); sys.exit()
if mode == "hold":
    assert say("before") == "before"; print("CONNECTED", flush=True)
    while not os.path.exists(flag): time.sleep(0.05)
    try:
        f.write(b"after\\n"); c.settimeout(2)
        print("ECHOED" if f.readline() else "CLOSED", flush=True)
    except OSError:
        print("NO ECHO", flush=True)
    sys.exit()
n = 0
print("STREAMING", flush=True)
while not os.path.exists(flag):
    n += 1
    try:
        got = say(f"seq {n}")
    except OSError as exc:
        print(f"FAIL at {n}: {exc}", flush=True); sys.exit(1)
    if got != f"seq {n}":
        print(f"FAIL at {n}: {got!r}", flush=True); sys.exit(1)
    if n % 5 == 0:
        print(f"ECHOED {n}", flush=True)
    time.sleep(0.05)
print(f"OK {n}", flush=True)
"""


# ------------------------------------------------------------------------- the lab


@dataclass
class Lab:
    server: object
    api: object
    net: Host
    cmp: Host
    ext: Underlay  # the external segment; its namespace is the external host
    ext_net: str = ""
    ext_subnet: str = ""
    sink_socket: str = ""
    open_sg: str = ""  # a security group letting everything in (instances are servers here)
    routers: list[str] = field(default_factory=list)

    # -- agents
    def l3_args(self, *extra: str) -> list[str]:
        host = self.net
        return ["--ovs-rundir", str(host.rundir), "--datapath-type", host.ovs.datapath_type,
                "--ovs-netns", host.ns, "--namespace-prefix", f"{host.ns}-",
                "--state-path", str(host.rundir / "l3"),
                "--metadata-proxy-socket", self.sink_socket or str(host.rundir / "md.sock"),
                *extra]

    def l3(self, *extra: str) -> dict:
        """One `fermion agent l3 --once` pass on the network node; its JSON summary."""
        return _once([venv_bin("fermion"), "agent", "l3", "--once", "--host", self.net.name,
                      "--server", self.server.url, *self.l3_args(*extra)])

    def l2(self, host: Host) -> dict:
        extra = ["--tunnel-types", "vxlan", "--local-ip", host.local_ip]
        if host is self.net:
            extra += ["--bridge-mappings", "physnet:br-ex"]
        return _once([venv_bin("fermion"), "agent", "l2", "--once", "--host", host.name,
                      "--server", self.server.url, "--ovs-rundir", str(host.rundir),
                      "--datapath-type", host.ovs.datapath_type, *extra])

    def converge(self) -> dict:
        """L3 on the network node, then L2 on both hosts (which wires the new qr-/qg-)."""
        summary = self.l3()
        self.l2(self.net), self.l2(self.cmp)
        return summary

    def ns_of(self, router_id: str) -> str:
        return f"{self.net.ns}-qrouter-{router_id}"

    # -- API
    def post(self, path: str, body: dict) -> dict:
        r = self.api.post(path, json=body)
        assert r.status_code == 201, r.text
        return next(iter(r.json().values()))

    def put(self, path: str, body: dict) -> dict:
        r = self.api.put(path, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def tenant_network(self, name: str, cidr: str) -> tuple[str, str]:
        net = self.post("/v2.0/networks", {"network": {"name": name}})
        sub = self.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr,
                                                     "ip_version": 4, "enable_dhcp": False}})
        return net["id"], sub["id"]

    def router(self, name: str, *subnets: str) -> str:
        r = self.post("/v2.0/routers", {"router": {
            "name": name, "external_gateway_info": {"network_id": self.ext_net}}})
        for subnet in subnets:
            self.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": subnet})
        self.routers.append(r["id"])
        return r["id"]

    def gateway_ip(self, router_id: str) -> str:
        r = self.api.get(f"/v2.0/routers/{router_id}").json()["router"]
        return r["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]

    def instance(self, name: str, network_id: str) -> tuple[Instance, dict]:
        port = self.post("/v2.0/ports", {"port": {"network_id": network_id,
                                                  "binding:host_id": self.cmp.name,
                                                  "security_groups": [self.open_sg]}})
        ip = port["fixed_ips"][0]["ip_address"]
        gateway = ip.rsplit(".", 1)[0] + ".1"
        vm = plug_instance(self.cmp, name, port["mac_address"], f"{ip}/24", iface_id=port["id"],
                           gateway=gateway, mtu=1450)
        return vm, port

    def floating_ip(self, port_id: str) -> dict:
        return self.post("/v2.0/floatingips", {"floatingip": {
            "floating_network_id": self.ext_net, "port_id": port_id}})

    # -- the external host
    def ext_exec(self, argv: list[str], **kwargs):
        return ns.exec_in(self.ext.ns, argv, **kwargs)

    def ext_popen(self, argv: list[str], **kwargs):
        return ns.popen_in(self.ext.ns, argv, **kwargs)


def _once(argv: list[str]) -> dict:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_lab(lab_hosts, fermion_server, *, sink_socket: str = "") -> Lab:
    server = fermion_server()
    net, cmp = lab_hosts.add_host("net"), lab_hosts.add_host("cmp")
    net.teardown.add("L3 agent leftovers", remove_routers, net, net.rundir / "l3")
    ul = lab_hosts.add_underlay("ul")
    ul.attach(net, "192.168.100.1/24")
    ul.attach(cmp, "192.168.100.2/24")
    ext = lab_hosts.add_underlay("ex")
    ext.attach(net, ifname="ex0", ovs_bridge=None)
    ns.add_address(ext.BRIDGE, f"{EXT_GW}/24", netns=ext.ns)
    lab = Lab(server, server.client(), net, cmp, ext, sink_socket=sink_socket)
    lab.l3()  # the L3 agent reports: routers are scheduled to it
    lab.l2(net), lab.l2(cmp)
    net.ovs.add_port("br-ex", "ex0")  # the operator's part: the NIC on the external bridge
    ext_net = lab.post("/v2.0/networks", {"network": {
        "name": "public", "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "physnet"}})
    lab.ext_net = ext_net["id"]
    lab.ext_subnet = lab.post("/v2.0/subnets", {"subnet": {
        "network_id": lab.ext_net, "cidr": EXT_CIDR, "gateway_ip": EXT_GW, "ip_version": 4,
        "enable_dhcp": False, "allocation_pools": [{"start": "172.24.4.10",
                                                    "end": "172.24.4.200"}]}})["id"]
    lab.open_sg = lab.post("/v2.0/security-groups", {"security_group": {"name": "open"}})["id"]
    lab.post("/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": lab.open_sg, "direction": "ingress", "ethertype": "IPv4",
        "remote_ip_prefix": "0.0.0.0/0"}})
    return lab


# ------------------------------------------------------------------------- helpers


def reach(src_exec, address: str, *, settle: float = 8.0) -> None:
    """`address` answers pings from src (first answer within `settle` s, then 3 of 3)."""
    deadline = time.monotonic() + settle
    while src_exec([*PING, "-c1", "-w1", address], check=False).returncode != 0:
        assert time.monotonic() < deadline, f"no answer from {address}"
    out = src_exec([*PING, "-c3", "-i", "0.2", "-w", "5", address], check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def unreachable(src_exec, address: str) -> bool:
    return src_exec([*PING, "-c", "2", "-i", "0.3", "-W", "1", address],
                    check=False).returncode != 0


def capture(lab: Lab, bpf: list[str], action, count: int = 1) -> str:
    """tcpdump on the external segment while `action()` runs; the lines it printed."""
    cap = lab.ext_popen(["tcpdump", "-n", "-l", "-i", lab.ext.BRIDGE, "-c", str(count), *bpf],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tcpdump_listening(cap)
        action()
        out, _ = cap.communicate(timeout=10)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    return out


def router_state(netns: str) -> dict[str, str]:
    """What a router namespace holds: links, addresses, routes, iptables rules (no counters)."""
    ipt = Iptables(detect_backend())
    state = {what: ns.exec_in(netns, ["ip", "-j", *what.split()]).stdout
             for what in ("link", "addr", "route", "-6 route")}
    state.update({f"iptables {t}": ipt.list_rules(netns, t) for t in ("filter", "nat", "mangle")})
    return state


class Echo:
    """LINE_ECHO in an instance, stopped at exit."""

    def __init__(self, vm: Instance, port: int):
        self.proc = vm.popen([sys.executable, "-c", LINE_ECHO, vm.ip, str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "READY", self.proc.stderr.read()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        out, _ = self.proc.communicate(timeout=10)
        return out

    def __enter__(self) -> Echo:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def tcp_once(src_exec, address: str, port: int) -> bool:
    out = src_exec([sys.executable, "-c", CLIENT, address, str(port), "once", "-"],
                   check=False, timeout=15)
    return out.stdout.strip() == "OK"


def ext_listener(lab: Lab, port: int) -> subprocess.Popen:
    proc = lab.ext_popen([sys.executable, "-c", LINE_ECHO, EXT_GW, str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
    return proc


# ------------------------------------------------------------------------- tests


def test_snat_floating_ip_and_rules(lab_hosts, fermion_server, tmp_path):
    """Acceptance 1-3: SNAT to the gateway address, a floating IP both ways, the rules in
    recognisable chains, and a clean disassociation (no stale conntrack entry)."""
    lab = make_lab(lab_hosts, fermion_server)
    net_id, subnet = lab.tenant_network("private", "10.0.0.0/24")
    vm, port = lab.instance("vm1", net_id)
    rid = lab.router("r1", subnet)
    first = lab.converge()
    assert first["routers"] == [rid]
    gw_ip = lab.gateway_ip(rid)
    qrouter = lab.ns_of(rid)
    assert ns.netns_exists(qrouter)
    links = ns.list_links(netns=qrouter)
    assert any(link.startswith("qr-") for link in links) and \
        any(link.startswith("qg-") for link in links), links
    assert ns.exec_in(qrouter, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    assert {p for p in lab.net.ovs.list_ports("br-int") if p[:3] in ("qr-", "qg-")} == \
        {link for link in links if link[:3] in ("qr-", "qg-")}

    # 1. SNAT: the instance reaches the external host, which sees the gateway address
    reach(vm.exec, EXT_GW, settle=15)
    out = capture(lab, ["icmp", "and", "dst", EXT_GW],
                  lambda: vm.exec([*PING, "-c", "1", "-W", "2", EXT_GW], check=False))
    assert f"{gw_ip} > {EXT_GW}" in out, out

    # 2. a floating IP: in (ICMP, TCP), out (its address as source)
    fip = lab.floating_ip(port["id"])
    fip_ip = fip["floating_ip_address"]
    summary = lab.l3()
    assert summary["fips_added"] == [fip_ip], summary
    shown = lab.api.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["status"] == "ACTIVE", shown  # reported by the agent once set up
    reach(lab.ext_exec, fip_ip)
    with Echo(vm, 8080):
        assert tcp_once(lab.ext_exec, fip_ip, 8080)
    out = capture(lab, ["icmp", "and", "dst", EXT_GW],
                  lambda: vm.exec([*PING, "-c", "1", "-W", "2", EXT_GW], check=False))
    assert f"{fip_ip} > {EXT_GW}" in out, out

    # 3. the rules, in Neutron's chains; the floating IP on qg-
    nat = ns.exec_in(qrouter, ["iptables", "-t", "nat", "-S"]).stdout
    qg = next(link for link in links if link.startswith("qg-"))
    for rule in (f"-A neutron-l3-agent-snat -o {qg} -j SNAT --to-source {gw_ip}",
                 f"-A neutron-l3-agent-PREROUTING -d {fip_ip}/32 -j DNAT --to-destination "
                 f"{vm.ip}",
                 f"-A neutron-l3-agent-OUTPUT -d {fip_ip}/32 -j DNAT --to-destination {vm.ip}",
                 f"-A neutron-l3-agent-float-snat -s {vm.ip}/32 -j SNAT --to-source {fip_ip}",
                 "-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp "
                 "--dport 80 -j REDIRECT --to-ports 9697",
                 "-A POSTROUTING -j neutron-postrouting-bottom"):
        assert rule in nat, f"{rule!r} not in:\n{nat}"
    assert nat.count("-A PREROUTING -j neutron-l3-agent-PREROUTING") == 1, nat
    addrs = ns.exec_in(qrouter, ["ip", "addr", "show", "dev", qg]).stdout
    assert f"inet {fip_ip}/32" in addrs and f"inet {gw_ip}/24" in addrs, addrs

    # a further pass changes nothing
    again = lab.l3()
    assert not again["changes"] and not again["iptables_changed"], again

    # disassociation: the external host cannot reach the instance, and an established
    # connection through the old floating IP carries no further packet
    flag = tmp_path / "send-after"
    with Echo(vm, 8081) as echo:
        client = lab.ext_popen([sys.executable, "-c", CLIENT, fip_ip, "8081", "hold",
                                str(flag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        try:
            assert client.stdout.readline().strip() == "CONNECTED", client.stderr.read()
            assert fip_ip in conntrack.list_entries(qrouter)
            lab.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
            summary = lab.l3()
            assert summary["fips_removed"] == [fip_ip], summary
            shown = lab.api.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
            assert shown["status"] == "DOWN", shown
            assert fip_ip not in conntrack.list_entries(qrouter)
            flag.touch()
            said, _ = client.communicate(timeout=15)
            assert "ECHOED" not in said, "the old connection still carries packets"
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        received = echo.stop()
    assert "before" in received and "after" not in received, received
    assert unreachable(lab.ext_exec, fip_ip)
    assert not tcp_once(lab.ext_exec, fip_ip, 8081)
    nat = ns.exec_in(qrouter, ["iptables", "-t", "nat", "-S"]).stdout
    assert fip_ip not in nat, nat
    reach(vm.exec, EXT_GW)  # SNAT still works


def test_moved_floating_ip_leaves_no_connection_to_its_old_instance(lab_hosts, fermion_server,
                                                                    tmp_path):
    """A floating IP moved from vm1 to vm2: an established connection to vm1 through it
    carries no further packet (its conntrack entry is gone), new ones reach vm2."""
    lab = make_lab(lab_hosts, fermion_server)
    net_id, subnet = lab.tenant_network("private", "10.0.0.0/24")
    vm1, port1 = lab.instance("vm1", net_id)
    vm2, port2 = lab.instance("vm2", net_id)
    lab.router("r1", subnet)
    fip = lab.floating_ip(port1["id"])
    fip_ip = fip["floating_ip_address"]
    lab.converge()
    reach(lab.ext_exec, fip_ip, settle=15)
    flag = tmp_path / "send-after"
    with Echo(vm1, 8081) as old, Echo(vm2, 8082):
        client = lab.ext_popen([sys.executable, "-c", CLIENT, fip_ip, "8081", "hold",
                                str(flag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        try:
            assert client.stdout.readline().strip() == "CONNECTED", client.stderr.read()
            lab.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port2["id"]}})
            summary = lab.l3()
            assert summary["iptables_changed"], summary
            assert vm1.ip not in conntrack.list_entries(lab.ns_of(lab.routers[0]))
            flag.touch()
            said, _ = client.communicate(timeout=15)
            assert "ECHOED" not in said, "the old connection still carries packets"
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        assert tcp_once(lab.ext_exec, fip_ip, 8082), "the moved floating IP does not lead to vm2"
        received = old.stop()
    assert "before" in received and "after" not in received, received


def test_address_scope_shared_with_the_external_network_is_routed_without_nat(
        lab_hosts, fermion_server):
    """The seed's address scopes: a tenant subnet from a pool in the external network's
    scope reaches the external host with its own address (routed, no SNAT); a subnet
    outside the scope still leaves SNATed to the gateway address."""
    lab = make_lab(lab_hosts, fermion_server)
    scope = lab.post("/v2.0/address-scopes", {"address_scope": {
        "name": "public", "ip_version": 4, "shared": True}})["id"]
    pool = lab.post("/v2.0/subnetpools", {"subnetpool": {
        "name": "routed", "prefixes": ["172.24.4.0/24", "10.20.0.0/16"],
        "address_scope_id": scope, "default_prefixlen": 24, "shared": True}})["id"]
    # the external subnet joins the scope: move it into the pool's prefixes
    lab.api.delete(f"/v2.0/subnets/{lab.ext_subnet}")
    lab.ext_subnet = lab.post("/v2.0/subnets", {"subnet": {
        "network_id": lab.ext_net, "subnetpool_id": pool, "cidr": EXT_CIDR,
        "gateway_ip": EXT_GW, "ip_version": 4, "enable_dhcp": False,
        "allocation_pools": [{"start": "172.24.4.10", "end": "172.24.4.200"}]}})["id"]
    scoped_net = lab.post("/v2.0/networks", {"network": {"name": "scoped"}})["id"]
    scoped_subnet = lab.post("/v2.0/subnets", {"subnet": {
        "network_id": scoped_net, "subnetpool_id": pool, "prefixlen": 24, "ip_version": 4,
        "enable_dhcp": False}})
    plain_net, plain_subnet = lab.tenant_network("plain", "10.0.0.0/24")
    shown = lab.api.get(f"/v2.0/networks/{scoped_net}").json()["network"]
    assert shown["ipv4_address_scope"] == scope, shown
    routed, _ = lab.instance("routed", scoped_net)
    natted, _ = lab.instance("natted", plain_net)
    rid = lab.router("r1", scoped_subnet["id"], plain_subnet)
    lab.converge()
    gw_ip = lab.gateway_ip(rid)
    # the external host routes the scope's tenant prefix to the router, as BGP would
    lab.ext_exec(["ip", "route", "add", scoped_subnet["cidr"], "via", gw_ip])

    reach(routed.exec, EXT_GW, settle=15)
    out = capture(lab, ["icmp", "and", "dst", EXT_GW],
                  lambda: routed.exec([*PING, "-c", "1", "-W", "2", EXT_GW], check=False))
    assert f"{routed.ip} > {EXT_GW}" in out, out  # its own address: not NATed
    reach(lab.ext_exec, routed.ip)  # and reachable from outside without a floating IP

    reach(natted.exec, EXT_GW, settle=15)
    out = capture(lab, ["icmp", "and", "dst", EXT_GW],
                  lambda: natted.exec([*PING, "-c", "1", "-W", "2", EXT_GW], check=False))
    assert f"{gw_ip} > {EXT_GW}" in out, out  # another scope: SNAT to the gateway
    assert unreachable(lab.ext_exec, natted.ip)


def test_two_routers_with_overlapping_subnets_and_metadata(lab_hosts, fermion_server):
    """Acceptance 6 and 4: 10.0.0.0/24 behind two routers; each instance (both have the same
    address) reaches the outside through its own router's gateway address, is reached
    through its own floating IP, and its metadata request reaches the metadata agent's
    socket with its address in X-Forwarded-For and its own router's id."""
    lab = make_lab(lab_hosts, fermion_server)
    vms = []
    for i in (1, 2):
        net_id, subnet = lab.tenant_network(f"private{i}", "10.0.0.0/24")
        vm, port = lab.instance(f"vm{i}", net_id)
        lab.router(f"r{i}", subnet)
        vms.append((vm, port))
    lab.converge()
    gws = [lab.gateway_ip(rid) for rid in lab.routers]
    assert vms[0][0].ip == vms[1][0].ip  # the same address on both networks
    for (vm, _), gw_ip in zip(vms, gws, strict=True):
        reach(vm.exec, EXT_GW, settle=15)
        out = capture(lab, ["icmp", "and", "dst", EXT_GW],
                      lambda vm=vm: vm.exec([*PING, "-c", "1", "-W", "2", EXT_GW], check=False))
        assert f"{gw_ip} > {EXT_GW}" in out, out
    fips = [lab.floating_ip(port["id"])["floating_ip_address"] for _, port in vms]
    lab.l3()
    for (vm, _), fip_ip in zip(vms, fips, strict=True):
        with Echo(vm, 8080) as echo:
            assert tcp_once(lab.ext_exec, fip_ip, 8080)
        assert f"PEER {EXT_GW}" in echo.stop()

    # acceptance 4: metadata through each router, told apart by the router id header
    sink = MetadataSink(lab.net.rundir / "md.sock").start()
    try:
        for (vm, _), rid in zip(vms, lab.routers, strict=True):
            out = vm.exec(["curl", "-sS", "-m", "10", f"http://{METADATA_IP}/latest/meta-data/"])
            assert out.stdout == "metadata-sink /latest/meta-data/", out.stdout + out.stderr
            headers = sink.requests[-1].headers
            assert headers["x-forwarded-for"] == vm.ip, headers
            assert headers["x-neutron-router-id"] == rid, headers
    finally:
        sink.stop()


def test_restart_under_traffic_and_router_removal(lab_hosts, fermion_server, agent_procs,
                                                  tmp_path):
    """Acceptance 5 and reconciliation: TCP streams through SNAT and through a floating IP
    carry on across `kill -9` and a restart of the agent, whose first pass changes nothing
    (links, addresses, routes, iptables rules and the haproxy process are as they were);
    a deleted router leaves no namespace, device, OVS port or process behind."""
    lab = make_lab(lab_hosts, fermion_server)
    net_id, subnet = lab.tenant_network("private", "10.0.0.0/24")
    vm, port = lab.instance("vm1", net_id)
    rid = lab.router("r1", subnet)
    fip_ip = lab.floating_ip(port["id"])["floating_ip_address"]
    agent = agent_procs.start(lab.net, "l3", lab.server, *lab.l3_args("--periodic-interval",
                                                                      "5"))
    agent.wait_for_log("pass 1 ")
    lab.l2(lab.net), lab.l2(lab.cmp)
    qrouter = lab.ns_of(rid)
    reach(lab.ext_exec, fip_ip, settle=15)
    reach(vm.exec, EXT_GW)
    pidfile = lab.net.rundir / "l3" / "ns-metadata-proxy" / f"{rid}.pid"
    haproxy_pid = int(pidfile.read_text())
    before = router_state(qrouter)

    flag = tmp_path / "stop"
    listener = ext_listener(lab, 9000)
    streams = []
    with Echo(vm, 8080):
        try:
            streams.append(lab.ext_popen([sys.executable, "-c", CLIENT, fip_ip, "8080",
                                          "stream", str(flag)], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
            streams.append(vm.popen([sys.executable, "-c", CLIENT, EXT_GW, "9000", "stream",
                                     str(flag)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True))
            outs = [Lines(s.stdout) for s in streams]

            def echoed() -> list[int]:
                return [out.count("ECHOED") for out in outs]

            for out in outs:  # both streams run: 10 echoes each
                out.wait_for("10 echoes", lambda out=out: out.count("ECHOED") >= 2)
            agent.kill()
            at = len(agent.log_text())
            agent.start()
            agent.wait_for_log("pass 1 ", after=at)
            assert router_state(qrouter) == before, "the restarted agent changed the router"
            seen = echoed()
            for out, n in zip(outs, seen, strict=True):  # and they still run
                out.wait_for("10 more echoes", lambda out=out, n=n: out.count("ECHOED") >= n + 2)
            flag.touch()
            for s, out in zip(streams, outs, strict=True):
                s.wait(timeout=15)
                text = out.text()
                assert s.returncode == 0 and "OK" in text, text + s.stderr.read()
        finally:
            for s in streams:
                if s.poll() is None:
                    s.kill()
                    s.wait()
            listener.kill()
            listener.wait()
    assert int(pidfile.read_text()) == haproxy_pid, "haproxy was restarted"
    assert router_state(qrouter) == before

    # delete the router: nothing of it is left
    fip = lab.api.get("/v2.0/floatingips").json()["floatingips"][0]
    assert lab.api.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204
    lab.put(f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": subnet})
    assert lab.api.delete(f"/v2.0/routers/{rid}").status_code == 204
    deadline = time.monotonic() + 20
    while ns.netns_exists(qrouter):
        assert time.monotonic() < deadline, agent.log_text()[-3000:]
        time.sleep(0.2)
    assert not pid_alive(haproxy_pid)
    assert not [p for p in lab.net.ovs.list_ports("br-int") if p[:3] in ("qr-", "qg-")]
    assert not [link for link in ns.list_links(netns=lab.net.ns) if link[:3] in ("qr-", "qg-")]
    assert not pidfile.exists()


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_iptables_apply_is_idempotent_and_leaves_others_alone(lab_hosts, backend):
    """The applier on both backends: re-applying writes nothing, a duplicated jump is
    repaired, a chain we no longer want goes, another owner's chains and rules stay."""
    name = f"{lab_hosts.prefix}ipt-{backend}"  # the group's prefix: swept after a crash
    ns.add_netns(name)
    try:
        ipt = Iptables(backend)
        ns.exec_in(name, [ipt.cmd, "-t", "nat", "-N", "someone-else"])
        ns.exec_in(name, [ipt.cmd, "-t", "nat", "-A", "POSTROUTING", "-j", "someone-else"])
        ns.exec_in(name, [ipt.cmd, "-t", "nat", "-A", "someone-else", "-j", "RETURN"])
        rs = new_ruleset()
        rs.add("nat", "PREROUTING", "-d 203.0.113.5/32 -j DNAT --to-destination 10.0.0.5")
        rs.add("nat", "extra", "-j RETURN")
        assert apply_iptables(ipt, name, rs)
        assert not apply_iptables(ipt, name, rs), "a second apply changed something"
        ns.exec_in(name, [ipt.cmd, "-t", "nat", "-I", "PREROUTING", "-j",
                          "neutron-l3-agent-PREROUTING"])  # a duplicate jump
        plan = apply_iptables(ipt, name, rs)
        assert plan.jumps_fixed == [("nat", "PREROUTING")] and not plan.rewritten
        nat = ipt.list_rules(name, "nat")
        assert nat.count("-A PREROUTING -j neutron-l3-agent-PREROUTING") == 1, nat
        smaller: RuleSet = new_ruleset()
        plan = apply_iptables(ipt, name, smaller)
        assert plan.removed == [("nat", "neutron-l3-agent-extra")], plan
        nat = ipt.list_rules(name, "nat")
        assert "203.0.113.5" not in nat and "neutron-l3-agent-extra" not in nat, nat
        assert "-A POSTROUTING -j someone-else" in nat and \
            "-A someone-else -j RETURN" in nat, nat
        assert not apply_iptables(ipt, name, smaller)
    finally:
        ns.delete_netns(name)


def test_backend_detection():
    assert detect_backend("legacy") == "legacy"
    assert detect_backend("nft") == "nft"
    assert detect_backend() in ("nft", "legacy")
    with pytest.raises(ValueError):
        detect_backend("ebtables")
