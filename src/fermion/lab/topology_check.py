"""Whole-topology rules: roles, who sits on which network, unique addresses, references.

`check(topo, fail)` calls ``fail(key_path, message)`` on the first problem (the file reader
turns the key path into a line). Pure: it looks at the `Topology` only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from fermion.lab.topology import Topology

Fail = Callable[[str, str], None]


def check(topo: Topology, fail: Fail) -> None:
    _networks(topo, fail)
    _roles(topo, fail)
    _attachments(topo, fail)
    _gateways(topo, fail)
    _demo(topo, fail)


def _networks(topo: Topology, fail: Fail) -> None:
    for kind, most in (("management", 1), ("underlay", 1), ("outside", 1)):
        found = topo.of_kind(kind)
        if len(found) > most:
            fail(f"networks.{found[-1].name}", f"a lab has at most one {kind} network")
    if not topo.of_kind("management"):
        fail("networks", "a lab needs a management network (agents reach the API over it)")
    seen: dict[str, str] = {}
    for net in topo.networks:
        if not net.cidr:
            continue
        for other, cidr in seen.items():
            if ipaddress.ip_network(net.cidr).overlaps(ipaddress.ip_network(cidr)):
                fail(f"networks.{net.name}.cidr", f"{net.cidr} overlaps {other} ({cidr})")
        seen[net.name] = net.cidr


def _roles(topo: Topology, fail: Fail) -> None:
    for role, low, high in (("controller", 1, 1), ("network", 1, 1), ("labhost", 1, 1),
                            ("compute", 1, 10 ** 6)):
        hosts = topo.with_role(role)
        if not low <= len(hosts) <= high:
            want = f"exactly {low}" if low == high else f"at least {low}"
            fail("hosts", f"a lab needs {want} host(s) with role {role}, found "
                          f"{len(hosts)}{': ' + ', '.join(h.name for h in hosts) if hosts else ''}")


def _attachments(topo: Topology, fail: Fail) -> None:
    mgmt = topo.management
    underlay = topo.of_kind("underlay")
    used: dict[tuple[str, str], str] = {}
    if mgmt.this_machine:
        used[(mgmt.name, mgmt.this_machine.split("/")[0])] = f"networks.{mgmt.name}.this_machine"
    for host in topo.hosts:
        where = f"hosts.{host.name}"
        networks = [i.network for i in host.interfaces]
        for net_name in set(networks):
            if networks.count(net_name) > 1:
                fail(f"{where}.interfaces", f"more than one interface on {net_name}")
        for iface in host.interfaces:
            at = f"{where}.interfaces.{iface.name}"
            net = topo.network(iface.network)
            is_labhost = "labhost" in host.roles
            if net.kind == "management" and is_labhost:
                fail(at, "labhost is the outside world: it is not on the management network")
            if net.kind == "provider" and host.runs_ovs and iface.address:
                fail(f"{at}.address", f"this NIC goes into {net.bridge}; an address for the "
                                      f"host on {net.name} is the network's gateway")
            needs = net.kind in ("management", "underlay", "outside") or \
                (net.kind == "provider" and not host.runs_ovs)
            if needs and not iface.address:
                fail(at, f"an interface on {net.kind} network {net.name} needs an address")
            if iface.address:
                ip, cidr = ipaddress.ip_address(iface.ip), ipaddress.ip_network(net.cidr)
                if ip not in cidr or ip in (cidr.network_address, cidr.broadcast_address):
                    fail(f"{at}.address", f"{ip} is not a host address of {cidr}")
                key = (net.name, iface.ip)
                if key in used:
                    fail(f"{at}.address", f"{iface.ip} is already used by {used[key]}")
                used[key] = at
        if "labhost" not in host.roles and not host.on(mgmt.name):
            fail(where, f"every host but labhost needs an interface on {mgmt.name}")
        if host.runs_ovs and underlay and not host.on(underlay[0].name):
            fail(where, f"network and compute hosts need an interface on {underlay[0].name} "
                        "(their tunnel endpoint)")
    for net in topo.of_kind("provider"):
        if net.gateway:
            key = (net.name, net.gateway.address.split("/")[0])
            if key in used:
                fail(f"networks.{net.name}.gateway.address",
                     f"{key[1]} is already used by {used[key]}")


def _gateways(topo: Topology, fail: Fail) -> None:
    labhost = topo.labhost
    for net in topo.of_kind("provider"):
        if net.gateway is None:
            continue
        where = f"networks.{net.name}.gateway.host"
        names = [h.name for h in topo.hosts]
        if net.gateway.host not in names:
            fail(where, f"no host {net.gateway.host!r}")
        gw = topo.host(net.gateway.host)
        if not gw.runs_ovs or not gw.on(net.name):
            fail(where, f"{gw.name} must be a network or compute host on {net.name} (the "
                        f"address goes on its {net.bridge})")
    for net in topo.of_kind("outside"):
        members = [h for h, _ in topo.members(net.name)]
        gateways = {n.gateway.host for n in topo.of_kind("provider") if n.gateway}
        others = [h for h in members if h.name != labhost.name]
        if labhost not in members or len(others) != 1 or others[0].name not in gateways:
            fail(f"networks.{net.name}", "the outside network joins labhost and one provider "
                                         "network's gateway host, and nothing else")
    if not any(i.address for i in labhost.interfaces):
        fail(f"hosts.{labhost.name}", "labhost needs an address on an outside or provider "
                                      "network")


def _demo(topo: Topology, fail: Fail) -> None:
    demo = topo.demo
    providers = {n.name for n in topo.of_kind("provider")}
    names: dict[str, str] = {}
    for net in demo.networks:
        at = f"demo.networks.{net.name}"
        if net.physical_network is not None and net.physical_network not in providers:
            fail(f"{at}.provider.physical_network",
                 f"no provider network {net.physical_network!r} in this topology")
        for sub in net.subnets:
            if sub.name in names:
                fail(f"{at}.subnets.{sub.name}", f"{sub.name} is already {names[sub.name]}")
            names[sub.name] = f"a subnet of {net.name}"
            if sub.allocation_pool:
                lo, hi = (ipaddress.ip_address(a) for a in sub.allocation_pool)
                if lo > hi:
                    fail(f"{at}.subnets.{sub.name}.allocation_pool", "first address after last")
    subnets = {s.name: n for n in demo.networks for s in n.subnets}
    routed: set[str] = set()
    for router in demo.routers:
        at = f"demo.routers.{router.name}"
        if router.external_network is not None:
            ext = next((n for n in demo.networks if n.name == router.external_network), None)
            if ext is None or not ext.external:
                fail(f"{at}.external_network", f"{router.external_network!r} is not an "
                                               "external demo network")
        for sub in router.subnets:
            if sub not in subnets:
                fail(f"{at}.subnets", f"no demo subnet {sub!r}")
            if router.external_network:
                routed.add(subnets[sub].name)
    computes = {h.name for h in topo.with_role("compute")}
    networks = {n.name for n in demo.networks}
    for inst in demo.instances:
        at = f"demo.instances.{inst.name}"
        if inst.network not in networks:
            fail(f"{at}.network", f"no demo network {inst.network!r}")
        if inst.host not in computes:
            fail(f"{at}.host", f"{inst.host!r} is not a compute host "
                               f"({', '.join(sorted(computes))})")
        if inst.floating_ip and inst.network not in routed:
            fail(f"{at}.floating_ip", f"{inst.network} has no router with an external gateway")
