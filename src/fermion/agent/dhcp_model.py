"""The DHCP agent's desired state, computed from a host snapshot (pure: no system access).

For every network in the snapshot's ``dhcp_networks`` that has a DHCP-enabled subnet, a
`NetworkDhcp` says what should serve it: the subnets dnsmasq hands out (with their gateway,
DNS servers, host routes and whether they are *isolated*: no router interface port holds
an address on them), the hosts (MAC, hostname, address per port), the per-port DHCP
options, the DHCP port if it exists already, and whether a metadata proxy runs there
(``force_metadata``, or ``enable_isolated_metadata`` and an isolated IPv4 subnet).

The DHCP port is the network's port with ``device_owner`` ``network:dhcp`` and
``device_id`` `dhcp_device_id(host, network)`, as Neutron derives it: ``dhcp`` + the
host's UUID5 + ``-`` + the network id.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

DHCP_OWNER = "network:dhcp"
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                           "network:ha_router_replicated_interface")
SLAAC_MODES = ("slaac",)


@dataclass(frozen=True)
class DhcpConf:
    """The dhcp_agent.ini options the model and the renderers use."""

    dns_domain: str = "openstacklocal"
    dnsmasq_dns_servers: tuple[str, ...] = ()
    dnsmasq_local_resolv: bool = False
    enable_isolated_metadata: bool = False
    force_metadata: bool = False
    dhcp_lease_duration: int = 86400
    dnsmasq_lease_max: int = 2 ** 24


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[tuple[str, str], ...]   # (destination, nexthop)
    ipv6_address_mode: str | None
    isolated: bool

    @property
    def dhcp_mode(self) -> str | None:
        """"static" when dnsmasq serves it (IPv4, DHCPv6 stateful/stateless, or IPv6
        without modes); None for SLAAC-only subnets (addresses from router advertisements)."""
        if self.ip_version == 6 and self.ipv6_address_mode in SLAAC_MODES:
            return None
        return "static"

    @property
    def stateless(self) -> bool:
        return self.ip_version == 6 and self.ipv6_address_mode == "dhcpv6-stateless"


@dataclass(frozen=True)
class Host:
    """One line of the hosts file: a port's address on one subnet."""

    port_id: str
    mac: str
    hostname: str
    ip_address: str | None        # None on DHCPv6-stateless subnets (options only)
    subnet_id: str
    tagged: bool                  # the port has extra_dhcp_opts (tag port-<id>)


@dataclass(frozen=True)
class PortOption:
    port_id: str
    name: str
    value: str
    ip_version: int


@dataclass(frozen=True)
class NetworkDhcp:
    network_id: str
    mtu: int | None
    subnets: tuple[Subnet, ...]                 # DHCP-enabled, in creation order
    hosts: tuple[Host, ...]
    port_options: tuple[PortOption, ...]
    dhcp_port: Mapping | None = field(default=None, compare=False, hash=False)
    dhcp_port_key: tuple = ()                   # what of the DHCP port matters (id, mac, ips)
    metadata: bool = False

    def dhcp_ips(self) -> dict[str, str]:
        """subnet id -> the DHCP port's address on it."""
        if not self.dhcp_port:
            return {}
        return {f["subnet_id"]: f["ip_address"] for f in self.dhcp_port.get("fixed_ips", [])}

    def dhcp_cidrs(self) -> list[str]:
        """The DHCP port's addresses with their subnets' prefix lengths."""
        prefix = {s.id: ipaddress.ip_network(s.cidr).prefixlen for s in self.subnets}
        return [f"{ip}/{prefix[sid]}" for sid, ip in sorted(self.dhcp_ips().items())
                if sid in prefix]

    def metadata_route_subnets(self, conf: DhcpConf) -> set[str]:
        """IPv4 subnets whose clients get a route to 169.254.169.254 via the DHCP port."""
        if not self.metadata:
            return set()
        return {s.id for s in self.subnets if s.ip_version == 4
                and (conf.force_metadata or s.isolated)}


def dhcp_device_id(host: str, network_id: str) -> str:
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def _hostname(port: Mapping, ip: str) -> str:
    for entry in port.get("dns_assignment") or []:
        if entry.get("ip_address") == ip and entry.get("hostname"):
            return entry["hostname"]
    return "host-" + ip.replace(".", "-").replace(":", "-")


def _isolated(subnet_id: str, ports: list[Mapping]) -> bool:
    for port in ports:
        if str(port.get("device_owner", "")).startswith(ROUTER_INTERFACE_OWNERS):
            if any(f.get("subnet_id") == subnet_id for f in port.get("fixed_ips", [])):
                return False
    return True


