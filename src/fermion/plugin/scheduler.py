"""Which DHCP agent serves a network, which L3 agent hosts a router.

Automatic scheduling, in the transaction of the write that makes it necessary (a change
hook, see ``Database.change_hooks``): a subnet with DHCP created or updated puts its network
on ``dhcp_agents_per_network`` live DHCP agents; a router created goes to one live L3 agent.
The least loaded agent (fewest networks or routers) wins, ties by id. Objects made while
no agent was alive are scheduled when one reports for the first time (or revives, or is
enabled again). Admins add and remove bindings by hand through the scheduler extensions.

Failover (``Maintenance`` calls ``reschedule``): networks and routers of an agent dead for
more than 2 x ``agent_down_time`` (i.e. ``agent_down_time`` after it was first shown dead,
Neutron's limit) move to live agents; when none is alive they stay where they are.
Each binding change is a change in the feed: ``network_dhcp_agent`` / ``router_l3_agent``
with the network's / router's id and action ``add`` or ``remove``.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, func, insert, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import record_change
from fermion.plugin.agents import DHCP, L3, agent_time

A = models.agents
NB = models.networkdhcpagentbindings
RB = models.routerl3agentbindings
S = models.subnets
N = models.networks
R = models.routers
AUTO_BATCH = 500  # objects scheduled per auto-schedule pass


class Kind:
    """What differs between DHCP (networks) and L3 (routers) scheduling."""

    def __init__(self, agent_type, table, bindings, object_column, agent_column, change,
                 not_found, invalid_agent, hosted, not_hosted):
        self.agent_type, self.table, self.bindings = agent_type, table, bindings
        self.obj = bindings.c[object_column]
        self.agent = bindings.c[agent_column]
        self.object_key = object_column
        self.change = change
        self.not_found, self.invalid_agent = not_found, invalid_agent
        self.hosted, self.not_hosted = hosted, not_hosted


NETWORKS = Kind(DHCP, N, NB, "network_id", "dhcp_agent_id", "network_dhcp_agent",
                lambda i: exc.NetworkNotFound(net_id=i), exc.InvalidDHCPAgent,
                exc.NetworkHostedByDHCPAgent, exc.NetworkNotHostedByDhcpAgent)
ROUTERS = Kind(L3, R, RB, "router_id", "l3_agent_id", "router_l3_agent",
               lambda i: exc.RouterNotFound(router_id=i), exc.InvalidL3Agent,
               exc.RouterHostedByL3Agent, exc.RouterNotHostedByL3Agent)
KINDS = {DHCP: NETWORKS, L3: ROUTERS}


class Scheduler:
    def __init__(self, plugin):
        conf = plugin.conf
        self.plugin = plugin
        self.per_network = conf.get("DEFAULT", "dhcp_agents_per_network")
        self.auto = {DHCP: conf.get("DEFAULT", "network_auto_schedule"),
                     L3: conf.get("DEFAULT", "router_auto_schedule")}
        self.failover = {DHCP: conf.get("DEFAULT", "allow_automatic_dhcp_failover"),
                         L3: conf.get("DEFAULT", "allow_automatic_l3agent_failover")}
        self.down_time = conf.get("DEFAULT", "agent_down_time")
        plugin.db.change_hooks.append(self.on_changes)

    def wanted(self, kind: Kind) -> int:
        return self.per_network if kind is NETWORKS else 1

    # -- automatic scheduling --------------------------------------------------------------

    def on_changes(self, conn: Connection, changes: list[dict]) -> None:
        """Change hook: schedule what this write made schedulable."""
        subnets = [c["resource_id"] for c in changes
                   if c["resource"] == "subnet" and c["action"] in ("create", "update")]
        if subnets and self.auto[DHCP]:
            networks = conn.execute(select(S.c.network_id).distinct().where(
                S.c.id.in_(subnets), S.c.enable_dhcp)).scalars().all()
            for network_id in sorted(networks):
                self.schedule(conn, NETWORKS, network_id)
        if self.auto[L3]:
            for c in changes:
                if c["resource"] == "router" and c["action"] == "create":
                    self.schedule(conn, ROUTERS, c["resource_id"])

    def _owner(self, conn: Connection, kind: Kind, object_id: str):
        """The object's project, or False when it does not exist (any more)."""
        row = conn.execute(select(kind.table.c.project_id)
                           .where(kind.table.c.id == object_id)).first()
        return False if row is None else row.project_id

    def _candidates(self, conn: Connection, kind: Kind, object_id: str) -> list[str]:
        """Live, enabled agents of the kind not hosting the object, least loaded first."""
        load = select(kind.agent.label("agent_id"), func.count().label("n")).group_by(
            kind.agent).subquery()
        hosting = select(kind.agent).where(kind.obj == object_id)
        stmt = (select(A.c.id).outerjoin(load, load.c.agent_id == A.c.id)
                .where(A.c.agent_type == kind.agent_type, A.c.admin_state_up,
                       A.c.heartbeat_timestamp >= agent_time(-self.down_time),
                       A.c.id.notin_(hosting))
                .order_by(func.coalesce(load.c.n, 0), A.c.id))
        return list(conn.execute(stmt).scalars())

    def _live_hosts(self, conn: Connection, kind: Kind, object_id: str) -> int:
        return conn.execute(select(func.count()).select_from(kind.bindings).join(
            A, A.c.id == kind.agent).where(
            kind.obj == object_id,
            A.c.heartbeat_timestamp >= agent_time(-self.down_time))).scalar_one()

    def _bind(self, conn: Connection, kind: Kind, object_id: str, agent_id: str,
              project_id: str | None) -> None:
        conn.execute(insert(kind.bindings), {kind.object_key: object_id,
                                             kind.agent.key: agent_id})
        record_change(conn, kind.change, object_id, "add", project_id)

    def _unbind(self, conn: Connection, kind: Kind, object_id: str, agent_id: str,
                project_id: str | None) -> None:
        conn.execute(delete(kind.bindings).where(kind.obj == object_id,
                                                 kind.agent == agent_id))
        record_change(conn, kind.change, object_id, "remove", project_id)

    def schedule(self, conn: Connection, kind: Kind, object_id: str) -> list[str]:
        """Bind the object to live agents until it has its share; returns the new agents."""
        owner = self._owner(conn, kind, object_id)
        if owner is False:
            return []
        hosted = conn.execute(select(func.count()).select_from(kind.bindings)
                              .where(kind.obj == object_id)).scalar_one()
        missing = self.wanted(kind) - hosted
        if missing <= 0:
            return []
        chosen = self._candidates(conn, kind, object_id)[:missing]
        for agent_id in chosen:
            self._bind(conn, kind, object_id, agent_id, owner)
        return chosen

    def auto_schedule(self, conn: Connection, agent_type: str) -> None:
        """Schedule what has fewer agents than it should (a new or revived agent calls)."""
        kind = KINDS[agent_type]
        if not self.auto[agent_type]:
            return
        live = conn.execute(select(func.count()).select_from(A).where(
            A.c.agent_type == kind.agent_type, A.c.admin_state_up,
            A.c.heartbeat_timestamp >= agent_time(-self.down_time))).scalar_one()
        share = min(self.wanted(kind), live)
        if not share:
            return
        hosted = select(kind.obj.label("object_id"), func.count().label("n")).group_by(
            kind.obj).subquery()
        if kind is NETWORKS:
            source = select(S.c.network_id.label("id")).where(S.c.enable_dhcp).distinct()
        else:
            source = select(R.c.id.label("id"))
        source = source.subquery()
        stmt = (select(source.c.id).outerjoin(hosted, hosted.c.object_id == source.c.id)
                .where(func.coalesce(hosted.c.n, 0) < share)
                .order_by(source.c.id).limit(AUTO_BATCH))
        for object_id in conn.execute(stmt).scalars().all():
            self.schedule(conn, kind, object_id)

    # -- failover -----------------------------------------------------------------------------

    def reschedule(self) -> None:
        """Move networks and routers off agents dead for more than 2 x agent_down_time."""
        for agent_type, kind in KINDS.items():
            if self.failover[agent_type]:
                self.plugin.db.write(lambda conn, kind=kind: self._reschedule(conn, kind))
            if self.auto[agent_type]:
                self.plugin.db.write(lambda conn, t=agent_type: self.auto_schedule(conn, t))

    def _reschedule(self, conn: Connection, kind: Kind) -> None:
        dead = select(A.c.id).where(A.c.agent_type == kind.agent_type,
                                    A.c.heartbeat_timestamp < agent_time(-2 * self.down_time))
        stmt = (select(kind.obj, kind.agent).where(kind.agent.in_(dead))
                .order_by(kind.obj, kind.agent).with_for_update())
        for object_id, agent_id in conn.execute(stmt).all():
            live = self._live_hosts(conn, kind, object_id)
            candidates = [] if live >= self.wanted(kind) else \
                self._candidates(conn, kind, object_id)
            if live < self.wanted(kind) and not candidates:
                continue  # nowhere to go: keep it where it was
            owner = self._owner(conn, kind, object_id)
            self._unbind(conn, kind, object_id, agent_id, owner)
            if candidates:
                self._bind(conn, kind, object_id, candidates[0], owner)

    # -- by hand (the scheduler extensions) -------------------------------------------------

    def _agent(self, conn: Connection, kind: Kind, agent_id: str, must_serve: bool):
        row = conn.execute(select(A).where(A.c.id == agent_id)).first()
        if row is None:
            raise exc.AgentNotFound(id=agent_id)
        if row.agent_type != kind.agent_type or (must_serve and not row.admin_state_up):
            raise kind.invalid_agent(id=agent_id)
        return row

    def add(self, conn: Connection, kind: Kind, agent_id: str, object_id: str) -> None:
        self._agent(conn, kind, agent_id, must_serve=True)
        owner = self._owner(conn, kind, object_id)
        if owner is False:
            raise kind.not_found(object_id)
        current = conn.execute(select(kind.agent).where(kind.obj == object_id)).scalars().all()
        if agent_id in current:
            raise kind.hosted(**{kind.object_key: object_id, "agent_id": agent_id})
        if kind is ROUTERS and current:  # a legacy router lives on one agent
            raise kind.hosted(router_id=object_id, agent_id=current[0])
        self._bind(conn, kind, object_id, agent_id, owner)

    def remove(self, conn: Connection, kind: Kind, agent_id: str, object_id: str) -> None:
        self._agent(conn, kind, agent_id, must_serve=False)
        bound = conn.execute(select(kind.obj).where(
            and_(kind.obj == object_id, kind.agent == agent_id))).first()
        if bound is None:
            raise kind.not_hosted(**{kind.object_key: object_id, "agent_id": agent_id})
        owner = self._owner(conn, kind, object_id)
        self._unbind(conn, kind, object_id, agent_id, None if owner is False else owner)

    def hosted_by(self, conn: Connection, kind: Kind, agent_id: str) -> list:
        """Rows of the objects the agent hosts."""
        self._agent(conn, kind, agent_id, must_serve=False)
        ids = select(kind.obj).where(kind.agent == agent_id)
        return conn.execute(select(kind.table).where(kind.table.c.id.in_(ids))
                            .order_by(kind.table.c.id)).all()

    def agents_hosting(self, conn: Connection, kind: Kind, object_id: str) -> list:
        """Rows of the agents hosting the object (its existence checked)."""
        if self._owner(conn, kind, object_id) is False:
            raise kind.not_found(object_id)
        ids = select(kind.agent).where(kind.obj == object_id)
        return conn.execute(select(A).where(A.c.id.in_(ids)).order_by(A.c.host)).all()
