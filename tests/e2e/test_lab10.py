"""The seed's Lab 10 on this machine: `fermion lab up` with every smoke row PASS, the seed's
inspection commands giving the seed's answers, the plain openstack CLI after `lab openrc`,
a closed lab, and `lab down` leaving the machine as it was."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess

import pytest

from tests.e2e.conftest import start_lab, stop_lab
from tests.fixtures.server import venv_bin

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    run = start_lab(tmp_path_factory, "lab10")
    try:
        yield run
    finally:
        stop_lab(run)


def test_up_passes_every_smoke_row(lab):
    out = lab.up.stdout
    assert lab.up.returncode == 0, out + lab.up.stderr
    assert re.search(r"lab lab10 up in [\d.]+ s: all smoke checks PASS", out), out
    rows = lab.live().state["smoke"]
    titles = [r["title"] for r in rows]
    assert all(r["ok"] for r in rows), rows
    for needle in ("DHCP lease and MTU: demo-instance-1", "DHCP lease and MTU: demo-instance-3",
                   "VXLAN across hosts", "SNAT: demo-instance-2 → labhost 10.0.2.2",
                   "floating IP: labhost →", "flat-network (no router): demo-instance-3"):
        assert any(needle in t for t in titles), (needle, titles)
    assert all(r["command"].startswith("fermion lab exec ") for r in rows)
    for step in ("hosts", "wiring", "host setup", "API server", "agents", "demo resources",
                 "instances", "smoke checks"):
        assert re.search(rf"✓ {step}\b.*\([\d.]+ s\)", out), (step, out)


def test_seed_inspection_commands(lab):
    live = lab.live()
    made = live.state["resources"]
    router = made["routers"]["demo-router"]["id"]
    netns = lab.exec("network", "ip", "netns", "list").stdout
    assert f"qrouter-{router}" in netns
    for net in ("flat-network", "vxlan-network"):
        assert f"qdhcp-{made['networks'][net]['id']}" in netns
    nat = lab.exec("network", "ip", "netns", "exec", f"qrouter-{router}",
                   "iptables", "-t", "nat", "-S").stdout
    gw = made["routers"]["demo-router"]["gateway_ip"]
    fip = made["instances"]["demo-instance-1"]["floating_ip"]
    assert re.search(rf"-j SNAT --to-source {gw}", nat), nat
    assert re.search(rf"-d {fip}/32 .*-j DNAT --to-destination "
                     rf"{made['instances']['demo-instance-1']['ip']}", nat), nat
    assert re.search(r"-d 169.254.169.254/32 .*--dport 80 .*-j REDIRECT --to-ports 9697", nat)
    ps = lab.exec("network", "ps", "-eww", "-o", "args").stdout
    dnsmasq = [line for line in ps.splitlines() if line.startswith("dnsmasq")]
    assert len(dnsmasq) == 2
    assert all("--no-hosts" in d and "--no-resolv" in d and "--dhcp-hostsfile" in d
               for d in dnsmasq)
    flat = f"qdhcp-{made['networks']['flat-network']['id']}"
    addrs = lab.exec("network", "ip", "netns", "exec", flat, "ip", "-o", "addr").stdout
    assert re.search(r"tap\S+\s+inet 169\.254\.169\.254/", addrs), addrs
    table4 = lab.exec("compute1", "ovs-ofctl", "dump-flows", "br-tun", "table=4").stdout
    assert re.search(r"table=4,.*tun_id=0x[0-9a-f]+ actions=mod_vlan_vid:\d+,resubmit\(,10\)",
                     table4), table4
    show = lab.exec("compute1", "ovs-vsctl", "show").stdout
    for bridge in ("br-int", "br-tun"):
        assert f"Bridge {bridge}" in show
    assert 'remote_ip="198.18.1.12"' in show and 'remote_ip="198.18.1.22"' in show, show
    assert show.count("type: vxlan") == 2


def test_hosts_are_hosts(lab):
    assert lab.exec("network", "hostname").stdout.strip() == "network"
    ps = lab.exec("compute1", "ps", "-eww", "-o", "pid,args").stdout
    assert re.search(r"^\s*1 tini", ps, re.M), ps  # its own PID namespace
    assert "neutron-server" not in ps and "fermion server" not in ps
    assert "fermion agent l2 --server http://controller:9696 --config-file " \
           "/etc/neutron/neutron.conf --config-file " \
           "/etc/neutron/plugins/ml2/openvswitch_agent.ini" in ps
    assert "busybox udhcpc" in ps  # the guest's processes, as a hypervisor's would show
    conf = lab.exec("compute1", "cat", "/etc/neutron/plugins/ml2/openvswitch_agent.ini")
    assert "local_ip = 198.18.1.21" in conf.stdout
    inst = lab.exec("demo-instance-1", "sh", "-c", "hostname; ip -o link show eth0")
    assert inst.stdout.startswith("demo-instance-1\n") and "mtu 1450" in inst.stdout
    assert lab.cli("logs", "network", "l3").stdout.count("\n") > 0
    console = lab.cli("logs", "demo-instance-1").stdout
    assert "lease: 172.18.0." in console
    status = lab.cli("status")
    assert status.returncode == 0 and "neutron-l3-agent" in status.stdout


def test_openstack_cli_after_openrc(lab):
    openrc = lab.cli("openrc").stdout
    cli = venv_bin("openstack")
    script = openrc + "\n" + "\n".join(
        f"{cli} {cmd} -f json; echo '@@'" for cmd in (
            "network list", "subnet list", "router list", "floating ip list", "port list",
            "network agent list"))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr
    networks, subnets, routers, fips, ports, agents = (
        json.loads(part) for part in done.stdout.split("@@")[:6])
    assert {n["Name"] for n in networks} == {"flat-network", "vxlan-network"}
    assert {s["Name"] for s in subnets} == {"flat-subnet", "vxlan-subnet"}
    assert [r["Name"] for r in routers] == ["demo-router"] and routers[0]["Status"] == "ACTIVE"
    assert len(fips) == 1 and fips[0]["Fixed IP Address"]
    assert {p["Name"] for p in ports} >= {"demo-instance-1", "demo-instance-2",
                                          "demo-instance-3"}
    assert sorted((a["Agent Type"], a["Host"]) for a in agents) == [
        ("DHCP agent", "network"), ("L3 agent", "network"), ("Open vSwitch agent", "compute1"),
        ("Open vSwitch agent", "compute2"), ("Open vSwitch agent", "network")]
    assert all(a["Alive"] for a in agents)


def test_the_lab_is_closed(lab):
    """No lab namespace has a route leaving through this machine's root namespace; labhost
    forwards nothing and has no default route."""
    live = lab.live()
    topo = live.topo
    lab_nets = [ipaddress.ip_network(n.cidr) for n in topo.networks if n.cidr]
    lab_nets += [ipaddress.ip_network(s["cidr"]) for s in live.state["resources"]["subnets"]
                 .values()]
    this_machine = topo.management.this_machine.split("/")[0]
    places = []
    for host in topo.hosts:
        places.append((host.name, []))
        for ns in lab.exec(host.name, "ip", "netns", "list").stdout.split():
            if ns.startswith(("qrouter-", "qdhcp-")):
                places.append((host.name, ["ip", "netns", "exec", ns]))
    places += [(name, []) for name in live.state["resources"]["instances"]]
    for target, prefix in places:
        done = lab.exec(target, *prefix, "ip", "-j", "-4", "route", "show", "table", "all")
        assert done.returncode == 0, done.stderr
        for route in json.loads(done.stdout):
            via = route.get("gateway")
            where = f"{target} {' '.join(prefix)}: {route}"
            if via:
                assert via != this_machine, where
                assert any(ipaddress.ip_address(via) in n for n in lab_nets), where
            if route.get("dst") == "default":
                assert target != "labhost", where
    assert lab.exec("labhost", "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "0"
    root = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True,
                                     text=True).stdout)
    into_lab = [r for r in root if r.get("dev") == "fl-lab10"]
    assert [r["dst"] for r in into_lab] == ["198.18.0.0/24"], into_lab
    # the only way in: nothing routed from this machine reaches past the management network
    unreachable = lab.cli("exec", "labhost", "--", "ping", "-c1", "-W1", this_machine)
    assert unreachable.returncode != 0


def test_up_twice_is_harmless(lab):
    again = lab.cli("up", timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "lab lab10 is up" in again.stdout
    assert lab.exec("demo-instance-1", "true").returncode == 0


def test_down_leaves_the_machine_as_it_was(lab):
    down = lab.cli("down")
    assert down.returncode == 0, down.stderr
    assert f"logs kept in {lab.log_dir / 'lab10'}" in down.stdout
    assert lab.leftovers() == []
    assert (lab.log_dir / "lab10" / "network" / "neutron" / "neutron-l3-agent.log").stat() \
        .st_size > 0
    assert not (lab.state_dir / "lab10").exists()
