"""Subnets: CIDR (given or drawn from a subnet pool), gateway, pools, DNS servers, routes.

Visible to their project and to everyone when their network is shared or external.
Created and changed by the network's owner (or an admin). Subnets on one network never
overlap; with ``allow_overlapping_ips = false`` no two subnets anywhere do.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.plugin import ip_allocation, ipam, listing
from fermion.plugin.base import CTX_PROJECT, Resource
from fermion.plugin.networks import AUTO_DELETE_OWNERS

S = models.subnets
N = models.networks
IPA = models.ipallocations


class Subnets(Resource):
    member, collection = "subnet", "subnets"
    table = S
    not_found, not_found_key = exc.SubnetNotFound, "subnet_id"
    columns = {
        "network_id": S.c.network_id, "ip_version": S.c.ip_version, "cidr": S.c.cidr,
        "gateway_ip": S.c.gateway_ip, "enable_dhcp": S.c.enable_dhcp,
        "ipv6_ra_mode": S.c.ipv6_ra_mode, "ipv6_address_mode": S.c.ipv6_address_mode,
        "subnetpool_id": S.c.subnetpool_id, "segment_id": S.c.segment_id,
    }

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        public = select(N.c.id).where(or_(N.c.shared, N.c.router_external))
        return or_(S.c.project_id == CTX_PROJECT, S.c.network_id.in_(public))

    def owns(self, conn: Connection, ctx: Context, row: Any) -> bool:
        owner = conn.execute(select(N.c.project_id).where(N.c.id == row.network_id)).scalar()
        return row.project_id == ctx.project_id or owner == ctx.project_id

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        return self.tagged_views(conn, rows, ids, lambda row: {
            "network_id": row.network_id,
            "ip_version": row.ip_version,
            "cidr": row.cidr,
            "gateway_ip": row.gateway_ip,
            "allocation_pools": row.allocation_pools,
            "enable_dhcp": row.enable_dhcp,
            "dns_nameservers": row.dns_nameservers,
            "host_routes": row.host_routes,
            "ipv6_ra_mode": row.ipv6_ra_mode,
            "ipv6_address_mode": row.ipv6_address_mode,
            "subnetpool_id": row.subnetpool_id,
            "segment_id": row.segment_id,
            "service_types": [],
        })

    # -- create --------------------------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        network = self.plugin.networks.get_row(conn, ctx, item["network_id"])
        if not (ctx.is_admin or network.project_id == ctx.project_id):
            raise exc.PolicyNotAuthorized(action="rule:create_subnet")
        self.plugin.quotas.check(conn, item["project_id"], "subnet",
                                 self.count(conn, item["project_id"]))
        version = item["ip_version"]
        pool_id, net = self._cidr(conn, ctx, item, version)
        self.plugin.address_scopes.check_network_affinity(conn, network.id, version, pool_id)
        _check_ipv6_modes(item, net)
        self._check_overlap(conn, network.id, net)
        gateway = item["gateway_ip"] if "gateway_ip" in item else ipam.default_gateway(net)
        _check_gateway(gateway, net)
        if "allocation_pools" in item:
            pools = [(p["start"], p["end"]) for p in item["allocation_pools"]]
            ipam.validate_pools(net, pools, gateway)
        else:
            pools = ipam.default_pools(net, gateway)
        self._check_limits("new", item)
        segment_id = item.get("segment_id")
        if segment_id is not None:
            seg = models.networksegments
            if conn.execute(select(seg.c.id).where(seg.c.id == segment_id,
                                                   seg.c.network_id == network.id)).first() is None:
                raise exc.InvalidInput(error_message=f"Segment '{segment_id}' is not "
                                       f"associated with the network '{network.id}'")
        subnet_id = self.insert_row(conn, item, {
            "network_id": network.id,
            "ip_version": version,
            "cidr": str(net),
            "gateway_ip": gateway,
            "enable_dhcp": item["enable_dhcp"],
            "ipv6_ra_mode": item.get("ipv6_ra_mode"),
            "ipv6_address_mode": item.get("ipv6_address_mode"),
            "subnetpool_id": pool_id,
            "segment_id": segment_id,
            "allocation_pools": [{"start": a, "end": b} for a, b in pools],
            "dns_nameservers": item["dns_nameservers"],
            "host_routes": _routes(item["host_routes"], version),
        })
        if version == 6 and item.get("ipv6_address_mode") in ("slaac", "dhcpv6-stateless"):
            self._add_slaac_addresses(conn, network.id, subnet_id, net)
        return subnet_id

    def _cidr(self, conn: Connection, ctx: Context, item: dict, version: int):
        pools = self.plugin.subnetpools
        pool_id = item.get("subnetpool_id")
        if pool_id is None and item.get("use_default_subnetpool"):
            pool_id = pools.default_id(conn, version)
            if pool_id is None:
                raise exc.InvalidInput(error_message=f"No default subnetpool found for "
                                       f"IPv{version}")
        if pool_id is not None:
            pool = pools.get_row(conn, ctx, pool_id, lock=True)
            if pool.ip_version != version:
                raise exc.InvalidInput(error_message=f"Cannot allocate IPv{version} subnet "
                                       f"from IPv{pool.ip_version} subnet pool")
            cidr = pools.allocate(conn, pool, item.get("cidr"), item.get("prefixlen"))
            return pool_id, ipam.network(cidr)
        if "cidr" not in item:
            raise exc.BadRequest(resource="subnets",
                                 msg="a subnetpool must be specified in the absence of a cidr")
        net = ipam.network(item["cidr"])
        if net.version != version:
            raise exc.InvalidInput(error_message=f"ip_version {version} does not match the "
                                   f"version of cidr {net}")
        if net.prefixlen == 0:
            raise exc.InvalidInput(error_message=f"{net} is not allowed as a subnet cidr")
        return None, net

    def _check_overlap(self, conn: Connection, network_id: str, net) -> None:
        stmt = select(S.c.cidr).where(S.c.ip_version == net.version)
        if self.plugin.conf.get("DEFAULT", "allow_overlapping_ips"):
            stmt = stmt.where(S.c.network_id == network_id)
        for cidr in conn.execute(stmt).scalars():
            if ipam.network(cidr).overlaps(net):
                raise exc.InvalidInput(error_message=f"Requested subnet with cidr: {net} for "
                                       f"network: {network_id} overlaps with another subnet")

    def _check_limits(self, subnet_id: str, item: dict) -> None:
        conf = self.plugin.conf
        dns_limit = conf.get("DEFAULT", "max_dns_nameservers")
        if len(item.get("dns_nameservers") or []) > dns_limit:
            raise exc.DNSNameServersExhausted(subnet_id=subnet_id, quota=dns_limit)
        route_limit = conf.get("DEFAULT", "max_subnet_host_routes")
        if len(item.get("host_routes") or []) > route_limit:
            raise exc.HostRoutesExhausted(subnet_id=subnet_id, quota=route_limit)

    def _add_slaac_addresses(self, conn: Connection, network_id: str, subnet_id: str,
                             net) -> None:
        ports = models.ports
        rows = conn.execute(select(ports.c.id, ports.c.mac_address).where(
            ports.c.network_id == network_id,
            ports.c.device_owner.notlike("network:router%"))).all()
        for port_id, mac in rows:
            ip_allocation.store(conn, port_id, network_id,
                                [{"subnet_id": subnet_id, "ip_address": ipam.eui64(net, mac)}])

    # -- update / delete -----------------------------------------------------------------

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        values = self.simple_columns(changes)
        net = ipam.network(row.cidr)
        self._check_limits(row.id, changes)
        gateway = changes.get("gateway_ip", row.gateway_ip)
        if "gateway_ip" in changes:
            _check_gateway(gateway, net)
            if gateway and conn.execute(select(IPA.c.port_id).where(
                    IPA.c.subnet_id == row.id, IPA.c.ip_address == gateway)).first():
                raise exc.IpAddressInUse(net_id=row.network_id, ip_address=gateway)
        if "allocation_pools" in changes:
            pools = [(p["start"], p["end"]) for p in changes["allocation_pools"]]
            ipam.validate_pools(net, pools, gateway)
            values["allocation_pools"] = [{"start": a, "end": b} for a, b in pools]
        elif "gateway_ip" in changes:
            pools = [(p["start"], p["end"]) for p in row.allocation_pools]
            ipam.validate_pools(net, pools, gateway)
        if "host_routes" in changes:
            values["host_routes"] = _routes(changes["host_routes"], row.ip_version)
        if "dns_nameservers" in changes:
            values["dns_nameservers"] = changes["dns_nameservers"]
        self.update_row(conn, row, values)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        ports = models.ports
        in_use = conn.execute(select(func.count()).select_from(IPA.join(
            ports, ports.c.id == IPA.c.port_id)).where(
            IPA.c.subnet_id == row.id,
            ports.c.device_owner.notin_(AUTO_DELETE_OWNERS))).scalar_one()
        if in_use:
            raise exc.SubnetInUse(subnet_id=row.id, reason="One or more ports have an IP "
                                  "allocation from this subnet")
        self.delete_row(conn, row)

    def delete_row(self, conn: Connection, row: Any) -> None:
        conn.execute(delete(IPA).where(IPA.c.subnet_id == row.id))
        super().delete_row(conn, row)


def _check_gateway(gateway: str | None, net) -> None:
    if gateway is None:
        return
    ip = ipaddress.ip_address(gateway)
    if ip.version != net.version:
        raise exc.InvalidInput(error_message="Gateway IP version inconsistent with "
                               "allocation pool version")
    if net.version == 4 and net.num_addresses > 2 and ip in (net.network_address,
                                                             net.broadcast_address):
        raise exc.InvalidInput(error_message="Gateway is not valid on subnet")


def _routes(routes: list[dict], version: int) -> list[dict]:
    for route in routes:
        for key in ("destination", "nexthop"):
            value = route[key]
            parsed = (ipaddress.ip_network(value) if key == "destination"
                      else ipaddress.ip_address(value))
            if parsed.version != version:
                raise exc.InvalidInput(error_message=f"Host route {key} {value} does not "
                                       f"match the subnet's IP version {version}")
    return [{"destination": r["destination"], "nexthop": r["nexthop"]} for r in routes]


def _check_ipv6_modes(item: dict, net) -> None:
    ra, address = item.get("ipv6_ra_mode"), item.get("ipv6_address_mode")
    if not (ra or address):
        return
    if net.version == 4:
        raise exc.InvalidInput(error_message="ipv6_ra_mode or ipv6_address_mode cannot be "
                               "set when ip_version is 4")
    if not item.get("enable_dhcp", True):
        raise exc.InvalidInput(error_message="ipv6_ra_mode or ipv6_address_mode cannot be "
                               "set when enable_dhcp is set to False")
    if ra and address and ra != address:
        raise exc.InvalidInput(error_message=f"ipv6_ra_mode set to '{ra}' with "
                               f"ipv6_address_mode set to '{address}' is not valid. If both "
                               "attributes are set, they must be the same value")
    if address in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
        raise exc.InvalidInput(error_message=f"Invalid CIDR {net} for IPv6 address mode. "
                               "OpenStack uses the EUI-64 address format, which requires "
                               "the prefix to be /64")
