"""The resource attribute maps: every API attribute declared once.

Like Neutron's RESOURCE_ATTRIBUTE_MAP, each attribute says whether it may be given on
create (``post``) or update (``put``), its validator, its default, who may set it
(``policy``: None = anyone who may write the resource, "admin", "network_owner"), whether
only admins see it, and whether it can be used as a list filter or sort key. Request
validation, policy checks, list filtering and the OpenAPI document are all derived from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fermion.model import validators as v

REQUIRED = object()  # must be given on create
AUTO = object()  # absent unless given; the plugin computes it

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical",
              "virtio-forwarder", "smart-nic", "vdpa", "remote-managed")


@dataclass(frozen=True)
class Attr:
    validate: v.Validator | None = None
    default: Any = AUTO
    post: bool = False
    put: bool = False
    policy: str | None = None
    admin_visible: bool = False
    filter: str | None = None  # "str", "bool", "int": filterable with that conversion
    sort: bool = False
    schema: dict = field(default_factory=dict)


def _ro(schema: dict | None = None, filter: str | None = None, sort: bool = False,
        admin_visible: bool = False) -> Attr:
    return Attr(filter=filter, sort=sort, schema=schema or {}, admin_visible=admin_visible)


STR = {"type": "string"}
STR_N = {"type": ["string", "null"]}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
LIST_STR = {"type": "array", "items": {"type": "string"}}
OBJ = {"type": "object"}


def _standard(name_default: str = "") -> dict[str, Attr]:
    return {
        "id": _ro(STR, filter="str", sort=True),
        "name": Attr(v.string(255), name_default, post=True, put=True, filter="str", sort=True,
                     schema={"type": "string", "maxLength": 255}),
        "description": Attr(v.string(255), "", post=True, put=True, filter="str", sort=True,
                            schema={"type": "string", "maxLength": 255}),
        "project_id": Attr(v.string(255), AUTO, post=True, filter="str", sort=True,
                           schema={"type": "string", "maxLength": 255}),
        "tenant_id": Attr(v.string(255), AUTO, post=True, filter="str", sort=True,
                          schema={"type": "string", "maxLength": 255}),
        "created_at": _ro(STR, filter="str", sort=True),
        "updated_at": _ro(STR, filter="str", sort=True),
        "revision_number": _ro(INT, filter="int", sort=True),
        "tags": Attr(v.list_of(v.tag, unique=True, what="tag"), AUTO, post=True,
                     schema=LIST_STR),
    }


_segment = v.dict_of({
    "provider:network_type": (v.string(255), True),
    "provider:physical_network": (v.string(64, allow_none=True), False),
    "provider:segmentation_id": (v.integer(allow_none=True), False),
}, "segment")

NETWORK: dict[str, Attr] = {
    **_standard(),
    "admin_state_up": Attr(v.boolean, True, post=True, put=True, filter="bool", sort=True,
                           schema=BOOL),
    "status": _ro(STR, filter="str", sort=True),
    "shared": Attr(v.boolean, False, post=True, put=True, policy="admin", filter="bool",
                   sort=True, schema=BOOL),
    "router:external": Attr(v.boolean, False, post=True, put=True, policy="admin",
                            filter="bool", sort=True, schema=BOOL),
    "mtu": Attr(v.integer(68), AUTO, post=True, put=True, filter="int", sort=True,
                schema={"type": "integer", "minimum": 68}),
    "port_security_enabled": Attr(v.boolean, True, post=True, put=True, filter="bool",
                                  schema=BOOL),
    "provider:network_type": Attr(v.string(255), AUTO, post=True, policy="admin",
                                  admin_visible=True, filter="str", schema=STR),
    "provider:physical_network": Attr(v.string(64, allow_none=True), AUTO, post=True,
                                      policy="admin", admin_visible=True, filter="str",
                                      schema=STR_N),
    "provider:segmentation_id": Attr(v.integer(allow_none=True), AUTO, post=True,
                                     policy="admin", admin_visible=True, filter="int",
                                     schema={"type": ["integer", "null"]}),
    "segments": Attr(v.list_of(_segment), AUTO, post=True, policy="admin", admin_visible=True,
                     schema={"type": "array", "items": OBJ}),
    "availability_zone_hints": Attr(v.list_of(v.string(255)), [], post=True,
                                    schema=LIST_STR),
    "availability_zones": _ro(LIST_STR),
    "subnets": _ro(LIST_STR),
    "dns_domain": Attr(v.string(255), "", post=True, put=True, schema=STR),
    "ipv4_address_scope": _ro(STR_N),
    "ipv6_address_scope": _ro(STR_N),
}

_host_route = v.dict_of({"destination": (v.subnet_cidr, True), "nexthop": (v.ip_address, True)},
                        "host route")
_pool = v.dict_of({"start": (v.ip_address, True), "end": (v.ip_address, True)}, "pool")

SUBNET: dict[str, Attr] = {
    **_standard(),
    "network_id": Attr(v.uuid_str, REQUIRED, post=True, filter="str", sort=True, schema=STR),
    "ip_version": Attr(v.one_of(4, 6), REQUIRED, post=True, filter="int", sort=True,
                       schema={"type": "integer", "enum": [4, 6]}),
    "cidr": Attr(v.subnet_cidr, AUTO, post=True, filter="str", sort=True, schema=STR),
    "prefixlen": Attr(v.integer(0, 128), AUTO, post=True, schema=INT),
    "gateway_ip": Attr(v.ip_address_or_none, AUTO, post=True, put=True, filter="str",
                       sort=True, schema=STR_N),
    "allocation_pools": Attr(v.list_of(_pool), AUTO, post=True, put=True,
                             schema={"type": "array", "items": OBJ}),
    "enable_dhcp": Attr(v.boolean, True, post=True, put=True, filter="bool", sort=True,
                        schema=BOOL),
    "dns_nameservers": Attr(v.list_of(v.ip_address, unique=True, what="nameserver"), [],
                            post=True, put=True, schema=LIST_STR),
    "host_routes": Attr(v.list_of(_host_route, unique=True, what="host route"), [],
                        post=True, put=True, schema={"type": "array", "items": OBJ}),
    "ipv6_ra_mode": Attr(v.one_of(*IPV6_MODES, allow_none=True), None, post=True,
                         filter="str", schema=STR_N),
    "ipv6_address_mode": Attr(v.one_of(*IPV6_MODES, allow_none=True), None, post=True,
                              filter="str", schema=STR_N),
    "subnetpool_id": Attr(v.uuid_or_none, AUTO, post=True, filter="str", schema=STR_N),
    "use_default_subnetpool": Attr(v.boolean, False, post=True, schema=BOOL),
    "segment_id": Attr(v.uuid_or_none, None, post=True, put=True, filter="str", schema=STR_N),
    "service_types": _ro(LIST_STR),
}

_fixed_ip = v.dict_of({"subnet_id": (v.uuid_str, False), "ip_address": (v.ip_address, False)},
                      "fixed ip")
_address_pair = v.dict_of({"ip_address": (v.ip_or_cidr, True),
                           "mac_address": (v.mac_address, False)}, "address pair")
_dhcp_opt = v.dict_of({"opt_name": (v.string(64), True),
                       "opt_value": (v.string(255, allow_none=True), True),
                       "ip_version": (v.one_of(4, 6), False)}, "extra dhcp option")

PORT: dict[str, Attr] = {
    **_standard(),
    "network_id": Attr(v.uuid_str, REQUIRED, post=True, filter="str", sort=True, schema=STR),
    "mac_address": Attr(v.mac_address, AUTO, post=True, put=True, policy="network_owner",
                        filter="str", sort=True, schema=STR),
    "fixed_ips": Attr(v.list_of(_fixed_ip), AUTO, post=True, put=True,
                      schema={"type": "array", "items": OBJ}),
    "device_id": Attr(v.string(255), "", post=True, put=True, filter="str", sort=True,
                      schema={"type": "string", "maxLength": 255}),
    "device_owner": Attr(v.string(255), "", post=True, put=True, filter="str", sort=True,
                         schema={"type": "string", "maxLength": 255}),
    "admin_state_up": Attr(v.boolean, True, post=True, put=True, filter="bool", sort=True,
                           schema=BOOL),
    "status": _ro(STR, filter="str", sort=True),
    "port_security_enabled": Attr(v.boolean, AUTO, post=True, put=True,
                                  policy="network_owner", filter="bool", schema=BOOL),
    "security_groups": Attr(v.list_of(v.uuid_str, unique=True, what="security group"), AUTO,
                            post=True, put=True, schema=LIST_STR),
    "allowed_address_pairs": Attr(v.list_of(_address_pair, unique=True, what="address pair"),
                                  [], post=True, put=True, policy="network_owner",
                                  schema={"type": "array", "items": OBJ}),
    "extra_dhcp_opts": Attr(v.list_of(_dhcp_opt), [], post=True, put=True,
                            schema={"type": "array", "items": OBJ}),
    "binding:host_id": Attr(v.string(255), "", post=True, put=True, policy="admin",
                            admin_visible=True, filter="str", schema=STR),
    "binding:vif_type": _ro(STR, filter="str", admin_visible=True),
    "binding:vif_details": _ro(OBJ, admin_visible=True),
    "binding:vnic_type": Attr(v.one_of(*VNIC_TYPES), "normal", post=True, put=True,
                              filter="str", schema={"type": "string", "enum": list(VNIC_TYPES)}),
    "binding:profile": Attr(v.any_dict, {}, post=True, put=True, policy="admin",
                            admin_visible=True, schema=OBJ),
    "dns_name": Attr(v.string(255), "", post=True, put=True, filter="str", schema=STR),
    "dns_assignment": _ro({"type": "array", "items": OBJ}),
}

SUBNETPOOL: dict[str, Attr] = {
    **_standard(),
    "prefixes": Attr(v.list_of(v.subnet_cidr, unique=True, what="prefix"), REQUIRED,
                     post=True, put=True, schema=LIST_STR),
    "default_prefixlen": Attr(v.integer(0, 128), AUTO, post=True, put=True, filter="int",
                              sort=True, schema=INT),
    "min_prefixlen": Attr(v.integer(0, 128), AUTO, post=True, put=True, filter="int",
                          sort=True, schema=INT),
    "max_prefixlen": Attr(v.integer(0, 128), AUTO, post=True, put=True, filter="int",
                          sort=True, schema=INT),
    "shared": Attr(v.boolean, False, post=True, policy="admin", filter="bool", sort=True,
                   schema=BOOL),
    "is_default": Attr(v.boolean, False, post=True, put=True, policy="admin", filter="bool",
                       schema=BOOL),
    "default_quota": Attr(v.integer(0, allow_none=True), None, post=True, put=True,
                          schema={"type": ["integer", "null"]}),
    "address_scope_id": Attr(v.uuid_or_none, None, post=True, put=True, filter="str",
                             schema=STR_N),
    "ip_version": _ro(INT, filter="int", sort=True),
}

# Query parameters that are not attribute filters.
CONTROL_PARAMS = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse",
                  "tags", "tags-any", "not-tags", "not-tags-any"}
