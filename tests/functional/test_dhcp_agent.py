"""The DHCP agent (`fermion agent dhcp`) on a simulated host, with real clients.

A real server, a host (namespace + userspace OVS) running the L2 agent and the DHCP agent as
daemons, instances made of namespaces plugged into br-int. Clients are the real
`busybox udhcpc` (with `-O staticroutes -O mtu`) and `dhclient`; their scripts only record
what the server offered, the test applies addresses and routes where it needs them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from fermion.agent.dhcp_apply import DhcpApplier
from fermion.agent.dhcp_model import DhcpConf, dhcp_device_id
from fermion.linux import interface
from fermion.linux import netns as ns
from fermion.linux.proc import pid_alive
from fermion.linux.process import Daemon, argv_of, read_pidfile
from tests.fixtures.metadata_sink import MetadataSink

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not all(shutil.which(b) for b in
                                         ("dnsmasq", "busybox", "dhclient", "haproxy", "curl")),
                                 reason="needs dnsmasq, busybox, dhclient, haproxy, curl "
                                        "(scripts/install-deps.sh)")]

WAIT = 30.0


def wait_for(what: str, check, timeout: float = WAIT, agent=None):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if agent is not None:
            assert agent.alive(), f"agent exited:\n{agent.log_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (
            f"\n{agent.log_text()[-3000:]}" if agent is not None else "")
        time.sleep(0.1)


# ---------------------------------------------------------------------------- the agent
class DhcpSetup:
    """Starts `fermion agent dhcp` for a host with a dhcp_agent.ini; cleans up after it."""

    def __init__(self, host, server, agent_procs, **options):
        self.host = host
        self.server = server
        self.agent_procs = agent_procs
        self.prefix = f"{host.ns}-"
        self.state = host.rundir / "dhcp"
        self.ini = host.rundir / "dhcp_agent.ini"
        lines = ["[DEFAULT]", f"state_path = {host.rundir}"]
        lines += [f"{k} = {v}" for k, v in options.items()]
        self.ini.write_text("\n".join(lines) + "\n")
        applier = DhcpApplier(host.name, None, host.ovs, DhcpConf(), state_dir=str(self.state),
                              metadata_socket="", namespace_prefix=self.prefix,
                              ovs_netns=host.ns)
        host.teardown.add("remove the DHCP agent's networks", applier.remove_all)
        self.proc = None

    def start(self):
        self.proc = self.agent_procs.start(
            self.host, "dhcp", self.server, "--config-file", str(self.ini),
            "--ovs-rundir", str(self.host.rundir), "--ovs-netns", self.host.ns,
            "--namespace-prefix", self.prefix, "--poll-interval", "0.5")
        return self.proc

    def netns(self, net_id: str) -> str:
        return f"{self.prefix}qdhcp-{net_id}"

    def pid(self, net_id: str) -> int | None:
        pid = read_pidfile(self.state / net_id / "pid")
        return pid if pid and pid_alive(pid) and (argv_of(pid) or [""])[0] == "dnsmasq" \
            else None

    def hosts_file(self, net_id: str) -> str:
        try:
            return (self.state / net_id / "host").read_text()
        except OSError:
            return ""

    def wait_serving(self, net_id: str) -> int:
        return wait_for(f"dnsmasq of {net_id}", lambda: self.pid(net_id), agent=self.proc)


# ---------------------------------------------------------------------------- API helpers
def make_network(api, name: str, cidr: str, **subnet) -> tuple[str, dict]:
    r = api.post("/v2.0/networks", json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    r = api.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4, **subnet}})
    assert r.status_code == 201, r.text
    return net["id"], r.json()["subnet"]


def make_port(api, net_id: str, host: str, **extra) -> dict:
    r = api.post("/v2.0/ports", json={"port": {"network_id": net_id, "binding:host_id": host,
                                                **extra}})
    assert r.status_code == 201, r.text
    return r.json()["port"]


def port_status(api, port_id: str) -> str:
    return api.get(f"/v2.0/ports/{port_id}").json()["port"]["status"]


def dhcp_port(api, host, net_id: str) -> dict:
    ports = api.get("/v2.0/ports", params={"network_id": net_id,
                                           "device_owner": "network:dhcp"}).json()["ports"]
    assert len(ports) == 1, ports
    assert ports[0]["device_id"] == dhcp_device_id(host.name, net_id)
    assert ports[0]["binding:host_id"] == host.name
    return ports[0]


# ---------------------------------------------------------------------------- instances
class Vm:
    """An instance namespace whose eth0 is plugged into br-int for `port`, no address."""

    def __init__(self, host, name: str, port: dict, mac: str | None = None):
        self.host = host
        self.ns = f"{host.ns}-{name}"
        self.port = port
        self.mac = mac or port["mac_address"]
        self.dir = host.rundir / name
        self.dir.mkdir(exist_ok=True)
        host.teardown.add(f"delete netns {self.ns}", ns.delete_netns, self.ns)
        tap = "tap" + port["id"][:11]
        host.teardown.add(f"unplug {tap}", interface.unplug, host.ovs, "eth0", self.ns,
                          ovs_device=tap, ovs_netns=host.ns)
        interface.plug(host.ovs, interface.PlugSpec(
            device="eth0", netns=self.ns, bridge="br-int", port_id=port["id"], mac=self.mac,
            ovs_device=tap, ovs_netns=host.ns, extra_ids={"vm-uuid": str(uuid.uuid4())}))

    def exec(self, argv, **kw):
        return ns.exec_in(self.ns, argv, **kw)

    def set_mac(self, mac: str) -> None:
        ns.set_mac("eth0", mac, netns=self.ns)

    def udhcpc(self, tries: int = 10) -> dict[str, str] | None:
        """One `busybox udhcpc` run; the environment its script saw on `bound`, or None."""
        out = self.dir / "udhcpc.env"
        out.unlink(missing_ok=True)
        script = self.dir / "udhcpc.sh"
        script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && env > {out}\nexit 0\n')
        script.chmod(0o755)
        self.exec(["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", str(tries),
                   "-T", "1", "-A", "1", "-s", str(script), "-O", "staticroutes", "-O", "mtu"],
                  check=False, timeout=tries * 3 + 10)
        return _env(out)

    def dhclient(self, timeout: float = 30) -> dict[str, str]:
        out = self.dir / "dhclient.env"
        out.unlink(missing_ok=True)
        conf, script = self.dir / "dhclient.conf", self.dir / "dhclient.sh"
        conf.write_text(
            "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n"
            "request subnet-mask, routers, domain-name-servers, domain-name, interface-mtu,\n"
            "        rfc3442-classless-static-routes;\n")
        script.write_text(f'#!/bin/sh\ncase "$reason" in BOUND|REBOOT) env > {out}.tmp; '
                          f'mv {out}.tmp {out};; esac\nexit 0\n')
        script.chmod(0o755)
        proc = ns.popen_in(self.ns, [
            "dhclient", "-d", "-1", "-cf", str(conf), "-sf", str(script),
            "-lf", str(self.dir / "dhclient.leases"), "-pf", str(self.dir / "dhclient.pid"),
            "eth0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return wait_for("a dhclient lease", lambda: _env(out), timeout=timeout)
        finally:
            proc.terminate()  # the dhclient we started (tracked by its Popen pid)
            proc.wait(timeout=10)

    def configure(self, lease: dict[str, str]) -> None:
        """Apply a udhcpc lease: address, MTU, classless routes."""
        ns.add_address("eth0", f"{lease['ip']}/{lease['mask']}", netns=self.ns)
        ns.set_mtu("eth0", int(lease["mtu"]), netns=self.ns)
        ns.set_up("eth0", netns=self.ns)
        words = lease.get("staticroutes", "").split()
        for dest, via in zip(words[::2], words[1::2], strict=True):
            ns.add_route("default" if dest == "0.0.0.0/0" else dest, via=via, netns=self.ns)


def _env(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def wait_active(api, *ports, agent=None) -> None:
    for p in ports:
        wait_for(f"port {p['id']} ACTIVE", lambda p=p: port_status(api, p["id"]) == "ACTIVE",
                 agent=agent)


def v4_addresses(dev: str, netns: str) -> list[str]:
    return [a for a in ns.list_addresses(dev, netns=netns) if ":" not in a]


def ip_of(port: dict) -> str:
    return port["fixed_ips"][0]["ip_address"]


def start_l2(agent_procs, host, server):
    proc = agent_procs.start(host, "l2", server, "--tunnel-types", "vxlan",
                             "--poll-interval", "0.5")
    wait_for("br-int", lambda: "br-int" in host.ovs.list_bridges(), agent=proc)
    return proc


# ---------------------------------------------------------------------------- tests
def test_leases_options_and_ports_added_or_removed_without_restart(
        lab_hosts, fermion_server, agent_procs):
    """Acceptance 1 and 2: the allocated IP, router, DNS, MTU 1450 (VXLAN), option 121
    routes to udhcpc and dhclient; a late port gets a lease from the same dnsmasq; a MAC
    without a port and a deleted port's MAC get none; a crashed dnsmasq is restarted."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    start_l2(agent_procs, host, server)
    net, subnet = make_network(api, "net1", "10.10.0.0/24", gateway_ip="10.10.0.1",
                               host_routes=[{"destination": "192.168.50.0/24",
                                             "nexthop": "10.10.0.254"}])
    assert api.get(f"/v2.0/networks/{net}").json()["network"]["mtu"] == 1450
    p1 = make_port(api, net, host.name)
    dhcp = DhcpSetup(host, server, agent_procs)
    agent = dhcp.start()
    pid = dhcp.wait_serving(net)

    dport = dhcp_port(api, host, net)
    dhcp_ip = ip_of(dport)
    tap = "tap" + dport["id"][:11]
    assert v4_addresses(tap, dhcp.netns(net)) == [f"{dhcp_ip}/24"]
    assert tap in host.ovs.list_ports("br-int")
    argv = argv_of(pid)
    assert "--no-hosts" in argv and "--no-resolv" in argv
    assert f"--dhcp-range=set:subnet-{subnet['id']},10.10.0.0,static,255.255.255.0,86400s" \
        in argv
    vm1 = Vm(host, "vm1", p1)
    wait_active(api, p1, dport, agent=agent)

    lease = vm1.udhcpc()
    assert lease is not None, agent.log_text()[-2000:]
    assert lease["ip"] == ip_of(p1)
    assert lease["router"] == "10.10.0.1"
    assert lease["dns"].split() == [dhcp_ip]
    assert lease["mtu"] == "1450"
    assert lease["domain"] == "openstacklocal"
    assert lease["staticroutes"].split() == ["192.168.50.0/24", "10.10.0.254",
                                             "0.0.0.0/0", "10.10.0.1"]
    dh = vm1.dhclient()
    assert dh["new_ip_address"] == ip_of(p1)
    assert dh["new_routers"] == "10.10.0.1"
    assert dh["new_interface_mtu"] == "1450"
    assert dh["new_domain_name_servers"] == dhcp_ip
    assert dh["new_rfc3442_classless_static_routes"].split() == \
        "24 192 168 50 10 10 0 254 0 10 10 0 1".split()

    # a port created while dnsmasq runs: files reloaded (SIGHUP), same dnsmasq
    p2 = make_port(api, net, host.name)
    vm2 = Vm(host, "vm2", p2)
    wait_for("p2 in the hosts file", lambda: p2["mac_address"] in dhcp.hosts_file(net),
             agent=agent)
    wait_active(api, p2, agent=agent)
    lease = vm2.udhcpc()
    assert lease is not None and lease["ip"] == ip_of(p2)
    assert dhcp.pid(net) == pid

    # a MAC without a port: no lease (port security off, so nothing but DHCP can stop it)
    p3 = make_port(api, net, host.name, port_security_enabled=False)
    vm3 = Vm(host, "vm3", p3, mac="fa:16:3e:0f:0f:0f")
    wait_for("p3 in the hosts file", lambda: p3["mac_address"] in dhcp.hosts_file(net),
             agent=agent)
    wait_active(api, p3, agent=agent)
    assert vm3.udhcpc(tries=3) is None
    # a port that is never plugged: its MAC (on vm3) gets its address until it is deleted
    p4 = make_port(api, net, host.name)
    wait_for("p4 in the hosts file", lambda: p4["mac_address"] in dhcp.hosts_file(net),
             agent=agent)
    vm3.set_mac(p4["mac_address"])
    lease = vm3.udhcpc()
    assert lease is not None and lease["ip"] == ip_of(p4)
    assert api.delete(f"/v2.0/ports/{p4['id']}").status_code == 204
    wait_for("p4 gone from the hosts file",
             lambda: p4["mac_address"] not in dhcp.hosts_file(net), agent=agent)
    assert vm3.udhcpc(tries=3) is None
    assert dhcp.pid(net) == pid

    # a crashed dnsmasq is restarted and serves again
    os.kill(pid, signal.SIGKILL)  # a crash (pid verified above: our dnsmasq's argv)
    new_pid = wait_for("dnsmasq restarted", lambda: dhcp.pid(net) not in (None, pid)
                       and dhcp.pid(net), agent=agent)
    assert argv_of(new_pid) == argv
    assert vm1.udhcpc()["ip"] == ip_of(p1)


