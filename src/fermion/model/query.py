"""A list request's parameters as a value: filters, ``fields``, sorting, pages, tags.

``api.query.parse_list_query`` builds it from the query string (checked against the
resource's attribute map); ``plugin.listing`` turns it into SQL. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ListQuery:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] | None = None
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (attribute, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    tags: dict[str, list[str]] = field(default_factory=dict)  # "tags", "not-tags-any", ...
    extra: dict[str, list[str]] = field(default_factory=dict)  # resource-specific (fixed_ips)
