"""Attribute validators (model/validators.py): accepted values, conversions, refusals."""

from __future__ import annotations

import pytest

from fermion.model import validators as v
from fermion.model.validators import Invalid


def refused(validator, value, fragment: str = "") -> str:
    with pytest.raises(Invalid) as info:
        validator(value)
    assert fragment in str(info.value)
    return str(info.value)


# -- strings, booleans, integers -------------------------------------------------------------


def test_string():
    check = v.string(5)
    assert check("") == ""
    assert check("abcde") == "abcde"
    refused(check, "abcdef", "exceeds maximum length of 5")
    refused(check, 5, "is not a valid string")
    refused(check, None, "is not a valid string")
    refused(check, ["a"], "is not a valid string")
    assert v.string(5, allow_none=True)(None) is None
    assert v.string(None)("x" * 10_000) == "x" * 10_000
    refused(check, "a\x00b", "NUL")


@pytest.mark.parametrize("value,expected", [
    (True, True), (False, False), (1, True), (0, False),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False),
    ("1", True), ("0", False),
])
def test_boolean(value, expected):
    assert v.boolean(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "", 2, -1, None, 1.0, [], {}])
def test_boolean_refused(value):
    refused(v.boolean, value, "cannot be converted to boolean")


def test_integer():
    check = v.integer(1, 10)
    assert check(1) == 1
    assert check(10) == 10
    assert check("7") == 7
    refused(check, 0, "is too small - must be at least '1'")
    refused(check, 11, "is too large - must be no larger than '10'")
    refused(check, "11", "too large")
    refused(check, True, "is not an integer")
    refused(check, 1.5, "is not an integer")
    refused(check, "1.5", "is not an integer")
    refused(check, "ten", "is not an integer")
    refused(check, None, "is not an integer")
    assert v.integer(allow_none=True)(None) is None
    # Unbounded means the databases' 32-bit INTEGER range, not more.
    assert v.integer()(-(2**31)) == -(2**31)
    assert v.integer()(2**31 - 1) == 2**31 - 1
    refused(v.integer(), 2**31, "too large")
    refused(v.integer(), -(2**31) - 1, "too small")


# -- identifiers and choices -----------------------------------------------------------------


def test_uuid():
    canonical = "3f2a6b1c-9a4e-4d7e-8f00-0123456789ab"
    assert v.uuid_str(canonical) == canonical
    assert v.uuid_str(canonical.upper()) == canonical
    assert v.uuid_str(canonical.replace("-", "")) == canonical.replace("-", "")
    for bad in ("", "not-a-uuid", canonical[:-1], canonical + "0", "{" + canonical + "}",
                "urn:uuid:" + canonical, 12, None):
        refused(v.uuid_str, bad, "is not a valid UUID")
    assert v.uuid_or_none(None) is None
    assert v.uuid_or_none(canonical) == canonical


def test_one_of():
    check = v.one_of(4, 6)
    assert check(4) == 4
    assert check(6) == 6
    refused(check, 5, "'5' is not in [4, 6]")
    refused(check, "4", "is not in")
    refused(check, None, "is not in")
    assert v.one_of("a", allow_none=True)(None) is None


# -- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("10.0.0.1", "10.0.0.1"),
    ("2001:db8::1", "2001:db8::1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),  # normalised
    ("::", "::"),
])
def test_ip_address(value, expected):
    assert v.ip_address(value) == expected


@pytest.mark.parametrize("value", ["", "10.0.0", "10.0.0.256", "10.0.0.1/24", "2001:db8:::1",
                                   "host", 167772161, None])
def test_ip_address_refused(value):
    refused(v.ip_address, value, "is not a valid IP address")


def test_ip_address_or_none():
    assert v.ip_address_or_none(None) is None
    assert v.ip_address_or_none("10.0.0.1") == "10.0.0.1"


@pytest.mark.parametrize("value,expected", [
    ("10.0.0.0/24", "10.0.0.0/24"),
    ("10.0.0.0/8", "10.0.0.0/8"),
    ("10.0.0.5/32", "10.0.0.5/32"),
    ("2001:db8::/64", "2001:db8::/64"),
    ("2001:DB8::/64", "2001:db8::/64"),
])
def test_subnet_cidr(value, expected):
    assert v.subnet_cidr(value) == expected


def test_subnet_cidr_refused():
    message = refused(v.subnet_cidr, "10.0.0.1/24", "isn't a recognized IP subnet cidr")
    assert "'10.0.0.0/24' is recommended" in message
    refused(v.subnet_cidr, "10.0.0.0", "is not a valid IP subnet")
    refused(v.subnet_cidr, "10.0.0.0/33", "is not a valid IP subnet")
    refused(v.subnet_cidr, "nonsense/24", "is not a valid IP subnet")
    refused(v.subnet_cidr, 24, "is not a valid IP subnet")
    refused(v.subnet_cidr, None, "is not a valid IP subnet")


