"""The ``demo:`` section of a topology file: the cloud resources `lab up` creates through the
API (networks, subnets, routers, security group rules, instances), parsed into
`fermion.lab.topology.Demo`. Shape checks only; cross-references are in `topology_check`.
"""

from __future__ import annotations

import ipaddress

from fermion.lab import topology as t
from fermion.lab.topofile import Ctx, _cidr, _mapping, _name, address_in

PROTOCOLS = ("icmp", "tcp", "udp")


def demo(raw, ctx: Ctx) -> t.Demo:
    raw = _mapping(raw, ctx, optional=("project", "networks", "routers",
                                       "security_group_rules", "instances"))
    project = _name(raw.get("project", "demo"), ctx.at(raw, "project"), longest=64)
    nets_raw = raw.get("networks") or {}
    nctx = ctx.at(raw, "networks")
    networks = tuple(_net(k, v, nctx.at(nets_raw, k))
                     for k, v in _mapping(nets_raw, nctx).items())
    routers_raw = raw.get("routers") or {}
    rctx = ctx.at(raw, "routers")
    routers = tuple(_router(k, v, rctx.at(routers_raw, k))
                    for k, v in _mapping(routers_raw, rctx).items())
    rules_raw = raw.get("security_group_rules") or []
    sctx = ctx.at(raw, "security_group_rules")
    if not isinstance(rules_raw, list):
        sctx.fail("expected a list of rules like {protocol: tcp, port: 22}")
    rules = tuple(_rule(r, sctx.at(rules_raw, n)) for n, r in enumerate(rules_raw))
    inst_raw = raw.get("instances") or {}
    ictx = ctx.at(raw, "instances")
    instances = tuple(_instance(k, v, ictx.at(inst_raw, k))
                      for k, v in _mapping(inst_raw, ictx).items())
    return t.Demo(project=project, networks=networks, routers=routers, rules=rules,
                  instances=instances)


def _net(name, raw, ctx: Ctx) -> t.DemoNetwork:
    _name(name, ctx, longest=64)
    raw = _mapping(raw, ctx, required=("subnets",),
                   optional=("provider", "shared", "external"))
    ptype = physnet = segment = None
    if "provider" in raw:
        pctx = ctx.at(raw, "provider")
        p = _mapping(raw["provider"], pctx, required=("type", "physical_network"),
                     optional=("segment",))
        ptype = p["type"]
        if ptype not in ("flat", "vlan"):
            pctx.at(p, "type").fail(f"{ptype!r}: the lab's provider networks are flat or vlan")
        physnet = str(p["physical_network"])
        if ptype == "vlan":
            segment = p.get("segment")
            if not isinstance(segment, int) or not 1 <= segment <= 4094:
                pctx.at(p, "segment").fail("a vlan network needs a segment between 1 and 4094")
        elif "segment" in p:
            pctx.at(p, "segment").fail("a flat network has no segment")
    for key in ("shared", "external"):
        if key in raw and not isinstance(raw[key], bool):
            ctx.at(raw, key).fail("expected true or false")
    sraw = raw["subnets"]
    sctx = ctx.at(raw, "subnets")
    subnets = tuple(_subnet(k, v, sctx.at(sraw, k)) for k, v in _mapping(sraw, sctx).items())
    if not subnets:
        sctx.fail("a demo network needs a subnet")
    return t.DemoNetwork(name=name, subnets=subnets, provider_type=ptype,
                         physical_network=physnet, segment=segment,
                         shared=raw.get("shared", False), external=raw.get("external", False))


def _subnet(name, raw, ctx: Ctx) -> t.Subnet:
    _name(name, ctx, longest=64)
    raw = _mapping(raw, ctx, required=("cidr",),
                   optional=("gateway", "allocation_pool", "dns_nameservers"))
    cidr = _cidr(raw["cidr"], ctx.at(raw, "cidr"))
    gateway = address_in(raw["gateway"], cidr, ctx.at(raw, "gateway")).split("/")[0] \
        if "gateway" in raw else None
    pool = None
    if "allocation_pool" in raw:
        pctx = ctx.at(raw, "allocation_pool")
        text = str(raw["allocation_pool"])
        start, sep, end = text.partition("-")
        if not sep:
            pctx.fail(f"{text!r}: expected FIRST-LAST, e.g. 172.16.0.100-172.16.0.200")
        pool = (address_in(start.strip(), cidr, pctx).split("/")[0],
                address_in(end.strip(), cidr, pctx).split("/")[0])
    dns = raw.get("dns_nameservers") or []
    dctx = ctx.at(raw, "dns_nameservers")
    if not isinstance(dns, list):
        dctx.fail("expected a list of addresses")
    for n, server in enumerate(dns):
        _ip(server, dctx.at(dns, n))
    return t.Subnet(name=name, cidr=cidr, gateway=gateway, allocation_pool=pool,
                    dns_nameservers=tuple(str(s) for s in dns))


def _ip(value, ctx: Ctx) -> None:
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        ctx.fail(f"{value!r} is not an IPv4 address")


def _router(name, raw, ctx: Ctx) -> t.Router:
    _name(name, ctx, longest=64)
    raw = _mapping(raw, ctx, optional=("external_network", "subnets"))
    subnets = raw.get("subnets") or []
    if not isinstance(subnets, list):
        ctx.at(raw, "subnets").fail("expected a list of subnet names")
    ext = raw.get("external_network")
    return t.Router(name=name, external_network=str(ext) if ext is not None else None,
                    subnets=tuple(str(s) for s in subnets))


def _rule(raw, ctx: Ctx) -> t.Rule:
    raw = _mapping(raw, ctx, required=("protocol",), optional=("port",))
    protocol = raw["protocol"]
    if protocol not in PROTOCOLS:
        ctx.at(raw, "protocol").fail(f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
    port = raw.get("port")
    if port is not None:
        if protocol == "icmp":
            ctx.at(raw, "port").fail("icmp has no port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            ctx.at(raw, "port").fail(f"{port!r} is not a port number")
    return t.Rule(protocol, port)


def _instance(name, raw, ctx: Ctx) -> t.Instance:
    _name(name, ctx, longest=63)
    raw = _mapping(raw, ctx, required=("network", "host"), optional=("floating_ip",))
    fip = raw.get("floating_ip", False)
    if not isinstance(fip, bool):
        ctx.at(raw, "floating_ip").fail("expected true or false")
    return t.Instance(name=name, network=str(raw["network"]), host=str(raw["host"]),
                      floating_ip=fip)
