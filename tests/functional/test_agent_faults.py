"""Failure containment, on live hosts: one failing object does not stop an agent.

For each agent, one object is made to fail by a real fault on the host — an OVS port of the
same name already on another bridge (``ovs-vsctl --may-exist add-port`` refuses to move it)
for a router's ``qr-`` device and a network's DHCP ``tap`` device; an OVS port whose device
does not exist (OVS cannot open it) for an instance's port. While it fails, the other
objects of the host are created, updated and removed as usual, the agent stays up and the
failing object's status says ERROR where the API has one (port, floating IP); once the
fault is removed, the object converges. Then a pass is made to raise (the agent's snapshot
comes through ``fault_proxy``, which corrupts it): the agent logs it, retries with a new
snapshot and converges once the snapshot is sound again.
"""

from __future__ import annotations

import pytest

from fermion.agent.dhcp_model import dhcp_device_id
from fermion.lab.host import unplug_instance
from fermion.linux import netns as ns
from fermion.linux.process import argv_of
from tests.functional.test_dhcp_agent import DhcpSetup, make_network, wait_for
from tests.functional.test_hosts import ping
from tests.functional.test_l2_agent import make_port, plug, run_agent
from tests.functional.test_l3_agent import make_lab

pytestmark = pytest.mark.root

FAULT_BRIDGE = "br-fault"


def conflicting_port(host, name: str) -> None:
    """The fault: an OVS port called `name` on another bridge (a patch port: no device)."""
    host.ovs.add_bridge(FAULT_BRIDGE)
    host.ovs.add_port(FAULT_BRIDGE, name, type="patch", options={"peer": "nowhere"})


def status_of(api, kind: str, obj_id: str) -> str:
    return api.get(f"/v2.0/{kind}s/{obj_id}").json()[kind]["status"]


def break_a_pass(proxy, agent, spoil, poke) -> None:
    """Corrupt the snapshots (``spoil``), make the agent take some (``poke`` writes through
    the API), wait until it has taken two (it retried the failed pass) and heal them."""
    seen = proxy.corrupted
    proxy.corrupt = spoil
    poke()
    wait_for("two corrupted snapshots taken", lambda: proxy.corrupted >= seen + 2, agent=agent)
    proxy.corrupt = None
    assert agent.alive()


# ---------------------------------------------------------------------------- L3


