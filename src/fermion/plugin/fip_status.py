"""Floating IP status reports: the L3 agent says which floating IPs it has configured.

Neutron's L3 agent sets a floating IP ACTIVE once its router namespace carries the address
and the NAT rules, DOWN when it is disassociated (or its router is gone from the host), and
ERROR when configuring it failed. A report names the reporting host
(``plugin.status_reports``); a floating IP whose router is not hosted by that host's L3
agent is left alone (``wrong_host``) unless reported DOWN, as is one that no longer exists
(``not_found``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from fermion.db import models
from fermion.plugin import status_reports
from fermion.plugin.agents import L3

F = models.floatingips


def _routers_of_host(conn: Connection, host: str) -> set[str]:
    A, RB = models.agents, models.routerl3agentbindings
    return set(conn.execute(select(RB.c.router_id).join(A, A.c.id == RB.c.l3_agent_id).where(
        A.c.host == host, A.c.agent_type == L3)).scalars())


def report(plugin, conn: Connection, host: str, reports: list[dict]) -> list[dict]:
    rows = status_reports.locked_rows(conn, F, reports)
    hosted = _routers_of_host(conn, host) if rows else set()

    def judge(row: Any, reported: str) -> tuple[str, dict] | None:
        if reported != "DOWN" and row.router_id not in hosted:
            return None
        return reported, {"status": reported} if row.status != reported else {}

    return status_reports.apply(conn, plugin.floatingips, rows, reports, judge)


KIND = status_reports.Kind("floatingips", ("ACTIVE", "DOWN", "ERROR"),
                           "update_fermion_floatingip_status", report)
