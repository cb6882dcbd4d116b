"""Agents: the state reports (heartbeats) of the agents on every host, as Neutron lists them.

An agent is identified by (agent_type, host); its first report creates the row, later
ones refresh ``heartbeat_timestamp`` (and ``started_at`` when it says it has just started).
It is ``alive`` while its last heartbeat is newer than ``agent_down_time`` seconds.
Timestamps are UTC and shown as Neutron shows them for agents: "2026-11-27 08:56:09".

A plain heartbeat is not a change agents need to hear about, so it records none; a new
agent, a revived one, or new configurations (a tunnel endpoint appearing or moving) do.
Agents are admin-only: others list none and find none (404), as under Neutron's policy.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import record_change
from fermion.exceptions import bad
from fermion.model.context import Context
from fermion.model.query import ListQuery
from fermion.plugin import listing
from fermion.plugin.base import new_id

A = models.agents
OVS, DHCP, L3 = "Open vSwitch agent", "DHCP agent", "L3 agent"
METADATA, COMPUTE = "Metadata agent", "Compute agent"
# agent_type → (default binary, default topic), as Neutron's agents report them.
AGENT_TYPES = {
    OVS: ("neutron-openvswitch-agent", "N/A"),
    DHCP: ("neutron-dhcp-agent", "dhcp_agent"),
    L3: ("neutron-l3-agent", "l3_agent"),
    METADATA: ("neutron-metadata-agent", "N/A"),
    COMPUTE: ("fermion-agent-compute", "N/A"),
}
FORMAT = "%Y-%m-%d %H:%M:%S"
ADMIN = Context(project_id=None, roles=frozenset({"admin"}))


def agent_time(delta_s: float = 0.0) -> str:
    """UTC now (plus ``delta_s``) in the agents' timestamp format."""
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=delta_s)
    return now.strftime(FORMAT)


class Agents:
    member, collection = "agent", "agents"
    columns = {name: A.c[name] for name in (
        "id", "agent_type", "binary", "topic", "host", "admin_state_up", "availability_zone",
        "description", "created_at", "started_at", "heartbeat_timestamp")}

    def __init__(self, plugin):
        self.plugin = plugin
        self.down_time = plugin.conf.get("DEFAULT", "agent_down_time")
        self.enable_new = plugin.conf.get("DEFAULT", "enable_new_agents")

    def alive_cutoff(self) -> str:
        """Heartbeats at or after this are alive."""
        return agent_time(-self.down_time)

    # -- reading -------------------------------------------------------------------------

    def views(self, rows: list) -> list[dict]:
        cutoff = self.alive_cutoff()
        return [{
            "id": row.id,
            "agent_type": row.agent_type,
            "binary": row.binary,
            "topic": row.topic,
            "host": row.host,
            "admin_state_up": row.admin_state_up,
            "created_at": row.created_at,
            "started_at": row.started_at,
            "heartbeat_timestamp": row.heartbeat_timestamp,
            "alive": row.heartbeat_timestamp >= cutoff,
            "configurations": row.configurations,
            "availability_zone": row.availability_zone,
            "description": row.description,
            "resources_synced": row.resources_synced,
        } for row in rows]

    def get_row(self, conn: Connection, ctx: Context, agent_id: str, lock: bool = False):
        row = None
        if ctx.is_admin:
            stmt = select(A).where(A.c.id == agent_id)
            row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise exc.AgentNotFound(id=agent_id)
        return row

    def show(self, conn: Connection, ctx: Context, agent_id: str) -> dict:
        return self.views([self.get_row(conn, ctx, agent_id)])[0]

    def list(self, conn: Connection, ctx: Context, query: ListQuery) -> tuple[list[dict], bool]:
        if not ctx.is_admin:
            return [], False
        query.tags.clear()
        conditions = []
        alive = query.filters.get("alive")
        if alive:
            cutoff = self.alive_cutoff()
            wanted = set(alive)
            if wanted == {True}:
                conditions.append(A.c.heartbeat_timestamp >= cutoff)
            elif wanted == {False}:
                conditions.append(A.c.heartbeat_timestamp < cutoff)
        stmt = listing.build_select(conn, A, self.columns, None, query, conditions)
        rows, more = listing.page(conn.execute(stmt).all(), query)
        return self.views(rows), more

    def on_host(self, conn: Connection, host: str, agent_type: str | None = None) -> list:
        stmt = select(A).where(A.c.host == host)
        if agent_type:
            stmt = stmt.where(A.c.agent_type == agent_type)
        return conn.execute(stmt.order_by(A.c.agent_type)).all()

    # -- state reports -------------------------------------------------------------------

    def report(self, conn: Connection, body: Any) -> tuple[dict, str]:
        """Create or refresh the reporting agent; returns its view and new/alive/revived."""
        state = _report_state(body)
        now = agent_time()
        row = conn.execute(select(A).where(A.c.agent_type == state["agent_type"],
                                           A.c.host == state["host"])
                           .with_for_update()).first()
        values = {k: state[k] for k in ("binary", "topic", "configurations",
                                        "availability_zone")}
        if "resources_synced" in state:
            values["resources_synced"] = state["resources_synced"]
        if row is None:
            agent_id = new_id()
            conn.execute(insert(A), {**values, "id": agent_id, "agent_type": state["agent_type"],
                                     "host": state["host"], "admin_state_up": self.enable_new,
                                     "created_at": now, "started_at": now,
                                     "heartbeat_timestamp": now, "description": "",
                                     "load": 0})
            record_change(conn, "agent", agent_id, "create", None)
            status = "new"
        else:
            agent_id = row.id
            revived = row.heartbeat_timestamp < self.alive_cutoff()
            significant = revived or any(getattr(row, k) != v for k, v in values.items())
            values["heartbeat_timestamp"] = now
            if state["start_flag"]:
                values["started_at"] = now
            conn.execute(update(A).where(A.c.id == agent_id).values(**values))
            if significant:
                record_change(conn, "agent", agent_id, "update", None)
            status = "revived" if revived else "alive"
        if status != "alive" and state["agent_type"] in (DHCP, L3):
            self.plugin.scheduler.auto_schedule(conn, state["agent_type"])
        return self.show(conn, ADMIN, agent_id), status

    # -- admin changes -------------------------------------------------------------------

    def update(self, conn: Connection, ctx: Context, agent_id: str, changes: dict) -> None:
        row = self.get_row(conn, ctx, agent_id, lock=True)
        values = {k: v for k, v in changes.items() if k in ("admin_state_up", "description")}
        if values:
            conn.execute(update(A).where(A.c.id == row.id).values(**values))
            record_change(conn, "agent", row.id, "update", None)
        if values.get("admin_state_up") and not row.admin_state_up \
                and row.agent_type in (DHCP, L3):
            self.plugin.scheduler.auto_schedule(conn, row.agent_type)

    def delete(self, conn: Connection, ctx: Context, agent_id: str) -> None:
        row = self.get_row(conn, ctx, agent_id, lock=True)
        for table, column in ((models.networkdhcpagentbindings, "dhcp_agent_id"),
                              (models.routerl3agentbindings, "l3_agent_id")):
            conn.execute(delete(table).where(table.c[column] == row.id))
        conn.execute(delete(A).where(A.c.id == row.id))
        record_change(conn, "agent", row.id, "delete", None)


