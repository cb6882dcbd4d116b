"""Address scopes: routing domains that subnet pools (and so subnets) belong to.

Visible to their project, and to everyone when shared; only admins share one, and a shared
scope cannot be unshared. A subnet pool may join a scope it can see, of its own IP version,
when its prefixes overlap no other pool of the scope. A network's ``ipv4_address_scope`` /
``ipv6_address_scope`` is the scope of its subnets' pools; all subnets of one IP version on
a network must be in the same scope (or none). Not a standard-attribute resource in
Neutron: no description, timestamps, revision number or tags are shown.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, func, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.plugin import listing
from fermion.plugin.base import CTX_PROJECT, Resource

AS = models.address_scopes
SP = models.subnetpools
S = models.subnets


class AddressScopes(Resource):
    member, collection = "address_scope", "address_scopes"
    table = AS
    not_found, not_found_key = exc.AddressScopeNotFound, "address_scope_id"
    columns = {"shared": AS.c.shared, "ip_version": AS.c.ip_version}

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        return or_(AS.c.project_id == CTX_PROJECT, AS.c.shared)

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        return [{"id": row.id, "name": row.name, "project_id": row.project_id,
                 "tenant_id": row.project_id, "shared": row.shared,
                 "ip_version": row.ip_version} for row in rows]

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        return self.insert_row(conn, item, {"shared": item["shared"],
                                            "ip_version": item["ip_version"]})

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        if row.shared and changes.get("shared") is False:
            raise exc.AddressScopeUpdateError(address_scope_id=row.id,
                                              reason="Shared address scope can't be unshared")
        self.update_row(conn, row, self.simple_columns(changes))

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        if conn.execute(select(func.count()).select_from(SP)
                        .where(SP.c.address_scope_id == row.id)).scalar_one():
            raise exc.AddressScopeInUse(address_scope_id=row.id)
        self.delete_row(conn, row)

    # -- subnet pools ----------------------------------------------------------------------

    def check_pool(self, conn: Connection, ctx: Context, scope_id: str | None,
                   pool_id: str, prefixes: list, version: int, new: bool = False) -> None:
        """May this pool (``new``: not stored yet) be in this scope with these prefixes?"""
        if scope_id is None:
            return
        scope = self.get_row(conn, ctx, scope_id)
        if scope.ip_version != version:
            raise exc.IllegalSubnetPoolIpVersionAssociationToAddressScope(
                subnetpool_id=pool_id, address_scope_id=scope_id, ip_version=scope.ip_version)
        if not new:
            self._check_rescoping(conn, pool_id, version)
        new = [ipaddress.ip_network(p) for p in prefixes]
        others = conn.execute(select(SP.c.id, SP.c.prefixes).where(
            SP.c.address_scope_id == scope_id)).all()
        for other_id, other_prefixes in others:
            if other_id == pool_id:
                continue
            if any(ipaddress.ip_network(p).overlaps(n) for p in other_prefixes for n in new
                   if ipaddress.ip_network(p).version == n.version):
                raise exc.AddressScopePrefixConflict()

    def _check_rescoping(self, conn: Connection, pool_id: str, version: int) -> None:
        """Re-scoping a pool must not leave a network with subnets in two scopes."""
        networks = select(S.c.network_id).where(S.c.subnetpool_id == pool_id)
        stray = conn.execute(select(S.c.id).where(
            S.c.network_id.in_(networks), S.c.ip_version == version,
            or_(S.c.subnetpool_id.is_(None), S.c.subnetpool_id != pool_id)).limit(1)).first()
        if stray is not None:
            raise exc.NetworkAddressScopeAffinityError()

    def check_pool_update(self, conn: Connection, ctx: Context, pool: Any) -> None:
        """A pool in a shared scope of another project is frozen for that project."""
        if pool.address_scope_id is None or ctx.is_admin:
            return
        owner = conn.execute(select(AS.c.project_id).where(
            AS.c.id == pool.address_scope_id)).scalar()
        if owner != ctx.project_id:
            raise exc.IllegalSubnetPoolUpdate(
                reason=f"subnetpool {pool.id} cannot be updated when associated with shared "
                f"address scope {pool.address_scope_id}")

    # -- networks --------------------------------------------------------------------------

    def check_network_affinity(self, conn: Connection, network_id: str, version: int,
                               pool_id: str | None) -> None:
        """A new subnet (from this pool, or none) is in the scope of the network's other
        subnets of its IP version: all in one address scope, or none in any."""
        scopes = set(conn.execute(select(SP.c.address_scope_id).select_from(
            S.outerjoin(SP, SP.c.id == S.c.subnetpool_id)).where(
            S.c.network_id == network_id, S.c.ip_version == version)).scalars())
        if not scopes:
            return
        new = conn.execute(select(SP.c.address_scope_id).where(SP.c.id == pool_id)).scalar() \
            if pool_id else None
        if scopes != {new}:
            raise exc.NetworkAddressScopeAffinityError()

    def of_networks(self, conn: Connection, ids) -> dict[str, dict[int, str]]:
        """{network_id: {ip_version: address_scope_id}} for networks with scoped subnets."""
        out: dict[str, dict[int, str]] = {}
        for network_id, version, scope_id in listing.by_ids(
                conn, "network_scopes", lambda ids_in: select(
                    S.c.network_id, S.c.ip_version, SP.c.address_scope_id).select_from(
                    S.join(SP, SP.c.id == S.c.subnetpool_id)).where(
                    S.c.network_id.in_(ids_in), SP.c.address_scope_id.isnot(None)), ids):
            out.setdefault(network_id, {})[version] = scope_id
        return out