def test_ip_or_cidr():
    assert v.ip_or_cidr("10.0.0.5") == "10.0.0.5"
    assert v.ip_or_cidr("10.0.0.0/24") == "10.0.0.0/24"
    assert v.ip_or_cidr("10.0.0.5/24") == "10.0.0.0/24"  # address pairs accept host bits
    assert v.ip_or_cidr("2001:db8::/64") == "2001:db8::/64"
    refused(v.ip_or_cidr, "10.0.0.0/40", "neither a valid IP address nor a valid CIDR")
    refused(v.ip_or_cidr, "banana", "neither")
    refused(v.ip_or_cidr, 5, "is not a valid IP address")


@pytest.mark.parametrize("value,expected", [
    ("fa:16:3e:00:00:01", "fa:16:3e:00:00:01"),
    ("FA:16:3E:AB:CD:EF", "fa:16:3e:ab:cd:ef"),
    ("fa-16-3e-ab-cd-ef", "fa:16:3e:ab:cd:ef"),
    ("02:00:00:00:00:00", "02:00:00:00:00:00"),
])
def test_mac_address(value, expected):
    assert v.mac_address(value) == expected


@pytest.mark.parametrize("value", [
    "00:00:00:00:00:00",  # all zeros
    "01:00:5e:00:00:01",  # multicast
    "ff:ff:ff:ff:ff:ff",  # broadcast
    "fa:16:3e:00:00", "fa:16:3e:00:00:01:02", "fa163e000001", "fa:16:3e:00:00:0g", "",
    None, 42,
])
def test_mac_address_refused(value):
    refused(v.mac_address, value, "is not a valid MAC address")


# -- containers ------------------------------------------------------------------------------


def test_list_of():
    check = v.list_of(v.ip_address, unique=True, max_len=3, what="nameserver")
    assert check(None) == []
    assert check([]) == []
    assert check(["10.0.0.1", "2001:DB8::1"]) == ["10.0.0.1", "2001:db8::1"]
    refused(check, "10.0.0.1", "is not a list")
    refused(check, {"a": 1}, "is not a list")
    refused(check, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
            "Number of nameservers exceeds the limit of 3")
    refused(check, ["10.0.0.1", "10.0.0.1"], "Duplicate nameserver '10.0.0.1'")
    # Duplicates are judged after conversion.
    refused(check, ["2001:db8::1", "2001:DB8::1"], "Duplicate nameserver")
    refused(check, ["10.0.0.1", "bad"], "'bad' is not a valid IP address")
    assert v.list_of(v.ip_address)(["10.0.0.1", "10.0.0.1"]) == ["10.0.0.1", "10.0.0.1"]


def test_list_of_dicts_unique():
    route = v.dict_of({"destination": (v.subnet_cidr, True), "nexthop": (v.ip_address, True)})
    check = v.list_of(route, unique=True, what="host route")
    one = {"destination": "10.1.0.0/16", "nexthop": "10.0.0.1"}
    assert check([one]) == [one]
    refused(check, [one, dict(one)], "Duplicate host route")


def test_dict_of():
    check = v.dict_of({"start": (v.ip_address, True), "end": (v.ip_address, True),
                       "note": (v.string(10), False)}, "pool")
    assert check({"start": "10.0.0.2", "end": "10.0.0.9"}) == {"start": "10.0.0.2",
                                                              "end": "10.0.0.9"}
    assert check({"start": "10.0.0.2", "end": "10.0.0.9", "note": "x"})["note"] == "x"
    refused(check, {"start": "10.0.0.2"}, "Expected keys: {'end'}")
    refused(check, {"start": "10.0.0.2", "end": "10.0.0.9", "color": "red"},
            "Unrecognized pool key(s) 'color'")
    refused(check, {"start": "10.0.0.2", "end": "nope"}, "'nope' is not a valid IP address")
    refused(check, ["start"], "is not a dictionary")
    refused(check, None, "is not a dictionary")


def test_any_dict():
    assert v.any_dict(None) == {}
    assert v.any_dict({"a": [1]}) == {"a": [1]}
    refused(v.any_dict, [], "is not a dictionary")
    refused(v.any_dict, "x", "is not a dictionary")


@pytest.mark.parametrize("value", ["red", "a b", "x" * 255, "ünïcode"])
def test_tag(value):
    assert v.tag(value) == value


@pytest.mark.parametrize("value", ["", "a,b", "x" * 256, "a\x00", None, 5, ["a"]])
def test_tag_refused(value):
    refused(v.tag, value, "is not a valid tag")
