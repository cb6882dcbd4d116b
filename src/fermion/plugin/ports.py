"""Ports: MAC and fixed IPs, port security, address pairs, DHCP options and the binding.

Visible to their project and to the owner of their network. ``binding:*`` is admin-only
(``plugin.binding``). A port starts DOWN; the host's L2 agent reports it ACTIVE once wired
(``plugin.port_status``). As in Neutron, a port a router or floating IP owns cannot be
deleted through the port API (409 L3PortInUse) while that router or floating IP exists;
its own API removes it. A stale one (its ``device_id`` names nothing that exists) can go.
"""

from __future__ import annotations

import functools
import operator
import random
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import statement
from fermion.exceptions import bad
from fermion.model.attributes import PORT
from fermion.model.context import Context
from fermion.model.query import ListQuery
from fermion.plugin import binding, ip_allocation, listing
from fermion.plugin.base import CTX_PROJECT, Resource
from fermion.plugin.owners import FLOATINGIP, ROUTER_OWNED
from fermion.plugin.policy import enforce_network_owner

P = models.ports
IPA = models.ipallocations
SGB = models.securitygroupportbindings
SPECIAL_FILTERS = frozenset({"fixed_ips", "security_groups"})


class Ports(Resource):
    member, collection = "port", "ports"
    table = P
    not_found, not_found_key = exc.PortNotFound, "port_id"
    columns = {
        "network_id": P.c.network_id, "mac_address": P.c.mac_address,
        "admin_state_up": P.c.admin_state_up, "status": P.c.status,
        "device_id": P.c.device_id, "device_owner": P.c.device_owner,
        "port_security_enabled": P.c.port_security_enabled,
        "binding:host_id": P.c.binding_host_id, "binding:vif_type": P.c.binding_vif_type,
        "binding:vnic_type": P.c.binding_vnic_type, "dns_name": P.c.dns_name,
    }

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        owned_networks = select(models.networks.c.id).where(
            models.networks.c.project_id == CTX_PROJECT)
        return or_(P.c.project_id == CTX_PROJECT, P.c.network_id.in_(owned_networks))

    def owns(self, conn: Connection, ctx: Context, row: Any) -> bool:
        return row.project_id == ctx.project_id or self._network_owner(conn, ctx, row.network_id)

    def _network_owner(self, conn: Connection, ctx: Context, network_id: str) -> bool:
        owner = conn.execute(select(models.networks.c.project_id)
                             .where(models.networks.c.id == network_id)).scalar()
        return owner == ctx.project_id

    # -- listing -------------------------------------------------------------------------

    def extra_conditions(self, conn, ctx, query):
        conditions = []
        for raw in query.extra.get("fixed_ips", []):
            key, _, value = raw.partition("=")
            if key == "ip_address":
                match = IPA.c.ip_address == value
            elif key == "subnet_id":
                match = IPA.c.subnet_id == value
            elif key == "ip_address_substr":
                match = IPA.c.ip_address.contains(value, autoescape=True)
            else:
                raise bad(f"Invalid input for fixed_ips. Reason: '{raw}' is not a valid "
                          "fixed_ips filter.")
            conditions.append(P.c.id.in_(select(IPA.c.port_id).where(match)))
        groups = query.extra.get("security_groups", [])
        if groups:
            conditions.append(P.c.id.in_(select(SGB.c.port_id)
                                         .where(SGB.c.security_group_id.in_(groups))))
        return conditions

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None, fields: list[str] | None = None) -> list[dict]:
        """API dicts for the rows (rows of ``select(ports)``), children loaded in bulk.

        Most of a big list's time is spent here, so it is one flat loop: each row's
        values unpacked at once, one dict literal per port (the keys in the API's order),
        children grouped by port in one pass each. ``fields`` (the
        list's ``fields=``) skips loading children that will not be shown; their keys
        still appear, empty, and the caller drops them.
        """
        if not rows:
            return []
        ids = ids or listing.Ids([row.id for row in rows])
        wanted = set(fields) if fields else None
        tags = listing.load_tags(conn, ids) if wanted is None or "tags" in wanted else {}
        ips = (ip_allocation.of_ports(conn, ids) if wanted is None or not wanted.isdisjoint(
            ("fixed_ips", "dns_assignment")) else {})
        groups: dict[str, list[str]] = {}
        if wanted is None or "security_groups" in wanted:
            for port_id, group_id in listing.by_ids(conn, "port_groups", lambda ids_in: select(
                    SGB.c.port_id, SGB.c.security_group_id).where(SGB.c.port_id.in_(ids_in)),
                    ids):
                listed = groups.get(port_id)
                if listed is None:
                    groups[port_id] = [group_id]
                else:
                    listed.append(group_id)
        suffix = "." + self.plugin.conf.get("DEFAULT", "dns_domain").rstrip(".") + "."
        admin = ctx.is_admin
        unpack = _row_unpacker(rows[0]._fields)
        out = []
        append = out.append
        for row in rows:
            (port_id, project_id, name, description, created_at, updated_at, revision,
             network_id, mac, admin_state_up, status, device_id, device_owner, security,
             host_id, vif_type, vnic_type, vif_details, profile, pairs, dhcp_opts,
             dns_name) = unpack(row)
            fixed_ips = ips.get(port_id)
            if fixed_ips is None:
                fixed_ips, dns = [], []
            else:
                if len(fixed_ips) > 1:
                    fixed_ips.sort(key=_fixed_ip_order)
                dns = _dns_assignment(dns_name, fixed_ips, suffix)
            if pairs:
                pairs = [{"ip_address": p["ip_address"],
                          "mac_address": p.get("mac_address") or mac} for p in pairs]
            port_groups = groups.get(port_id)
            if port_groups is None:
                port_groups = []
            elif len(port_groups) > 1:
                port_groups.sort()
            view = {
                "id": port_id, "name": name, "description": description,
                "project_id": project_id, "tenant_id": project_id,
                "created_at": created_at, "updated_at": updated_at,
                "revision_number": revision, "tags": tags.get(port_id, []),
                "network_id": network_id, "mac_address": mac,
                "admin_state_up": admin_state_up, "status": status,
                "device_id": device_id, "device_owner": device_owner,
                "fixed_ips": fixed_ips, "allowed_address_pairs": pairs,
                "extra_dhcp_opts": dhcp_opts, "security_groups": port_groups,
                "port_security_enabled": security, "binding:vnic_type": vnic_type,
                "dns_name": dns_name, "dns_assignment": dns,
            }
            if admin:
                view["binding:host_id"] = host_id
                view["binding:vif_type"] = vif_type
                view["binding:vif_details"] = vif_details
                view["binding:profile"] = profile
            append(view)
        return out

    def list(self, conn: Connection, ctx: Context,
             query: ListQuery) -> tuple[list[dict], bool]:
        rows, ids, more = self.list_rows(conn, ctx, query)
        return self.views(conn, ctx, rows, ids, query.fields), more

    # -- create --------------------------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict, raw: dict | None = None) -> str:
        networks = self.plugin.networks
        network = networks.get_row(conn, ctx, item["network_id"])
        owns_network = network.project_id == ctx.project_id
        enforce_network_owner(ctx, "create", "port", PORT, raw or item, owns_network)
        self.plugin.quotas.check(conn, item["project_id"], "port",
                                 self.count(conn, item["project_id"]))
        mac = item.get("mac_address") or self._new_mac(conn, network.id)
        if "mac_address" in item and self._mac_taken(conn, network.id, mac):
            raise exc.MacAddressInUse(net_id=network.id, mac=mac)
        # As Neutron: no port security (so no security groups) on network:* ports.
        trusted = item["device_owner"].startswith("network:")
        security = not trusted and item.get("port_security_enabled",
                                            network.port_security_enabled)
        pairs = self._address_pairs(item.get("allowed_address_pairs", []), security)
        fixed_ips = ip_allocation.resolve(conn, network.id, item.get("fixed_ips"), mac,
                                          item["device_owner"])
        groups = self._groups_for_new_port(conn, ctx, item, security)
        port_id = self.insert_row(conn, item, {
            "network_id": network.id,
            "mac_address": mac,
            "admin_state_up": item["admin_state_up"],
            "status": "DOWN",
            "device_id": item["device_id"],
            "device_owner": item["device_owner"],
            "port_security_enabled": security,
            **binding.columns(conn, item.get("binding:host_id", ""),
                              item.get("binding:vnic_type", "normal")),
            "binding_profile": item.get("binding:profile", {}),
            "allowed_address_pairs": pairs,
            "extra_dhcp_opts": _dhcp_opts([], item.get("extra_dhcp_opts", [])),
            "dns_name": item.get("dns_name", ""),
        })
        ip_allocation.store(conn, port_id, network.id, fixed_ips)
        self._set_groups(conn, port_id, groups, new=True)
        return port_id

    def _groups_for_new_port(self, conn: Connection, ctx: Context, item: dict,
                             security: bool) -> list[str]:
        """The given groups (checked), or the project's default group when none are given."""
        sgs = self.plugin.securitygroups
        default = sgs.ensure_default(conn, ctx, item["project_id"])  # as Neutron, for any port
        groups = item.get("security_groups")
        if not security:
            if groups:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            return []
        if groups is None:
            return sgs.for_port(conn, ctx, item["project_id"], [default] if default else [],
                                default=True)
        return sgs.for_port(conn, ctx, item["project_id"], groups)

    def _new_mac(self, conn: Connection, network_id: str) -> str:
        base = self.plugin.conf.get("DEFAULT", "base_mac").split(":")
        for _ in range(16):
            mac = ":".join(part if part != "00" else f"{random.randrange(256):02x}"
                           for part in base)
            if not self._mac_taken(conn, network_id, mac):
                return mac
        raise exc.Conflict("Unable to generate a unique MAC address.")

    def _mac_taken(self, conn: Connection, network_id: str, mac: str) -> bool:
        stmt = statement(("mac_taken",), lambda: select(P.c.id).where(
            P.c.network_id == bindparam("network_id"), P.c.mac_address == bindparam("mac")))
        return conn.execute(stmt, {"network_id": network_id, "mac": mac}).first() is not None

    def _address_pairs(self, pairs: list[dict], security: bool) -> list[dict]:
        if pairs and not security:
            raise exc.AddressPairAndPortSecurityRequired()
        limit = self.plugin.conf.get("DEFAULT", "max_allowed_address_pair")
        if len(pairs) > limit:
            raise exc.AllowedAddressPairExhausted(quota=limit)
        return pairs

    def _set_groups(self, conn: Connection, port_id: str, groups: list[str],
                    new: bool = False) -> None:
        if not new:
            conn.execute(delete(SGB).where(SGB.c.port_id == port_id))
        if groups:
            conn.execute(insert(SGB), [{"port_id": port_id, "security_group_id": g}
                                       for g in groups])

    # -- update / delete -------------------------------------------------------------------

    def update(self, conn: Connection, ctx: Context, resource_id: str, changes: dict,
               if_match: int | None = None, raw: dict | None = None) -> None:
        row = self.writable_row(conn, ctx, resource_id, "update")
        self.check_if_match(row, if_match)
        enforce_network_owner(ctx, "update", "port", PORT, raw or changes,
                              self._network_owner(conn, ctx, row.network_id))
        values = self.simple_columns(changes)
        for api_name, column in (("binding:profile", "binding_profile"),):
            if api_name in changes:
                values[column] = changes[api_name]
        if "binding:host_id" in changes or "binding:vnic_type" in changes:
            values.update(binding.columns(conn, changes.get("binding:host_id", row.binding_host_id),
                                          changes.get("binding:vnic_type", row.binding_vnic_type)))
        mac = changes.get("mac_address", row.mac_address)
        if mac != row.mac_address and self._mac_taken(conn, row.network_id, mac):
            raise exc.MacAddressInUse(net_id=row.network_id, mac=mac)
        security = changes.get("port_security_enabled", row.port_security_enabled)
        pairs = changes.get("allowed_address_pairs", row.allowed_address_pairs)
        values["allowed_address_pairs"] = self._address_pairs(pairs, security)
        if "extra_dhcp_opts" in changes:
            values["extra_dhcp_opts"] = _dhcp_opts(row.extra_dhcp_opts, changes["extra_dhcp_opts"])
        if "security_groups" in changes:
            if changes["security_groups"] and not security:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            self._set_groups(conn, row.id, self.plugin.securitygroups.for_port(
                conn, ctx, row.project_id, changes["security_groups"]))
        elif not security and conn.execute(select(SGB.c.port_id)
                                           .where(SGB.c.port_id == row.id)).first():
            raise exc.PortSecurityPortHasSecurityGroup()
        if "fixed_ips" in changes:
            self.plugin.floatingips.check_port_ips(conn, row.id, changes["fixed_ips"])
            self._update_fixed_ips(conn, row, changes["fixed_ips"], mac,
                                   changes.get("device_owner", row.device_owner))
        self.update_row(conn, row, values)

    def _update_fixed_ips(self, conn: Connection, row: Any, requested: list[dict], mac: str,
                          owner: str) -> None:
        current = ip_allocation.of_ports(conn, [row.id]).get(row.id, [])
        keep, new = [], []
        for entry in requested:
            address = entry.get("ip_address")
            match = [f for f in current if f["ip_address"] == address and
                     entry.get("subnet_id") in (None, f["subnet_id"])] if address else []
            (keep if match else new).append(match[0] if match else entry)
        ip_allocation.release(conn, row.id, keep)
        if new:
            chosen = ip_allocation.resolve(conn, row.network_id, new, mac, owner)
            ip_allocation.store(conn, row.id, row.network_id, chosen)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        """The port API's delete (routers and floating IPs remove theirs by ``delete_row``)."""
        if row.device_owner in ROUTER_OWNED and self._owner_exists(conn, row):
            raise exc.L3PortInUse(port_id=row.id, device_owner=row.device_owner)
        self.delete_row(conn, row)

    def _owner_exists(self, conn: Connection, row: Any) -> bool:
        """Whether the router (or floating IP) the port's ``device_id`` names exists."""
        owner = models.floatingips if row.device_owner == FLOATINGIP else models.routers
        return conn.execute(select(owner.c.id).where(
            owner.c.id == row.device_id)).first() is not None

    def delete_row(self, conn: Connection, row: Any) -> None:
        self.plugin.floatingips.disassociate_port(conn, row.id)
        conn.execute(delete(IPA).where(IPA.c.port_id == row.id))
        conn.execute(delete(SGB).where(SGB.c.port_id == row.id))
        super().delete_row(conn, row)