def test_one_failing_router_leaves_the_others_converging(
        lab_hosts, fermion_server, agent_procs, fault_proxy):
    lab = make_lab(lab_hosts, fermion_server)
    api = lab.api
    subnets = {name: lab.tenant_network(name, f"10.0.{i}.0/24")
               for i, name in enumerate(("old", "upd", "bad", "new"), start=1)}
    r_old = lab.router("old", subnets["old"][1])
    r_upd = lab.router("upd", subnets["upd"][1])
    proxy = fault_proxy(lab.server)
    agent = agent_procs.start(lab.net, "l3", proxy, *lab.l3_args())

    def has_devices(rid: str) -> bool:
        netns = lab.ns_of(rid)
        links = ns.list_links(netns=netns) if ns.netns_exists(netns) else []
        return any(x.startswith("qr-") for x in links) and \
            any(x.startswith("qg-") for x in links)

    for rid in (r_old, r_upd):
        wait_for(f"router {rid}", lambda rid=rid: has_devices(rid), agent=agent)

    # the failing router: its interface's qr- name is taken on another bridge
    bad_port = lab.post("/v2.0/ports", {"port": {"network_id": subnets["bad"][0]}})
    qr_bad = f"qr-{bad_port['id'][:11]}"
    conflicting_port(lab.net, qr_bad)
    r_bad = lab.router("bad")
    lab.put(f"/v2.0/routers/{r_bad}/add_router_interface", {"port_id": bad_port["id"]})
    vm_port = lab.post("/v2.0/ports", {"port": {"network_id": subnets["bad"][0]}})
    fip = lab.floating_ip(vm_port["id"])
    wait_for("the failing router's floating IP in ERROR",
             lambda: status_of(api, "floatingip", fip["id"]) == "ERROR", agent=agent)

    # meanwhile the others: one created, one updated, one removed
    r_new = lab.router("new", subnets["new"][1])
    lab.put(f"/v2.0/routers/{r_upd}", {"router": {"routes": [
        {"destination": "192.168.77.0/24", "nexthop": "10.0.2.5"}]}})
    lab.put(f"/v2.0/routers/{r_old}/remove_router_interface", {"subnet_id": subnets["old"][1]})
    assert api.delete(f"/v2.0/routers/{r_old}").status_code == 204
    wait_for("the new router", lambda: has_devices(r_new), agent=agent)
    wait_for("the updated router's extra route", lambda: "192.168.77.0/24 via 10.0.2.5" in
             ns.exec_in(lab.ns_of(r_upd), ["ip", "route"]).stdout, agent=agent)
    wait_for("the removed router gone", lambda: not ns.netns_exists(lab.ns_of(r_old)),
             agent=agent)
    assert qr_bad not in lab.net.ovs.list_ports("br-int")
    assert status_of(api, "floatingip", fip["id"]) == "ERROR"

    # the fault goes: the router converges (retried after its backoff)
    lab.net.ovs.del_port(qr_bad, bridge=FAULT_BRIDGE)
    wait_for("the failing router's floating IP ACTIVE",
             lambda: status_of(api, "floatingip", fip["id"]) == "ACTIVE", agent=agent)
    assert qr_bad in lab.net.ovs.list_ports("br-int")
    qg = next(x for x in ns.list_links(netns=lab.ns_of(r_bad)) if x.startswith("qg-"))
    assert f"{fip['floating_ip_address']}/32" in ns.list_addresses(qg, netns=lab.ns_of(r_bad))

    # a pass that raises (the snapshot's routers are not a list) does not end the agent
    break_a_pass(proxy, agent, lambda snap: snap.update(routers=7),
                 lambda: lab.tenant_network("poke", "10.0.9.0/24"))
    lab.put(f"/v2.0/routers/{r_new}/remove_router_interface", {"subnet_id": subnets["new"][1]})
    assert api.delete(f"/v2.0/routers/{r_new}").status_code == 204
    wait_for("a router deleted after the broken passes gone",
             lambda: not ns.netns_exists(lab.ns_of(r_new)), agent=agent)


# ---------------------------------------------------------------------------- DHCP


def test_one_failing_network_leaves_the_others_served(
        lab_hosts, fermion_server, agent_procs, fault_proxy):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    run_agent(server, host, "--tunnel-types", "vxlan")  # br-int
    n_old, _ = make_network(api, "old", "10.40.1.0/24")
    n_upd, _ = make_network(api, "upd", "10.40.2.0/24")
    proxy = fault_proxy(server)
    dhcp = DhcpSetup(host, proxy, agent_procs)
    agent = dhcp.start()
    pids = {net: dhcp.wait_serving(net) for net in (n_old, n_upd)}
    argv_old = argv_of(pids[n_old])  # to tell the deleted network's dnsmasq from a reused pid

    # the failing network: its DHCP port's tap name is taken on another bridge
    r = api.post("/v2.0/networks", json={"network": {"name": "bad"}})
    n_bad = r.json()["network"]["id"]
    port = api.post("/v2.0/ports", json={"port": {
        "network_id": n_bad, "device_owner": "network:dhcp", "binding:host_id": host.name,
        "device_id": dhcp_device_id(host.name, n_bad)}}).json()["port"]
    conflicting_port(host, f"tap{port['id'][:11]}")
    r = api.post("/v2.0/subnets", json={"subnet": {"network_id": n_bad, "cidr": "10.40.3.0/24",
                                                   "ip_version": 4}})
    assert r.status_code == 201, r.text

    # meanwhile the others: one created, one updated, one removed
    n_new, _ = make_network(api, "new", "10.40.4.0/24")
    p_upd = make_port(api, n_upd, host.name)
    assert api.delete(f"/v2.0/networks/{n_old}").status_code == 204
    dhcp.wait_serving(n_new)
    wait_for("the new port in the hosts file",
             lambda: p_upd["mac_address"] in dhcp.hosts_file(n_upd), agent=agent)
    assert dhcp.pid(n_upd) == pids[n_upd]  # reloaded, not restarted
    wait_for("the deleted network's namespace gone",
             lambda: not ns.netns_exists(dhcp.netns(n_old)), agent=agent)
    assert argv_of(pids[n_old]) != argv_old, "the deleted network's dnsmasq still runs"
    assert dhcp.pid(n_bad) is None

    # the fault goes: the network is served (retried after its backoff)
    host.ovs.del_port(f"tap{port['id'][:11]}", bridge=FAULT_BRIDGE)
    dhcp.wait_serving(n_bad)

    # a pass that raises (the snapshot's networks are not a list) does not end the agent
    break_a_pass(proxy, agent, lambda snap: snap.update(networks=7),
                 lambda: make_port(api, n_new, host.name))
    p_new = make_port(api, n_new, host.name)
    wait_for("a port made after the broken passes in the hosts file",
             lambda: p_new["mac_address"] in dhcp.hosts_file(n_new), agent=agent)


