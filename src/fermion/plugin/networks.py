"""Networks: ML2 segments (provider or tenant-allocated), MTU, sharing and external flag.

Visible to their project, and to everyone when shared or external (``router:external``).
Provider attributes are shown to admins only: ``provider:*`` for a single segment,
``segments`` when there are several (multi-provider), as Neutron shows them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.plugin import listing
from fermion.plugin.base import CTX_PROJECT, Resource, standard_view
from fermion.plugin.ml2 import segments as seg_db
from fermion.plugin.owners import DHCP, ROUTER_GW

N = models.networks
PROVIDER_KEYS = ("provider:network_type", "provider:physical_network",
                 "provider:segmentation_id")
# Ports the network removes by itself on delete (Neutron: AUTO_DELETE_PORT_OWNERS).
AUTO_DELETE_OWNERS = (DHCP,)


class Networks(Resource):
    member, collection = "network", "networks"
    table = N
    not_found, not_found_key = exc.NetworkNotFound, "net_id"
    columns = {
        "admin_state_up": N.c.admin_state_up, "status": N.c.status, "shared": N.c.shared,
        "router:external": N.c.router_external, "mtu": N.c.mtu,
        "port_security_enabled": N.c.port_security_enabled,
    }

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        return or_(N.c.project_id == CTX_PROJECT, N.c.shared, N.c.router_external)

    def extra_conditions(self, conn, ctx, query):
        wanted = {k: query.filters[k] for k in PROVIDER_KEYS if k in query.filters}
        if not wanted:
            return []
        seg = models.networksegments
        conditions = []
        for key, values in wanted.items():
            column = {"provider:network_type": seg.c.network_type,
                      "provider:physical_network": seg.c.physical_network,
                      "provider:segmentation_id": seg.c.segmentation_id}[key]
            conditions.append(column.in_(values))
        return [N.c.id.in_(select(seg.c.network_id).where(*conditions))]

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        ids = ids or listing.Ids([row.id for row in rows])
        tags = listing.load_tags(conn, ids)
        subnets: dict[str, list[str]] = {}
        S = models.subnets
        for subnet_id, network_id in listing.by_ids(conn, "network_subnets", lambda ids_in: select(
                S.c.id, S.c.network_id).where(S.c.network_id.in_(ids_in))
                .order_by(S.c.created_at, S.c.id), ids):
            subnets.setdefault(network_id, []).append(subnet_id)
        segments = seg_db.by_network(conn, ids) if ctx.is_admin else {}
        scopes = self.plugin.address_scopes.of_networks(conn, ids)
        out = []
        for row in rows:
            view = standard_view(row, tags)
            view.update({
                "admin_state_up": row.admin_state_up,
                "status": row.status,
                "shared": row.shared,
                "router:external": row.router_external,
                "mtu": row.mtu,
                "port_security_enabled": row.port_security_enabled,
                "availability_zone_hints": row.availability_zone_hints,
                "availability_zones": [],
                "subnets": subnets.get(row.id, []),
                "dns_domain": row.dns_domain,
                "ipv4_address_scope": scopes.get(row.id, {}).get(4),
                "ipv6_address_scope": scopes.get(row.id, {}).get(6),
            })
            if ctx.is_admin:
                view.update(_provider_view(segments.get(row.id, [])))
            out.append(view)
        return out

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        plugin = self.plugin
        plugin.quotas.check(conn, item["project_id"], "network",
                            self.count(conn, item["project_id"]))
        segments = self._segments(conn, item)
        max_mtu = plugin.types.network_mtu(segments)
        mtu = item.get("mtu", max_mtu)
        if mtu > max_mtu:
            raise exc.InvalidInput(
                error_message=f"Requested MTU is too big, maximum is {max_mtu}")
        network_id = self.insert_row(conn, item, {
            "status": "ACTIVE",
            "admin_state_up": item["admin_state_up"],
            "shared": item["shared"],
            "router_external": item["router:external"],
            "mtu": mtu,
            "port_security_enabled": item["port_security_enabled"],
            "availability_zone_hints": item["availability_zone_hints"],
            "dns_domain": item.get("dns_domain", ""),
        })
        seg_db.store(conn, network_id, segments)
        return network_id

    def _segments(self, conn: Connection, item: dict) -> list[dict]:
        types = self.plugin.types
        provider = {k.split(":", 1)[1]: item[k] for k in PROVIDER_KEYS if k in item}
        if "segments" in item:
            if provider:
                raise exc.InvalidInput(
                    error_message="Segments and provider values cannot both be set.")
            requested = [{k.split(":", 1)[1]: v for k, v in s.items()}
                         for s in item["segments"]]
            if not requested:
                return [seg_db.allocate_tenant(conn, types)]
            reserved = []
            for segment in requested:
                found = seg_db.reserve_provider(conn, types, segment)
                key = seg_db.allocation_key(found["network_type"], found["physical_network"],
                                            found["segmentation_id"])
                if key and any(seg_db.allocation_key(r["network_type"], r["physical_network"],
                                                     r["segmentation_id"]) == key
                               for r in reserved):
                    raise exc.InvalidInput(error_message="Duplicate segment entry in request.")
                reserved.append(found)
            return reserved
        if provider:
            if "network_type" not in provider:
                raise exc.InvalidInput(error_message="network_type required")
            return [seg_db.reserve_provider(conn, types, provider)]
        return [seg_db.allocate_tenant(conn, types)]

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        values = self.simple_columns(changes)
        if "dns_domain" in changes:
            values["dns_domain"] = changes["dns_domain"]
        if "mtu" in changes:
            segments = seg_db.by_network(conn, [row.id]).get(row.id, [])
            max_mtu = self.plugin.types.network_mtu(segments)
            if changes["mtu"] > max_mtu:
                raise exc.InvalidInput(
                    error_message=f"Requested MTU is too big, maximum is {max_mtu}")
        if changes.get("router:external") is False and row.router_external:
            if conn.execute(select(models.ports.c.id).where(
                    models.ports.c.network_id == row.id,
                    models.ports.c.device_owner == ROUTER_GW)).first():
                raise exc.ExternalNetworkInUse(net_id=row.id)
        if changes.get("shared") is False and row.shared:
            others = conn.execute(select(func.count()).select_from(models.ports).where(
                models.ports.c.network_id == row.id,
                models.ports.c.project_id != row.project_id,
                models.ports.c.device_owner.notlike("network:%"))).scalar_one()
            if others:
                raise exc.InvalidSharedSetting(network=row.name or row.id)
        self.update_row(conn, row, values)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        ports = models.ports
        self.plugin.floatingips.delete_unassociated(conn, row.id)
        in_use = conn.execute(select(func.count()).select_from(ports).where(
            ports.c.network_id == row.id,
            ports.c.device_owner.notin_(AUTO_DELETE_OWNERS))).scalar_one()
        if in_use:
            raise exc.NetworkInUse(net_id=row.id)
        for port_row in conn.execute(select(ports).where(ports.c.network_id == row.id)).all():
            self.plugin.ports.delete_row(conn, port_row)
        for subnet_row in conn.execute(select(models.subnets)
                                       .where(models.subnets.c.network_id == row.id)).all():
            self.plugin.subnets.delete_row(conn, subnet_row)
        conn.execute(delete(models.networksegments)
                     .where(models.networksegments.c.network_id == row.id))
        self.delete_row(conn, row)


def _provider_view(segments: list[dict]) -> dict:
    if len(segments) == 1:
        seg = segments[0]
        return {"provider:network_type": seg["network_type"],
                "provider:physical_network": seg["physical_network"],
                "provider:segmentation_id": seg["segmentation_id"]}
    if not segments:
        return {"provider:network_type": None, "provider:physical_network": None,
                "provider:segmentation_id": None}
    return {"segments": [{"provider:network_type": s["network_type"],
                          "provider:physical_network": s["physical_network"],
                          "provider:segmentation_id": s["segmentation_id"]} for s in segments]}