def _subnet(s: Mapping, ports: list[Mapping]) -> Subnet:
    return Subnet(
        id=s["id"], cidr=s["cidr"], ip_version=int(s["ip_version"]),
        gateway_ip=s.get("gateway_ip"),
        dns_nameservers=tuple(s.get("dns_nameservers") or ()),
        host_routes=tuple((r["destination"], r["nexthop"]) for r in s.get("host_routes") or ()),
        ipv6_address_mode=s.get("ipv6_address_mode"),
        isolated=_isolated(s["id"], ports))


def network_dhcp(network: Mapping, subnets: list[Mapping], ports: list[Mapping], host: str,
                 conf: DhcpConf) -> NetworkDhcp | None:
    """The desired DHCP service of one network (None: no DHCP-enabled subnet)."""
    served = [_subnet(s, ports) for s in subnets if s.get("enable_dhcp")]
    if not served:
        return None
    by_id = {s.id: s for s in served}
    device_id = dhcp_device_id(host, network["id"])
    dhcp_port = next((p for p in ports if p.get("device_owner") == DHCP_OWNER
                      and p.get("device_id") == device_id), None)
    hosts, options = [], []
    for port in sorted(ports, key=lambda p: p["id"]):
        port_hosts, port_options = _entries(port, by_id)
        hosts += port_hosts
        options += port_options
    isolated_v4 = any(s.isolated for s in served if s.ip_version == 4)
    has_v4 = any(s.ip_version == 4 for s in served)
    metadata = has_v4 and (conf.force_metadata or (conf.enable_isolated_metadata
                                                   and isolated_v4))
    return NetworkDhcp(network["id"], network.get("mtu"), tuple(served), tuple(hosts),
                       tuple(options), dhcp_port, port_key(dhcp_port) if dhcp_port else (),
                       metadata)


def _entries(port: Mapping, subnets: Mapping[str, Subnet]) -> tuple[list[Host], list[PortOption]]:
    """A port's lines in the hosts file (one per address on a served subnet) and options."""
    extra = port.get("extra_dhcp_opts") or []
    hosts = []
    for fixed in port.get("fixed_ips", []):
        subnet = subnets.get(fixed.get("subnet_id"))
        if subnet is None or subnet.dhcp_mode is None:
            continue
        ip = fixed["ip_address"]
        hosts.append(Host(port["id"], port["mac_address"], _hostname(port, ip),
                          None if subnet.stateless else ip, subnet.id, bool(extra)))
    options = [PortOption(port["id"], str(opt["opt_name"]), str(opt["opt_value"]),
                          int(opt.get("ip_version") or 4)) for opt in extra]
    return hosts, options


def port_key(port: Mapping) -> tuple:
    """What of the DHCP port matters to the service: id, MAC, addresses."""
    return (port["id"], port["mac_address"],
            tuple(sorted((f["subnet_id"], f["ip_address"]) for f in port.get("fixed_ips", []))))


def with_dhcp_port(net: NetworkDhcp, port: Mapping) -> NetworkDhcp:
    """``net`` served through ``port`` (just created or updated by the agent): the port and
    its own hosts lines, as the next snapshot will show them, so that snapshot finds the
    files already right (no reload)."""
    hosts, options = _entries(port, {s.id: s for s in net.subnets})
    others = [h for h in net.hosts if h.port_id != port["id"]]
    other_options = [o for o in net.port_options if o.port_id != port["id"]]
    return dataclasses.replace(
        net, dhcp_port=port, dhcp_port_key=port_key(port),
        hosts=tuple(sorted([*others, *hosts], key=lambda h: h.port_id)),
        port_options=tuple(sorted([*other_options, *options], key=lambda o: o.port_id)))


def desired_networks(snapshot: Mapping, host: str, conf: DhcpConf) -> dict[str, NetworkDhcp]:
    """network id -> NetworkDhcp for every served network with a DHCP-enabled subnet."""
    networks = {n["id"]: n for n in snapshot.get("networks", [])}
    subnets: dict[str, list[Mapping]] = {}
    for s in snapshot.get("subnets", []):
        subnets.setdefault(s["network_id"], []).append(s)
    ports: dict[str, list[Mapping]] = {}
    for p in snapshot.get("ports", []):
        ports.setdefault(p["network_id"], []).append(p)
    out = {}
    for net_id in snapshot.get("dhcp_networks", []):
        if net_id not in networks:
            continue
        want = network_dhcp(networks[net_id], subnets.get(net_id, []),
                            ports.get(net_id, []), host, conf)
        if want is not None:
            out[net_id] = want
    return out