def test_dns_names_forwarding_and_subnet_nameservers(lab_hosts, fermion_server, agent_procs):
    """Acceptance 3: instance names resolve through the DHCP port; other names go to
    `dnsmasq_dns_servers` (a dnsmasq the test runs in an instance); a subnet's
    `dns_nameservers` are what DHCP hands out instead of the DHCP port."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    start_l2(agent_procs, host, server)
    net, subnet = make_network(api, "net1", "10.20.0.0/24")
    p1, p2 = make_port(api, net, host.name), make_port(api, net, host.name)
    # the upstream DNS server; no security groups, so the DHCP port may reach it
    up = make_port(api, net, host.name, port_security_enabled=False)

    upstream = Vm(host, "up", up)
    ns.add_address("eth0", f"{ip_of(up)}/24", netns=upstream.ns)
    upstream_dns = Daemon(["dnsmasq", "--no-hosts", "--no-resolv", "--conf-file=/dev/null",
                           f"--pid-file={upstream.dir / 'pid'}", f"--listen-address={ip_of(up)}",
                           "--bind-interfaces", "--address=/upstream.test/192.0.2.7"],
                          pidfile=upstream.dir / "pid", netns=upstream.ns)
    host.teardown.add("stop the upstream DNS server", upstream_dns.stop)
    upstream_dns.start()

    dhcp = DhcpSetup(host, server, agent_procs, dnsmasq_dns_servers=ip_of(up))
    agent = dhcp.start()
    pid = dhcp.wait_serving(net)
    dhcp_ip = ip_of(dhcp_port(api, host, net))
    vm1, _vm2 = Vm(host, "vm1", p1), Vm(host, "vm2", p2)
    wait_active(api, p1, p2, up, agent=agent)
    lease = vm1.udhcpc()
    assert lease is not None and lease["dns"].split() == [dhcp_ip]
    vm1.configure(lease)

    def lookup(name: str) -> str:
        out = vm1.exec(["busybox", "nslookup", "-type=a", name, dhcp_ip], check=False).stdout
        return out

    p2_name = p2["dns_assignment"][0]["hostname"]
    assert re.search(rf"Address:?\s+{re.escape(ip_of(p2))}\b",
                     lookup(f"{p2_name}.openstacklocal")), lookup(f"{p2_name}.openstacklocal")
    assert re.search(r"Address:?\s+192\.0\.2\.7\b", lookup("upstream.test")), \
        lookup("upstream.test")

    r = api.put(f"/v2.0/subnets/{subnet['id']}",
                json={"subnet": {"dns_nameservers": ["192.0.2.53", "192.0.2.54"]}})
    assert r.status_code == 200, r.text
    wait_for("the opts file", lambda: "192.0.2.53" in
             (dhcp.state / net / "opts").read_text(), agent=agent)
    lease = vm1.udhcpc()
    assert lease is not None and lease["dns"].split() == ["192.0.2.53", "192.0.2.54"]
    assert dhcp.pid(net) == pid


def test_isolated_metadata(lab_hosts, fermion_server, agent_procs):
    """Acceptance 4: on a network without a router, the instance gets a route to
    169.254.169.254 via the DHCP port, and HTTP there reaches the metadata agent's socket
    through haproxy with X-Forwarded-For and X-Neutron-Network-ID."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    start_l2(agent_procs, host, server)
    sink = MetadataSink(host.rundir / "metadata.sock").start()
    host.teardown.add("stop the metadata sink", sink.stop)
    net, _ = make_network(api, "net1", "10.30.0.0/24", gateway_ip="10.30.0.1")
    p1 = make_port(api, net, host.name)
    dhcp = DhcpSetup(host, server, agent_procs, enable_isolated_metadata="true",
                     metadata_proxy_socket=sink.path)
    agent = dhcp.start()
    dhcp.wait_serving(net)
    dport = dhcp_port(api, host, net)
    dhcp_ip = ip_of(dport)
    assert "169.254.169.254/32" in ns.list_addresses("tap" + dport["id"][:11],
                                                     netns=dhcp.netns(net))
    haproxy = wait_for("haproxy", lambda: read_pidfile(dhcp.state / net / "haproxy.pid"),
                       agent=agent)
    assert (argv_of(haproxy) or [""])[0] == "haproxy"
    vm1 = Vm(host, "vm1", p1)
    wait_active(api, p1, dport, agent=agent)
    lease = vm1.udhcpc()
    assert lease is not None
    assert lease["staticroutes"].split() == ["169.254.169.254/32", dhcp_ip,
                                             "0.0.0.0/0", "10.30.0.1"]
    vm1.configure(lease)
    out = vm1.exec(["curl", "-sS", "--max-time", "10",
                    "http://169.254.169.254/latest/meta-data/instance-id"], check=False)
    assert out.stdout == "metadata-sink /latest/meta-data/instance-id", out.stderr
    seen = sink.requests[-1]
    assert seen.path == "/latest/meta-data/instance-id"
    assert seen.headers["x-forwarded-for"] == ip_of(p1)
    assert seen.headers["x-neutron-network-id"] == net

    # a router interface makes the network not isolated: the proxy and address go
    r = api.post("/v2.0/routers", json={"router": {"name": "r1"}})
    router = r.json()["router"]["id"]
    r = api.put(f"/v2.0/routers/{router}/add_router_interface",
                json={"subnet_id": dport["fixed_ips"][0]["subnet_id"]})
    assert r.status_code == 200, r.text
    wait_for("metadata proxy stopped", lambda: not pid_alive(haproxy), agent=agent)
    wait_for("its pid file removed", lambda: not (dhcp.state / net / "haproxy.pid").exists(),
             agent=agent)
    assert "169.254.169.254/32" not in ns.list_addresses("tap" + dport["id"][:11],
                                                         netns=dhcp.netns(net))


