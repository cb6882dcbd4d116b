"""Floating IP status reports: the L3 agent says which floating IPs it has configured.

Neutron's L3 agent sets a floating IP ACTIVE once its router namespace carries the address
and the NAT rules, DOWN when it is disassociated (or its router is gone from the host), and
ERROR when configuring it failed. A report names the reporting host; a floating IP whose
router is not hosted by that host's L3 agent is left alone (``wrong_host``), as is one that
no longer exists (``not_found``). Only real changes are written (revision bump + change).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.plugin import listing, port_status
from fermion.plugin.agents import L3

F = models.floatingips
STATUSES = ("ACTIVE", "DOWN", "ERROR")


def parse(body) -> tuple[str, list[dict]]:
    return port_status.parse(body, key="floatingips", statuses=STATUSES)


def _routers_of_host(conn: Connection, host: str) -> set[str]:
    A, RB = models.agents, models.routerl3agentbindings
    return set(conn.execute(select(RB.c.router_id).join(A, A.c.id == RB.c.l3_agent_id).where(
        A.c.host == host, A.c.agent_type == L3)).scalars())


def report(plugin, conn: Connection, host: str, reports: list[dict]) -> list[dict]:
    """Apply the reports; one result per floating IP: updated, unchanged, not_found,
    wrong_host. A floating IP reported twice counts once, with its last status."""
    reports = list({r["id"]: r for r in reports}.values())
    rows = {}
    for part in listing.chunks(sorted(r["id"] for r in reports)):
        rows.update((row.id, row) for row in conn.execute(
            select(F).where(F.c.id.in_(part)).order_by(F.c.id).with_for_update()))
    hosted = _routers_of_host(conn, host) if rows else set()
    results = []
    for item in reports:
        row = rows.get(item["id"])
        if row is None:
            results.append({"id": item["id"], "status": None, "result": "not_found"})
            continue
        if item["status"] != "DOWN" and row.router_id not in hosted:
            results.append({"id": row.id, "status": row.status, "result": "wrong_host"})
            continue
        changed = row.status != item["status"]
        if changed:
            plugin.floatingips.update_row(conn, row, {"status": item["status"]})
        results.append({"id": row.id, "status": item["status"],
                        "result": "updated" if changed else "unchanged"})
    return results
