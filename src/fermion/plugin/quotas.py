"""Quotas per project and resource: defaults from ``[quotas]``, overrides in the database.

-1 means unlimited. A create that would pass the limit fails whole with 409 OverQuota.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import statement

RESOURCES = ("network", "subnet", "port", "subnetpool", "router", "floatingip",
             "security_group", "security_group_rule")


class Quotas:
    def __init__(self, conf):
        self.conf = conf

    def defaults(self) -> dict[str, int]:
        return {name: self.conf.get("quotas", f"quota_{name}") for name in RESOURCES}

    def limits(self, conn: Connection, project_id: str) -> dict[str, int]:
        limits = self.defaults()
        stmt = statement(("quota_limits",), lambda: select(
            models.quotas.c.resource, models.quotas.c.limit).where(
            models.quotas.c.project_id == bindparam("project_id")))
        for resource, limit in conn.execute(stmt, {"project_id": project_id}):
            limits[resource] = limit
        return limits

    def projects_with_overrides(self, conn: Connection) -> list[str]:
        return sorted(set(conn.execute(select(models.quotas.c.project_id)).scalars()))

    def check(self, conn: Connection, project_id: str, resource: str, used: int,
              adding: int = 1) -> None:
        limit = self.limits(conn, project_id).get(resource, -1)
        if limit >= 0 and used + adding > limit:
            raise exc.OverQuota(overs=[resource])

    def update(self, conn: Connection, project_id: str, values: dict[str, int]) -> None:
        for resource, limit in values.items():
            conn.execute(delete(models.quotas).where(
                models.quotas.c.project_id == project_id, models.quotas.c.resource == resource))
            conn.execute(insert(models.quotas).values(
                project_id=project_id, resource=resource, limit=limit))

    def reset(self, conn: Connection, project_id: str) -> None:
        conn.execute(delete(models.quotas).where(models.quotas.c.project_id == project_id))
