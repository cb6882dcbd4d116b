"""The L2 agent as a daemon on live hosts: restart under traffic, each table's role checked
with `ofproto/trace` on the real bridges, l2population with the ARP responder, and the
agent configured from an `ml2_conf.ini` instead of flags.

Two hosts (namespaces with their own userspace OVS) on an underlay, VXLAN between them; the
agents run as `fermion agent l2` processes (tracked by pid, `agent_procs`).
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from fermion.agent import cookies
from fermion.agent.flows import parse_dump
from fermion.lab.host import plug_instance
from tests.functional.test_hosts import PING, Lines, ping
from tests.functional.test_l2_agent import make_network, make_port, plug

pytestmark = pytest.mark.root


def vxlan_args(host) -> tuple[str, ...]:
    return ("--tunnel-types", "vxlan", "--local-ip", host.local_ip)


def two_hosts(lab_hosts):
    h1, h2 = lab_hosts.add_host("h1"), lab_hosts.add_host("h2")
    ul = lab_hosts.add_underlay("ul")
    ul.attach(h1, "192.168.100.1/24")
    ul.attach(h2, "192.168.100.2/24")
    return h1, h2, ul


def wait_status(api, ports, status: str = "ACTIVE", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        now = [api.get(f"/v2.0/ports/{p['id']}").json()["port"]["status"] for p in ports]
        if all(s == status for s in now):
            return
        assert time.monotonic() < deadline, now
        time.sleep(0.1)


def wait_flows(host, bridge: str, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        dump = host.ovs.ofctl(bridge, "dump-flows")
        if needle in dump:
            return dump
        assert time.monotonic() < deadline, f"no {needle!r} on {bridge}:\n{dump}"
        time.sleep(0.1)


def our_flows(host, bridge: str) -> list[str]:
    """The agent's flows (learned ones excepted) as sorted text, without counters."""
    dump = host.ovs.ofctl(bridge, "dump-flows", options=["--no-stats"])
    return sorted(f.render() for f in parse_dump(bridge, dump)
                  if cookies.is_ours(f.cookie) and not cookies.is_learned(f.cookie))


