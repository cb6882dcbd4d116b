"""Attribute validators and converters, with Neutron's wording for the reasons.

Each validator takes the raw JSON value and returns the converted value or raises
``Invalid(reason)``; the caller words it as "Invalid input for <attr>. Reason: <reason>."
Pure functions: no database, no system calls.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], Any]


class Invalid(ValueError):
    """An attribute value that cannot be accepted; the text is the user-facing reason."""


MAC_RE = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
# The range of the databases' INTEGER columns (PostgreSQL's is 32-bit): larger values are
# refused here rather than failing in the database.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def string(max_len: int | None = 255, allow_none: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and allow_none:
            return None
        if not isinstance(value, str):
            raise Invalid(f"'{value}' is not a valid string")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"'{value}' exceeds maximum length of {max_len}")
        if "\x00" in value:  # no database keeps NUL in text
            raise Invalid(f"'{value}' is not a valid string: it contains a NUL character")
        return value

    return check


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise Invalid(f"'{value}' cannot be converted to boolean")


def integer(low: int | None = None, high: int | None = None, allow_none: bool = False) -> Validator:
    low = INT_MIN if low is None else low
    high = INT_MAX if high is None else high

    def check(value: Any) -> Any:
        if value is None and allow_none:
            return None
        if isinstance(value, bool):
            raise Invalid(f"'{value}' is not an integer")
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise Invalid(f"'{value}' is not an integer") from None
        if not isinstance(value, int):
            raise Invalid(f"'{value}' is not an integer")
        if value < low:
            raise Invalid(f"'{value}' is too small - must be at least '{low}'")
        if value > high:
            raise Invalid(f"'{value}' is too large - must be no larger than '{high}'")
        return value

    return check


def uuid_str(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid UUID")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid UUID") from None
    if str(parsed) != value.lower() and parsed.hex != value.lower():
        raise Invalid(f"'{value}' is not a valid UUID")
    return str(parsed) if "-" in value else value.lower()


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid_str(value)


def one_of(*choices: Any, allow_none: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and allow_none:
            return None
        if value not in choices:
            raise Invalid(f"'{value}' is not in {list(choices)}")
        return value

    return check


def ip_address(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid IP address")
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid IP address") from None
    return str(parsed)


def ip_address_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def subnet_cidr(value: Any) -> str:
    """A CIDR without host bits, as Neutron insists ("isn't a recognized IP subnet cidr")."""
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(f"'{value}' is not a valid IP subnet")
    try:
        strict = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid IP subnet") from None
    if str(strict) != value:
        try:
            if ipaddress.ip_network(value, strict=True) == strict:
                return str(strict)
        except ValueError:
            pass
        raise Invalid(f"'{value}' isn't a recognized IP subnet cidr, '{strict}' is recommended")
    return str(strict)


def ip_or_cidr(value: Any) -> str:
    """An address or a prefix (allowed address pairs accept both)."""
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid IP address")
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=False))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise Invalid(f"'{value}' is neither a valid IP address nor a valid CIDR") from None


def mac_address(value: Any) -> str:
    if not isinstance(value, str) or not MAC_RE.match(value):
        raise Invalid(f"'{value}' is not a valid MAC address")
    normalised = value.lower().replace("-", ":")
    first = int(normalised[:2], 16)
    if first & 1 or normalised == "00:00:00:00:00:00":
        raise Invalid(f"'{value}' is not a valid MAC address")
    return normalised


def list_of(item: Validator, unique: bool = False, max_len: int | None = None,
            what: str = "value") -> Validator:
    def check(value: Any) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise Invalid(f"'{value}' is not a list")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"Number of {what}s exceeds the limit of {max_len}")
        out = [item(v) for v in value]
        if unique:
            seen = set()
            for v in out:
                key = repr(v)
                if key in seen:
                    raise Invalid(f"Duplicate {what} '{v}'")
                seen.add(key)
        return out

    return check


def dict_of(fields: dict[str, tuple[Validator, bool]], name: str = "value") -> Validator:
    """A JSON object with known keys: ``{key: (validator, required)}``; unknown keys refused."""

    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"'{value}' is not a dictionary")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise Invalid(f"Unrecognized {name} key(s) '{', '.join(unknown)}'")
        out = {}
        for key, (validator, required) in fields.items():
            if key in value:
                out[key] = validator(value[key])
            elif required:
                raise Invalid(f"Validation of dictionary's keys failed. Expected keys: "
                              f"{{'{key}'}} Provided keys: {set(value) or set()}")
        return out

    return check


def any_dict(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"'{value}' is not a dictionary")
    return value


def tag(value: Any) -> str:
    if (not isinstance(value, str) or not value or len(value) > 255 or "," in value
            or "\x00" in value):
        raise Invalid(f"'{value}' is not a valid tag")
    return value
