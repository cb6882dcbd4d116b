"""Security groups and their rules, and the ``default`` group every project gets.

A project's ``default`` group (rules: egress anywhere and ingress from the group's own
members, IPv4 and IPv6) is made on the project's first request that needs it, as Neutron
does: listing groups or rules, creating a group, creating a port. One per project: the
``default_security_group`` table's primary key settles a race between two servers (the
loser's transaction fails on it and ``Database.write`` runs it again, finding the winner's).
Any other new group starts with the two egress rules.

Groups are visible to their project (admins see all). A rule is visible to its own project
and to its group's; its group shows all its rules inline (``security_group_rules``). A rule
created or deleted is a change of its group too (revision_number, change feed), so watchers
of a group learn about its rules. Rule checks and canonical form live in ``sg_rules``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, false, insert, or_, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import Retry, statement
from fermion.model.context import Context
from fermion.model.query import ListQuery
from fermion.plugin import listing, sg_rules
from fermion.plugin.base import CTX_PROJECT, Resource, standard_view

SG = models.securitygroups
R = models.securitygrouprules
DSG = models.default_security_group
SGB = models.securitygroupportbindings
DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
RULE_COLUMNS = ("security_group_id", "remote_group_id", "direction", "ethertype", "protocol",
                "port_range_min", "port_range_max", "remote_ip_prefix")
MIXED_STATEFUL = ("Cannot apply both stateful and stateless security groups on the same port "
                  "at the same time")


class SecurityGroups(Resource):
    member, collection = "security_group", "security_groups"
    table = SG
    not_found, not_found_key = exc.SecurityGroupNotFound, "id"
    columns = {"stateful": SG.c.stateful}

    # -- the default group -----------------------------------------------------------------

    def default_id(self, conn: Connection, project_id: str) -> str | None:
        stmt = statement(("default_sg",), lambda: select(DSG.c.security_group_id).where(
            DSG.c.project_id == bindparam("project_id")))
        return conn.execute(stmt, {"project_id": project_id}).scalar()

    def ensure_default(self, conn: Connection, ctx: Context, project_id: str | None) -> str | None:
        """The project's default group, made now if it has none (None: not the caller's to make).

        Like Neutron, nobody but an admin makes a default group for another project.
        """
        if not project_id or len(project_id) > 255 or (
                project_id != ctx.project_id and not ctx.is_admin):
            return None
        found = self.default_id(conn, project_id)
        if found is not None:
            return found
        rules = self.plugin.securitygrouprules
        self.plugin.quotas.check(conn, project_id, "security_group_rule",
                                 rules.count(conn, project_id), adding=4)
        return self._insert(conn, {"project_id": project_id, "name": DEFAULT_NAME,
                                   "description": DEFAULT_DESCRIPTION}, True, default=True)

    def before_list(self, ctx: Context, query: ListQuery) -> None:
        """Run by the list route before its read: make the listed project's default group."""
        projects = query.filters.get("project_id")
        project = projects[0] if projects else ctx.project_id
        if not project or (project != ctx.project_id and not ctx.is_admin):
            return
        db = self.plugin.db
        with db.read() as conn:
            if self.default_id(conn, project) is not None:
                return
        db.write(lambda conn: self.ensure_default(conn, ctx, project))

    def _insert(self, conn: Connection, item: dict, stateful: bool, default: bool) -> str:
        group_id = self.insert_row(conn, item, {"stateful": stateful})
        if default:  # a concurrent twin fails here, on the primary key, and is retried
            conn.execute(insert(DSG).values(project_id=item["project_id"],
                                            security_group_id=group_id))
        rules = self.plugin.securitygrouprules
        for rule in sg_rules.new_group_rules(group_id, default):
            rules.insert_row(conn, {"project_id": item["project_id"]}, rule)
        return group_id

    # -- reading ---------------------------------------------------------------------------

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        ids = ids or listing.Ids([row.id for row in rows])
        tags = listing.load_tags(conn, ids)
        rules = self.plugin.securitygrouprules.of_groups(conn, ids)
        out = []
        for row in rows:
            view = standard_view(row, tags)
            view["stateful"] = row.stateful
            view["shared"] = False  # no RBAC sharing of groups (yet)
            view["security_group_rules"] = rules.get(row.id, [])
            out.append(view)
        return out

    def extra_conditions(self, conn, ctx, query):
        return [false()] if set(query.filters.get("shared", [False])) == {True} else []

    # -- writing ---------------------------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        project = item["project_id"]
        self.ensure_default(conn, ctx, project)
        quotas, rules = self.plugin.quotas, self.plugin.securitygrouprules
        quotas.check(conn, project, "security_group", self.count(conn, project))
        quotas.check(conn, project, "security_group_rule", rules.count(conn, project), adding=2)
        return self._insert(conn, item, item["stateful"], default=False)

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        if ("stateful" in changes and changes["stateful"] != row.stateful
                and self.in_use(conn, row.id)):
            raise exc.SecurityGroupInUse(id=row.id)
        if row.name == DEFAULT_NAME and "name" in changes:
            raise exc.SecurityGroupCannotUpdateDefault()
        self.update_row(conn, row, self.simple_columns(changes))

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        if self.in_use(conn, row.id):
            raise exc.SecurityGroupInUse(id=row.id)
        if row.name == DEFAULT_NAME and not ctx.is_admin:
            raise exc.SecurityGroupCannotRemoveDefault()
        # Its rules go, and so do other groups' rules that name it as their remote group.
        rules = self.plugin.securitygrouprules
        touched = set()
        for rule in conn.execute(select(R).where(or_(R.c.security_group_id == row.id,
                                                     R.c.remote_group_id == row.id))).all():
            rules.delete_row(conn, rule)
            if rule.security_group_id != row.id:
                touched.add(rule.security_group_id)
        for other in conn.execute(select(SG).where(SG.c.id.in_(sorted(touched)))).all():
            self.update_row(conn, other, {})
        conn.execute(delete(DSG).where(DSG.c.security_group_id == row.id))
        self.delete_row(conn, row)

    def in_use(self, conn: Connection, group_id: str) -> bool:
        stmt = statement(("sg_in_use",), lambda: select(SGB.c.port_id).where(
            SGB.c.security_group_id == bindparam("group_id")).limit(1))
        return conn.execute(stmt, {"group_id": group_id}).first() is not None

    # -- ports -----------------------------------------------------------------------------

    def for_port(self, conn: Connection, ctx: Context, project_id: str,
                 group_ids: list[str], default: bool = False) -> list[str]:
        """The groups a port of ``project_id`` may use: visible ones of the port's project.

        404 SecurityGroupNotFound names the others; stateful and stateless groups do not mix
        (409). The rows are share-locked (PostgreSQL), so a group cannot be deleted while a
        port is being bound to it. ``default``: the ids are the project's default group, just
        read; if an admin deleted it meanwhile, the transaction runs again (and makes a new one).
        """
        if not group_ids:
            return []
        rows = conn.execute(select(SG.c.id, SG.c.project_id, SG.c.stateful)
                            .where(SG.c.id.in_(group_ids))
                            .with_for_update(read=True, key_share=True)).all()
        usable = {row.id: row for row in rows if ctx.is_admin or (
            row.project_id == project_id and row.project_id == ctx.project_id)}
        missing = [g for g in group_ids if g not in usable]
        if missing and default:
            raise Retry(f"default security group {missing[0]} deleted meanwhile")
        if missing:
            raise exc.SecurityGroupNotFound(id=", ".join(missing))
        if len({usable[g].stateful for g in group_ids}) > 1:
            raise exc.SecurityGroupConflict(reason=MIXED_STATEFUL)
        return list(group_ids)


