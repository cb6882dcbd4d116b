"""Subnet pools: prefixes that subnets draw their CIDRs from (``subnet_allocation``).

A subnet asked for by prefix length gets the lowest free block of that size inside the
pool's prefixes; a subnet asked for by CIDR must lie inside them and not overlap another
subnet of the pool. Visible to the owner, and to everyone when shared.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Connection, func, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.model.context import Context
from fermion.plugin import listing
from fermion.plugin.base import CTX_PROJECT, Resource, new_id

SP = models.subnetpools
S = models.subnets
DEFAULT_MIN = {4: 8, 6: 64}
MAX_LEN = {4: 32, 6: 128}


class SubnetPools(Resource):
    member, collection = "subnetpool", "subnetpools"
    table = SP
    not_found, not_found_key = exc.SubnetPoolNotFound, "subnetpool_id"
    columns = {
        "default_prefixlen": SP.c.default_prefixlen, "min_prefixlen": SP.c.min_prefixlen,
        "max_prefixlen": SP.c.max_prefixlen, "shared": SP.c.shared,
        "is_default": SP.c.is_default, "address_scope_id": SP.c.address_scope_id,
        "ip_version": SP.c.ip_version,
    }

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        return or_(SP.c.project_id == CTX_PROJECT, SP.c.shared)

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        return self.tagged_views(conn, rows, ids, lambda row: {
            "prefixes": row.prefixes,
            "default_prefixlen": row.default_prefixlen,
            "min_prefixlen": row.min_prefixlen,
            "max_prefixlen": row.max_prefixlen,
            "shared": row.shared,
            "is_default": row.is_default,
            "default_quota": row.default_quota,
            "address_scope_id": row.address_scope_id,
            "ip_version": row.ip_version,
        })

    def default_id(self, conn: Connection, version: int) -> str | None:
        return conn.execute(select(SP.c.id).where(SP.c.is_default,
                                                  SP.c.ip_version == version)).scalar()

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        self.plugin.quotas.check(conn, item["project_id"], "subnetpool",
                                 self.count(conn, item["project_id"]))
        prefixes = _collapse(item["prefixes"])
        version = prefixes[0].version
        pool_id = new_id()
        self.plugin.address_scopes.check_pool(conn, ctx, item.get("address_scope_id"), pool_id,
                                              prefixes, version, new=True)
        lengths = _lengths(item, version, {})
        if item.get("is_default") and self.default_id(conn, version):
            raise exc.InvalidInput(error_message="A default subnetpool for this IP family has "
                                   "already been set. Only one default may exist per IP family")
        return self.insert_row(conn, item, {
            "id": pool_id, "ip_version": version, **lengths, "shared": item.get("shared", False),
            "is_default": item.get("is_default", False),
            "default_quota": item.get("default_quota"),
            "address_scope_id": item.get("address_scope_id"),
            "prefixes": [str(p) for p in prefixes],
        })

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        values = self.simple_columns(changes)
        self.plugin.address_scopes.check_pool_update(conn, ctx, row)
        if "prefixes" in changes:
            new = _collapse(changes["prefixes"])
            if any(p.version != row.ip_version for p in new):
                raise exc.InvalidInput(error_message="Illegal subnetpool prefix: all prefixes "
                                       "must have the pool's IP version")
            for old in row.prefixes:
                old_net = ipaddress.ip_network(old)
                if not any(old_net.subnet_of(n) for n in new):
                    raise exc.InvalidInput(error_message="Illegal prefix bounds: existing "
                                           "prefixes must be a subset of the new prefixes")
            values["prefixes"] = [str(p) for p in new]
        current = {"default_prefixlen": row.default_prefixlen,
                   "min_prefixlen": row.min_prefixlen, "max_prefixlen": row.max_prefixlen}
        values.update(_lengths(changes, row.ip_version, current))
        self.plugin.address_scopes.check_pool(
            conn, ctx, changes.get("address_scope_id", row.address_scope_id), row.id,
            values.get("prefixes", row.prefixes), row.ip_version)
        if changes.get("is_default") and not row.is_default and self.default_id(
                conn, row.ip_version):
            raise exc.InvalidInput(error_message="A default subnetpool for this IP family has "
                                   "already been set. Only one default may exist per IP family")
        self.update_row(conn, row, values)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        used = conn.execute(select(func.count()).select_from(S)
                            .where(S.c.subnetpool_id == row.id)).scalar_one()
        if used:
            raise exc.SubnetPoolInUse(subnet_pool_id=row.id,
                                      reason="Subnet pool has existing allocations")
        self.delete_row(conn, row)

    def allocate(self, conn: Connection, pool: Any, cidr: str | None,
                 prefixlen: int | None) -> str:
        """A CIDR for a new subnet of this pool (the pool row is locked by the caller)."""
        prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
        used = [ipaddress.ip_network(c) for c in conn.execute(
            select(S.c.cidr).where(S.c.subnetpool_id == pool.id)).scalars()]
        if cidr is not None:
            net = ipaddress.ip_network(cidr)
            if not any(net.subnet_of(p) for p in prefixes if p.version == net.version):
                raise exc.SubnetAllocationError(reason=f"Cidr {net} not in subnet pool "
                                                f"{pool.id} prefixes")
            _check_length(pool, net.prefixlen)
            if any(net.overlaps(u) for u in used):
                raise exc.SubnetAllocationError(reason=f"Cidr {net} overlaps another subnet "
                                                "of the pool")
            return str(net)
        length = prefixlen if prefixlen is not None else pool.default_prefixlen
        _check_length(pool, length)
        for prefix in prefixes:
            if prefix.prefixlen > length:
                continue
            for candidate in prefix.subnets(new_prefix=length):
                if not any(candidate.overlaps(u) for u in used):
                    return str(candidate)
        raise exc.SubnetAllocationError(reason="Insufficient prefix space to allocate subnet "
                                        f"size /{length}")


def _check_length(pool: Any, length: int) -> None:
    if not pool.min_prefixlen <= length <= pool.max_prefixlen:
        raise exc.SubnetAllocationError(
            reason=f"Unable to allocate subnet with prefix length {length}, minimum allowed "
            f"prefix is {pool.min_prefixlen}, maximum allowed prefix is {pool.max_prefixlen}")


def _collapse(prefixes: list[str]) -> list:
    nets = [ipaddress.ip_network(p) for p in prefixes]
    if not nets:
        raise exc.InvalidInput(error_message="A subnet pool needs at least one prefix")
    if len({n.version for n in nets}) > 1:
        raise exc.InvalidInput(error_message="Illegal subnetpool prefix: mixed IP versions")
    return list(ipaddress.collapse_addresses(nets))


def _lengths(item: dict, version: int, current: dict) -> dict:
    low = item.get("min_prefixlen", current.get("min_prefixlen", DEFAULT_MIN[version]))
    high = item.get("max_prefixlen", current.get("max_prefixlen", MAX_LEN[version]))
    default = item.get("default_prefixlen", current.get("default_prefixlen", low))
    if not 0 <= low <= default <= high <= MAX_LEN[version]:
        raise exc.InvalidInput(error_message="Illegal prefix bounds: min_prefixlen "
                               f"{low} <= default_prefixlen {default} <= max_prefixlen "
                               f"{high} <= {MAX_LEN[version]} must hold")
    changed = {"min_prefixlen": low, "max_prefixlen": high, "default_prefixlen": default}
    return {k: v for k, v in changed.items() if current.get(k) != v}
