"""One list query builder for every resource: filters, tag filters, sorting, keyset paging.

Each resource gives its table, the map from API attribute names to columns and the
visibility condition for the caller; this module turns a ``ListQuery`` into one SELECT.
Paging is keyset-based on the sort keys plus ``id`` (stable under concurrent inserts):
the marker row's sort values are read once and the page starts strictly after them.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from fermion import exceptions as exc
from fermion.db import models
from fermion.db.engine import statement
from fermion.model.query import ListQuery


def filter_condition(column: Column, values: list[Any]) -> ColumnElement:
    if len(values) == 1:
        value = values[0]
        return column.is_(None) if value is None else column == value
    return column.in_(values)


def tag_conditions(table: Table, tags: dict[str, list[str]]) -> list[ColumnElement]:
    """Neutron's tag filters: tags (all of), tags-any, not-tags, not-tags-any."""
    conds = []
    tag_table = models.tags

    def has(tag: str) -> ColumnElement:
        return exists().where(and_(tag_table.c.resource_id == table.c.id, tag_table.c.tag == tag))

    for kind, values in tags.items():
        if not values:
            continue
        if kind == "tags":
            conds.append(and_(*[has(t) for t in values]))
        elif kind == "tags-any":
            conds.append(or_(*[has(t) for t in values]))
        elif kind == "not-tags":
            conds.append(~and_(*[has(t) for t in values]))
        elif kind == "not-tags-any":
            conds.append(~or_(*[has(t) for t in values]))
    return conds


def build_select(conn: Connection, table: Table, columns: dict[str, Column],
                 visible: ColumnElement | None, query: ListQuery,
                 extra_conditions: list[ColumnElement] = ()):
    """The SELECT for one page (``limit + 1`` rows, to know whether there is a next one)."""
    stmt = select(table)
    conditions = list(extra_conditions)
    if visible is not None:
        conditions.append(visible)
    for name, values in query.filters.items():
        column = columns.get(name)
        if column is None:
            continue  # computed attribute; the resource module filtered it already
        conditions.append(filter_condition(column, values))
    conditions.extend(tag_conditions(table, query.tags))
    sort_columns = [(columns[name], asc) for name, asc in query.sorts if name in columns]
    if not any(col is table.c.id for col, _ in sort_columns):
        sort_columns.append((table.c.id, sort_columns[-1][1] if sort_columns else True))
    if query.marker is not None:
        conditions.append(_after_marker(conn, table, sort_columns, query.marker,
                                        query.page_reverse))
    if conditions:
        stmt = stmt.where(and_(*conditions))
    order = []
    for column, asc in sort_columns:
        forward = asc != query.page_reverse
        order.append(column.asc() if forward else column.desc())
    stmt = stmt.order_by(*order)
    if query.limit:
        stmt = stmt.limit(query.limit + 1)
    return stmt


def _after_marker(conn: Connection, table: Table, sort_columns: list, marker: str,
                  reverse: bool) -> ColumnElement:
    row = conn.execute(select(*[c for c, _ in sort_columns]).where(table.c.id == marker)).first()
    if row is None:
        raise exc.NotFound(f"Marker {marker} could not be found.")
    # (k1, k2, id) strictly after the marker's values, in each key's direction.
    clauses = []
    for index, (column, asc) in enumerate(sort_columns):
        forward = asc != reverse
        equal = [c == row[i] for i, (c, _) in enumerate(sort_columns[:index])]
        value = row[index]
        if value is None:
            step = column.isnot(None) if forward else false()
        else:
            step = column > value if forward else column < value
            if not forward:
                step = or_(step, column.is_(None))
        clauses.append(and_(*equal, step) if equal else step)
    return or_(*clauses) if clauses else true()


def page(rows: list, query: ListQuery) -> tuple[list, bool]:
    """Trim the extra look-ahead row; return (rows in display order, has_more)."""
    more = bool(query.limit) and len(rows) > query.limit
    if more:
        rows = rows[: query.limit]
    if query.page_reverse:
        rows = list(reversed(rows))
    return rows, more


def chunks(ids: list[str], size: int = 5000):
    """Id lists cut to a size every database accepts as bind parameters."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


IDS = bindparam("ids", expanding=True)
SUBQUERY_MIN = 200


@dataclass
class Ids:
    """The ids of a page of rows, and the SELECT that produced them (when there is one).

    Children (tags, fixed IPs, ...) of a few rows are fetched with a cached ``IN :ids``;
    for a big page the ids' own SELECT is used as a sub-query instead, which is much
    cheaper than thousands of bind parameters.
    """

    values: list[str]
    source: Select | None = None
    bind: dict = field(default_factory=dict)


def by_ids(conn: Connection, key: str, build, ids: Ids | list[str]) -> list:
    """Rows of ``build(ids_expression)`` (a ``… IN ids`` statement) for any number of ids."""
    if isinstance(ids, Ids):
        if ids.source is not None and len(ids.values) >= SUBQUERY_MIN:
            return conn.execute(build(ids.source), ids.bind).all()
        ids = ids.values
    if not ids:
        return []
    stmt = statement(("by_ids", key), lambda: build(IDS))
    rows = []
    for part in chunks(ids):
        rows.extend(conn.execute(stmt, {"ids": part}).all())
    return rows


def load_tags(conn: Connection, ids: Ids | list[str]) -> dict[str, list[str]]:
    """Tags of the given resources, by resource id, sorted."""
    tag_table = models.tags
    out: dict[str, list[str]] = {}
    for resource_id, tag in by_ids(conn, "tags", lambda ids_in: select(
            tag_table.c.resource_id, tag_table.c.tag).where(tag_table.c.resource_id.in_(ids_in)),
            ids):
        out.setdefault(resource_id, []).append(tag)
    for tags in out.values():
        tags.sort()
    return out


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while building (and serialising) a big list.

    A 10,000-port list allocates some 300,000 dicts and lists, which makes CPython run
    hundreds of young-generation collections and several full ones over the whole heap:
    measured, that was 40% of the list's time. The views are plain trees (no reference
    cycles), so collecting during their construction finds nothing; they are freed by
    reference counting once the response is serialised, before collection resumes.
    Threads share one counter: collection resumes when the last of them is done, and only
    if it was on when the first began.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