def _dhcp_opts(current: list[dict], changes: list[dict]) -> list[dict]:
    """Neutron's merge: options keyed by (name, ip_version); a null value removes one."""
    merged = {(o["opt_name"], o.get("ip_version", 4)): o for o in current}
    for opt in changes:
        key = (opt["opt_name"], opt.get("ip_version", 4))
        if opt.get("opt_value") is None:
            merged.pop(key, None)
        else:
            merged[key] = {"opt_name": opt["opt_name"], "opt_value": opt["opt_value"],
                           "ip_version": key[1]}
    return list(merged.values())


def _fixed_ip_order(fixed: dict) -> tuple[str, str]:
    return fixed["subnet_id"], fixed["ip_address"]


def _dns_assignment(dns_name: str, fixed_ips: list[dict], suffix: str) -> list[dict]:
    """Neutron's dns_assignment; ``suffix`` is ``.<dns_domain>.``."""
    out = []
    for fixed in fixed_ips:
        address = fixed["ip_address"]
        host = dns_name or "host-" + address.replace(".", "-").replace(":", "-")
        out.append({"hostname": host, "ip_address": address, "fqdn": host + suffix})
    return out


# The view's order of a port row's columns (``views`` unpacks them in this order).
_VIEW_COLUMNS = ("id", "project_id", "name", "description", "created_at", "updated_at",
                 "revision_number", "network_id", "mac_address", "admin_state_up", "status",
                 "device_id", "device_owner", "port_security_enabled", "binding_host_id",
                 "binding_vif_type", "binding_vnic_type", "binding_vif_details",
                 "binding_profile", "allowed_address_pairs", "extra_dhcp_opts", "dns_name")


@functools.lru_cache(maxsize=8)
def _row_unpacker(fields: tuple[str, ...]):
    """A C-level getter of ``_VIEW_COLUMNS`` from rows with these column names."""
    return operator.itemgetter(*[fields.index(name) for name in _VIEW_COLUMNS])
