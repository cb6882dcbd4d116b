"""Attribute maps of the L3 resources: routers, floating IPs and address scopes.

Neutron's ``router`` (with ``ext-gw-mode`` and ``extraroute``), ``fip-port-details`` and
``address-scope`` definitions, in the form of ``model.attributes``. Sub-attribute policy
(``external_gateway_info:enable_snat`` and ``:external_fixed_ips`` are admin-only) is
checked by ``plugin.routers``, which sees the request as sent.
"""

from __future__ import annotations

from typing import Any

from fermion.model import validators as v
from fermion.model.attributes import (
    BOOL,
    INT,
    LIST_STR,
    OBJ,
    REQUIRED,
    STR,
    STR_N,
    Attr,
    _ro,
    _standard,
)

OBJ_N = {"type": ["object", "null"]}
ROUTE_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": ["destination", "nexthop"],
    "properties": {"destination": STR, "nexthop": STR}}}

_external_fixed_ip = v.dict_of({"subnet_id": (v.uuid_str, False),
                                "ip_address": (v.ip_address, False)}, "external fixed ip")
_gateway_fields = v.dict_of({
    "network_id": (v.uuid_str, True),
    "enable_snat": (v.boolean, False),
    "external_fixed_ips": (v.list_of(_external_fixed_ip), False),
}, "external gateway info")


def gateway_info(value: Any) -> dict | None:
    """Neutron's ``dict_or_nodata``: null or {} clears the gateway."""
    if value is None or value == {}:
        return None
    return _gateway_fields(value)


route = v.dict_of({"destination": (v.subnet_cidr, True), "nexthop": (v.ip_address, True)},
                  "route")
routes = v.list_of(route, unique=True, what="hostroute")


def _boolean_or_none(value: Any) -> bool | None:
    return None if value is None else v.boolean(value)


ROUTER: dict[str, Attr] = {
    **_standard(),
    "admin_state_up": Attr(v.boolean, True, post=True, put=True, filter="bool", sort=True,
                           schema=BOOL),
    "status": _ro(STR, filter="str", sort=True),
    "external_gateway_info": Attr(gateway_info, None, post=True, put=True, schema={
        "type": ["object", "null"], "properties": {
            "network_id": STR, "enable_snat": BOOL,
            "external_fixed_ips": {"type": "array", "items": OBJ}}}),
    "routes": Attr(routes, [], put=True, schema=ROUTE_SCHEMA),
    "availability_zone_hints": Attr(v.list_of(v.string(255)), [], post=True, schema=LIST_STR),
    "availability_zones": _ro(LIST_STR),
    # Legacy (centralized, single) routers only: false, or null for the default.
    "distributed": Attr(_boolean_or_none, None, post=True, put=True, policy="admin",
                        admin_visible=True, schema={"type": ["boolean", "null"]}),
    "ha": Attr(_boolean_or_none, None, post=True, put=True, policy="admin",
               admin_visible=True, schema={"type": ["boolean", "null"]}),
}

FLOATINGIP: dict[str, Attr] = {
    **{name: attr for name, attr in _standard().items() if name != "name"},
    "floating_ip_address": Attr(v.ip_address_or_none, None, post=True, policy="admin",
                                filter="str", sort=True, schema=STR_N),
    "subnet_id": Attr(v.uuid_or_none, None, post=True, schema=STR_N),  # input only
    "floating_network_id": Attr(v.uuid_str, REQUIRED, post=True, filter="str", sort=True,
                                schema=STR),
    "router_id": _ro(STR_N, filter="str", sort=True),
    "port_id": Attr(v.uuid_or_none, None, post=True, put=True, filter="str", schema=STR_N),
    "fixed_ip_address": Attr(v.ip_address_or_none, None, post=True, put=True, filter="str",
                             sort=True, schema=STR_N),
    "status": _ro(STR, filter="str", sort=True),
    "port_details": _ro(OBJ_N),
}

# Address scopes are not "standard attribute" resources in Neutron: no description,
# timestamps, revision number or tags.
ADDRESS_SCOPE: dict[str, Attr] = {
    name: attr for name, attr in _standard().items()
    if name in ("id", "name", "project_id", "tenant_id")
} | {
    "shared": Attr(v.boolean, False, post=True, put=True, policy="admin", filter="bool",
                   sort=True, schema=BOOL),
    "ip_version": Attr(v.one_of(4, 6), REQUIRED, post=True, filter="int", sort=True,
                       schema={**INT, "enum": [4, 6]}),
}
