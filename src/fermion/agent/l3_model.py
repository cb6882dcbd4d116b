"""The L3 agent's desired state: one :class:`Router` per router the host's snapshot holds.

Pure: built from the change feed's snapshot (``routers`` with ``gw_port_id``,
``_interfaces`` and ``_floatingips``; the router ports; their networks and subnets; the
floating IPs), nothing here touches the system. ``l3_rules`` turns a Router into iptables
chains; ``l3_apply`` realises it.

Naming (the seed's): namespace ``qrouter-<router id>`` (behind an optional prefix, so
simulated hosts sharing one kernel keep theirs apart), devices ``qr-<port id[:11]>`` for
interfaces and ``qg-<port id[:11]>`` for the gateway, inside the namespace; the other end of
each veth is the OVS port on br-int and has the same name (in the OVS host's namespace), so
``ovs-vsctl show`` lists the router's ``qr-``/``qg-`` ports on br-int as in the seed.

A router is left out (so the agent removes it) when it is administratively down, and when
it has no gateway and ``handle_internal_only_routers`` is off, as Neutron's agent does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

NAMESPACE_PREFIX = "qrouter-"
INTERNAL_PREFIX = "qr-"
EXTERNAL_PREFIX = "qg-"
METADATA_IP = "169.254.169.254"


def namespace_name(router_id: str, prefix: str = "") -> str:
    return f"{prefix}{NAMESPACE_PREFIX}{router_id}"


def internal_device(port_id: str) -> str:
    return INTERNAL_PREFIX + port_id[:11]


def external_device(port_id: str) -> str:
    return EXTERNAL_PREFIX + port_id[:11]


@dataclass(frozen=True)
class RouterPort:
    """A router port as a device in the router's namespace."""

    id: str
    device: str  # qr-… / qg-…: in the namespace, and the OVS port's name on br-int
    mac: str
    mtu: int
    network_id: str
    cidrs: tuple[str, ...]  # the port's addresses with their subnets' prefix length
    address_scope: str | None  # the network's IPv4 address scope, if any


@dataclass(frozen=True)
class Gateway:
    port: RouterPort
    gateway_ips: tuple[str, ...]  # the external subnets' gateways (default routes)
    enable_snat: bool

    @property
    def ipv4(self) -> str | None:
        """The first IPv4 address of the gateway port: the SNAT source."""
        for cidr in self.port.cidrs:
            if ipaddress.ip_interface(cidr).version == 4:
                return cidr.split("/")[0]
        return None


@dataclass(frozen=True)
class FloatingIP:
    id: str
    floating_ip: str
    fixed_ip: str
    fixed_scope: str | None  # address scope of the fixed IP's subnet
    status: str


@dataclass(frozen=True)
class ExtraRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True)
class Router:
    id: str
    namespace: str
    interfaces: tuple[RouterPort, ...]
    gateway: Gateway | None
    floating_ips: tuple[FloatingIP, ...]
    routes: tuple[ExtraRoute, ...]
    metadata_proxy: bool  # REDIRECT + haproxy for 169.254.169.254

    @property
    def ports(self) -> tuple[RouterPort, ...]:
        return self.interfaces + ((self.gateway.port,) if self.gateway else ())


def routers_from_snapshot(snapshot: dict, *, namespace_prefix: str = "",
                          handle_internal_only_routers: bool = True,
                          enable_metadata_proxy: bool = True) -> list[Router]:
    """The routers this host should realise, sorted by id."""
    ports = {p["id"]: p for p in snapshot.get("ports", [])}
    networks = {n["id"]: n for n in snapshot.get("networks", [])}
    subnets = {s["id"]: s for s in snapshot.get("subnets", [])}
    fips = {f["id"]: f for f in snapshot.get("floatingips", [])}
    out = []
    for r in sorted(snapshot.get("routers", []), key=lambda r: r["id"]):
        if not r.get("admin_state_up", True):
            continue
        interfaces = tuple(
            _port(ports[pid], networks, subnets, internal_device(pid))
            for pid in r.get("_interfaces", []) if pid in ports and ports[pid].get("fixed_ips"))
        gateway = None
        gw_port = ports.get(r.get("gw_port_id") or "")
        if gw_port is not None and gw_port.get("fixed_ips"):
            gw_ips = tuple(subnets[f["subnet_id"]]["gateway_ip"] for f in gw_port["fixed_ips"]
                           if subnets.get(f["subnet_id"], {}).get("gateway_ip"))
            snat = (r.get("external_gateway_info") or {}).get("enable_snat", True)
            gateway = Gateway(_port(gw_port, networks, subnets, external_device(gw_port["id"])),
                              gw_ips, bool(snat))
        if gateway is None and not handle_internal_only_routers:
            continue
        floating = ()
        if gateway is not None:
            floating = tuple(sorted(
                (_floating(fips[fid], interfaces) for fid in r.get("_floatingips", [])
                 if fid in fips and fips[fid].get("port_id") and fips[fid].get("fixed_ip_address")),
                key=lambda f: f.floating_ip))
        routes = tuple(ExtraRoute(x["destination"], x["nexthop"]) for x in r.get("routes") or [])
        out.append(Router(id=r["id"], namespace=namespace_name(r["id"], namespace_prefix),
                          interfaces=interfaces, gateway=gateway, floating_ips=floating,
                          routes=routes,
                          metadata_proxy=enable_metadata_proxy and bool(interfaces)))
    return out


def _port(port: dict, networks: dict, subnets: dict, device: str) -> RouterPort:
    network = networks.get(port["network_id"], {})
    cidrs = []
    for fixed in port.get("fixed_ips", []):
        subnet = subnets.get(fixed["subnet_id"])
        prefixlen = ipaddress.ip_network(subnet["cidr"]).prefixlen if subnet else 32
        cidrs.append(f"{fixed['ip_address']}/{prefixlen}")
    return RouterPort(id=port["id"], device=device,
                      mac=port["mac_address"], mtu=int(network.get("mtu") or 1500),
                      network_id=port["network_id"], cidrs=tuple(cidrs),
                      address_scope=network.get("ipv4_address_scope"))


def _floating(fip: dict, interfaces: tuple[RouterPort, ...]) -> FloatingIP:
    fixed = ipaddress.ip_address(fip["fixed_ip_address"])
    scope = None
    for port in interfaces:
        if any(fixed in ipaddress.ip_interface(c).network for c in port.cidrs):
            scope = port.address_scope
            break
    return FloatingIP(id=fip["id"], floating_ip=fip["floating_ip_address"],
                      fixed_ip=fip["fixed_ip_address"], fixed_scope=scope,
                      status=fip.get("status", "DOWN"))
