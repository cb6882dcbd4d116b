"""The ``tag`` extension: free-form strings on networks, subnets, ports and subnet pools.

Changing tags is a change of the object: its revision_number and updated_at move on.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from fermion import exceptions as exc
from fermion.db import models

MAX_TAGS = 50


class Tags:
    def get(self, conn: Connection, resource_id: str) -> list[str]:
        return sorted(conn.execute(select(models.tags.c.tag)
                                   .where(models.tags.c.resource_id == resource_id)).scalars())

    def replace(self, conn: Connection, resource_type: str, resource_id: str,
                tags: list[str]) -> None:
        unique = sorted(set(tags))
        if len(unique) > MAX_TAGS:
            raise exc.TagLimitExceeded(limit=MAX_TAGS)
        conn.execute(delete(models.tags).where(models.tags.c.resource_id == resource_id))
        if unique:
            conn.execute(insert(models.tags), [
                {"resource_id": resource_id, "resource_type": resource_type, "tag": t}
                for t in unique])

    def add(self, conn: Connection, resource_type: str, resource_id: str, tag: str) -> bool:
        current = self.get(conn, resource_id)
        if tag in current:
            return False
        if len(current) >= MAX_TAGS:
            raise exc.TagLimitExceeded(limit=MAX_TAGS)
        conn.execute(insert(models.tags).values(resource_id=resource_id,
                                                resource_type=resource_type, tag=tag))
        return True

    def remove(self, conn: Connection, resource_type: str, resource_id: str, tag: str) -> None:
        result = conn.execute(delete(models.tags).where(
            models.tags.c.resource_id == resource_id, models.tags.c.tag == tag))
        if result.rowcount == 0:
            raise exc.TagNotFound(tag=tag, resource=resource_type, resource_id=resource_id)
