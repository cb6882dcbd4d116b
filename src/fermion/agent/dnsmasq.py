"""dnsmasq's files and command line for one network (pure: text in, text out).

Files, in the network's directory (Neutron's names)::

    host        --dhcp-hostsfile  MAC,[set:port-<id>,]hostname.domain,IP   ([IPv6])
    addn_hosts  --addn-hosts      IP<TAB>hostname.domain<TAB>hostname
    opts        --dhcp-optsfile   tag:subnet-<id>,option:router,GW  …  tag:port-<id>,…
    leases      --dhcp-leasefile  (dnsmasq's own)
    pid         --pid-file

dnsmasq re-reads host, addn_hosts and opts on SIGHUP, so port changes never restart it; the
command line holds what only a restart changes (subnets' ranges, MTU, upstream servers,
domain, lease time). `render_argv` is deterministic, which is what lets a restarted agent
adopt a running dnsmasq (same argv = same configuration).

Per-subnet options: router (3; sent empty, i.e. suppressed, when ``gateway_ip`` is null),
DNS servers (6; the subnet's ``dns_nameservers``, else the DHCP port itself), classless
static routes (121 and the Microsoft 249) made of the subnet's ``host_routes``, the
network's other IPv4 subnets (on-link), the metadata route via the DHCP port and, once any
route is sent, the default route (clients ignore option 3 when option 121 is present).
MTU (26) is forced on the command line. Per-port options come from ``extra_dhcp_opts``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from fermion.agent.dhcp_model import DhcpConf, NetworkDhcp, Subnet

METADATA_CIDR = "169.254.169.254/32"


@dataclass(frozen=True)
class Paths:
    """Where one network's dnsmasq files live."""

    dir: Path

    @property
    def host(self) -> Path:
        return self.dir / "host"

    @property
    def addn_hosts(self) -> Path:
        return self.dir / "addn_hosts"

    @property
    def opts(self) -> Path:
        return self.dir / "opts"

    @property
    def leases(self) -> Path:
        return self.dir / "leases"

    @property
    def pid(self) -> Path:
        return self.dir / "pid"


def _fqdn(hostname: str, conf: DhcpConf) -> str:
    domain = conf.dns_domain.strip(".")
    return f"{hostname}.{domain}" if domain else hostname


def _ip(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def render_hosts(net: NetworkDhcp, conf: DhcpConf) -> str:
    lines = []
    for h in net.hosts:
        tag = f"set:port-{h.port_id}," if h.tagged else ""
        name = _fqdn(h.hostname, conf)
        address = f",{_ip(h.ip_address)}" if h.ip_address else ""
        lines.append(f"{h.mac},{tag}{name}{address}")
    return "".join(line + "\n" for line in lines)


def render_addn_hosts(net: NetworkDhcp, conf: DhcpConf) -> str:
    return "".join(f"{h.ip_address}\t{_fqdn(h.hostname, conf)}\t{h.hostname}\n"
                   for h in net.hosts if h.ip_address)


def _routes(net: NetworkDhcp, subnet: Subnet, conf: DhcpConf) -> list[tuple[str, str]]:
    routes = list(subnet.host_routes)
    dhcp_ip = net.dhcp_ips().get(subnet.id)
    if subnet.id in net.metadata_route_subnets(conf) and dhcp_ip:
        routes.append((METADATA_CIDR, dhcp_ip))
    for other in net.subnets:
        if other.id != subnet.id and other.ip_version == 4:
            routes.append((other.cidr, "0.0.0.0"))
    if routes and subnet.gateway_ip and not any(
            ipaddress.ip_network(dest).prefixlen == 0 for dest, _ in routes):
        routes.append(("0.0.0.0/0", subnet.gateway_ip))
    return routes


def _subnet_options(net: NetworkDhcp, subnet: Subnet, conf: DhcpConf) -> list[str]:
    tag = f"tag:subnet-{subnet.id}"
    dhcp_ip = net.dhcp_ips().get(subnet.id)
    servers = list(subnet.dns_nameservers) or ([dhcp_ip] if dhcp_ip else [])
    if subnet.ip_version == 6:
        out = []
        if servers:
            out.append(f"{tag},option6:dns-server,{','.join(_ip(s) for s in servers)}")
        if conf.dns_domain.strip("."):
            out.append(f"{tag},option6:domain-search,{conf.dns_domain.strip('.')}")
        return out
    out = [f"{tag},option:dns-server,{','.join(servers)}"] if servers else []
    routes = _routes(net, subnet, conf)
    if routes:
        flat = ",".join(f"{dest},{via}" for dest, via in routes)
        out.append(f"{tag},option:classless-static-route,{flat}")
        out.append(f"{tag},249,{flat}")
    out.append(f"{tag},option:router,{subnet.gateway_ip}" if subnet.gateway_ip
               else f"{tag},option:router")
    return out


def render_opts(net: NetworkDhcp, conf: DhcpConf) -> str:
    lines = []
    for subnet in net.subnets:
        if subnet.dhcp_mode:
            lines += _subnet_options(net, subnet, conf)
    for opt in net.port_options:
        family = "option6" if opt.ip_version == 6 else "option"
        name = opt.name if opt.name.isdigit() else f"{family}:{opt.name}"
        lines.append(f"tag:port-{opt.port_id},{name},{opt.value}")
    return "".join(line + "\n" for line in lines)


def _lease(conf: DhcpConf) -> str:
    return "infinite" if conf.dhcp_lease_duration < 0 else f"{conf.dhcp_lease_duration}s"


def render_ranges(net: NetworkDhcp, conf: DhcpConf) -> list[str]:
    out = []
    served = net.dhcp_ips()
    for subnet in net.subnets:
        if not subnet.dhcp_mode or subnet.id not in served:
            continue  # dnsmasq serves a subnet only from an address on it
        cidr = ipaddress.ip_network(subnet.cidr)
        mask = str(cidr.netmask) if cidr.version == 4 else str(cidr.prefixlen)
        out.append(f"--dhcp-range=set:subnet-{subnet.id},{cidr.network_address},"
                   f"{subnet.dhcp_mode},{mask},{_lease(conf)}")
    return out


def render_argv(net: NetworkDhcp, conf: DhcpConf, paths: Paths, device: str,
                binary: str = "dnsmasq") -> list[str]:
    argv = [binary, "--no-hosts"]
    if not conf.dnsmasq_local_resolv:
        argv.append("--no-resolv")
    argv += [f"--pid-file={paths.pid}", f"--dhcp-hostsfile={paths.host}",
             f"--addn-hosts={paths.addn_hosts}", f"--dhcp-optsfile={paths.opts}",
             f"--dhcp-leasefile={paths.leases}", f"--interface={device}",
             "--except-interface=lo", "--bind-dynamic"]
    argv += render_ranges(net, conf)
    if net.mtu:
        argv.append(f"--dhcp-option-force=option:mtu,{net.mtu}")
    argv += [f"--dhcp-lease-max={conf.dnsmasq_lease_max}", "--conf-file=/dev/null"]
    argv += [f"--server={server}" for server in conf.dnsmasq_dns_servers]
    if conf.dns_domain.strip("."):
        argv.append(f"--domain={conf.dns_domain.strip('.')}")
    return argv


def render_files(net: NetworkDhcp, conf: DhcpConf) -> dict[str, str]:
    """file name -> content, for the files dnsmasq re-reads on SIGHUP."""
    return {"host": render_hosts(net, conf), "addn_hosts": render_addn_hosts(net, conf),
            "opts": render_opts(net, conf)}
