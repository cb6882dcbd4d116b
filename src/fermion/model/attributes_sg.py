"""Attribute maps of security groups and their rules (``security-group`` and friends).

Declared like the maps in ``attributes.py``. The rule attributes use the converters below
(``convert_protocol``, ``convert_ethertype``, ``convert_port``, ``convert_prefix``), which
turn what a client sends into the stored form and raise Neutron's own errors
(``SecurityGroupRuleInvalidProtocol``, ``InvalidCIDR``, ...) rather than the generic
"Invalid input for ..." wording, as Neutron does. Protocols are stored as Neutron stores
them: a name (lower case) or a number as a string; "any" is no protocol (None). The checks
of a rule as a whole (ports against protocol, prefix against ethertype) are
``plugin.sg_rules``'s. A group can be neither created nor renamed as "default" (any case):
that name belongs to the group Fermion makes for each project.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fermion import exceptions as exc
from fermion.model import validators as v
from fermion.model.attributes import BOOL, OBJ, REQUIRED, STR, STR_N, Attr, _ro, _standard

ETHERTYPES = ("IPv4", "IPv6")
DIRECTIONS = ("ingress", "egress")
ANY = "any"

# neutron-lib's IP_PROTOCOL_MAP, in its order (the order shows in an error message).
PROTOCOLS: dict[str, int] = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
    "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
SUPPORTED = (None, ANY, *PROTOCOLS)  # rendered as Neutron renders it in the error message


# -- attribute converters ----------------------------------------------------------------


def convert_protocol(value: Any) -> str | None:
    """A name (any case), a number 0-255 (as number or string), "any"/None for every one."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.lower() == ANY:
            return None
        if value.isascii() and value.isdigit() and int(value) <= 255:
            return str(int(value))
        if value.lower() in PROTOCOLS:
            return value.lower()
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return str(value)
    raise exc.SecurityGroupRuleInvalidProtocol(protocol=value, values=str(SUPPORTED))


def convert_ethertype(value: Any) -> str:
    if isinstance(value, str):
        for ethertype in ETHERTYPES:
            if ethertype.lower() == value.lower():
                return ethertype
    raise exc.SecurityGroupRuleInvalidEtherType(ethertype=value, values=str(list(ETHERTYPES)))


def convert_port(value: Any) -> int | None:
    """A port 0-65535 (0 and the ICMP meaning of the range are checked by ``normalize``)."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise exc.SecurityGroupInvalidPortValue(port=value)
    if not 0 <= number <= 65535:
        raise exc.SecurityGroupInvalidPortValue(port=value)
    return number


def convert_prefix(value: Any) -> str | None:
    """An address or prefix, kept as given but always with a length (10.0.0.5 → 10.0.0.5/32).

    Host bits stay (Neutron keeps ``10.0.0.5/24``); ``normalized_cidr`` shows the network.
    """
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or "%" in value:
            raise ValueError(value)
        return str(ipaddress.ip_interface(value))
    except ValueError:
        raise exc.InvalidCIDR(input=value) from None


def _name_not_default(value: Any) -> str:
    value = v.string(255)(value)
    if value.lower() == "default":
        raise exc.SecurityGroupDefaultAlreadyExists()
    return value


SECURITY_GROUP: dict[str, Attr] = {
    **_standard(),
    "name": Attr(_name_not_default, "", post=True, put=True, filter="str", sort=True,
                 schema={"type": "string", "maxLength": 255}),
    "stateful": Attr(v.boolean, True, post=True, put=True, filter="bool", sort=True,
                     schema=BOOL),
    "security_group_rules": _ro({"type": "array", "items": OBJ}),
    "shared": _ro(BOOL, filter="bool"),  # always false: groups are not shared (no RBAC)
}

_PORT = {"type": ["integer", "string", "null"]}

SECURITY_GROUP_RULE: dict[str, Attr] = {
    **{name: attr for name, attr in _standard().items() if name != "name"},
    "security_group_id": Attr(v.string(36), REQUIRED, post=True, filter="str", sort=True,
                              schema=STR),
    "direction": Attr(v.one_of(*DIRECTIONS), REQUIRED, post=True, filter="str",
                      sort=True, schema={"type": "string", "enum": list(DIRECTIONS)}),
    "ethertype": Attr(convert_ethertype, "IPv4", post=True, filter="str", sort=True,
                      schema={"type": "string"}),
    "protocol": Attr(convert_protocol, None, post=True, filter="str", sort=True,
                     schema={"type": ["string", "integer", "null"]}),
    "port_range_min": Attr(convert_port, None, post=True, filter="int", sort=True,
                           schema=_PORT),
    "port_range_max": Attr(convert_port, None, post=True, filter="int", sort=True,
                           schema=_PORT),
    "remote_ip_prefix": Attr(convert_prefix, None, post=True, filter="str",
                             sort=True, schema=STR_N),
    "remote_group_id": Attr(v.string(36, allow_none=True), None, post=True, filter="str",
                            sort=True, schema=STR_N),
    "normalized_cidr": _ro(STR_N),
    "belongs_to_default_sg": _ro(BOOL, filter="bool"),
}
