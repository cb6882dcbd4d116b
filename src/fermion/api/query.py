"""List parameters: filters, ``fields``, sorting, pagination and tag filters.

``parse_list_query`` turns the query string into a ``model.query.ListQuery`` checked against the
resource's attribute map (the ``filter-validation`` extension: an unknown filter is a 400).
A repeated key means "any of"; an empty value matches the empty string
(``empty-string-filtering``). Pure: no database access.
"""

from __future__ import annotations

from typing import Any

from fermion.exceptions import bad
from fermion.model.attributes import CONTROL_PARAMS, Attr
from fermion.model.query import ListQuery
from fermion.model.validators import INT_MAX, Invalid, boolean, integer


def _convert(kind: str, name: str, raw: str) -> Any:
    if kind == "bool":
        try:
            return boolean(raw)
        except Invalid:
            raise bad(f"Invalid input for {name}. Reason: '{raw}' cannot be converted "
                      "to boolean.") from None
    if kind == "int":
        try:
            return integer()(raw)
        except Invalid as error:
            raise bad(f"Invalid input for {name}. Reason: {error}.") from None
    return raw


def parse_list_query(items: list[tuple[str, str]], attrs: dict[str, Attr],
                     special: frozenset[str] = frozenset(), max_limit: int = -1) -> ListQuery:
    query = ListQuery()
    sort_keys: list[str] = []
    sort_dirs: list[str] = []
    for key, raw in items:
        if key == "fields":
            query.fields = (query.fields or []) + [f for f in raw.split(",") if f]
        elif key == "sort_key":
            sort_keys.append(raw)
        elif key == "sort_dir":
            sort_dirs.append(raw)
        elif key == "limit":
            query.limit = _limit(raw)
        elif key == "marker":
            query.marker = raw
        elif key == "page_reverse":
            query.page_reverse = _convert("bool", key, raw)
        elif key in CONTROL_PARAMS:
            query.tags.setdefault(key, []).extend(t for t in raw.split(",") if t)
        elif key in special:
            query.extra.setdefault(key, []).append(raw)
        else:
            name = "project_id" if key == "tenant_id" else key
            attr = attrs.get(name)
            if attr is None or attr.filter is None:
                raise bad(f"[{key}] is invalid attribute for filtering")
            query.filters.setdefault(name, []).append(_convert(attr.filter, key, raw))
    if sort_dirs and len(sort_dirs) != len(sort_keys):
        raise bad("The number of sort_keys and sort_dirs must be same")
    for index, key in enumerate(sort_keys):
        attr = attrs.get(key)
        if attr is None or not attr.sort:
            raise bad(f"{key} is invalid attribute for sort_key")
        direction = sort_dirs[index] if sort_dirs else "asc"
        if direction not in ("asc", "desc"):
            raise bad(f"{direction} is invalid value for sort_dir, valid value is 'asc' "
                      "and 'desc'")
        query.sorts.append(("project_id" if key == "tenant_id" else key, direction == "asc"))
    if max_limit > 0 and (query.limit is None or query.limit > max_limit):
        query.limit = max_limit
    return query


def _limit(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise bad(f"Limit must be an integer 0 or greater and not '{raw}'")
    return min(value, INT_MAX - 1) or None  # a bigger page is no page limit at all
