"""Segment allocation in the database: tenant pools and provider reservations.

A segment's ``allocation_key`` column is unique, so two servers can never hand out the same
VLAN/VNI or flat physnet: a racing insert fails and the transaction is retried, and the
retry sees the winner's row. Allocation takes the lowest free id of the first pool that
has one, in ``tenant_network_types`` order.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.plugin.base import new_id
from fermion.plugin.listing import by_ids
from fermion.plugin.ml2.types import FLAT, LOCAL, TUNNEL_TYPES, VLAN, TypeConfig

SEG = models.networksegments


def allocation_key(network_type: str, physnet: str | None, seg_id: int | None) -> str | None:
    if network_type == LOCAL:
        return None
    if network_type == FLAT:
        return f"flat:{physnet}"
    if network_type == VLAN:
        return f"vlan:{physnet}:{seg_id}"
    return f"{network_type}:{seg_id}"


def _taken(conn: Connection, key: str | None) -> bool:
    if key is None:
        return False
    return conn.execute(select(SEG.c.id).where(SEG.c.allocation_key == key)).first() is not None


def _lowest_free(conn: Connection, types: TypeConfig, network_type: str,
                 physnet: str | None) -> dict | None:
    for pool_physnet, (low, high) in types.pools(network_type, physnet):
        stmt = select(SEG.c.segmentation_id).where(
            SEG.c.network_type == network_type,
            SEG.c.segmentation_id.between(low, high))
        if network_type == VLAN:
            stmt = stmt.where(SEG.c.physical_network == pool_physnet)
        used = set(conn.execute(stmt).scalars())
        for seg_id in range(low, high + 1):
            if seg_id not in used:
                return {"network_type": network_type,
                        "physical_network": pool_physnet or None, "segmentation_id": seg_id}
    return None


def reserve_provider(conn: Connection, types: TypeConfig, segment: dict) -> dict:
    """Reserve an admin-requested segment (allocating its id when left out)."""
    segment = types.validate_provider_segment(segment)
    network_type, physnet, seg_id = (segment["network_type"], segment["physical_network"],
                                     segment["segmentation_id"])
    if network_type == VLAN and seg_id is None or network_type in TUNNEL_TYPES and seg_id is None:
        found = _lowest_free(conn, types, network_type, physnet)
        if found is None:
            raise exc.NoNetworkAvailable()
        return found
    if _taken(conn, allocation_key(network_type, physnet, seg_id)):
        if network_type == FLAT:
            raise exc.FlatNetworkInUse(physical_network=physnet)
        if network_type == VLAN:
            raise exc.VlanIdInUse(vlan_id=seg_id, physical_network=physnet)
        raise exc.TunnelIdInUse(tunnel_id=seg_id)
    return segment


def allocate_tenant(conn: Connection, types: TypeConfig) -> dict:
    """A segment for a tenant network from the first type in tenant_network_types with room."""
    for network_type in types.tenant_network_types:
        if network_type == LOCAL:
            return {"network_type": LOCAL, "physical_network": None, "segmentation_id": None}
        if network_type in (VLAN, *TUNNEL_TYPES):
            found = _lowest_free(conn, types, network_type, None)
            if found is not None:
                return found
    raise exc.NoNetworkAvailable()


def store(conn: Connection, network_id: str, segments: list[dict]) -> None:
    for index, seg in enumerate(segments):
        conn.execute(insert(SEG).values(
            id=new_id(), network_id=network_id, network_type=seg["network_type"],
            physical_network=seg["physical_network"], segmentation_id=seg["segmentation_id"],
            segment_index=index,
            allocation_key=allocation_key(seg["network_type"], seg["physical_network"],
                                          seg["segmentation_id"])))


def by_network(conn: Connection, network_ids) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in by_ids(conn, "segments", lambda ids_in: select(SEG).where(
            SEG.c.network_id.in_(ids_in)).order_by(SEG.c.segment_index), network_ids):
        out.setdefault(row.network_id, []).append({
            "id": row.id, "network_type": row.network_type,
            "physical_network": row.physical_network,
            "segmentation_id": row.segmentation_id})
    return out