def test_restart_adopts_fifty_networks_and_removes_stale_ones(
        lab_hosts, fermion_server, agent_procs):
    """Acceptance 5: after an agent restart no dnsmasq is restarted and no lease is lost;
    a network deleted while the agent was down loses its namespace and dnsmasq."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    start_l2(agent_procs, host, server)
    nets = [make_network(api, f"n{i}", f"10.{100 + i // 100}.{i % 100}.0/24")[0]
            for i in range(50)]
    p1 = make_port(api, nets[0], host.name)
    dhcp = DhcpSetup(host, server, agent_procs)
    agent = dhcp.start()
    pids = {net: wait_for(f"dnsmasq of {net}", lambda net=net: dhcp.pid(net), timeout=120,
                          agent=agent) for net in nets}
    vm1 = Vm(host, "vm1", p1)
    wait_active(api, p1, agent=agent)
    lease = vm1.udhcpc()
    assert lease is not None and lease["ip"] == ip_of(p1)
    leases = (dhcp.state / nets[0] / "leases").read_text()
    assert p1["mac_address"] in leases

    for net in nets:  # settled: each hosts file lists the DHCP port (and vm1 on nets[0])
        want = 2 if net == nets[0] else 1
        wait_for(f"hosts of {net}", lambda net=net, want=want:
                 len(dhcp.hosts_file(net).splitlines()) == want, agent=agent)

    def files(net: str) -> dict[str, tuple[int, int]]:
        """Each dnsmasq file of `net` as (inode, mtime): the agent rewrites a file (then
        reloads dnsmasq) only when its text changes."""
        return {name: (st.st_ino, st.st_mtime_ns) for name in ("host", "addn_hosts", "opts")
                for st in [(dhcp.state / net / name).stat()]}

    written = {net: files(net) for net in nets}
    agent.stop()
    gone = nets.pop()
    argv_gone = argv_of(pids[gone])  # recorded before the restart: the process to go
    assert argv_gone and argv_gone[0] == "dnsmasq", argv_gone
    assert api.delete(f"/v2.0/networks/{gone}").status_code == 204
    restarted_at = len(agent.log_text())
    agent = dhcp.start()
    agent.wait_for_log("pass 1 ", after=restarted_at, timeout=120)
    wait_for("the deleted network's namespace gone",
             lambda: not ns.netns_exists(dhcp.netns(gone)), agent=agent)
    assert argv_of(pids[gone]) != argv_gone, "the deleted network's dnsmasq still runs"
    assert not (dhcp.state / gone).exists()
    # the restart adopted every other dnsmasq: same processes, files never rewritten (so
    # never reloaded), leases kept
    assert {net: dhcp.pid(net) for net in nets} == {net: pids[net] for net in nets}
    assert {net: files(net) for net in nets} == {net: written[net] for net in nets}
    assert (dhcp.state / nets[0] / "leases").read_text() == leases
    assert vm1.udhcpc()["ip"] == ip_of(p1)
