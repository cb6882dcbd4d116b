"""Stateless security groups and remote groups, end to end: API, real L2 agent, real OVS.

A real server and ``fermion agent l2 --once`` passes on a simulated host; instances plugged
as os-vif does. Stateless groups: traffic passes only where rules allow each direction, and
conntrack (the host's ``ovs-appctl dpctl/dump-conntrack``) never sees it. Remote groups:
conjunctive flows, so a port costs fewer than 20 flows and a member joining costs one.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fermion.agent import cookies
from fermion.agent.flows import parse_dump
from tests.functional.test_hosts import ping
from tests.functional.test_l2_agent import (
    ECHO_ONCE,
    make_network,
    no_reply,
    plug,
    run_agent,
    tcp_ok,
)

pytestmark = pytest.mark.root


def create(api, collection: str, body: dict) -> dict:
    member = collection.rstrip("s").replace("-", "_")
    r = api.post(f"/v2.0/{collection}", json={member: body})
    assert r.status_code == 201, r.text
    return r.json()[member]


def port(api, net: str, host, **attrs) -> dict:
    """A port bound to ``host`` (a lab host, or the name of a host elsewhere)."""
    return create(api, "ports", {"network_id": net, "binding:host_id": getattr(host, "name", host),
                                 **attrs})


def rule(api, group: str, direction: str, protocol: str | None = None, **attrs) -> dict:
    return create(api, "security-group-rules", {
        "security_group_id": group, "direction": direction, "ethertype": "IPv4",
        "protocol": protocol, **attrs})


def conntrack(host) -> list[str]:
    return host.ovs.appctl("dpctl/dump-conntrack").splitlines()


class Listener:
    """TCP listeners in an instance (ECHO_ONCE: accept, say hi, close), stopped at exit."""

    def __init__(self, vm, *ports: int):
        self.procs = []
        for p in ports:
            proc = vm.popen([sys.executable, "-c", ECHO_ONCE, vm.ip, str(p)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.procs.append(proc)
            assert proc.stdout.readline().strip() == "READY", proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def test_a_stateless_group_needs_rules_both_ways_and_never_meets_conntrack(
        lab_hosts, fermion_server):
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    net = make_network(api, "net1", "10.0.1.0/24")
    free = create(api, "security-groups", {"name": "free", "stateful": False})
    for r in free["security_group_rules"]:  # a new group starts with egress anywhere
        assert api.delete(f"/v2.0/security-group-rules/{r['id']}").status_code == 204
    rule(api, free["id"], "ingress", "icmp")
    rule(api, free["id"], "ingress", "tcp", port_range_min=5001, port_range_max=5001)
    # a port in both kinds of group is refused, as in Neutron
    default = api.get("/v2.0/security-groups", params={"name": "default"}).json()
    r = api.post("/v2.0/ports", json={"port": {"network_id": net, "security_groups": [
        free["id"], default["security_groups"][0]["id"]]}})
    assert r.status_code == 409 and "stateless" in r.text, r.text

    p1 = port(api, net, host, security_groups=[free["id"]])
    p2 = port(api, net, host, port_security_enabled=False, security_groups=[])
    p3 = port(api, net, host)  # the project's default group: stateful
    run_agent(server, host)
    vm1, vm2, vm3 = plug(host, "vm1", p1), plug(host, "vm2", p2), plug(host, "vm3", p3)
    run_agent(server, host)

    with Listener(vm1, 5001), Listener(vm2, 6000):
        # only ingress rules: requests get in, nothing gets out, not even the replies
        assert no_reply(vm2, vm1), "a stateless port answered without an egress rule"
        assert not tcp_ok(vm2, vm1, 5001), "TCP handshake completed without an egress rule"
        rule(api, free["id"], "egress", "icmp")
        rule(api, free["id"], "egress", "tcp")
        run_agent(server, host)
        ping(vm2, vm1)
        assert tcp_ok(vm2, vm1, 5001)
        # vm1 may open a connection to vm2:6000, but the replies (to vm1's ephemeral port)
        # meet only the ingress rule for 5001
        assert not tcp_ok(vm1, vm2, 6000), "a reply passed without an ingress rule"
    ping(vm3, vm2)  # a stateful port's traffic: conntrack has it (the check can see entries)
    entries = conntrack(host)
    assert any(f"src={vm3.ip}," in e for e in entries), entries
    assert not any(vm1.ip + "," in e for e in entries), entries


def live_flows(host) -> int:
    dump = host.ovs.ofctl("br-int", "dump-flows", options=["--no-stats"])
    return sum(1 for f in parse_dump("br-int", dump) if cookies.is_ours(f.cookie))


def test_remote_group_flows_grow_with_ports_plus_members(lab_hosts, fermion_server):
    """The default group (ingress from its members) as conjunctions on a live bridge: a
    plugged port adds fewer than 20 flows, a member elsewhere adds one, whatever the size
    of the group; members get in, others do not until they join."""
    server = fermion_server()
    api = server.client()
    host = lab_hosts.add_host("h1")
    net = make_network(api, "net1", "10.0.1.0/24")
    other = create(api, "security-groups", {"name": "other"})  # egress only
    ports = [port(api, net, host) for _ in range(3)]
    stranger = port(api, net, host, security_groups=[other["id"]])
    run_agent(server, host)
    vms = [plug(host, f"vm{i}", p) for i, p in enumerate(ports)]
    vm_s = plug(host, "stranger", stranger)
    run_agent(server, host)
    ping(vms[1], vms[0])
    assert no_reply(vm_s, vms[0]), "a port outside the group got in"

    def added(change) -> int:
        before = live_flows(host)
        change()
        run_agent(server, host)
        return live_flows(host) - before

    def plug_one(name):
        return lambda: plug(host, name, port(api, net, host))

    def members_elsewhere(n):
        return lambda: [port(api, net, "elsewhere") for _ in range(n)]

    per_port = added(plug_one("vm3"))
    assert 0 < per_port < 20, per_port
    assert added(members_elsewhere(1)) == 1
    assert added(members_elsewhere(20)) == 20  # one address flow per member, no more
    assert added(plug_one("vm4")) == per_port  # the group grew by 21: same cost per port
    # the stranger joins the group: it gets in
    r = api.put(f"/v2.0/ports/{stranger['id']}", json={"port": {"security_groups": [
        *stranger["security_groups"], *ports[0]["security_groups"]]}})
    assert r.status_code == 200, r.text
    run_agent(server, host)
    ping(vm_s, vms[0])
