"""Routers: external gateway, interfaces on internal subnets, extra routes ("legacy" routers).

Visible to their project (admins see all). As in Neutron:
- The gateway is a real port on an external network (``router:external``), owned by
  ``network:router_gateway`` with the router as device and an empty project, so the
  router's project does not see it; ``enable_snat`` (default ``enable_snat_by_default``)
  and ``external_fixed_ips`` are admin-only. Clearing or moving the gateway is refused
  while floating IPs go through it.
- An interface is a ``network:router_interface`` port in the router's project: made on a
  subnet's gateway IP, or an existing unattached port. A router has one interface per
  subnet and no two overlapping subnets; IPv6 subnets of one network share one port.
  Removing an interface that a floating IP or an extra route needs is refused.
- Extra routes need a nexthop on a connected subnet that is not the router's own address.
- A router with interfaces cannot be deleted; its gateway port goes with it.
Every change of a router's ports bumps the router's revision (an update in the change
feed), so L3 agents see one object to converge.

This module has the router resource (views, create/update/delete, the gateway, extra
routes, the router a floating IP goes through), the subnets a router is on (``attached``,
``check_new_subnets``), the policy check of router actions (``action_row``) and what the L3
modules share (``bad``, ``service_port``, the router port owners). Adding and removing
interfaces is ``plugin/router_interfaces.py``, reached as ``plugin.router_interfaces``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.plugin import binding, ip_allocation, listing
from fermion.plugin.base import Resource, new_id, standard_view
from fermion.plugin.owners import ROUTER_GW, ROUTER_INTF, ROUTER_INTF_OWNERS

R = models.routers
RP = models.routerports
P = models.ports
IPA = models.ipallocations
S = models.subnets
FIP = models.floatingips

GW_ADMIN_KEYS = ("enable_snat", "external_fixed_ips")


def bad(msg: str, resource: str = "router") -> exc.BadRequest:
    return exc.BadRequest(resource=resource, msg=msg)


def service_port(plugin, conn: Connection, network: Any, *, project_id: str, device_id: str,
                 device_owner: str, fixed_ips: list[dict] | None = None,
                 status: str = "DOWN") -> str:
    """A port the L3 service owns (gateway, interface, floating IP), as Neutron's
    ``plugin_utils.create_port``: no quota, no policy; trusted, so no port security."""
    ports = plugin.ports
    mac = ports._new_mac(conn, network.id)
    chosen = ip_allocation.resolve(conn, network.id, fixed_ips, mac, device_owner)
    port_id = ports.insert_row(conn, {"project_id": project_id, "name": ""}, {
        "network_id": network.id, "mac_address": mac, "admin_state_up": True,
        "status": status, "device_id": device_id, "device_owner": device_owner,
        "port_security_enabled": False,  # a trusted (network:*) port, as in Neutron
        **binding.columns(conn, "", "normal"), "binding_profile": {}, "allowed_address_pairs": [],
        "extra_dhcp_opts": [], "dns_name": "",
    })
    ip_allocation.store(conn, port_id, network.id, chosen)
    return port_id




class Routers(Resource):
    member, collection = "router", "routers"
    table = R
    not_found, not_found_key = exc.RouterNotFound, "router_id"
    columns = {"admin_state_up": R.c.admin_state_up, "status": R.c.status}

    # -- reading -------------------------------------------------------------------------

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        ids = ids or listing.Ids([row.id for row in rows])
        tags = listing.load_tags(conn, ids)
        gw_ports = [row.gw_port_id for row in rows if row.gw_port_id]
        gw_ips = ip_allocation.of_ports(conn, gw_ports)
        gw_networks = dict(listing.by_ids(conn, "router_gw_networks", lambda ids_in: select(
            P.c.id, P.c.network_id).where(P.c.id.in_(ids_in)), gw_ports))
        out = []
        for row in rows:
            gateway = None
            if row.gw_port_id:
                gateway = {
                    "network_id": gw_networks.get(row.gw_port_id),
                    "enable_snat": row.enable_snat,
                    "external_fixed_ips": sorted(
                        gw_ips.get(row.gw_port_id, []),
                        key=lambda f: (f["subnet_id"], f["ip_address"])),
                }
            view = standard_view(row, tags)
            view.update({
                "admin_state_up": row.admin_state_up,
                "status": row.status,
                "external_gateway_info": gateway,
                "routes": row.routes,
                "availability_zone_hints": row.availability_zone_hints,
                "availability_zones": [],
            })
            if ctx.is_admin:
                view.update({"distributed": False, "ha": False})
            out.append(view)
        return out

    # -- create / update / delete ----------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        _check_legacy(item)
        _enforce_gateway_policy(ctx, "create", raw or item)
        self.plugin.quotas.check(conn, item["project_id"], "router",
                                 self.count(conn, item["project_id"]))
        router_id = new_id()
        info = item.get("external_gateway_info")
        gw_port_id = None
        if info:
            network = self._external_network(conn, ctx, info)
            gw_port_id = service_port(self.plugin, conn, network, project_id="",
                                      device_id=router_id, device_owner=ROUTER_GW,
                                      fixed_ips=info.get("external_fixed_ips") or None)
        self.insert_row(conn, item, {
            "id": router_id, "status": "ACTIVE", "admin_state_up": item["admin_state_up"],
            "gw_port_id": gw_port_id, "enable_snat": self._enable_snat(info),
            "routes": [], "availability_zone_hints": item["availability_zone_hints"],
        })
        if gw_port_id:
            conn.execute(insert(RP).values(router_id=router_id, port_id=gw_port_id,
                                           port_type=ROUTER_GW))
        return router_id

    def update(self, conn: Connection, ctx: Context, resource_id: str, changes: dict,
               if_match: int | None = None, raw: dict | None = None) -> None:
        row = self.writable_row(conn, ctx, resource_id, "update")
        self.check_if_match(row, if_match)
        _check_legacy(changes)
        _enforce_gateway_policy(ctx, "update", raw or changes)
        values = self.simple_columns(changes)
        if "external_gateway_info" in changes:
            values.update(self._update_gateway(conn, ctx, row, changes["external_gateway_info"]))
        if "routes" in changes or ("external_gateway_info" in changes and row.routes):
            routes = changes.get("routes", row.routes)
            self._check_routes(conn, row.id, routes)
            values["routes"] = routes
        self.update_row(conn, row, values)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        attached = list(conn.execute(select(RP.c.port_id).where(
            RP.c.router_id == row.id, RP.c.port_type == ROUTER_INTF
        ).order_by(RP.c.port_id)).scalars())
        if attached:
            raise exc.RouterInUse(router_id=row.id,
                                  reason="has ports still attached: " + ", ".join(attached))
        if row.gw_port_id:
            self._remove_gateway_port(conn, row)
        for port_row in conn.execute(select(P).where(P.c.id.in_(
                select(RP.c.port_id).where(RP.c.router_id == row.id)))).all():
            self.delete_port(conn, port_row)
        self.delete_row(conn, row)

    def _enable_snat(self, info: dict | None) -> bool:
        if info and "enable_snat" in info:
            return info["enable_snat"]
        return self.plugin.conf.get("DEFAULT", "enable_snat_by_default")

    # -- the gateway -----------------------------------------------------------------------

    def _external_network(self, conn: Connection, ctx: Context, info: dict) -> Any:
        network = self.plugin.networks.get_row(conn, ctx, info["network_id"])
        if not network.router_external:
            raise bad(f"Network {network.id} is not an external network")
        gateways = {s.gateway_ip for s in ip_allocation.subnets_of(conn, network.id)}
        for fixed in info.get("external_fixed_ips") or []:
            if fixed.get("ip_address") and fixed["ip_address"] in gateways:
                raise bad(f"External IP {fixed['ip_address']} is the same as the gateway IP")
        return network

    def _update_gateway(self, conn: Connection, ctx: Context, row: Any,
                        info: dict | None) -> dict:
        """Move, change or clear the gateway; the router's new column values."""
        port = conn.execute(select(P).where(P.c.id == row.gw_port_id)).first() \
            if row.gw_port_id else None
        ext_ips = (info.get("external_fixed_ips") or []) if info else []
        network = self._external_network(conn, ctx, info) if info else None
        values = {"enable_snat": self._enable_snat(info), "gw_port_id": row.gw_port_id}
        if port is not None and network is not None and port.network_id == network.id:
            if _external_ips_change(conn, port.id, ext_ips):
                self.plugin.ports._update_fixed_ips(conn, port, ext_ips, port.mac_address,
                                                    ROUTER_GW)
                self.plugin.ports.update_row(conn, port, {})
            return values
        if port is not None:
            self._remove_gateway_port(conn, row)
            values["gw_port_id"] = None
        if network is not None:
            self.check_new_subnets(conn, row.id, ip_allocation.subnets_of(conn, network.id))
            port_id = service_port(self.plugin, conn, network, project_id="", device_id=row.id,
                                   device_owner=ROUTER_GW, fixed_ips=ext_ips or None)
            conn.execute(insert(RP).values(router_id=row.id, port_id=port_id, port_type=ROUTER_GW))
            values["gw_port_id"] = port_id
        return values

    def _remove_gateway_port(self, conn: Connection, row: Any) -> None:
        port = conn.execute(select(P).where(P.c.id == row.gw_port_id)).first()
        if conn.execute(select(FIP.c.id).where(FIP.c.router_id == row.id).limit(1)).first():
            raise exc.RouterExternalGatewayInUseByFloatingIp(
                router_id=row.id, net_id=port.network_id if port is not None else None)
        conn.execute(update(R).where(R.c.id == row.id).values(gw_port_id=None))
        if port is not None:
            self.delete_port(conn, port)

    def delete_port(self, conn: Connection, port: Any) -> None:
        conn.execute(delete(RP).where(RP.c.port_id == port.id))
        self.plugin.ports.delete_row(conn, port)

    # -- subnets the router is on ----------------------------------------------------------

    def attached(self, conn: Connection, router_id: str) -> list:
        """(port_id, device_owner, network_id, subnet_id, ip_address) of the router's ports."""
        return conn.execute(select(P.c.id, P.c.device_owner, P.c.network_id, IPA.c.subnet_id,
                                   IPA.c.ip_address).select_from(
            RP.join(P, P.c.id == RP.c.port_id).join(IPA, IPA.c.port_id == P.c.id)).where(
            RP.c.router_id == router_id)).all()

    def check_new_subnets(self, conn: Connection, router_id: str, new_subnets: list) -> None:
        """One interface per subnet, and no two overlapping subnets on one router."""
        new_ids = {s.id for s in new_subnets}
        connected: set[str] = set()
        gateway_networks = set()
        for _port_id, owner, network_id, subnet_id, _address in self.attached(conn, router_id):
            if subnet_id in new_ids:
                raise bad(f"Router already has a port on subnet {subnet_id}")
            if owner == ROUTER_GW:
                gateway_networks.add(network_id)
            else:
                connected.add(subnet_id)
        existing = conn.execute(select(S).where(
            (S.c.id.in_(connected)) | (S.c.network_id.in_(gateway_networks)))).all() \
            if connected or gateway_networks else []
        for old in existing:
            old_net = ipaddress.ip_network(old.cidr)
            for new in new_subnets:
                new_net = ipaddress.ip_network(new.cidr)
                if old_net.version == new_net.version and old_net.overlaps(new_net):
                    raise bad(f"Cidr {new.cidr} of subnet {new.id} overlaps with cidr "
                              f"{old.cidr} of subnet {old.id}")

    # -- extra routes ----------------------------------------------------------------------

    def _check_routes(self, conn: Connection, router_id: str, routes: list[dict]) -> None:
        attached = self.attached(conn, router_id)
        cidrs = [ipaddress.ip_network(cidr) for cidr in conn.execute(
            select(S.c.cidr).where(S.c.id.in_({a.subnet_id for a in attached}))).scalars()] \
            if attached else []
        own = {a.ip_address for a in attached}
        shown = repr([{"destination": r["destination"], "nexthop": r["nexthop"]}
                      for r in routes])
        for route in routes:
            nexthop = ipaddress.ip_address(route["nexthop"])
            if not any(nexthop.version == c.version and nexthop in c for c in cidrs):
                raise exc.InvalidRoutes(routes=shown,
                                        reason="the nexthop is not connected with router")
            if str(nexthop) in own:
                raise exc.InvalidRoutes(routes=shown, reason="the nexthop is used by router")
        limit = self.plugin.conf.get("DEFAULT", "max_routes")
        if len(routes) > limit:
            raise exc.RoutesExhausted(router_id=router_id, quota=limit)

    def change_routes(self, conn: Connection, ctx: Context, router_id: str,
                      routes: list[dict], add: bool) -> None:
        """``add_extraroutes`` / ``remove_extraroutes``: merge into the current routes."""
        row = self.action_row(conn, ctx, router_id,
                              "add_extraroutes" if add else "remove_extraroutes")
        def key(route: dict) -> tuple[str, str]:
            return route["destination"], route["nexthop"]

        given = {key(r): {"destination": r["destination"], "nexthop": r["nexthop"]}
                 for r in routes}
        if add:
            current = {key(r) for r in row.routes}
            result = row.routes + [r for k, r in given.items() if k not in current]
        else:
            result = [r for r in row.routes if key(r) not in given]
        self._check_routes(conn, row.id, result)
        self.update_row(conn, row, {"routes": result})

    # -- router actions ----------------------------------------------------------------------

    def action_row(self, conn: Connection, ctx: Context, router_id: str, action: str):
        """The router, locked, for an action (interfaces, extra routes) on it by its owner."""
        row = self.get_row(conn, ctx, router_id, lock=True)
        if not ctx.can_write or not (ctx.is_admin or self.owns(conn, ctx, row)):
            raise exc.PolicyNotAuthorized(action=f"rule:{action}")
        return row

    # -- floating IPs ------------------------------------------------------------------------

    def for_floatingip(self, conn: Connection, port: Any, subnet: Any,
                       external_network_id: str) -> str:
        """The router that connects the port's subnet to the external network.

        Of the routers with an interface on the subnet and their gateway on the external
        network, the one whose interface holds the subnet's gateway IP, else the first.
        """
        intf = P.alias("intf")
        gw = P.alias("gw")
        candidates = conn.execute(select(RP.c.router_id, IPA.c.ip_address).select_from(
            RP.join(intf, intf.c.id == RP.c.port_id)
            .join(IPA, IPA.c.port_id == intf.c.id)
            .join(R, R.c.id == RP.c.router_id)
            .join(gw, gw.c.id == R.c.gw_port_id)).where(
            intf.c.network_id == port.network_id, RP.c.port_type.in_(ROUTER_INTF_OWNERS),
            IPA.c.subnet_id == subnet.id, gw.c.network_id == external_network_id)
            .order_by(R.c.created_at, R.c.id)).all()
        for router_id, address in candidates:
            if address == subnet.gateway_ip:
                return router_id
        if candidates:
            return candidates[0][0]
        raise exc.ExternalGatewayForFloatingIPNotFound(
            subnet_id=subnet.id, external_network_id=external_network_id, port_id=port.id)


