"""List query parsing (api/query.py): filters, fields, sorting, paging, tags."""

from __future__ import annotations

import pytest

from fermion import exceptions as exc
from fermion.api.query import parse_list_query
from fermion.model.attributes import NETWORK, PORT, SUBNET
from fermion.model.validators import INT_MAX
from fermion.plugin.ports import SPECIAL_FILTERS


def parse(*items: tuple[str, str], attrs=NETWORK, special=frozenset(), max_limit=-1):
    return parse_list_query(list(items), attrs, special, max_limit)


def refused(*items, fragment: str = "", **kwargs) -> str:
    with pytest.raises(exc.HTTPBadRequest) as info:
        parse(*items, **kwargs)
    assert info.value.status == 400
    assert fragment in info.value.message
    return info.value.message


def test_empty_query():
    query = parse()
    assert query.filters == {}
    assert query.fields is None
    assert query.sorts == []
    assert (query.limit, query.marker, query.page_reverse) == (None, None, False)
    assert query.tags == {}
    assert query.extra == {}


# -- filters ---------------------------------------------------------------------------------


def test_filters_and_repeated_keys():
    query = parse(("name", "a"), ("name", "b"), ("status", "ACTIVE"))
    assert query.filters == {"name": ["a", "b"], "status": ["ACTIVE"]}


def test_empty_value_matches_the_empty_string():
    assert parse(("name", "")).filters == {"name": [""]}
    assert parse(("description", ""), ("description", "x")).filters == {
        "description": ["", "x"]}


def test_tenant_id_is_project_id():
    query = parse(("tenant_id", "p1"), ("project_id", "p2"))
    assert query.filters == {"project_id": ["p1", "p2"]}


@pytest.mark.parametrize("raw,value", [("true", True), ("True", True), ("1", True),
                                       ("false", False), ("False", False), ("0", False)])
def test_boolean_filters_are_converted(raw, value):
    assert parse(("admin_state_up", raw)).filters == {"admin_state_up": [value]}
    assert parse(("router:external", raw)).filters == {"router:external": [value]}


def test_bad_boolean_filter():
    message = refused(("shared", "maybe"), fragment="Invalid input for shared")
    assert "cannot be converted to boolean" in message


def test_integer_filters_are_converted():
    assert parse(("mtu", "1450"), ("mtu", "1500")).filters == {"mtu": [1450, 1500]}
    assert parse(("ip_version", "4"), attrs=SUBNET).filters == {"ip_version": [4]}
    refused(("mtu", "big"), fragment="Invalid input for mtu")
    refused(("mtu", "1.5"), fragment="is not an integer")
    refused(("revision_number", str(2**40)), fragment="too large")


@pytest.mark.parametrize("key", ["bogus", "subnets", "availability_zones", "cidr"])
def test_unknown_or_unfilterable_attribute(key):
    refused((key, "x"), fragment=f"[{key}] is invalid attribute for filtering")


def test_special_filters_only_where_declared():
    query = parse(("fixed_ips", "ip_address=10.0.0.5"), ("fixed_ips", "subnet_id=s1"),
                  ("security_groups", "g1"), attrs=PORT, special=SPECIAL_FILTERS)
    assert query.extra == {"fixed_ips": ["ip_address=10.0.0.5", "subnet_id=s1"],
                           "security_groups": ["g1"]}
    assert query.filters == {}
    refused(("fixed_ips", "ip_address=10.0.0.5"), fragment="[fixed_ips] is invalid")


# -- fields ----------------------------------------------------------------------------------


def test_fields():
    query = parse(("fields", "id,name"), ("fields", "status"), ("fields", ""))
    assert query.fields == ["id", "name", "status"]
    assert parse(("fields", "id,,name,")).fields == ["id", "name"]


# -- sorting ---------------------------------------------------------------------------------


def test_sorting():
    query = parse(("sort_key", "name"), ("sort_dir", "desc"), ("sort_key", "id"),
                  ("sort_dir", "asc"))
    assert query.sorts == [("name", False), ("id", True)]


def test_sort_direction_defaults_to_ascending():
    assert parse(("sort_key", "name"), ("sort_key", "mtu")).sorts == [("name", True),
                                                                      ("mtu", True)]


def test_sort_by_tenant_id_sorts_by_project():
    assert parse(("sort_key", "tenant_id")).sorts == [("project_id", True)]


@pytest.mark.parametrize("items,fragment", [
    ([("sort_key", "bogus")], "bogus is invalid attribute for sort_key"),
    ([("sort_key", "port_security_enabled")], "is invalid attribute for sort_key"),
    ([("sort_key", "subnets")], "is invalid attribute for sort_key"),
    ([("sort_key", "name"), ("sort_dir", "up")], "up is invalid value for sort_dir"),
    ([("sort_key", "name"), ("sort_dir", "asc"), ("sort_dir", "desc")],
     "The number of sort_keys and sort_dirs must be same"),
    ([("sort_key", "name"), ("sort_key", "id"), ("sort_dir", "asc")], "must be same"),
    ([("sort_dir", "asc")], "must be same"),
])
def test_bad_sort(items, fragment):
    refused(*items, fragment=fragment)


# -- paging ----------------------------------------------------------------------------------


def test_limit_marker_page_reverse():
    query = parse(("limit", "5"), ("marker", "abc"), ("page_reverse", "True"))
    assert (query.limit, query.marker, query.page_reverse) == (5, "abc", True)
    assert parse(("page_reverse", "false")).page_reverse is False


def test_limit_zero_means_no_limit():
    assert parse(("limit", "0")).limit is None


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", ""])
def test_bad_limit(raw):
    refused(("limit", raw), fragment=f"Limit must be an integer 0 or greater and not '{raw}'")


def test_huge_limit_is_kept_in_range():
    assert parse(("limit", str(10**30))).limit == INT_MAX - 1


def test_bad_page_reverse():
    refused(("page_reverse", "sideways"), fragment="Invalid input for page_reverse")


@pytest.mark.parametrize("given,max_limit,expected", [
    (None, -1, None),
    (None, 10, 10),  # pagination_max_limit applies when no limit is asked for
    ("50", 10, 10),
    ("5", 10, 5),
    ("0", 10, 10),
    ("50", -1, 50),
])
def test_pagination_max_limit(given, max_limit, expected):
    items = [("limit", given)] if given is not None else []
    assert parse(*items, max_limit=max_limit).limit == expected


# -- tags ------------------------------------------------------------------------------------


def test_tag_filters():
    query = parse(("tags", "a,b"), ("tags", "c"), ("tags-any", "x"), ("not-tags", "n"),
                  ("not-tags-any", "m,o"))
    assert query.tags == {"tags": ["a", "b", "c"], "tags-any": ["x"], "not-tags": ["n"],
                          "not-tags-any": ["m", "o"]}
    assert query.filters == {}
    assert parse(("tags", ",,")).tags == {"tags": []}