# ---------------------------------------------------------------------------- L2


def test_one_failing_port_leaves_the_others_wired(
        lab_hosts, fermion_server, agent_procs, fault_proxy):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    proxy = fault_proxy(server)
    agent = agent_procs.start(host, "l2", proxy, "--tunnel-types", "vxlan",
                              "--poll-interval", "0.5")
    wait_for("br-int", lambda: "patch-tun" in host.ovs.list_ports("br-int")
             if "br-int" in host.ovs.list_bridges() else False, agent=agent)
    r = api.post("/v2.0/networks", json={"network": {"name": "n1"}})
    net = r.json()["network"]["id"]
    api.post("/v2.0/subnets", json={"subnet": {"network_id": net, "cidr": "10.50.0.0/24",
                                               "ip_version": 4, "enable_dhcp": False}})
    p_old, p_upd, p_bad, p_new = (make_port(api, net, host.name) for _ in range(4))
    vm_old, vm_upd = plug(host, "vmold", p_old), plug(host, "vmupd", p_upd)
    for p in (p_old, p_upd):
        wait_for("ACTIVE", lambda p=p: status_of(api, "port", p["id"]) == "ACTIVE",
                 agent=agent)

    # the failing port: plugged on a device that does not exist (OVS cannot open it)
    tap_bad = f"tap{p_bad['id'][:11]}"
    host.ovs.add_port("br-int", tap_bad, external_ids={
        "iface-id": p_bad["id"], "attached-mac": p_bad["mac_address"],
        "iface-status": "active"})
    wait_for("the failing port ERROR", lambda: status_of(api, "port", p_bad["id"]) == "ERROR",
             agent=agent)

    # meanwhile the others: one plugged, one updated, one unplugged
    vm_new = plug(host, "vmnew", p_new)
    r = api.put(f"/v2.0/ports/{p_upd['id']}", json={"port": {
        "allowed_address_pairs": [{"ip_address": "10.50.0.222"}]}})
    assert r.status_code == 200, r.text
    unplug_instance(vm_old)
    wait_for("the new port ACTIVE", lambda: status_of(api, "port", p_new["id"]) == "ACTIVE",
             agent=agent)
    ping(vm_new, vm_upd)
    wait_for("the updated port's address pair in its flows", lambda: "arp_spa=10.50.0.222" in
             host.ovs.ofctl("br-int", "dump-flows", "table=24"), agent=agent)
    wait_for("the unplugged port DOWN", lambda: status_of(api, "port", p_old["id"]) == "DOWN",
             agent=agent)
    assert status_of(api, "port", p_bad["id"]) == "ERROR"

    # the fault goes: the device appears, OVS opens it, the port is wired
    vm_bad = plug(host, "vmbad", p_bad)
    wait_for("the failing port ACTIVE", lambda: status_of(api, "port", p_bad["id"]) == "ACTIVE",
             agent=agent)
    ping(vm_bad, vm_new)

    # a pass that raises (the snapshot's ports are not a list) does not end the agent
    break_a_pass(proxy, agent, lambda snap: snap.update(ports=7),
                 lambda: api.put(f"/v2.0/ports/{p_new['id']}", json={"port": {"name": "x"}}))
    p_late = make_port(api, net, host.name)
    plug(host, "vmlate", p_late)
    wait_for("a port plugged after the broken passes ACTIVE",
             lambda: status_of(api, "port", p_late["id"]) == "ACTIVE", agent=agent)
