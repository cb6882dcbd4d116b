"""``network-ip-availability``: how many addresses each network's subnets have and use."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from fermion.db import models
from fermion.plugin import ipam

N, S, IPA = models.networks, models.subnets, models.ipallocations


def availabilities(conn: Connection, filters: dict[str, list]) -> list[dict]:
    stmt = select(N).order_by(N.c.id)
    if "network_id" in filters:
        stmt = stmt.where(N.c.id.in_(filters["network_id"]))
    if "network_name" in filters:
        stmt = stmt.where(N.c.name.in_(filters["network_name"]))
    if "project_id" in filters:
        stmt = stmt.where(N.c.project_id.in_(filters["project_id"]))
    networks = conn.execute(stmt).all()
    used = dict(conn.execute(select(IPA.c.subnet_id, func.count())
                             .group_by(IPA.c.subnet_id)).all())
    subnets: dict[str, list] = {}
    sub_stmt = select(S)
    if "ip_version" in filters:
        sub_stmt = sub_stmt.where(S.c.ip_version.in_([int(v) for v in filters["ip_version"]]))
    for row in conn.execute(sub_stmt.order_by(S.c.created_at, S.c.id)):
        subnets.setdefault(row.network_id, []).append(row)
    out = []
    for net in networks:
        if "ip_version" in filters and net.id not in subnets:
            continue
        per_subnet = []
        for sub in subnets.get(net.id, []):
            bounds = ipam.pool_bounds(ipam.network(sub.cidr), [
                (p["start"], p["end"]) for p in sub.allocation_pools])
            per_subnet.append({"subnet_id": sub.id, "subnet_name": sub.name, "cidr": sub.cidr,
                               "ip_version": sub.ip_version,
                               "total_ips": ipam.pool_size(bounds),
                               "used_ips": used.get(sub.id, 0)})
        out.append({"network_id": net.id, "network_name": net.name,
                    "project_id": net.project_id, "tenant_id": net.project_id,
                    "total_ips": sum(s["total_ips"] for s in per_subnet),
                    "used_ips": sum(s["used_ips"] for s in per_subnet),
                    "subnet_ip_availability": per_subnet})
    return out