class SecurityGroupRules(Resource):
    member, collection = "security_group_rule", "security_group_rules"
    table = R
    not_found, not_found_key = exc.SecurityGroupRuleNotFound, "id"
    columns = {name: R.c[name] for name in RULE_COLUMNS}

    def visible(self, ctx: Context):
        if ctx.is_admin:
            return None
        own_groups = select(SG.c.id).where(SG.c.project_id == CTX_PROJECT)
        return or_(R.c.project_id == CTX_PROJECT, R.c.security_group_id.in_(own_groups))

    def owns(self, conn: Connection, ctx: Context, row: Any) -> bool:
        if row.project_id == ctx.project_id:
            return True
        owner = conn.execute(select(SG.c.project_id)
                             .where(SG.c.id == row.security_group_id)).scalar()
        return owner == ctx.project_id

    def before_list(self, ctx: Context, query: ListQuery) -> None:
        self.plugin.securitygroups.before_list(ctx, query)

    def extra_conditions(self, conn, ctx, query):
        wanted = set(query.filters.get("belongs_to_default_sg", []))
        if len(wanted) != 1:
            return []
        in_default = R.c.security_group_id.in_(select(DSG.c.security_group_id))
        return [in_default if wanted.pop() else ~in_default]

    # -- reading ---------------------------------------------------------------------------

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        ids = ids or listing.Ids([row.id for row in rows])
        tags = listing.load_tags(conn, ids)
        defaults = self._defaults(conn, {row.security_group_id for row in rows})
        return [_rule_view(row, tags, defaults) for row in rows]

    def of_groups(self, conn: Connection, ids: listing.Ids) -> dict[str, list[dict]]:
        """The rules of the given groups, by group id: oldest first, egress before ingress."""
        rows = list(listing.by_ids(conn, "sg_rules_of_groups", lambda ids_in: select(R).where(
            R.c.security_group_id.in_(ids_in)).order_by(
                R.c.created_at, R.c.direction, R.c.ethertype, R.c.id), ids))
        tags = listing.load_tags(conn, [row.id for row in rows]) if rows else {}
        defaults = self._defaults(conn, {row.security_group_id for row in rows})
        out: dict[str, list[dict]] = {}
        for row in rows:
            out.setdefault(row.security_group_id, []).append(_rule_view(row, tags, defaults))
        return out

    def _defaults(self, conn: Connection, group_ids: set[str]) -> set[str]:
        """Which of these groups are their project's default group."""
        return {group_id for (group_id,) in listing.by_ids(
            conn, "sg_defaults", lambda ids_in: select(DSG.c.security_group_id).where(
                DSG.c.security_group_id.in_(ids_in)), sorted(group_ids))}

    # -- writing ---------------------------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        rule = sg_rules.normalize(item)
        groups = self.plugin.securitygroups
        if rule["remote_group_id"]:
            groups.get_row(conn, ctx, rule["remote_group_id"])
        group = self._lock_group(conn, ctx, rule["security_group_id"])
        project = item["project_id"]
        self.plugin.quotas.check(conn, project, "security_group_rule", self.count(conn, project))
        key = sg_rules.rule_key(rule)
        for existing in conn.execute(select(R).where(R.c.security_group_id == group.id)):
            if sg_rules.rule_key(existing._mapping) == key:
                raise exc.SecurityGroupRuleExists(rule_id=existing.id)
        rule_id = self.insert_row(conn, item, {name: rule[name] for name in RULE_COLUMNS})
        groups.update_row(conn, group, {})
        return rule_id

    def _lock_group(self, conn: Connection, ctx: Context, group_id: str) -> Any:
        """The rule's group, if the caller may add to it (404 otherwise), locked against
        concurrent rule changes (not against ports binding to it: FOR NO KEY UPDATE)."""
        groups = self.plugin.securitygroups

        def build():
            stmt = select(SG).where(SG.c.id == bindparam("id"))
            return stmt.with_for_update(key_share=True)

        stmt = statement(("sg_lock_for_rules",), build)
        row = conn.execute(stmt, {"id": group_id}).first()
        if row is None or not (ctx.is_admin or row.project_id == ctx.project_id):
            raise groups.missing(group_id)
        return row

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        self.delete_row(conn, row)
        group = conn.execute(select(SG).where(SG.c.id == row.security_group_id)).first()
        if group is not None:
            self.plugin.securitygroups.update_row(conn, group, {})


def _rule_view(row: Any, tags: dict[str, list[str]], defaults: set[str]) -> dict:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "normalized_cidr": sg_rules.normalized_cidr(row.remote_ip_prefix),
        "remote_group_id": row.remote_group_id,
        "belongs_to_default_sg": row.security_group_id in defaults,
        "description": row.description,
        "tags": tags.get(row.id, []),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "revision_number": row.revision_number,
    }
