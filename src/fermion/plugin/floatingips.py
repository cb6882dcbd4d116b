"""Floating IPs: an address on an external network, NATed by a router to a port's fixed IP.

Visible to their project (admins see all). As in Neutron:
- The address is held by a ``network:floatingip`` port on the external network, with the
  floating IP as device, an empty project (the project does not see it) and status N/A;
  ``subnet_id`` and (admins only) ``floating_ip_address`` choose where it comes from.
- Associating (``port_id``, optionally ``fixed_ip_address``; at create or update) needs an
  IPv4 fixed IP of a port of the same project and a router with its gateway on the
  floating network and an interface on that fixed IP's subnet: that is ``router_id``.
  One fixed IP has at most one floating IP per external network.
- Status is DOWN until an L3 agent reports it ACTIVE.
- Deleting the associated port disassociates; changing that port's fixed IP away from the
  floating IP's is refused. Deleting an external network deletes its unassociated
  floating IPs first.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, bindparam, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import statement
from fermion.model.context import Context
from fermion.plugin import ip_allocation, listing
from fermion.plugin.base import Resource, new_id, standard_view
from fermion.plugin.owners import DHCP, FLOATINGIP
from fermion.plugin.routers import bad, service_port

F = models.floatingips
P = models.ports
S = models.subnets
UNSERVICED_OWNERS = (DHCP,)
PORT_DETAILS = ("name", "network_id", "mac_address", "admin_state_up", "status",
                "device_id", "device_owner")


def _bad(msg: str) -> exc.BadRequest:
    return bad(msg, resource="floatingip")


class FloatingIPs(Resource):
    member, collection = "floatingip", "floatingips"
    table = F
    not_found, not_found_key = exc.FloatingIPNotFound, "floatingip_id"
    columns = {
        "floating_ip_address": F.c.floating_ip_address,
        "floating_network_id": F.c.floating_network_id, "router_id": F.c.router_id,
        "port_id": F.c.fixed_port_id, "fixed_ip_address": F.c.fixed_ip_address,
        "status": F.c.status,
    }

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        ids = ids or listing.Ids([row.id for row in rows])
        tags = listing.load_tags(conn, ids)
        fixed_ports = list({row.fixed_port_id for row in rows if row.fixed_port_id})
        details = {port.id: {name: getattr(port, name) for name in PORT_DETAILS}
                   for port in listing.by_ids(conn, "fip_port_details", lambda ids_in: select(
                       P.c.id, *[P.c[name] for name in PORT_DETAILS]).where(
                       P.c.id.in_(ids_in)), fixed_ports)}
        out = []
        for row in rows:
            view = standard_view(row, tags)
            del view["name"]
            view.update({
                "floating_ip_address": row.floating_ip_address,
                "floating_network_id": row.floating_network_id,
                "router_id": row.router_id,
                "port_id": row.fixed_port_id,
                "fixed_ip_address": row.fixed_ip_address,
                "status": row.status,
                "port_details": details.get(row.fixed_port_id) if row.fixed_port_id else None,
            })
            out.append(view)
        return out

    # -- create / update / delete ----------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        network = self.plugin.networks.get_row(conn, ctx, item["floating_network_id"])
        if not network.router_external:
            raise _bad(f"Network {network.id} is not a valid external network")
        if not any(s.ip_version == 4 for s in ip_allocation.subnets_of(conn, network.id)):
            raise _bad(f"Network {network.id} does not contain any IPv4 subnet")
        self.plugin.quotas.check(conn, item["project_id"], "floatingip",
                                 self.count(conn, item["project_id"]))
        fip_id = new_id()
        wanted: dict[str, str] = {}
        if item.get("subnet_id") is not None:
            wanted["subnet_id"] = item["subnet_id"]
        if item.get("floating_ip_address") is not None:
            wanted["ip_address"] = item["floating_ip_address"]
        port_id = service_port(self.plugin, conn, network, project_id="", device_id=fip_id,
                               device_owner=FLOATINGIP, fixed_ips=[wanted] if wanted else None,
                               status="N/A")
        addresses = [f["ip_address"] for f in
                     ip_allocation.of_ports(conn, [port_id]).get(port_id, [])
                     if ipaddress.ip_address(f["ip_address"]).version == 4]
        if not addresses:
            raise exc.ExternalIpAddressExhausted(net_id=network.id)
        fixed_port, fixed_ip, router_id = self._association(
            conn, ctx, item, fip_id=fip_id, project_id=item["project_id"],
            network_id=network.id, address=addresses[0], current_port=None)
        self.insert_row(conn, item, {
            "id": fip_id, "floating_ip_address": addresses[0],
            "floating_network_id": network.id, "floating_port_id": port_id,
            "fixed_port_id": fixed_port, "fixed_ip_address": fixed_ip, "router_id": router_id,
            "status": "DOWN",
        })
        return fip_id

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        values = self.simple_columns(changes)
        for name in ("fixed_port_id", "fixed_ip_address"):
            values.pop(name, None)
        if "port_id" in changes or "fixed_ip_address" in changes:
            fixed_port, fixed_ip, router_id = self._association(
                conn, ctx, changes, fip_id=row.id, project_id=row.project_id,
                network_id=row.floating_network_id, address=row.floating_ip_address,
                current_port=row.fixed_port_id)
            values.update(fixed_port_id=fixed_port, fixed_ip_address=fixed_ip,
                          router_id=router_id)
            if (fixed_port, fixed_ip, router_id) != (row.fixed_port_id, row.fixed_ip_address,
                                                     row.router_id):
                values["status"] = "DOWN"  # ACTIVE again once the L3 agent has set it up
        self.update_row(conn, row, values)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        self.delete_row(conn, row)
        port = conn.execute(select(P).where(P.c.id == row.floating_port_id)).first()
        if port is not None:
            self.plugin.ports.delete_row(conn, port)

    # -- association -------------------------------------------------------------------------

    def _association(self, conn: Connection, ctx: Context, request: dict, *, fip_id: str,
                     project_id: str, network_id: str, address: str,
                     current_port: str | None) -> tuple[str | None, str | None, str | None]:
        """(fixed_port_id, fixed_ip_address, router_id) the request asks for."""
        port_id = request.get("port_id")
        if request.get("fixed_ip_address") and not port_id:
            raise _bad("fixed_ip_address cannot be specified without a port_id")
        if not port_id:
            return None, None, None
        port = self.plugin.ports.get_row(conn, ctx, port_id)
        if port.project_id != project_id and not ctx.is_admin:
            raise _bad(f"Cannot process floating IP association with Port {port.id}, since "
                       "that port is owned by a different project")
        if port.device_owner in UNSERVICED_OWNERS:
            raise _bad(f"Port {port.id} is unable to be assigned a floating IP")
        fixed_ips = ip_allocation.of_ports(conn, [port.id]).get(port.id, [])
        fixed = request.get("fixed_ip_address")
        if fixed:
            if ipaddress.ip_address(fixed).version != 4:
                raise _bad(f"Cannot process floating IP association with {fixed}, since that "
                           "is not an IPv4 address")
            match = [f for f in fixed_ips if f["ip_address"] == fixed]
            if not match:
                raise _bad(f"Port {port.id} does not have fixed ip {fixed}")
        else:
            match = sorted((f for f in fixed_ips
                            if ipaddress.ip_address(f["ip_address"]).version == 4),
                           key=lambda f: (f["subnet_id"], f["ip_address"]))
            if not match:
                raise _bad(f"Cannot add floating IP to port {port.id} that has no fixed IPv4 "
                           "addresses")
            if len(match) > 1:
                raise _bad(f"Port {port.id} has multiple fixed IPv4 addresses.  Must provide "
                           "a specific IPv4 address when assigning a floating IP")
        fixed, subnet_id = match[0]["ip_address"], match[0]["subnet_id"]
        subnet = conn.execute(select(S).where(S.c.id == subnet_id)).first()
        router_id = self.plugin.routers.for_floatingip(conn, port, subnet, network_id)
        if port.id != current_port:
            taken = conn.execute(select(F.c.id).where(
                F.c.fixed_port_id == port.id, F.c.floating_network_id == network_id,
                F.c.fixed_ip_address == fixed, F.c.id != fip_id)).first()
            if taken is not None:
                raise exc.FloatingIPPortAlreadyAssociated(
                    floating_ip_address=address, fip_id=fip_id, port_id=port.id,
                    fixed_ip=fixed, net_id=network_id)
        return port.id, fixed, router_id

    # -- what other resources ask ------------------------------------------------------------

    def disassociate_port(self, conn: Connection, port_id: str) -> None:
        """The fixed port is going away: its floating IPs stay, unassociated."""
        stmt = statement(("fips_of_port",), lambda: select(F).where(
            F.c.fixed_port_id == bindparam("port_id")))
        for row in conn.execute(stmt, {"port_id": port_id}).all():
            self.update_row(conn, row, {"fixed_port_id": None, "fixed_ip_address": None,
                                        "router_id": None, "status": "DOWN"})

    def check_port_ips(self, conn: Connection, port_id: str, fixed_ips: list[dict]) -> None:
        """A port's fixed IP that has a floating IP cannot be changed away."""
        wanted = {f.get("ip_address") for f in fixed_ips}
        for address in conn.execute(select(F.c.fixed_ip_address).where(
                F.c.fixed_port_id == port_id)).scalars():
            if address and address not in wanted:
                raise bad(f"Cannot update the fixed_ips of the port {port_id}, because its "
                          "original fixed_ip has been associated to a floating ip",
                          resource="port")

    def delete_unassociated(self, conn: Connection, network_id: str) -> None:
        """Before an external network is deleted (Neutron's ``_process_l3_delete``)."""
        for row in conn.execute(select(F).where(F.c.floating_network_id == network_id,
                                                F.c.fixed_port_id.is_(None))).all():
            self.apply_delete(conn, None, row)