def test_restart_under_traffic_drops_nothing(lab_hosts, fermion_server, agent_procs):
    """kill -9 of a host's agent and a restart while a ping flood crosses the VXLAN tunnel:
    no packet lost, and the restarted agent leaves the flow tables exactly as they were.
    (The restarted agent's first pass is awaited through its log line; what it did is
    judged on the flows.)"""
    server = fermion_server()
    api = server.client()
    h1, h2, _ = two_hosts(lab_hosts)
    net = make_network(api, "vx", "10.0.5.0/24")
    p1, p2 = make_port(api, net, h1.name), make_port(api, net, h2.name)
    a1 = agent_procs.start(h1, "l2", server, *vxlan_args(h1))
    a2 = agent_procs.start(h2, "l2", server, *vxlan_args(h2))
    for a in (a1, a2):
        a.wait_for_log(" pass 1 at revision")  # br-int exists: instances can be plugged
    vm1, vm2 = plug(h1, "vm1", p1), plug(h2, "vm2", p2)
    wait_status(api, [p1, p2])
    ping(vm1, vm2, settle=10)
    before = {br: our_flows(h1, br) for br in ("br-int", "br-tun")}
    assert before["br-int"] and before["br-tun"]

    count = 1500  # 15 s at 10 ms: the kill, the restart and its first pass happen meanwhile
    flood = vm1.popen([*PING, "-i", "0.01", "-c", str(count), "-w", "60", vm2.ip],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Lines(flood.stdout)

    def replies() -> int:
        return out.count("bytes from")

    try:
        out.wait_for("100 replies", lambda: replies() >= 100)  # the flood is on
        a1.kill()
        at = replies()
        out.wait_for("50 replies with the agent down", lambda: replies() >= at + 50)
        restarted = agent_procs.start(h1, "l2", server, *vxlan_args(h1))
        restarted.wait_for_log(" pass 1 at revision", after=len(a1.log_text()))
        at = replies()
        out.wait_for("replies after the restarted agent's pass", lambda: replies() >= at + 20)
        flood.wait(timeout=60)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
    text = out.text()
    sent = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    assert sent, text[-2000:]
    assert int(sent.group(1)) == count and int(sent.group(2)) == count, text[-2000:]
    assert restarted.alive()
    assert {br: our_flows(h1, br) for br in ("br-int", "br-tun")} == before
    wait_status(api, [p1, p2])


# ------------------------------------------------------------------ tables' roles, live

def trace(host, bridge: str, flow: str, *ct_next: str) -> tuple[list[int], str]:
    """`ofproto/trace` on the live bridge: (tables visited in order, datapath actions)."""
    args = ["ofproto/trace", bridge, flow]
    for state in ct_next:
        args += ["--ct-next", state]
    out = host.ovs.appctl(*args)
    tables = [int(m) for m in re.findall(r"^\s*(\d+)\. ", out, re.M)]
    actions = re.findall(r"^Datapath actions: (.*)$", out, re.M)  # one per recirculation
    return tables, (actions[-1] if actions else "")


def first_visit(tables: list[int], *expected: int) -> None:
    """`expected` appear in `tables` in this order (other tables may come between)."""
    it = iter(tables)
    assert all(t in it for t in expected), (expected, tables)


def test_each_table_does_its_job_on_a_live_host(lab_hosts, fermion_server):
    """Packets traced through the real br-int and br-tun of a host wired by the agent visit
    the seed's tables for the seed's reasons."""
    from tests.functional.test_l2_agent import run_agent

    server = fermion_server()
    api = server.client()
    h1, h2, _ = two_hosts(lab_hosts)
    net = make_network(api, "vx", "10.0.5.0/24")
    p1, p2 = make_port(api, net, h1.name), make_port(api, net, h1.name)
    p3 = make_port(api, net, h2.name)
    for h in (h1, h2):
        run_agent(server, h, *vxlan_args(h))
    vm1, vm2 = plug(h1, "vm1", p1), plug(h1, "vm2", p2)
    plug(h2, "vm3", p3)
    stray = plug_instance(h1, "stray", "fa:16:3e:00:00:99", "10.0.5.99/24")  # no such port
    for h in (h1, h2):
        summary = run_agent(server, h, *vxlan_args(h))
    summary = run_agent(server, h1, *vxlan_args(h1))
    lvid = summary["local_vlans"][net]
    of1 = h1.ovs.ofport(vm1.port)
    vni = api.get(f"/v2.0/networks/{net}").json()["network"]["provider:segmentation_id"]
    arp = f"in_port={of1},arp,dl_src={vm1.mac},dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1"

    # 23: the canary table exists, holds one drop flow of ours
    canary = parse_dump("br-int", h1.ovs.ofctl("br-int", "dump-flows", "table=23"))
    assert [f.actions for f in canary if cookies.is_ours(f.cookie)] == [("drop",)]

    # 0 -> 24 -> 25 -> 60: an honest ARP passes anti-spoofing and is switched (NORMAL)
    tables, actions = trace(h1, "br-int", f"{arp},arp_spa={vm1.ip},arp_tpa={vm2.ip}")
    first_visit(tables, 0, 24, 25, 60)
    assert actions != "drop", actions
    # 24: an ARP claiming another address stops there
    tables, actions = trace(h1, "br-int", f"{arp},arp_spa=10.0.5.250,arp_tpa={vm2.ip}")
    assert tables[-1] == 24 and actions == "drop", (tables, actions)
    # 25: a frame from a MAC that is not the port's stops there
    tables, actions = trace(h1, "br-int", f"in_port={of1},ip,dl_src=fa:16:3e:99:99:99,"
                                          f"nw_src={vm1.ip},nw_dst={vm2.ip}")
    assert tables[-1] == 25 and actions == "drop", (tables, actions)
    # 0: a plugged port no Neutron port claims is on the dead VLAN and dropped on entry
    assert h1.ovs.vsctl("get", "Port", stray.port, "tag").strip() == "4095"
    tables, actions = trace(h1, "br-int", f"in_port={h1.ovs.ofport(stray.port)},arp,"
                                          f"dl_src={stray.mac},arp_spa={stray.ip}")
    assert tables == [0] and actions == "drop", (tables, actions)
    # 0: the reserved VLAN 4095 is dropped on entry
    tables, actions = trace(h1, "br-int", f"in_port={of1},dl_vlan=4095,dl_src={vm1.mac}")
    assert tables == [0] and actions == "drop", (tables, actions)

    # 60 -> 71 -> 72 -> 73 -> 81 -> 82 -> 92: TCP from vm1 to vm2 (both in the default
    # group, which admits its own members) crosses the egress then the ingress firewall
    tcp = (f"in_port={of1},tcp,dl_src={vm1.mac},dl_dst={vm2.mac},nw_src={vm1.ip},"
           f"nw_dst={vm2.ip},tp_src=40000,tp_dst=22")
    tables, actions = trace(h1, "br-int", tcp, "trk,new", "trk,new")
    first_visit(tables, 0, 25, 60, 71, 72, 73, 81, 82, 92)
    assert re.fullmatch(r"(ct\(.*\),)?\d+", actions), actions  # output to a datapath port
    # 71: an IP packet with another source address goes to 93 (dropped)
    tables, actions = trace(h1, "br-int", tcp.replace(f"nw_src={vm1.ip}", "nw_src=10.0.5.250"))
    assert 93 in tables and actions == "drop", (tables, actions)
    # 82: a new connection from outside the group is refused at the ingress rules
    other = (f"in_port={h1.ovs.ofport('patch-tun')},dl_vlan={lvid},tcp,dl_src=fa:16:3e:55:55:55,"
             f"dl_dst={vm1.mac},nw_src=10.0.9.9,nw_dst={vm1.ip},tp_src=40000,tp_dst=22")
    tables, actions = trace(h1, "br-int", other, "trk,new")
    first_visit(tables, 0, 60, 81, 82, 93)
    assert actions == "drop", actions

    # br-tun: 0 -> 2 -> 20 -> 22 for unknown unicast from br-int; 22 floods with the VNI
    patch_int, vxlan = h1.ovs.ofport("patch-int"), h1.ovs.ofport("vxlan-c0a86402")
    tables, actions = trace(h1, "br-tun", f"in_port={patch_int},dl_vlan={lvid},"
                                          f"dl_src={vm1.mac},dl_dst=fa:16:3e:77:77:77")
    first_visit(tables, 0, 2, 20, 22)
    assert f"vni={vni:#x}" in actions, actions  # tnl_push(...vxlan(...vni=...)) in userspace
    # 0 -> 4 -> 10: from the tunnel, the VNI becomes the local VLAN and the source is
    # learned; then br-int (0 -> 60 -> 81 -> 92) delivers the ARP reply to vm1's port
    tables, actions = trace(h1, "br-tun", f"in_port={vxlan},tun_id={vni:#x},arp,arp_op=2,"
                                          f"dl_src={p3['mac_address']},dl_dst={vm1.mac},"
                                          f"arp_spa={p3['fixed_ips'][0]['ip_address']},"
                                          f"arp_tpa={vm1.ip}")
    first_visit(tables, 0, 4, 10, 0, 60, 81, 92)
    assert re.fullmatch(r"\d+", actions), actions
    # 0: anything from an unknown port is dropped
    tables, actions = trace(h1, "br-tun", "in_port=LOCAL,dl_dst=fa:16:3e:77:77:77")
    assert tables == [0] and actions == "drop", (tables, actions)
    ping(vm1, vm2)


# ------------------------------------------------------------------ l2population

ML2_CONF = """[ovs]
local_ip = {local_ip}
[agent]
tunnel_types = vxlan
l2_population = true
arp_responder = true
polling_interval = 1
"""


def test_l2population_and_arp_responder_from_ml2_conf(lab_hosts, fermion_server, agent_procs):
    """With l2_population (set in ml2_conf.ini, not on the command line), br-tun gets a
    unicast entry (20) and an ARP responder entry (21) for the remote port, floods only to
    hosts with ports on the network, and answers the instance's ARP itself."""
    server = fermion_server()
    api = server.client()
    h1, h2, _ = two_hosts(lab_hosts)
    h3 = lab_hosts.add_host("h3")
    lab_hosts.underlays["ul"].attach(h3, "192.168.100.3/24")
    procs = {}
    for h in (h1, h2, h3):
        conf = h.rundir / "ml2_conf.ini"
        conf.write_text(ML2_CONF.format(local_ip=h.local_ip))
        procs[h.name] = agent_procs.start(h, "l2", server, "--config-file", str(conf))
    for proc in procs.values():
        proc.wait_for_log(" pass 1 at revision")
    net = make_network(api, "vx", "10.0.5.0/24")
    p1, p2 = make_port(api, net, h1.name), make_port(api, net, h2.name)
    vm1, vm2 = plug(h1, "vm1", p1), plug(h2, "vm2", p2)
    wait_status(api, [p1, p2])

    agents = api.get("/v2.0/agents", params={"host": h1.name}).json()["agents"]
    assert agents[0]["configurations"]["l2_population"] is True
    assert agents[0]["configurations"]["tunneling_ip"] == h1.local_ip

    vm2_ip = p2["fixed_ips"][0]["ip_address"]
    dump = wait_flows(h1, "br-tun", f"arp_tpa={vm2_ip}")
    flows = parse_dump("br-tun", dump)
    unicast = [f for f in flows if f.table == 20 and f.get("dl_dst") == vm2.mac]
    assert unicast and any("output:" in a for a in unicast[0].actions), dump
    flood = [f for f in flows if f.table == 22 and cookies.is_ours(f.cookie)
             and f.get("dl_vlan") is not None]
    # h3 has a tunnel port but no port on the network: not flooded to
    h3_port = h1.ovs.ofport("vxlan-c0a86403")
    h2_port = h1.ovs.ofport("vxlan-c0a86402")
    outs = [a for f in flood for a in f.actions if a.startswith("output:")]
    assert f"output:{h2_port}" in outs and f"output:{h3_port}" not in outs, dump

    arp_before = _packets(h1, "table=21", f"arp_tpa={vm2_ip}")
    vm1.exec(["ip", "neigh", "flush", "all"], check=False)
    ping(vm1, vm2, settle=10)
    assert _packets(h1, "table=21", f"arp_tpa={vm2_ip}") > arp_before, \
        "vm1's ARP for vm2 was not answered by br-tun's ARP responder"


def _packets(host, table: str, needle: str) -> int:
    dump = host.ovs.ofctl("br-tun", "dump-flows", table)
    total = 0
    for line in dump.splitlines():
        if needle in line:
            total += int(re.search(r"n_packets=(\d+)", line).group(1))
    return total
