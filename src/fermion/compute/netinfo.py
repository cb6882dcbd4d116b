"""What a server's ports look like to Nova: ``addresses``, ``network_data.json``, EC2 IPs.

Nova keeps a cache of each instance's network (``network_info``); Fermion asks the
Networking API instead (one list of ports by ``device_id`` for many servers, then their
networks, subnets and floating IPs) and derives every view from that, so ``server show``,
the metadata service and the compute agent see the same, current ports. Everything but
:func:`gather` is pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class NetInfo:
    """One server's ports (in order) and what they refer to."""

    ports: list[dict] = field(default_factory=list)
    networks: dict[str, dict] = field(default_factory=dict)
    subnets: dict[str, dict] = field(default_factory=dict)
    floatingips: dict[str, list[str]] = field(default_factory=dict)  # port id -> addresses

    def fixed_ips(self, version: int | None = None) -> list[str]:
        return [ip["ip_address"] for port in self.ports for ip in port.get("fixed_ips", [])
                if version is None
                or ipaddress.ip_address(ip["ip_address"]).version == version]

    def floating(self) -> list[str]:
        return [addr for port in self.ports for addr in self.floatingips.get(port["id"], [])]


def gather(networking, device_ids: Iterable[str],
           order: dict[str, list[str]] | None = None) -> dict[str, NetInfo]:
    """NetInfo per server id, from four lists on the Networking API (admin).

    ``order`` (server id -> port ids) puts a server's ports in the order it was given them;
    ports not in it (attached later) follow, by id.
    """
    device_ids = list(device_ids)
    if not device_ids:
        return {}
    ports = networking.ports_of(device_ids)
    networks = {n["id"]: n for n in networking.networks_by_id({p["network_id"]
                                                               for p in ports})}
    subnets = {s["id"]: s for s in networking.subnets_by_id(
        {ip["subnet_id"] for p in ports for ip in p.get("fixed_ips", [])})}
    fips: dict[str, list[str]] = {}
    for fip in networking.floatingips_of(p["id"] for p in ports) if ports else []:
        fips.setdefault(fip["port_id"], []).append(fip["floating_ip_address"])
    out = {uuid: NetInfo() for uuid in device_ids}
    for port in ports:
        info = out.get(port["device_id"])
        if info is None:
            continue
        info.ports.append(port)
        info.networks[port["network_id"]] = networks.get(port["network_id"], {})
        for ip in port.get("fixed_ips", []):
            if ip["subnet_id"] in subnets:
                info.subnets[ip["subnet_id"]] = subnets[ip["subnet_id"]]
        info.floatingips[port["id"]] = sorted(fips.get(port["id"], []))
    for uuid, info in out.items():
        rank = {pid: i for i, pid in enumerate((order or {}).get(uuid, []))}
        info.ports.sort(key=lambda p, rank=rank: (rank.get(p["id"], len(rank)), p["id"]))
    return out


def addresses(info: NetInfo) -> dict[str, list[dict]]:
    """Nova's ``addresses``: network name -> fixed then floating addresses of each port."""
    out: dict[str, list[dict]] = {}
    for port in info.ports:
        network = info.networks.get(port["network_id"], {})
        entries = out.setdefault(network.get("name") or port["network_id"], [])
        for ip in port.get("fixed_ips", []):
            entries.append(_address(ip["ip_address"], "fixed", port["mac_address"]))
        for addr in info.floatingips.get(port["id"], []):
            entries.append(_address(addr, "floating", port["mac_address"]))
    return out


def _address(addr: str, kind: str, mac: str) -> dict:
    return {"version": ipaddress.ip_address(addr).version, "addr": addr,
            "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": mac}


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def network_data(info: NetInfo) -> dict:
    """``network_data.json``: links (one per port), networks (one per port and IP version,
    the first subnet of that version) and DNS services, as Nova builds them."""
    links, networks, services = [], [], []
    for port in info.ports:
        network = info.networks.get(port["network_id"], {})
        by_version: dict[int, tuple[dict, dict]] = {}
        for ip in port.get("fixed_ips", []):
            subnet = info.subnets.get(ip["subnet_id"])
            if subnet is not None:
                by_version.setdefault(subnet["ip_version"], (ip, subnet))
        if not by_version:
            continue
        link = {"id": tap_name(port["id"]), "vif_id": port["id"], "type": "ovs",
                "mtu": network.get("mtu"), "ethernet_mac_address": port["mac_address"]}
        links.append(link)
        for version in sorted(by_version):
            ip, subnet = by_version[version]
            net = _network(len(networks), version, ip, subnet, link["id"], port["network_id"])
            networks.append(net)
            for dns in _dns(subnet):
                if dns not in services:
                    services.append(dns)
    return {"links": links, "networks": networks, "services": services}


def _network(index: int, version: int, ip: dict, subnet: dict, link: str,
             network_id: str) -> dict:
    mode = subnet.get("ipv6_address_mode") if version == 6 else None
    if mode is None and subnet.get("enable_dhcp"):
        return {"id": f"network{index}", "type": f"ipv{version}_dhcp", "link": link,
                "network_id": network_id}
    cidr = ipaddress.ip_network(subnet["cidr"])
    routes = []
    if subnet.get("gateway_ip"):
        default = "0.0.0.0" if version == 4 else "::"
        routes.append({"network": default, "netmask": default,
                       "gateway": subnet["gateway_ip"]})
    for route in subnet.get("host_routes", []):
        dest = ipaddress.ip_network(route["destination"])
        routes.append({"network": str(dest.network_address), "netmask": str(dest.netmask),
                       "gateway": route["nexthop"]})
    kind = f"ipv{version}" + (f"_{mode}" if mode else "")
    return {"id": f"network{index}", "type": kind, "link": link,
            "ip_address": ip["ip_address"], "netmask": str(cidr.netmask), "routes": routes,
            "network_id": network_id, "services": _dns(subnet)}


def _dns(subnet: dict) -> list[dict]:
    return [{"type": "dns", "address": a} for a in subnet.get("dns_nameservers", [])]


def agent_ports(info: NetInfo) -> list[dict]:
    """What the compute agent needs to plug a server's ports (in order)."""
    return [{"id": p["id"], "mac_address": p["mac_address"], "network_id": p["network_id"],
             "mtu": info.networks.get(p["network_id"], {}).get("mtu"),
             "fixed_ips": p.get("fixed_ips", []), "devname": tap_name(p["id"]),
             "status": p.get("status")} for p in info.ports]
