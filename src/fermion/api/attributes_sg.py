"""Attribute maps of security groups and their rules (``security-group`` and friends).

Declared like the maps in ``attributes.py``. The rule attributes use the converters of
``plugin.sg_rules``, which raise Neutron's own errors (``SecurityGroupRuleInvalidProtocol``,
``InvalidCIDR``, ...) rather than the generic "Invalid input for ..." wording, as Neutron does.
A group can be neither created nor renamed as "default" (any case): that name belongs to the
group Fermion makes for each project.
"""

from __future__ import annotations

from typing import Any

from fermion import exceptions as exc
from fermion.api import validators as v
from fermion.api.attributes import BOOL, OBJ, REQUIRED, STR, STR_N, Attr, _ro, _standard
from fermion.plugin import sg_rules


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
    "direction": Attr(v.one_of(*sg_rules.DIRECTIONS), REQUIRED, post=True, filter="str",
                      sort=True, schema={"type": "string", "enum": list(sg_rules.DIRECTIONS)}),
    "ethertype": Attr(sg_rules.convert_ethertype, "IPv4", post=True, filter="str", sort=True,
                      schema={"type": "string"}),
    "protocol": Attr(sg_rules.convert_protocol, None, post=True, filter="str", sort=True,
                     schema={"type": ["string", "integer", "null"]}),
    "port_range_min": Attr(sg_rules.convert_port, None, post=True, filter="int", sort=True,
                           schema=_PORT),
    "port_range_max": Attr(sg_rules.convert_port, None, post=True, filter="int", sort=True,
                           schema=_PORT),
    "remote_ip_prefix": Attr(sg_rules.convert_prefix, None, post=True, filter="str",
                             sort=True, schema=STR_N),
    "remote_group_id": Attr(v.string(36, allow_none=True), None, post=True, filter="str",
                            sort=True, schema=STR_N),
    "normalized_cidr": _ro(STR_N),
    "belongs_to_default_sg": _ro(BOOL, filter="bool"),
}
