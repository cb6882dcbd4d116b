"""Router interfaces: ``add_router_interface`` and ``remove_router_interface``.

The router resource itself (CRUD, gateway, extra routes, the router a floating IP goes
through) is in ``plugin/routers.py``; this module only attaches and detaches internal
subnets, reached as ``plugin.router_interfaces`` and using ``plugin.routers`` for the router
row, its policy check and the subnets it is already on. As in Neutron:
- an interface is a ``network:router_interface`` port in the router's project: made on a
  subnet's gateway IP, or an existing unattached port with at most one IPv4 subnet; an IPv6
  subnet whose RAs come from an external router (address mode without RA mode) is refused;
- a router has one interface per subnet and no two overlapping subnets; IPv6 subnets of one
  network share one port;
- removing an interface that a floating IP or an extra route needs is refused; removing one
  subnet of a shared IPv6 port only drops its address.
Every change bumps the router's revision (an update in the change feed).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.model.validators import Invalid, uuid_str
from fermion.plugin import ip_allocation
from fermion.plugin.owners import ROUTER_INTF
from fermion.plugin.routers import FIP, IPA, RP, P, S, bad, service_port


class RouterInterfaces:
    """Adds and removes a router's interfaces; composed with ``Routers`` through the plugin."""

    def __init__(self, plugin):
        self.plugin = plugin

    @property
    def routers(self):
        return self.plugin.routers

    def add(self, conn: Connection, ctx: Context, router_id: str, body: Any) -> dict:
        row = self.routers.action_row(conn, ctx, router_id, "add_router_interface")
        port_id, subnet_id = _interface_info(body, removal=False)
        if port_id:
            port, subnets = self._add_by_port(conn, ctx, row, port_id)
        else:
            port, subnets = self._add_by_subnet(conn, ctx, row, subnet_id)
        self.routers.update_row(conn, row, {})
        return _interface_view(row.id, port, subnets[-1].id, [s.id for s in subnets])

    def _add_by_port(self, conn: Connection, ctx: Context, row: Any, port_id: str):
        ports = self.plugin.ports
        port = ports.get_row(conn, ctx, port_id, lock=True)
        if port.device_id != "":
            raise exc.PortInUse(port_id=port.id, net_id=port.network_id,
                                device_id=port.device_id)
        fixed_ips = ip_allocation.of_ports(conn, [port.id]).get(port.id, [])
        if not fixed_ips:
            raise bad("Router port must have at least one fixed IP")
        subnets = conn.execute(select(S).where(S.c.id.in_(
            {f["subnet_id"] for f in fixed_ips})).order_by(S.c.created_at, S.c.id)).all()
        for subnet in subnets:
            _check_address_mode(subnet)
        if any(_version(f["ip_address"]) == 6 for f in fixed_ips):
            other = self._ipv6_port(conn, row.id, port.network_id)
            if other is not None:
                raise bad(f"Router already contains IPv6 port {other} belonging to network id "
                          f"{port.network_id}. Only one IPv6 port from the same network "
                          "subnet can be connected to a router.")
        self.routers.check_new_subnets(conn, row.id, subnets)
        if sum(1 for s in subnets if s.ip_version == 4) > 1:
            raise bad("Cannot have multiple IPv4 subnets on router port")
        if not ctx.is_admin:
            for fixed in fixed_ips:
                subnet = next(s for s in subnets if s.id == fixed["subnet_id"])
                if (subnet.project_id != ctx.project_id
                        and not _in_pools(subnet, fixed["ip_address"])):
                    raise bad(f"Cannot add interface to router because specified port "
                              f"{port.id} has an IP address out of the allocation pool of "
                              f"subnet {subnet.id}, which is not owned by the project making "
                              "the request")
        ports.update_row(conn, port, {"device_id": row.id, "device_owner": ROUTER_INTF})
        conn.execute(insert(RP).values(router_id=row.id, port_id=port.id, port_type=ROUTER_INTF))
        return port, subnets

    def _add_by_subnet(self, conn: Connection, ctx: Context, row: Any, subnet_id: str):
        subnet = self.plugin.subnets.get_row(conn, ctx, subnet_id)
        if not subnet.gateway_ip:
            raise bad("Subnet for router interface must have a gateway IP")
        if subnet.project_id != ctx.project_id and not ctx.is_admin:
            raise bad(f"Cannot add interface to router because subnet {subnet.id} is not "
                      "owned by project making the request")
        _check_address_mode(subnet)
        self.routers.check_new_subnets(conn, row.id, [subnet])
        fixed = {"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}
        ports = self.plugin.ports
        if subnet.ip_version == 6:
            existing = self._ipv6_port(conn, row.id, subnet.network_id)
            if existing is not None:
                port = conn.execute(select(P).where(P.c.id == existing)).first()
                chosen = ip_allocation.resolve(conn, subnet.network_id, [fixed],
                                               port.mac_address, ROUTER_INTF)
                ip_allocation.store(conn, port.id, subnet.network_id, chosen)
                ports.update_row(conn, port, {})
                return port, [subnet]
        network = conn.execute(select(models.networks).where(
            models.networks.c.id == subnet.network_id)).first()
        port_id = service_port(self.plugin, conn, network, project_id=row.project_id,
                               device_id=row.id, device_owner=ROUTER_INTF, fixed_ips=[fixed])
        conn.execute(insert(RP).values(router_id=row.id, port_id=port_id, port_type=ROUTER_INTF))
        return conn.execute(select(P).where(P.c.id == port_id)).first(), [subnet]

    def _ipv6_port(self, conn: Connection, router_id: str, network_id: str) -> str | None:
        """The router's interface port with an IPv6 address on this network, if any."""
        for port_id, owner, port_network, _subnet, address in self.routers.attached(
                conn, router_id):
            if owner == ROUTER_INTF and port_network == network_id and _version(address) == 6:
                return port_id
        return None

    def remove(self, conn: Connection, ctx: Context, router_id: str, body: Any) -> dict:
        row = self.routers.action_row(conn, ctx, router_id, "remove_router_interface")
        port_id, subnet_id = _interface_info(body, removal=True)
        if port_id:
            port, subnets = self._remove_by_port(conn, row, port_id, subnet_id)
        else:
            port, subnets = self._remove_by_subnet(conn, ctx, row, subnet_id)
        self.routers.update_row(conn, row, {})
        return _interface_view(row.id, port, subnets[0].id, [s.id for s in subnets])

    def _interface_ports(self, conn: Connection, router_id: str, **where: str) -> list:
        stmt = select(P).select_from(RP.join(P, P.c.id == RP.c.port_id)).where(
            RP.c.router_id == router_id, RP.c.port_type == ROUTER_INTF)
        for column, value in where.items():
            stmt = stmt.where(P.c[column] == value)
        return conn.execute(stmt.order_by(P.c.created_at, P.c.id)).all()

    def _remove_by_port(self, conn: Connection, row: Any, port_id: str,
                        subnet_id: str | None):
        found = self._interface_ports(conn, row.id, id=port_id)
        if not found:
            raise exc.RouterInterfaceNotFound(router_id=row.id, port_id=port_id)
        port = found[0]
        subnet_ids = {f["subnet_id"] for f in
                      ip_allocation.of_ports(conn, [port.id]).get(port.id, [])}
        if subnet_id and subnet_id not in subnet_ids:
            raise exc.SubnetMismatchForPort(port_id=port.id, subnet_id=subnet_id)
        subnets = conn.execute(select(S).where(S.c.id.in_(subnet_ids))
                               .order_by(S.c.created_at, S.c.id)).all()
        for subnet in subnets:
            self._check_interface_unused(conn, row, subnet)
        self.routers.delete_port(conn, port)
        return port, subnets

    def _remove_by_subnet(self, conn: Connection, ctx: Context, row: Any, subnet_id: str):
        subnet = self.plugin.subnets.get_row(conn, ctx, subnet_id)
        ports = self._interface_ports(conn, row.id, network_id=subnet.network_id)
        if ports:
            self._check_interface_unused(conn, row, subnet)
        for port in ports:
            fixed_ips = ip_allocation.of_ports(conn, [port.id]).get(port.id, [])
            if not any(f["subnet_id"] == subnet.id for f in fixed_ips):
                continue
            if len({f["subnet_id"] for f in fixed_ips}) > 1:
                conn.execute(delete(IPA).where(IPA.c.port_id == port.id,
                                               IPA.c.subnet_id == subnet.id))
                self.plugin.ports.update_row(conn, port, {})
            else:
                self.routers.delete_port(conn, port)
            return port, [subnet]
        raise exc.RouterInterfaceNotFoundForSubnet(router_id=row.id, subnet_id=subnet.id)

    def _check_interface_unused(self, conn: Connection, row: Any, subnet: Any) -> None:
        net = ipaddress.ip_network(subnet.cidr)
        on_subnet = select(IPA.c.port_id).where(IPA.c.subnet_id == subnet.id)
        for address in conn.execute(select(FIP.c.fixed_ip_address).where(
                FIP.c.router_id == row.id, FIP.c.fixed_port_id.in_(on_subnet))).scalars():
            if address and ipaddress.ip_address(address) in net:
                raise exc.RouterInterfaceInUseByFloatingIP(router_id=row.id,
                                                           subnet_id=subnet.id)
        for route in row.routes:
            if ipaddress.ip_address(route["nexthop"]) in net:
                raise exc.RouterInterfaceInUseByRoute(router_id=row.id, subnet_id=subnet.id)


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def _check_address_mode(subnet: Any) -> None:
    if subnet.ip_version == 6 and subnet.ipv6_ra_mode is None and subnet.ipv6_address_mode:
        raise bad(f"IPv6 subnet {subnet.id} configured to receive RAs from an external router "
                  "cannot be added to Neutron Router.")


def _in_pools(subnet: Any, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(p["start"]) <= ip <= ipaddress.ip_address(p["end"])
               for p in subnet.allocation_pools)


def _interface_info(body: Any, removal: bool) -> tuple[str | None, str | None]:
    """Neutron's ``_validate_interface_info``: subnet_id or port_id, valid UUIDs."""
    if not isinstance(body, dict):
        raise bad("Body contains invalid data") if body is not None else bad(
            "Either subnet_id or port_id must be specified")
    if "port_id" not in body and "subnet_id" not in body:
        raise bad("Either subnet_id or port_id must be specified")
    found: dict[str, str | None] = {"port_id": None, "subnet_id": None}
    for key in found:
        if key in body:
            try:
                found[key] = uuid_str(body[key])
            except Invalid as error:
                raise bad(str(error)) from None
    if not removal and found["port_id"] and found["subnet_id"]:
        raise bad("Cannot specify both subnet-id and port-id")
    return found["port_id"], found["subnet_id"]


def _interface_view(router_id: str, port: Any, subnet_id: str, subnet_ids: list[str]) -> dict:
    return {"id": router_id, "tenant_id": port.project_id, "project_id": port.project_id,
            "port_id": port.id, "network_id": port.network_id, "subnet_id": subnet_id,
            "subnet_ids": subnet_ids}
