"""What every resource shares: standard attributes, visibility, ownership checks, tags, listing.

A resource module subclasses ``Resource`` once (no deeper) and supplies its table, the map
from API attribute names to columns, ``views`` (rows → API dicts, loading children in bulk)
and its create/update/delete rules. Visibility follows Neutron's default policy: admins see
everything, others their project's objects plus what the resource declares as shared.
An object one may not see is reported as not found (404), never as forbidden.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import record_change, statement, timestamp
from fermion.model.context import Context
from fermion.model.query import ListQuery
from fermion.plugin import listing

# The caller's project inside visibility conditions; bound at execution (see ``params``),
# so statements that use it can be built once and cached.
CTX_PROJECT = bindparam("ctx_project")


def params(ctx: Context, **extra: Any) -> dict:
    return {"ctx_project": ctx.project_id, **extra}


def new_id() -> str:
    return str(uuid.uuid4())


def standard_view(row: Any, tags: dict[str, list[str]]) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "revision_number": row.revision_number,
        "tags": tags.get(row.id, []),
    }


class Resource:
    member = ""
    collection = ""
    table: Table
    not_found: type[exc.NeutronError] = exc.NotFound
    not_found_key = "id"
    # API attribute → column, for filters and sorting; standard attributes added below.
    columns: dict[str, Column] = {}

    def __init__(self, plugin):
        self.plugin = plugin
        std = {name: self.table.c[name] for name in
               ("id", "name", "description", "project_id", "created_at", "updated_at",
                "revision_number")}
        std["tenant_id"] = self.table.c.project_id
        self.columns = {**std, **type(self).columns}

    # -- visibility ----------------------------------------------------------------------

    def visible(self, ctx: Context) -> ColumnElement | None:
        """SQL condition for rows the caller may see (None: everything)."""
        if ctx.is_admin:
            return None
        return self.table.c.project_id == CTX_PROJECT

    def missing(self, resource_id: str) -> exc.NeutronError:
        return self.not_found(**{self.not_found_key: resource_id})

    def get_row(self, conn: Connection, ctx: Context, resource_id: str, lock: bool = False):
        def build():
            stmt = select(self.table).where(self.table.c.id == bindparam("id"))
            condition = self.visible(ctx)
            if condition is not None:
                stmt = stmt.where(condition)
            return stmt.with_for_update() if lock else stmt

        stmt = statement((self.collection, "get", ctx.is_admin, lock), build)
        row = conn.execute(stmt, params(ctx, id=resource_id)).first()
        if row is None:
            raise self.missing(resource_id)
        return row

    def writable_row(self, conn: Connection, ctx: Context, resource_id: str, action: str):
        """The row, if the caller may change it: 404 when invisible, 403 when only visible."""
        row = self.get_row(conn, ctx, resource_id, lock=True)
        if not ctx.can_write or not (ctx.is_admin or self.owns(conn, ctx, row)):
            raise exc.PolicyNotAuthorized(action=f"rule:{action}_{self.member}")
        return row

    def owns(self, conn: Connection, ctx: Context, row: Any) -> bool:
        return row.project_id == ctx.project_id

    # -- reading -------------------------------------------------------------------------

    def views(self, conn: Connection, ctx: Context, rows: list,
              ids: listing.Ids | None = None) -> list[dict]:
        """API dicts for the rows; ``ids`` lets children be fetched by sub-query."""
        raise NotImplementedError

    def tagged_views(self, conn: Connection, rows: list, ids: listing.Ids | None,
                     fields) -> list[dict]:
        """Standard attributes and tags of each row, plus ``fields(row)``: for resources
        whose views need nothing else loaded."""
        tags = listing.load_tags(conn, ids or listing.Ids([row.id for row in rows]))
        return [{**standard_view(row, tags), **fields(row)} for row in rows]

    def show(self, conn: Connection, ctx: Context, resource_id: str) -> dict:
        return self.views(conn, ctx, [self.get_row(conn, ctx, resource_id)])[0]

    def show_many(self, conn: Connection, ctx: Context, ids: list[str]) -> list[dict]:
        """Views of several objects in the given order (a bulk create's answer)."""
        if len(ids) == 1:
            return [self.show(conn, ctx, ids[0])]
        by_id = {}
        for part in listing.chunks(ids):
            by_id.update((row.id, row) for row in conn.execute(
                select(self.table).where(self.table.c.id.in_(part))))
        return self.views(conn, ctx, [by_id[i] for i in ids])

    def extra_conditions(self, conn: Connection, ctx: Context,
                         query: ListQuery) -> list[ColumnElement]:
        """Conditions for filters that are not plain columns (e.g. a port's fixed_ips)."""
        return []

    def list(self, conn: Connection, ctx: Context, query: ListQuery) -> tuple[list[dict], bool]:
        rows, ids, more = self.list_rows(conn, ctx, query)
        return self.views(conn, ctx, rows, ids), more

    def list_rows(self, conn: Connection, ctx: Context,
                  query: ListQuery) -> tuple[list, listing.Ids, bool]:
        """One page of rows in display order, their ``Ids`` and whether more follow."""
        stmt = listing.build_select(conn, self.table, self.columns, self.visible(ctx), query,
                                    self.extra_conditions(conn, ctx, query))
        rows, more = listing.page(conn.execute(stmt, params(ctx)).all(), query)
        ids = listing.Ids([row.id for row in rows], stmt.with_only_columns(self.table.c.id),
                          params(ctx))
        return rows, ids, more

    def count(self, conn: Connection, project_id: str) -> int:
        stmt = statement((self.collection, "count"), lambda: select(func.count()).select_from(
            self.table).where(self.table.c.project_id == bindparam("project_id")))
        return conn.execute(stmt, {"project_id": project_id}).scalar_one()

    # -- writing helpers -----------------------------------------------------------------

    def insert_row(self, conn: Connection, item: dict, values: dict) -> str:
        now = timestamp()
        resource_id = values.pop("id", None) or new_id()
        conn.execute(self.table.insert(), {
            "id": resource_id, "project_id": item["project_id"], "name": item.get("name", ""),
            "description": item.get("description", ""), "created_at": now, "updated_at": now,
            "revision_number": 0, **values})
        if item.get("tags"):
            self.plugin.tags.replace(conn, self.member, resource_id, item["tags"])
        record_change(conn, self.member, resource_id, "create", item["project_id"])
        return resource_id

    def update_row(self, conn: Connection, row: Any, values: dict) -> None:
        """Apply column changes, bump revision_number and updated_at, log the change."""
        conn.execute(update(self.table).where(self.table.c.id == row.id).values(
            revision_number=self.table.c.revision_number + 1, updated_at=timestamp(), **values))
        record_change(conn, self.member, row.id, "update", row.project_id)

    def delete_row(self, conn: Connection, row: Any) -> None:
        conn.execute(delete(models.tags).where(models.tags.c.resource_id == row.id))
        conn.execute(delete(self.table).where(self.table.c.id == row.id))
        record_change(conn, self.member, row.id, "delete", row.project_id)

    def check_if_match(self, row: Any, if_match: int | None) -> None:
        if if_match is not None and row.revision_number != if_match:
            raise exc.RevisionNumberConstraintFailed(expected=if_match,
                                                     current=row.revision_number)

    # -- the operations the API calls -------------------------------------------------------

    def create(self, conn: Connection, ctx: Context, item: dict,
               raw: dict | None = None) -> str:
        """Insert the object; ``raw`` is the request as sent, for attribute-level policy."""
        raise NotImplementedError

    def update(self, conn: Connection, ctx: Context, resource_id: str, changes: dict,
               if_match: int | None = None, raw: dict | None = None) -> None:
        row = self.writable_row(conn, ctx, resource_id, "update")
        self.check_if_match(row, if_match)
        self.apply_update(conn, ctx, row, changes)

    def apply_update(self, conn: Connection, ctx: Context, row: Any, changes: dict) -> None:
        self.update_row(conn, row, self.simple_columns(changes))

    def simple_columns(self, changes: dict) -> dict:
        """Changes that map one-to-one onto columns of this table."""
        out = {}
        for name, value in changes.items():
            column = self.columns.get(name)
            if column is not None and column.table is self.table and name != "tenant_id":
                out[column.key] = value
        return out

    def delete(self, conn: Connection, ctx: Context, resource_id: str,
               if_match: int | None = None) -> None:
        row = self.writable_row(conn, ctx, resource_id, "delete")
        self.check_if_match(row, if_match)
        self.apply_delete(conn, ctx, row)

    def apply_delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        self.delete_row(conn, row)