def _report_state(body: Any) -> dict:
    """The validated ``{"agent": {...}}`` of a state report."""
    if not isinstance(body, dict) or not isinstance(body.get("agent"), dict):
        raise bad("Unable to find 'agent' in request body")
    item = body["agent"]
    known = {"agent_type", "host", "binary", "topic", "configurations", "availability_zone",
             "start_flag", "resources_synced"}
    unknown = sorted(k for k in item if k not in known)
    if unknown:
        raise bad(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    agent_type = item.get("agent_type")
    if not isinstance(agent_type, str) or agent_type not in AGENT_TYPES:
        raise bad(f"Invalid input for agent_type. Reason: '{agent_type}' is not in "
                  f"{sorted(AGENT_TYPES)}.")
    binary, topic = AGENT_TYPES[agent_type]
    out = {"agent_type": agent_type}
    for name, default in (("host", None), ("binary", binary), ("topic", topic)):
        value = item.get(name, default)
        if (not isinstance(value, str) or not value.strip() or len(value) > 255
                or "\x00" in value):
            raise bad(f"Invalid input for {name}. Reason: a non-empty string of at most 255 "
                      "characters is required.")
        out[name] = value
    configurations = item.get("configurations", {})
    if not isinstance(configurations, dict):
        raise bad("Invalid input for configurations. Reason: an object is required.")
    out["configurations"] = configurations
    zone = item.get("availability_zone")
    if zone is not None and (not isinstance(zone, str) or len(zone) > 255 or "\x00" in zone):
        raise bad("Invalid input for availability_zone. Reason: a string of at most 255 "
                  "characters or null is required.")
    out["availability_zone"] = zone
    out["start_flag"] = item.get("start_flag") is True
    if "resources_synced" in item:
        if item["resources_synced"] not in (True, False, None):
            raise bad("Invalid input for resources_synced. Reason: a boolean or null is "
                      "required.")
        out["resources_synced"] = item["resources_synced"]
    return out