def _check_legacy(item: dict) -> None:
    for name, what in (("distributed", "Distributed"), ("ha", "HA")):
        if item.get(name):
            raise bad(f"{what} routers are not supported; routers are centralized and single")


def _enforce_gateway_policy(ctx: Context, action: str, raw: dict) -> None:
    """``external_gateway_info:enable_snat`` / ``:external_fixed_ips`` are admin-only."""
    info = raw.get("external_gateway_info") if isinstance(raw, dict) else None
    if ctx.is_admin or not isinstance(info, dict):
        return
    rule = f"{action}_router"
    for key in GW_ADMIN_KEYS:
        if key in info:
            raise exc.PolicyNotAuthorized(
                action=f"(rule:{rule} and rule:{rule}:external_gateway_info and "
                f"rule:{rule}:external_gateway_info:{key})")


def _external_ips_change(conn: Connection, port_id: str, requested: list[dict]) -> bool:
    """Neutron's ``_check_for_external_ip_change``: were other subnets or IPs asked for?"""
    if not requested:
        return False
    current = ip_allocation.of_ports(conn, [port_id]).get(port_id, [])
    if {f["subnet_id"] for f in current} != {f["subnet_id"] for f in requested
                                             if f.get("subnet_id")}:
        return True
    return {f["ip_address"] for f in current} != {f["ip_address"] for f in requested
                                                  if f.get("ip_address")}
