"""Bad input: every malformed, invalid or refused request gets a 4xx in NeutronError form.

Table-driven: each ``Bad`` case is one request against a server holding a small fixed world
(a network with IPv4 and IPv6 subnets, ports, a subnet pool, provider networks, a router
port, quota-limited projects), made by one of a few personas (admin, the owner project's
member or reader, another project's member). For every case the test checks

* the status and Neutron's error type (``{"NeutronError": {"type", "message", "detail"}}``,
  exactly those keys, all strings), and never a 5xx;
* that nothing changed: the full lists of networks, subnets, ports, subnet pools, quotas
  (and routers, floating IPs, security groups and rules, address scopes when the server has
  them) are identical before and after, every attribute (revision_number, updated_at...);
  for bulk creates whose later item fails, also that no item of the bulk exists by name.

Groups: body shape (malformed JSON, lists/strings/null, missing member key), size (> 114688
bytes, chunked too: 413), types and ranges (beyond the databases' 32-bit integers too),
unknown attributes, CIDRs, allocation pools, MAC/IP addresses, unicode and NUL characters,
list parameters (limits, sort keys/dirs, filters, markers), If-Match, read-only attributes
in PUT, project_id/tenant_id, not found/invisible, conflicts with the state, policy,
methods, bulk atomicity. ``test_odd_but_valid_input_is_accepted`` holds the other side:
strange but valid requests (huge limits, unicode names, opaque If-Match tags) succeed.

The server runs once per module and database backend (SQLite, and PostgreSQL when its
binaries are installed), since the backends fail differently (PostgreSQL's INTEGER is 32
bits and it refuses NUL characters in text, even in a comparison).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fixtures.server import FermionServer

MAX_BODY = 114688  # [oslo_middleware] max_request_body_size default
U64 = 2**64 - 1  # still an int for orjson; beyond every database integer column
MISSING = "00000000-0000-4000-8000-000000000000"  # a well-formed id nobody has
OWNER, OTHER, QUOTA0, QUOTA1 = "p-owner", "p-other", "p-quota0", "p-quota1"
# What a refused request must leave untouched: every collection, as an admin lists it.
SNAPSHOT = ["networks", "subnets", "ports", "subnetpools", "quotas", "routers", "floatingips",
            "security-groups", "security-group-rules", "address-scopes"]


# -- the world every case runs against -----------------------------------------------------


@dataclass
class World:
    server: FermionServer
    ids: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    reference: dict[str, Any] | None = None  # the last snapshot, if nothing changed since

    def client(self, persona: str) -> httpx.Client:
        if persona not in self.clients:
            kwargs = {
                "admin": {},
                "owner": {"project_id": OWNER, "roles": "member"},
                "reader": {"project_id": OWNER, "roles": "reader"},
                "other": {"project_id": OTHER, "roles": "member"},
                "quota0": {"project_id": QUOTA0, "roles": "member"},
                "quota1": {"project_id": QUOTA1, "roles": "member"},
            }[persona]
            self.clients[persona] = self.server.client(**kwargs)
        return self.clients[persona]

    def snapshot(self) -> dict[str, Any]:
        """Every object of every collection, as an admin lists them (quotas too)."""
        admin = self.client("admin")
        out = {}
        for collection in SNAPSHOT:
            r = admin.get(f"/v2.0/{collection}")
            assert r.status_code == 200, (collection, r.status_code, r.text)
            items = r.json()[collection.replace("-", "_")]
            out[collection] = sorted(items, key=lambda i: i.get("id") or i["project_id"])
        return out


def _ok(response: httpx.Response, status: int = 201) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def build_world(server: FermionServer) -> World:
    world = World(server, {})
    admin = world.client("admin")

    def create(collection: str, member: str, **attrs: Any) -> dict:
        return _ok(admin.post(f"/v2.0/{collection}", json={member: attrs}))[member]

    net = create("networks", "network", name="bad-input-net", project_id=OWNER, tags=["blue"])
    subnet = create("subnets", "subnet", network_id=net["id"], ip_version=4,
                    cidr="10.10.0.0/24", gateway_ip="10.10.0.1", project_id=OWNER,
                    allocation_pools=[{"start": "10.10.0.10", "end": "10.10.0.200"}])
    subnet6 = create("subnets", "subnet", network_id=net["id"], ip_version=6,
                     cidr="fd00:10::/64", project_id=OWNER)
    port = create("ports", "port", network_id=net["id"], project_id=OWNER,
                  mac_address="fa:16:3e:10:10:20",
                  fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.10.0.20"}])
    router = create("routers", "router", name="bad-input-router", project_id=OWNER)
    router_port = create("ports", "port", network_id=net["id"], project_id=OWNER,
                         device_owner="network:router_interface", device_id=router["id"],
                         fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.10.0.1"}])
    pool = create("subnetpools", "subnetpool", name="bad-input-pool", project_id=OWNER,
                  prefixes=["10.200.0.0/16"], default_prefixlen=24, min_prefixlen=20,
                  max_prefixlen=28)
    pool_net = create("networks", "network", name="pool-net", project_id=OWNER)
    create("subnets", "subnet", network_id=pool_net["id"], ip_version=4,
           subnetpool_id=pool["id"], project_id=OWNER)
    vlan = create("networks", "network", name="vlan-150", **{
        "provider:network_type": "vlan", "provider:physical_network": "physnet",
        "provider:segmentation_id": 150})
    create("networks", "network", name="flat", **{
        "provider:network_type": "flat", "provider:physical_network": "physnet"})
    vxlan = create("networks", "network", name="vxlan-tenant")
    _ok(admin.put(f"/v2.0/quotas/{QUOTA0}", json={"quota": {"network": 0, "port": 0}}), 200)
    _ok(admin.put(f"/v2.0/quotas/{QUOTA1}", json={"quota": {"network": 1}}), 200)
    world.ids = {
        "net": net["id"], "subnet": subnet["id"], "subnet6": subnet6["id"],
        "port": port["id"], "router_port": router_port["id"], "pool": pool["id"],
        "pool_net": pool_net["id"], "vlan_net": vlan["id"],
        "vni": str(vxlan["provider:segmentation_id"]), "missing": MISSING,
    }
    return world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, tmp_path_factory) -> Iterator[World]:
    with ExitStack() as stack:
        db_url = None
        if request.param == "postgres":
            db_url = stack.enter_context(request.getfixturevalue("postgres_server").database())
        server = FermionServer(tmp_path_factory.mktemp(f"bad-input-{request.param}"),
                               db_url=db_url)
        server.start()
        stack.callback(server.stop)
        yield build_world(server)


# -- the cases -------------------------------------------------------------------------------


@dataclass
class Bad:
    id: str
    method: str
    path: str
    status: int
    type: str
    json: Any = None  # a JSON body ($name placeholders are filled from the world's ids)
    raw: bytes | None = None  # or raw bytes, sent as application/json
    headers: dict[str, str] = field(default_factory=dict)
    persona: str = "admin"
    absent: tuple[str, ...] = ()  # names that must not exist afterwards (bulk creates)


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return string.Template(value).safe_substitute(ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {fill(k, ids): fill(v, ids) for k, v in value.items()}
    return value


def _bad(method: str, path: str, status: int, type: str, case_id: str = "",
         **kw: Any) -> Bad:
    return Bad(case_id, method, path, status, type, **kw)


def post(what: str, body: Any, status: int = 400, type: str = "HTTPBadRequest",
         **kw: Any) -> Bad:
    """POST to a collection: `what` is "networks", "subnets", ..."""
    return _bad("POST", f"/v2.0/{what}", status, type, json=body, **kw)


def _create(collection: str, member: str, defaults: dict, attrs: dict, status: int, type: str,
            **kw: Any) -> Bad:
    body = {k: v for k, v in {**defaults, **attrs}.items() if v is not DROP}
    return _bad("POST", f"/v2.0/{collection}", status, type, json={member: body}, **kw)


def net(attrs: dict, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _create("networks", "network", {}, attrs, status, type, **kw)


def subnet(attrs: dict, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _create("subnets", "subnet", DEFAULTS["subnet"], attrs, status, type, **kw)


def port(attrs: dict, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _create("ports", "port", DEFAULTS["port"], attrs, status, type, **kw)


def pool(attrs: dict, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _create("subnetpools", "subnetpool", DEFAULTS["subnetpool"], attrs, status, type,
                   **kw)


def put(path: str, body: Any, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _bad("PUT", path, status, type, json=body, **kw)


def get(path: str, status: int = 400, type: str = "HTTPBadRequest", **kw: Any) -> Bad:
    return _bad("GET", path, status, type, **kw)


def delete(path: str, status: int, type: str, **kw: Any) -> Bad:
    return _bad("DELETE", path, status, type, **kw)


DROP = object()  # leave a default attribute of subnet()/port()/pool() out
DEFAULTS = {  # what subnet()/port()/pool() send unless told otherwise
    "subnet": {"network_id": "$net", "ip_version": 4, "cidr": "10.20.0.0/24"},
    "port": {"network_id": "$net"},
    "subnetpool": {"prefixes": ["10.250.0.0/16"]},
}
N, S, P, SP = "/v2.0/networks", "/v2.0/subnets", "/v2.0/ports", "/v2.0/subnetpools"
BR, MRB = "HTTPBadRequest", "MalformedRequestBody"
PADDED_NETWORK = b'{"network": {"name": "padded"}}' + b" " * (MAX_BODY + 1)


def _chunks(data: bytes, size: int = 16384) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


CASES: dict[str, list[Bad]] = {
    # -- the body is not JSON, or not the right JSON shape --------------------------------
    "body": [
        Bad("malformed-json", "POST", N, 400, MRB, raw=b'{"network": {'),
        Bad("trailing-garbage", "POST", N, 400, MRB, raw=b'{"network": {}} extra'),
        Bad("single-quotes", "POST", N, 400, MRB, raw=b"{'network': {}}"),
        Bad("empty-body", "POST", N, 400, MRB, raw=b""),
        Bad("whitespace-body", "POST", N, 400, MRB, raw=b"   \n"),
        Bad("nan", "POST", N, 400, MRB, raw=b'{"network": {"mtu": NaN}}'),
        Bad("huge-float", "POST", N, 400, MRB, raw=b'{"network": {"mtu": 1e400}}'),
        Bad("invalid-utf8", "POST", N, 400, MRB, raw=b'{"network": {"name": "\xff\xfe"}}'),
        Bad("lone-surrogate", "POST", N, 400, MRB, raw=b'{"network": {"name": "\\ud800"}}'),
        Bad("body-is-list", "POST", N, 400, BR, json=[{"network": {}}]),
        Bad("body-is-string", "POST", N, 400, BR, json="network"),
        Bad("body-is-null", "POST", N, 400, BR, raw=b"null"),
        Bad("body-is-number", "POST", N, 400, BR, json=42),
        Bad("body-is-true", "POST", N, 400, BR, json=True),
        Bad("member-is-list", "POST", N, 400, BR, json={"network": [{"name": "x"}]}),
        Bad("member-is-null", "POST", N, 400, BR, json={"network": None}),
        Bad("member-is-string", "POST", N, 400, BR, json={"network": "x"}),
        Bad("missing-member-key", "POST", N, 400, BR, json={"netwerk": {"name": "x"}}),
        Bad("empty-object", "POST", N, 400, BR, json={}),
        Bad("wrong-member-key", "POST", S, 400, BR, json={"network": {"name": "x"}}),
        Bad("bulk-empty", "POST", N, 400, BR, json={"networks": []}),
        Bad("bulk-not-list", "POST", N, 400, BR, json={"networks": {"name": "x"}}),
        Bad("bulk-item-string", "POST", N, 400, BR, json={"networks": [{"name": "x"}, "y"]},
            absent=("x",)),
        Bad("bulk-item-null", "POST", P, 400, BR, json={"ports": [None]}),
        put(f"{N}/$net", [{"network": {"name": "x"}}], case_id="put-body-is-list"),
        put(f"{N}/$net", None, case_id="put-body-is-null"),
        put(f"{N}/$net", {"name": "x"}, case_id="put-missing-member-key"),
        put(f"{N}/$net", {"networks": [{"name": "x"}]}, case_id="put-bulk-form"),
        put(f"{S}/$subnet", {"subnet": "x"}, case_id="put-member-is-string"),
        Bad("put-malformed-json", "PUT", f"{P}/$port", 400, MRB, raw=b'{"port": '),
        Bad("put-empty-body", "PUT", f"{SP}/$pool", 400, MRB, raw=b""),
        Bad("tags-body-is-list", "PUT", f"{N}/$net/tags", 400, BR, json=["a"]),
        Bad("tags-not-list", "PUT", f"{N}/$net/tags", 400, BR, json={"tags": "a"}),
        Bad("tags-malformed", "PUT", f"{N}/$net/tags", 400, MRB, raw=b'{"tags": ['),
        Bad("quota-malformed", "PUT", "/v2.0/quotas/p-x", 400, MRB, raw=b"{"),
        Bad("quota-body-is-list", "PUT", "/v2.0/quotas/p-x", 400, BR, json=[]),
        Bad("quota-missing-key", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quotas": {}}),
    ],
    # -- > max_request_body_size ------------------------------------------------------------
    "size": [
        Bad("huge-body", "POST", N, 413, "HTTPRequestEntityTooLarge", raw=PADDED_NETWORK,
            absent=("padded",)),
        Bad("huge-body-chunked", "POST", N, 413, "HTTPRequestEntityTooLarge",
            raw=PADDED_NETWORK, headers={"x-test-chunked": "1"}, absent=("padded",)),
        Bad("huge-body-put", "PUT", f"{N}/$net", 413, "HTTPRequestEntityTooLarge",
            raw=b'{"network": {"name": "padded"}}' + b" " * MAX_BODY, absent=("padded",)),
        Bad("huge-name", "POST", N, 413, "HTTPRequestEntityTooLarge",
            raw=b'{"network": {"name": "' + b"n" * (MAX_BODY + 1) + b'"}}'),
        Bad("huge-bulk", "POST", N, 413, "HTTPRequestEntityTooLarge",
            json={"networks": [{"name": f"bulk-{i}"} for i in range(8000)]},
            absent=("bulk-0",)),
        Bad("huge-tags", "PUT", f"{N}/$net/tags", 413, "HTTPRequestEntityTooLarge",
            json={"tags": [f"t{i:06d}" for i in range(12000)]}),
    ],
    # -- wrong types and out-of-range values --------------------------------------------------
    "types": [
        net({"name": 5}), net({"name": ["x"]}), net({"name": None}), net({"name": {"a": 1}}),
        net({"description": "d" * 256}), net({"name": "é" * 256}),
        net({"admin_state_up": "maybe"}), net({"admin_state_up": 2}),
        net({"admin_state_up": None}), net({"shared": "yes"}), net({"mtu": "abc"}),
        net({"mtu": 1.5}), net({"mtu": True}), net({"mtu": 67}), net({"mtu": -1}),
        net({"mtu": U64}), net({"mtu": "99999999999999999999999"}),
        net({"mtu": 1e30}), net({"mtu": 9001}, type="InvalidInput"),
        net({"port_security_enabled": "nah"}), net({"dns_domain": 1}),
        net({"availability_zone_hints": "az1"}), net({"availability_zone_hints": [1]}),
        net({"tags": "blue"}), net({"tags": ["a,b"]}), net({"tags": [""]}),
        net({"tags": ["t" * 256]}), net({"tags": ["dup", "dup"]}), net({"tags": [1]}),
        net({"tags": [f"t{i}" for i in range(51)]}, type="TagLimitExceeded"),
        net({"provider:network_type": 5}),
        net({"provider:network_type": "bogus"}, type="InvalidInput"),
        net({"provider:network_type": "vlan", "provider:physical_network": "physnet",
             "provider:segmentation_id": "x"}),
        net({"provider:network_type": "vlan", "provider:physical_network": "physnet",
             "provider:segmentation_id": 4095}, type="InvalidInput"),
        net({"provider:network_type": "vlan", "provider:physical_network": "physnet",
             "provider:segmentation_id": U64}),
        net({"provider:network_type": "vxlan", "provider:segmentation_id": 2**24},
            type="InvalidInput"),
        net({"provider:network_type": "flat", "provider:physical_network": "nope"},
            type="InvalidInput"),
        net({"provider:network_type": "flat", "provider:physical_network": "p" * 65}),
        net({"provider:network_type": "local", "provider:segmentation_id": 5},
            type="InvalidInput"),
        net({"provider:physical_network": "physnet"}, type="InvalidInput"),
        net({"segments": "vlan"}), net({"segments": [{}]}), net({"segments": [None]}),
        net({"segments": [{"provider:network_type": "vlan", "bogus": 1}]}),
        net({"segments": [{"provider:network_type": "vxlan",
                           "provider:segmentation_id": 900}],
             "provider:network_type": "vxlan"}, type="InvalidInput"),
        net({"segments": [{"provider:network_type": "vxlan", "provider:segmentation_id": 901},
                          {"provider:network_type": "vxlan",
                           "provider:segmentation_id": 901}]}, type="InvalidInput"),
        subnet({"ip_version": 5}), subnet({"ip_version": "4"}), subnet({"ip_version": None}),
        subnet({"ip_version": DROP}), subnet({"network_id": DROP}),
        subnet({"network_id": "not-a-uuid"}), subnet({"network_id": 7}),
        subnet({"enable_dhcp": "x"}), subnet({"gateway_ip": "10.20.0.300"}),
        subnet({"gateway_ip": 1}), subnet({"dns_nameservers": "8.8.8.8"}),
        subnet({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]}),
        subnet({"dns_nameservers": ["dns.example.com"]}),
        subnet({"dns_nameservers": [f"10.0.0.{i}" for i in range(1, 7)]},
               type="DNSNameServersExhausted"),
        subnet({"host_routes": [{"destination": "10.9.0.0/24"}]}),
        subnet({"host_routes": [{"destination": "10.9.0.5/24", "nexthop": "10.20.0.9"}]}),
        subnet({"host_routes": [{"destination": "10.9.0.0/24", "nexthop": "nope"}]}),
        subnet({"host_routes": [{"destination": "::/0", "nexthop": "10.20.0.9"}]},
               type="InvalidInput"),
        subnet({"host_routes": [{"destination": "10.9.0.0/24", "nexthop": "10.20.0.9",
                                 "via": "x"}]}),
        subnet({"host_routes": [{"destination": f"10.{i}.0.0/16", "nexthop": "10.20.0.9"}
                                for i in range(21)]}, type="HostRoutesExhausted"),
        subnet({"allocation_pools": {"start": "10.20.0.5", "end": "10.20.0.9"}}),
        subnet({"allocation_pools": [{"start": "10.20.0.5"}]}),
        subnet({"allocation_pools": [{"start": "x", "end": "10.20.0.9"}]}),
        subnet({"allocation_pools": [None]}),
        subnet({"ipv6_ra_mode": "slaac"}, type="InvalidInput"),
        subnet({"ipv6_address_mode": "bogus"}),
        subnet({"ip_version": 6, "cidr": "fd00:20::/64", "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "dhcpv6-stateful"}, type="InvalidInput"),
        subnet({"ip_version": 6, "cidr": "fd00:20::/80", "ipv6_address_mode": "slaac"},
               type="InvalidInput"),
        subnet({"ip_version": 6, "cidr": "fd00:20::/64", "ipv6_address_mode": "slaac",
                "enable_dhcp": False}, type="InvalidInput"),
        subnet({"prefixlen": 129}), subnet({"prefixlen": "x"}),
        subnet({"segment_id": "x"}), subnet({"segment_id": MISSING}, type="InvalidInput"),
        subnet({"use_default_subnetpool": "x"}),
        subnet({"cidr": DROP, "use_default_subnetpool": True}, type="InvalidInput"),
        subnet({"subnetpool_id": "not-a-uuid"}),
        port({"network_id": "x"}), port({"network_id": DROP}), port({"name": 1}),
        port({"admin_state_up": None}), port({"device_id": ["x"]}),
        port({"device_owner": "o" * 256}), port({"fixed_ips": "10.10.0.5"}),
        port({"fixed_ips": [{"ip_address": "10.10.0.5", "bogus": 1}]}),
        port({"fixed_ips": [None]}), port({"fixed_ips": [{"subnet_id": "x"}]}),
        port({"binding:vnic_type": "bogus"}), port({"binding:profile": "x"}),
        port({"binding:host_id": 5}), port({"security_groups": ["x"]}),
        port({"security_groups": "x"}), port({"allowed_address_pairs": [{}]}),
        port({"allowed_address_pairs": [{"ip_address": "x"}]}),
        port({"allowed_address_pairs": [{"ip_address": "10.1.1.1", "mac_address": "x"}]}),
        port({"allowed_address_pairs": [{"ip_address": "10.1.1.1"}] * 2}),
        port({"allowed_address_pairs": [{"ip_address": f"10.1.1.{i}"} for i in range(11)]},
             type="AllowedAddressPairExhausted"),
        port({"extra_dhcp_opts": [{"opt_value": "x"}]}),
        port({"extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1400",
                                   "ip_version": 5}]}),
        port({"extra_dhcp_opts": "x"}), port({"port_security_enabled": "x"}),
        port({"dns_name": 5}),
        pool({"prefixes": "10.0.0.0/8"}), pool({"prefixes": DROP}), pool({"prefixes": [5]}),
        pool({"prefixes": ["10.250.0.0/16", "10.250.0.0/16"]}),
        pool({"prefixes": []}, type="InvalidInput"),
        pool({"prefixes": ["10.0.0.0/8", "fd00::/48"]}, type="InvalidInput"),
        pool({"default_prefixlen": "x"}), pool({"min_prefixlen": 129}),
        pool({"min_prefixlen": -1}), pool({"min_prefixlen": 30, "max_prefixlen": 20},
                                          type="InvalidInput"),
        pool({"default_prefixlen": 4}, type="InvalidInput"),
        pool({"default_quota": -1}), pool({"default_quota": "x"}),
        pool({"default_quota": U64}), pool({"default_quota": 2**40}),
        pool({"shared": "x"}), pool({"is_default": "x"}),
        pool({"address_scope_id": "x"}),
        Bad("tags-item-int", "PUT", f"{N}/$net/tags", 400, BR, json={"tags": [1]}),
        Bad("tags-comma", "PUT", f"{N}/$net/tags", 400, BR, json={"tags": ["a,b"]}),
        Bad("tags-empty-string", "PUT", f"{N}/$net/tags", 400, BR, json={"tags": [""]}),
        Bad("tags-too-many", "PUT", f"{N}/$net/tags", 400, "TagLimitExceeded",
            json={"tags": [f"t{i}" for i in range(51)]}),
        Bad("tag-comma", "PUT", f"{N}/$net/tags/a%2Cb", 400, BR),
        Bad("tag-too-long", "PUT", f"{N}/$net/tags/{'t' * 256}", 400, BR),
        Bad("quota-string", "PUT", "/v2.0/quotas/p-x", 400, BR,
            json={"quota": {"network": "many"}}),
        Bad("quota-too-small", "PUT", "/v2.0/quotas/p-x", 400, BR,
            json={"quota": {"network": -2}}),
        Bad("quota-float", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": 1.5}}),
        Bad("quota-bool", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": True}}),
        Bad("quota-u64", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": U64}}),
        Bad("quota-2**40", "PUT", "/v2.0/quotas/p-x", 400, BR,
            json={"quota": {"port": 2**40}}),
        Bad("quota-unknown-resource", "PUT", "/v2.0/quotas/p-x", 400, BR,
            json={"quota": {"bogus": 1}}),
        put(f"{N}/$net", {"network": {"mtu": U64}}),
        put(f"{N}/$net", {"network": {"mtu": 100000}}, type="InvalidInput"),
        put(f"{N}/$net", {"network": {"admin_state_up": "x"}}),
        put(f"{S}/$subnet", {"subnet": {"gateway_ip": "x"}}),
        put(f"{S}/$subnet", {"subnet": {"dns_nameservers": ["x"]}}),
        put(f"{P}/$port", {"port": {"fixed_ips": [{"subnet_id": 5}]}}),
        put(f"{SP}/$pool", {"subnetpool": {"default_quota": U64}}),
        put(f"{SP}/$pool", {"subnetpool": {"max_prefixlen": 40}}, type="InvalidInput"),
    ],
    # -- attributes that do not exist -------------------------------------------------------
    "unknown": [
        net({"bogus": 1}), net({"Name": "x"}), net({"router_external": True}),
        subnet({"router:external": True}), subnet({"allocation_pool": []}),
        port({"binding:bogus": 1}), port({"fixed_ip": []}), pool({"prefix": "x"}),
        put(f"{N}/$net", {"network": {"foo": 1}}),
        put(f"{S}/$subnet", {"subnet": {"bogus": None}}),
        put(f"{P}/$port", {"port": {"x": "y"}}),
        put(f"{SP}/$pool", {"subnetpool": {"cidr": "10.0.0.0/8"}}),
    ],
    # -- CIDRs --------------------------------------------------------------------------------
    "cidr": [
        subnet({"cidr": "10.20.0.0/33"}), subnet({"cidr": "10.20.0.5/24"}),
        subnet({"cidr": "garbage"}), subnet({"cidr": "10.20.0.0"}),
        subnet({"cidr": "300.0.0.0/8"}), subnet({"cidr": "10.20.0.0/-1"}),
        subnet({"cidr": "10.20.0.0/24/1"}), subnet({"cidr": 10}), subnet({"cidr": None}),
        subnet({"cidr": ""}), subnet({"ip_version": 6, "cidr": "fd00::/129"}),
        subnet({"ip_version": 6, "cidr": "fd00::1/64"}),
        subnet({"cidr": "0.0.0.0/0"}, type="InvalidInput"),
        subnet({"ip_version": 6, "cidr": "10.20.0.0/24"}, type="InvalidInput"),
        subnet({"cidr": "fd00:20::/64"}, type="InvalidInput"),
        subnet({"cidr": "10.10.0.0/25"}, type="InvalidInput"),  # overlaps $subnet
        subnet({"cidr": "10.0.0.0/8"}, type="InvalidInput"),  # contains $subnet
        subnet({"cidr": "10.20.0.0/24", "cidr ": "x"}),
        subnet({"cidr": "10.20.0.0/24", "gateway_ip": "::1"}, type="InvalidInput"),
        subnet({"cidr": "10.20.0.0/24", "gateway_ip": "10.20.0.0"}, type="InvalidInput"),
        subnet({"cidr": "10.20.0.0/24", "gateway_ip": "10.20.0.255"}, type="InvalidInput"),
        subnet({"cidr": "10.201.0.0/24", "subnetpool_id": "$pool"}, 409,
               "SubnetAllocationError"),  # not inside the pool's prefixes
        subnet({"cidr": "10.200.0.0/24", "subnetpool_id": "$pool"}, 409,
               "SubnetAllocationError"),  # taken by pool-net's subnet
        subnet({"cidr": DROP, "subnetpool_id": "$pool", "prefixlen": 16}, 409,
               "SubnetAllocationError"),  # shorter than min_prefixlen
        subnet({"cidr": DROP, "subnetpool_id": "$pool", "prefixlen": 30}, 409,
               "SubnetAllocationError"),  # longer than max_prefixlen
        subnet({"ip_version": 6, "cidr": DROP, "subnetpool_id": "$pool"}, type="InvalidInput"),
        subnet({"cidr": DROP}, type="BadRequest"),
        pool({"prefixes": ["10.0.0.0/33"]}), pool({"prefixes": ["10.250.0.1/16"]}),
        pool({"prefixes": ["garbage"]}), pool({"prefixes": ["10.250.0.0"]}),
        put(f"{SP}/$pool", {"subnetpool": {"prefixes": ["10.200.0.0/24"]}},
            type="InvalidInput"),  # drops part of the old prefix
        put(f"{SP}/$pool", {"subnetpool": {"prefixes": ["fd00::/48"]}}, type="InvalidInput"),
        put(f"{SP}/$pool", {"subnetpool": {"prefixes": ["x"]}}),
        put(f"{S}/$subnet", {"subnet": {"cidr": "10.10.0.0/16"}}),
    ],
    # -- allocation pools -----------------------------------------------------------------------
    "pools": [
        subnet({"allocation_pools": [{"start": "10.20.0.10", "end": "10.20.0.20"},
                                     {"start": "10.20.0.15", "end": "10.20.0.30"}]},
               409, "OverlappingAllocationPools"),
        subnet({"allocation_pools": [{"start": "10.20.0.10", "end": "10.20.0.20"},
                                     {"start": "10.20.0.20", "end": "10.20.0.20"}]},
               409, "OverlappingAllocationPools"),
        subnet({"allocation_pools": [{"start": "10.20.0.10", "end": "10.20.0.30"},
                                     {"start": "10.20.0.11", "end": "10.20.0.12"}]},
               409, "OverlappingAllocationPools"),
        subnet({"allocation_pools": [{"start": "10.20.0.30", "end": "10.20.0.10"}]},
               type="InvalidAllocationPool"),
        subnet({"allocation_pools": [{"start": "10.20.0.10", "end": "10.20.1.10"}]},
               type="OutOfBoundsAllocationPool"),
        subnet({"allocation_pools": [{"start": "10.20.0.0", "end": "10.20.0.10"}]},
               type="OutOfBoundsAllocationPool"),
        subnet({"allocation_pools": [{"start": "10.20.0.200", "end": "10.20.0.255"}]},
               type="OutOfBoundsAllocationPool"),
        subnet({"allocation_pools": [{"start": "fd00::10", "end": "fd00::20"}]},
               type="InvalidAllocationPool"),
        subnet({"allocation_pools": [{"start": "10.20.0.1", "end": "10.20.0.20"}]},
               409, "GatewayConflictWithAllocationPools"),
        subnet({"gateway_ip": "10.20.0.15",
                "allocation_pools": [{"start": "10.20.0.10", "end": "10.20.0.20"}]},
               409, "GatewayConflictWithAllocationPools"),
        put(f"{S}/$subnet", {"subnet": {"allocation_pools": [
            {"start": "10.10.0.10", "end": "10.10.0.100"},
            {"start": "10.10.0.50", "end": "10.10.0.150"}]}}, 409, "OverlappingAllocationPools"),
        put(f"{S}/$subnet", {"subnet": {"allocation_pools": [
            {"start": "10.10.0.100", "end": "10.10.0.10"}]}}, type="InvalidAllocationPool"),
        put(f"{S}/$subnet", {"subnet": {"allocation_pools": [
            {"start": "10.10.0.10", "end": "10.10.1.10"}]}}, type="OutOfBoundsAllocationPool"),
        put(f"{S}/$subnet", {"subnet": {"gateway_ip": "10.10.0.50"}}, 409,
            "GatewayConflictWithAllocationPools"),
        put(f"{S}/$subnet", {"subnet": {"allocation_pools": [{"start": "10.10.0.1",
                                                              "end": "10.10.0.9"}]}},
            409, "GatewayConflictWithAllocationPools"),
    ],
    # -- MAC and IP addresses ----------------------------------------------------------------
    "addresses": [
        port({"mac_address": "zz"}), port({"mac_address": "fa:16:3e:00:00"}),
        port({"mac_address": "fa:16:3e:00:00:00:01"}), port({"mac_address": "fa:16:3e:0:0:1"}),
        port({"mac_address": "01:00:5e:00:00:01"}), port({"mac_address": "00:00:00:00:00:00"}),
        port({"mac_address": "ff:ff:ff:ff:ff:ff"}), port({"mac_address": 1}),
        port({"mac_address": None}), port({"mac_address": "fa:16:3e:10:10:2g"}),
        port({"mac_address": "fa:16:3e:10:10:20"}, 409, "MacAddressInUse"),
        port({"mac_address": "FA:16:3E:10:10:20"}, 409, "MacAddressInUse"),
        port({"mac_address": "fa-16-3e-10-10-20"}, 409, "MacAddressInUse"),
        port({"fixed_ips": [{"ip_address": "10.10.0.999"}]}),
        port({"fixed_ips": [{"ip_address": "10.10.0"}]}),
        port({"fixed_ips": [{"ip_address": 167772180}]}),
        port({"fixed_ips": [{"ip_address": "10.10.0.20/24"}]}),
        port({"fixed_ips": [{"ip_address": "10.10.0.20"}]}, 409, "IpAddressInUse"),
        port({"fixed_ips": [{"subnet_id": "$subnet", "ip_address": "10.10.0.20"}]}, 409,
             "IpAddressInUse"),
        port({"fixed_ips": [{"ip_address": "10.10.0.1"}]}, 409, "IpAddressInUse"),  # gateway
        port({"fixed_ips": [{"ip_address": "10.10.0.30"}, {"ip_address": "10.10.0.30"}]},
             409, "IpAddressInUse"),
        port({"fixed_ips": [{"ip_address": "192.168.1.1"}]}, type="InvalidIpForNetwork"),
        port({"fixed_ips": [{"subnet_id": "$subnet", "ip_address": "10.11.0.5"}]},
             type="InvalidIpForSubnet"),
        port({"fixed_ips": [{"subnet_id": "$subnet", "ip_address": "fd00:10::5"}]},
             type="InvalidIpForSubnet"),
        port({"fixed_ips": [{"subnet_id": "$subnet", "ip_address": "10.10.0.0"}]},
             type="InvalidIpForSubnet"),
        port({"fixed_ips": [{"subnet_id": "$subnet", "ip_address": "10.10.0.255"}]},
             type="InvalidIpForSubnet"),
        port({"fixed_ips": [{"subnet_id": MISSING}]}, type="InvalidInput"),
        port({"fixed_ips": [{"subnet_id": "$subnet6"}, {"subnet_id": MISSING}]},
             type="InvalidInput"),
        port({"fixed_ips": [{}]}, type="InvalidInput"),
        port({"network_id": "$vlan_net", "fixed_ips": [{"subnet_id": "$subnet"}]},
             type="InvalidInput"),  # the subnet is on another network
        port({"allowed_address_pairs": [{"ip_address": "10.1.1.1"}],
              "port_security_enabled": False}, 409, "AddressPairAndPortSecurityRequired"),
        port({"security_groups": [MISSING], "port_security_enabled": False}, type=(
            "PortSecurityAndIPRequiredForSecurityGroups")),
        put(f"{P}/$port", {"port": {"mac_address": "zz"}}),
        put(f"{P}/$port", {"port": {"mac_address": "01:00:00:00:00:01"}}),
        put(f"{P}/$router_port", {"port": {"mac_address": "fa:16:3e:10:10:20"}}, 409,
            "MacAddressInUse"),
        put(f"{P}/$router_port", {"port": {"fixed_ips": [{"ip_address": "10.10.0.20"}]}}, 409,
            "IpAddressInUse"),
        put(f"{P}/$port", {"port": {"fixed_ips": [{"ip_address": "10.10.0.x"}]}}),
        put(f"{P}/$port", {"port": {"fixed_ips": [{"ip_address": "172.16.0.1"}]}},
            type="InvalidIpForNetwork"),
        put(f"{P}/$port", {"port": {"fixed_ips": [{"subnet_id": MISSING}]}},
            type="InvalidInput"),
        put(f"{P}/$port", {"port": {"port_security_enabled": False,
                                    "allowed_address_pairs": [{"ip_address": "10.1.1.1"}]}},
            409, "AddressPairAndPortSecurityRequired"),
        put(f"{S}/$subnet", {"subnet": {"gateway_ip": "10.10.0.20"}}, 409, "IpAddressInUse"),
        put(f"{S}/$subnet", {"subnet": {"gateway_ip": "fd00::1"}}, type="InvalidInput"),
        put(f"{S}/$subnet", {"subnet": {"host_routes": [
            {"destination": "10.9.0.0/24", "nexthop": "fd00::1"}]}}, type="InvalidInput"),
    ],
    # -- unicode and odd characters -------------------------------------------------------------
    "unicode": [
        net({"name": "ネットワーク" * 43}),  # 258 characters (fewer than 255 *bytes* is no excuse)
        net({"name": "\U0001f600" * 256}),
        net({"description": "\u00e9" * 256}),
        net({"tags": ["\u6807\u7b7e,x"]}),
        net({"\u540d\u524d": "x"}),
        net({"name": "n\u0000ul"}),  # NUL: no database stores it in text
        net({"tags": ["t\u0000"]}),
        port({"mac_address": "fa:16:3e:10:10:2\u0661"}),  # an Arabic-Indic digit one
        port({"fixed_ips": [{"ip_address": "10.10.0.\u0662"}]}),
        subnet({"cidr": "10.20.0.0/2\u0664"}),
        put(f"{N}/$net", {"network": {"name": "\U0001f600" * 256}}),
        put(f"{N}/$net", {"network": {"description": "x\u0000"}}),
        Bad("tags-nul", "PUT", f"{N}/$net/tags", 400, BR, json={"tags": ["a\u0000"]}),
        Bad("tag-nul", "PUT", f"{N}/$net/tags/a%00", 400, BR),
        Bad("nul-quota", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": "\u0000"}}),
        Bad("digits-quota", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": "\u00b2"}}),
        Bad("dashes-quota", "PUT", "/v2.0/quotas/p-x", 400, BR, json={"quota": {"port": "--5"}}),
        get("/v2.0/network-ip-availabilities?ip_version=\u00b2"),
        Bad("latin1-body", "POST", N, 400, MRB,
            raw='{"network": {"name": "caf\u00e9"}}'.encode("latin-1")),
        Bad("utf16-body", "POST", N, 400, MRB,
            raw='{"network": {"name": "x"}}'.encode("utf-16")),
        get(f"{N}?\u540d\u524d=x"), get(f"{N}?sort_key=\u540d\u524d"),
        get(f"{N}?sort_key=name&sort_dir=\u4e0a"),
        get(f"{N}/\u540d\u524d", 404, "NetworkNotFound"),
        get(f"{N}/%00"), get(f"{N}?name=%00"), get(f"{P}?fixed_ips=ip_address%3D%00"),
        get(f"{N}?marker=\u540d\u524d", 404, "NotFound"),
        get(f"{N}?marker=%00&limit=1"), delete(f"{N}/$net/tags/%00", 400, BR),
        get("/v2.0/quotas/p%00"), get("/v2.0/network-ip-availabilities?network_name=%00"),
    ],
    # -- list parameters --------------------------------------------------------------------------
    "query": [
        get(f"{N}?limit=-1"), get(f"{N}?limit=-99999999999999999999999"),
        get(f"{N}?limit=abc"), get(f"{N}?limit=1.5"), get(f"{N}?limit="),
        get(f"{N}?limit=0x10"), get(f"{P}?limit=-5"),
        get(f"{N}?sort_key=bogus"), get(f"{N}?sort_key=tags"), get(f"{N}?sort_key=subnets"),
        get(f"{S}?sort_key=allocation_pools"), get(f"{N}?sort_key="),
        get(f"{N}?sort_key=name&sort_dir=up"), get(f"{N}?sort_key=name&sort_dir=ASC"),
        get(f"{N}?sort_key=name&sort_dir=asc&sort_dir=desc"), get(f"{N}?sort_dir=asc"),
        get(f"{N}?sort_key=name&sort_key=id&sort_dir=asc"),
        get(f"{N}?bogus=1"), get(f"{N}?subnets=x"), get(f"{N}?availability_zones=x"),
        get(f"{S}?allocation_pools=x"), get(f"{S}?dns_nameservers=8.8.8.8"),
        get(f"{P}?binding:profile=x"), get(f"{P}?allowed_address_pairs=x"),
        get(f"{SP}?prefixes=10.0.0.0/8"),
        get(f"{N}?mtu=abc"), get(f"{N}?mtu=1.5"), get(f"{N}?shared=maybe"),
        get(f"{N}?admin_state_up=2"), get(f"{N}?revision_number=x"),
        get(f"{N}?revision_number=99999999999999999999999"),
        get(f"{N}?mtu={U64}"), get(f"{N}?provider:segmentation_id=x"),
        get(f"{N}?provider:segmentation_id={U64}"), get(f"{S}?ip_version=x"),
        get(f"{S}?ip_version={2**63}"), get(f"{SP}?default_prefixlen={2**70}"),
        get(f"{N}?page_reverse=x"), get(f"{N}?page_reverse=2"),
        get(f"{P}?fixed_ips=bogus"), get(f"{P}?fixed_ips=mac_address%3Dx"),
        get(f"{N}?marker=nope", 404, "NotFound"),
        get(f"{N}?marker=nope&limit=1", 404, "NotFound"),
        get(f"{N}?marker=$subnet&limit=1", 404, "NotFound"),  # a subnet's id
        get(f"{N}?marker={MISSING}&limit=1&page_reverse=true", 404, "NotFound"),
        get(f"{P}?marker=$net&limit=1", 404, "NotFound"),
        get(f"{SP}?marker=$port", 404, "NotFound"),
        get("/v2.0/network-ip-availabilities?bogus=1"),
        get("/v2.0/network-ip-availabilities?ip_version=x"),
        get(f"/v2.0/network-ip-availabilities?ip_version={2**70}"),
        get(f"/v2.0/network-ip-availabilities?ip_version={U64}"),
    ],
    # -- If-Match (revision-if-match) -----------------------------------------------------------
    "if-match": [
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=999"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=1"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=-1"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": '"revision_number=5"'}),
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "*, revision_number=5"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": f"revision_number={U64}"}),
        put(f"{S}/$subnet", {"subnet": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=7"}),
        put(f"{P}/$port", {"port": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=7"}),
        put(f"{SP}/$pool", {"subnetpool": {"name": "renamed"}}, 412,
            "RevisionNumberConstraintFailed", headers={"If-Match": "revision_number=7"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number=abc"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number="}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number=--1"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number=\u00b2"}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number=" + "9" * 5000}),
        put(f"{N}/$net", {"network": {"name": "renamed"}},
            headers={"If-Match": "revision_number=0, revision_number=0"}),
        delete(f"{N}/$vlan_net", 412, "RevisionNumberConstraintFailed",
               headers={"If-Match": "revision_number=999"}),
        delete(f"{P}/$port", 412, "RevisionNumberConstraintFailed",
               headers={"If-Match": "revision_number=999"}),
        delete(f"{SP}/$pool", 412, "RevisionNumberConstraintFailed",
               headers={"If-Match": "revision_number=999"}),
        delete(f"{P}/$port", 400, BR, headers={"If-Match": "revision_number=x"}),
    ],
    # -- read-only (or create-only) attributes in PUT ----------------------------------------
    "read-only": [
        *[put(f"{N}/$net", {"network": {a: v}}) for a, v in (
            ("id", MISSING), ("status", "DOWN"), ("project_id", "p-x"), ("tenant_id", "p-x"),
            ("created_at", "2020-01-01T00:00:00Z"), ("updated_at", "2020-01-01T00:00:00Z"),
            ("revision_number", 9), ("subnets", []), ("tags", ["x"]),
            ("provider:network_type", "vxlan"), ("provider:segmentation_id", 77),
            ("provider:physical_network", None), ("segments", []),
            ("availability_zone_hints", ["az"]), ("availability_zones", []),
            ("ipv4_address_scope", None))],
        *[put(f"{S}/$subnet", {"subnet": {a: v}}) for a, v in (
            ("cidr", "10.10.0.0/24"), ("ip_version", 4), ("network_id", "$net"),
            ("subnetpool_id", "$pool"), ("prefixlen", 24),
            ("use_default_subnetpool", False),
            ("service_types", []), ("id", MISSING))],
        *[put(f"{P}/$port", {"port": {a: v}}) for a, v in (
            ("network_id", "$net"), ("status", "ACTIVE"), ("binding:vif_type", "ovs"),
            ("binding:vif_details", {}), ("dns_assignment", []), ("project_id", OWNER),
            ("id", MISSING))],
        *[put(f"{SP}/$pool", {"subnetpool": {a: v}}) for a, v in (
            ("ip_version", 4), ("shared", True), ("id", MISSING), ("tenant_id", OWNER))],
        put(f"{N}/$net", {"network": {"name": "ok", "status": "DOWN"}}),  # all or nothing
    ],
    # -- project_id / tenant_id -------------------------------------------------------------------
    "project": [
        net({"project_id": "p-a", "tenant_id": "p-b"}),
        net({"project_id": "p-a", "tenant_id": "p-b"}, persona="owner"),
        net({"project_id": OTHER}, persona="owner"),
        net({"tenant_id": OTHER}, persona="owner"),
        net({"project_id": 5}), net({"project_id": "p" * 256}), net({"tenant_id": ["x"]}),
        subnet({"project_id": OTHER}, persona="owner"),
        port({"tenant_id": OTHER}, persona="owner"),
        pool({"project_id": OTHER, "tenant_id": OWNER}),
    ],
    # -- objects that do not exist (or may not be seen) ------------------------------------------
    "not-found": [
        get(f"{N}/{MISSING}", 404, "NetworkNotFound"),
        get(f"{S}/{MISSING}", 404, "SubnetNotFound"),
        get(f"{P}/{MISSING}", 404, "PortNotFound"),
        get(f"{SP}/{MISSING}", 404, "SubnetPoolNotFound"),
        get(f"{N}/$subnet", 404, "NetworkNotFound"),
        put(f"{N}/{MISSING}", {"network": {"name": "x"}}, 404, "NetworkNotFound"),
        put(f"{S}/{MISSING}", {"subnet": {"name": "x"}}, 404, "SubnetNotFound"),
        put(f"{P}/{MISSING}", {"port": {"name": "x"}}, 404, "PortNotFound"),
        put(f"{SP}/{MISSING}", {"subnetpool": {"name": "x"}}, 404, "SubnetPoolNotFound"),
        delete(f"{N}/{MISSING}", 404, "NetworkNotFound"),
        delete(f"{S}/{MISSING}", 404, "SubnetNotFound"),
        delete(f"{P}/{MISSING}", 404, "PortNotFound"),
        delete(f"{SP}/{MISSING}", 404, "SubnetPoolNotFound"),
        delete(f"{N}/not%20an%20id", 404, "NetworkNotFound"),
        subnet({"network_id": MISSING}, 404, "NetworkNotFound"),
        subnet({"cidr": DROP, "subnetpool_id": MISSING}, 404, "SubnetPoolNotFound"),
        port({"network_id": MISSING}, 404, "NetworkNotFound"),
        get(f"{N}/$net", 404, "NetworkNotFound", persona="other"),
        put(f"{N}/$net", {"network": {"name": "x"}}, 404, "NetworkNotFound", persona="other"),
        delete(f"{N}/$net", 404, "NetworkNotFound", persona="other"),
        get(f"{S}/$subnet", 404, "SubnetNotFound", persona="other"),
        delete(f"{S}/$subnet", 404, "SubnetNotFound", persona="other"),
        put(f"{P}/$port", {"port": {"name": "x"}}, 404, "PortNotFound", persona="other"),
        delete(f"{SP}/$pool", 404, "SubnetPoolNotFound", persona="other"),
        subnet({"project_id": DROP}, 404, "NetworkNotFound", persona="other"),
        port({}, 404, "NetworkNotFound", persona="other"),
        get(f"{N}/{MISSING}/tags", 404, "NetworkNotFound"),
        put(f"{P}/{MISSING}/tags", {"tags": ["a"]}, 404, "PortNotFound"),
        Bad("tag-on-missing", "PUT", f"{S}/{MISSING}/tags/a", 404, "SubnetNotFound"),
        delete(f"{SP}/{MISSING}/tags", 404, "SubnetPoolNotFound"),
        delete(f"{N}/$net/tags/red", 404, "TagNotFound"),
        get(f"{N}/$net/tags/red", 404, "TagNotFound"),
        delete(f"{N}/$net/tags/blue", 404, "NetworkNotFound", persona="other"),
        get("/v2.0/bogus", 404, "HTTPNotFound"), get("/v2.0/networks/x/y/z", 404, "HTTPNotFound"),
        get("/v3/networks", 404, "HTTPNotFound"),
        get("/v2.0/extensions/bogus", 404, "ExtensionNotFound"),
        get(f"/v2.0/network-ip-availabilities/{MISSING}", 404, "NetworkNotFound"),
    ],
    # -- conflicts with the state ------------------------------------------------------------
    "conflict": [
        delete(f"{N}/$net", 409, "NetworkInUse"),
        delete(f"{S}/$subnet", 409, "SubnetInUse"),
        delete(f"{SP}/$pool", 409, "SubnetPoolInUse"),
        delete(f"{P}/$router_port", 409, "L3PortInUse"),
        net({"provider:network_type": "vlan", "provider:physical_network": "physnet",
             "provider:segmentation_id": 150}, 409, "VlanIdInUse"),
        net({"provider:network_type": "flat", "provider:physical_network": "physnet"}, 409,
            "FlatNetworkInUse"),
        net({"provider:network_type": "vxlan", "provider:segmentation_id": "$vni"}, 409,
            "TunnelIdInUse"),
        net({"segments": [{"provider:network_type": "vxlan", "provider:segmentation_id": 902},
                          {"provider:network_type": "vlan",
                           "provider:physical_network": "physnet",
                           "provider:segmentation_id": 150}]}, 409, "VlanIdInUse"),
        net({"name": "over"}, 409, "OverQuota", persona="quota0"),
    ],
    # -- not allowed by policy ----------------------------------------------------------------------
    "policy": [
        net({"name": "r"}, 403, "PolicyNotAuthorized", persona="reader"),
        put(f"{N}/$net", {"network": {"name": "r"}}, 403, "PolicyNotAuthorized",
            persona="reader"),
        delete(f"{P}/$port", 403, "PolicyNotAuthorized", persona="reader"),
        net({"shared": True}, 403, "PolicyNotAuthorized", persona="owner"),
        net({"router:external": True}, 403, "PolicyNotAuthorized", persona="owner"),
        net({"provider:network_type": "vxlan"}, 403, "PolicyNotAuthorized", persona="owner"),
        put(f"{N}/$net", {"network": {"shared": True}}, 403, "PolicyNotAuthorized",
            persona="owner"),
        port({"binding:host_id": "h1"}, 403, "PolicyNotAuthorized", persona="owner"),
        pool({"shared": True}, 403, "PolicyNotAuthorized", persona="owner"),
        Bad("quota-by-member", "PUT", f"/v2.0/quotas/{OWNER}", 403, "PolicyNotAuthorized",
            json={"quota": {"network": 100}}, persona="owner"),
        delete(f"/v2.0/quotas/{QUOTA0}", 403, "PolicyNotAuthorized", persona="quota0"),
        get(f"/v2.0/quotas/{OWNER}", 403, "PolicyNotAuthorized", persona="other"),
        get("/v2.0/network-ip-availabilities", 403, "PolicyNotAuthorized", persona="owner"),
    ],
    # -- methods --------------------------------------------------------------------------------
    "method": [
        Bad("patch-network", "PATCH", f"{N}/$net", 405, "HTTPMethodNotAllowed",
            json={"network": {"name": "x"}}),
        Bad("post-to-member", "POST", f"{N}/$net", 405, "HTTPMethodNotAllowed",
            json={"network": {"name": "x"}}),
        Bad("delete-collection", "DELETE", N, 405, "HTTPMethodNotAllowed"),
        Bad("put-collection", "PUT", P, 405, "HTTPMethodNotAllowed",
            json={"port": {"name": "x"}}),
        Bad("post-tags", "POST", f"{N}/$net/tags", 405, "HTTPMethodNotAllowed",
            json={"tags": ["x"]}),
    ],
    # -- bulk creates: a later item fails, so no item is created ------------------------------
    "bulk": [
        post("networks", {"networks": [{"name": "bulk-ok"}, {"name": 1}]},
             case_id="bulk-network-bad-type", absent=("bulk-ok",)),
        post("networks", {"networks": [{"name": "bulk-ok"}, {"bogus": 1}]},
             case_id="bulk-network-unknown-attr", absent=("bulk-ok",)),
        post("networks", {"networks": [
            {"name": "bulk-ok", "provider:network_type": "vlan",
             "provider:physical_network": "physnet", "provider:segmentation_id": 160},
            {"name": "bulk-dup", "provider:network_type": "vlan",
             "provider:physical_network": "physnet", "provider:segmentation_id": 160}]},
             409, "VlanIdInUse", case_id="bulk-network-same-vlan",
             absent=("bulk-ok", "bulk-dup")),
        post("networks", {"networks": [
            {"name": "bulk-ok", "mtu": 1400}, {"name": "bulk-big", "mtu": 9000}]},
             type="InvalidInput", case_id="bulk-network-mtu", absent=("bulk-ok",)),
        post("networks", {"networks": [{"name": "bulk-ok"}, {"name": "bulk-over"}]},
             409, "OverQuota", persona="quota1", case_id="bulk-network-over-quota",
             absent=("bulk-ok", "bulk-over")),
        post("subnets", {"subnets": [
            {"name": "bulk-ok", "network_id": "$net", "ip_version": 4, "cidr": "10.30.0.0/24"},
            {"name": "bulk-overlap", "network_id": "$net", "ip_version": 4,
             "cidr": "10.30.0.128/25"}]}, type="InvalidInput",
             case_id="bulk-subnet-overlap", absent=("bulk-ok",)),
        post("subnets", {"subnets": [
            {"name": "bulk-ok", "network_id": "$net", "ip_version": 4, "cidr": "10.30.0.0/24"},
            {"name": "bulk-pools", "network_id": "$net", "ip_version": 4,
             "cidr": "10.31.0.0/24", "allocation_pools": [
                 {"start": "10.31.0.10", "end": "10.31.0.20"},
                 {"start": "10.31.0.20", "end": "10.31.0.30"}]}]},
             409, "OverlappingAllocationPools", case_id="bulk-subnet-pools",
             absent=("bulk-ok", "bulk-pools")),
        post("subnets", {"subnets": [
            {"name": "bulk-ok", "network_id": "$net", "ip_version": 4, "cidr": "10.30.0.0/24"},
            {"name": "bulk-nonet", "network_id": MISSING, "ip_version": 4,
             "cidr": "10.31.0.0/24"}]}, 404, "NetworkNotFound",
             case_id="bulk-subnet-missing-network", absent=("bulk-ok",)),
        post("ports", {"ports": [
            {"name": "bulk-ok", "network_id": "$net", "mac_address": "fa:16:3e:aa:aa:aa"},
            {"name": "bulk-mac", "network_id": "$net", "mac_address": "fa:16:3e:aa:aa:aa"}]},
             409, "MacAddressInUse", case_id="bulk-port-same-mac",
             absent=("bulk-ok", "bulk-mac")),
        post("ports", {"ports": [
            {"name": "bulk-ok", "network_id": "$net",
             "fixed_ips": [{"ip_address": "10.10.0.99"}]},
            {"name": "bulk-ip", "network_id": "$net",
             "fixed_ips": [{"ip_address": "10.10.0.99"}]}]},
             409, "IpAddressInUse", case_id="bulk-port-same-ip", absent=("bulk-ok", "bulk-ip")),
        post("ports", {"ports": [
            {"name": "bulk-ok", "network_id": "$net"},
            {"name": "bulk-nonet", "network_id": MISSING}]}, 404, "NetworkNotFound",
             case_id="bulk-port-missing-network", absent=("bulk-ok",)),
        post("ports", {"ports": [
            {"name": "bulk-ok", "network_id": "$net"},
            {"name": "bulk-badmac", "network_id": "$net", "mac_address": "zz"}]},
             case_id="bulk-port-bad-mac", absent=("bulk-ok",)),
        post("subnetpools", {"subnetpools": [
            {"name": "bulk-ok", "prefixes": ["10.252.0.0/16"]},
            {"name": "bulk-mixed", "prefixes": ["10.253.0.0/16", "fd00:99::/48"]}]},
             type="InvalidInput", case_id="bulk-pool-mixed", absent=("bulk-ok",)),
        post("subnetpools", {"subnetpools": [
            {"name": "bulk-ok", "prefixes": ["10.252.0.0/16"], "is_default": True},
            {"name": "bulk-default", "prefixes": ["10.253.0.0/16"], "is_default": True}]},
             type="InvalidInput", case_id="bulk-pool-two-defaults",
             absent=("bulk-ok", "bulk-default")),
    ],
}


def _case_ids() -> list[Bad]:
    out, seen = [], set()
    for group, cases in CASES.items():
        for case in cases:
            base = case.id or _auto_id(case)
            name, n = f"{group}:{base}", 2
            while name in seen:
                name, n = f"{group}:{base}#{n}", n + 1
            seen.add(name)
            case.id = name
            out.append(case)
    return out


def _auto_id(case: Bad) -> str:
    """A readable id: method, path, the attributes that make the case, persona, headers."""
    text = f"{case.method} {case.path.removeprefix('/v2.0/')}"
    if isinstance(case.json, dict) and len(case.json) == 1:
        (member, attrs), = case.json.items()
        if isinstance(attrs, dict):
            defaults = DEFAULTS.get(member, {}) if case.method == "POST" else {}
            dropped = "".join(f" -{k}" for k in defaults if k not in attrs)
            attrs = {k: v for k, v in attrs.items() if defaults.get(k, DROP) != v}
            text += dropped + " " + json.dumps(attrs, separators=(",", ":"))
    if case.headers:
        text += " " + json.dumps(case.headers, separators=(",", ":"))
    if len(text) > 90:
        text = text[:87] + "..."
    return text + ("" if case.persona == "admin" else f" as {case.persona}")


ALL_CASES = _case_ids()


# -- the test ------------------------------------------------------------------------------------


def send(world: World, case: Bad) -> httpx.Response:
    client = world.client(case.persona)
    headers: dict[str, Any] = {k: v.encode() for k, v in case.headers.items()}  # UTF-8 too
    chunked = headers.pop("x-test-chunked", None)
    path = fill(case.path, world.ids)
    content: Any = None
    if case.raw is not None:
        content = fill(case.raw.decode("latin-1"), world.ids).encode("latin-1")
    elif case.json is not None or case.method in ("POST", "PUT"):
        content = json.dumps(fill(case.json, world.ids)).encode()
    if content is not None:
        headers.setdefault("Content-Type", "application/json")
        if chunked:
            content = _chunks(content)
    return client.request(case.method, path, content=content, headers=headers)


def assert_neutron_error(response: httpx.Response, status: int, type_: str, world: World) -> None:
    context = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.status_code < 500, f"{context}: server error\n{world.server.log_tail(60)}"
    assert response.headers.get("content-type", "").startswith("application/json"), context
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{context}: body is not JSON: {response.text[:300]!r}")
    assert isinstance(body, dict) and set(body) == {"NeutronError"}, f"{context}: {body}"
    error = body["NeutronError"]
    assert isinstance(error, dict) and set(error) == {"type", "message", "detail"}, error
    assert all(isinstance(error[k], str) for k in error), error
    assert error["message"], f"{context}: empty message"
    assert (response.status_code, error["type"]) == (status, type_), (
        f"{context}: expected {status} {type_}, got {response.status_code} {error['type']}: "
        f"{error['message']}")


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_request_is_refused_and_changes_nothing(world: World, case: Bad) -> None:
    before = world.reference if world.reference is not None else world.snapshot()
    world.reference = None
    response = send(world, case)
    after = world.reference = world.snapshot()
    assert_neutron_error(response, case.status, case.type, world)
    for collection in before:
        assert after[collection] == before[collection], (
            f"{case.id}: {collection} changed by a refused request")
    if case.absent:
        for collection in ("networks", "subnets", "ports", "subnetpools"):
            names = {item["name"] for item in after[collection]}
            assert not names & set(case.absent), f"{case.id}: {collection} {names & set(case.absent)}"


def test_world_is_intact(world: World) -> None:
    """The fixture's objects are what the cases assume (guards against a silent bad setup)."""
    admin = world.client("admin")
    port_view = admin.get(f"/v2.0/ports/{world.ids['port']}").json()["port"]
    assert port_view["mac_address"] == "fa:16:3e:10:10:20"
    assert port_view["fixed_ips"] == [{"subnet_id": world.ids["subnet"],
                                       "ip_address": "10.10.0.20"}]
    network = admin.get(f"/v2.0/networks/{world.ids['net']}").json()["network"]
    assert network["tags"] == ["blue"] and network["project_id"] == OWNER


def test_huge_ipv6_subnet_availability_is_reported(world: World) -> None:
    """A /48 has 2**80 addresses: more than a 64-bit JSON encoder can write."""
    admin = world.client("admin")
    world.reference = None
    scratch = _ok(admin.post(N, json={"network": {"name": "scratch-v6"}}))["network"]
    try:
        _ok(admin.post(S, json={"subnet": {"network_id": scratch["id"], "ip_version": 6,
                                           "cidr": "fd00:48::/48"}}))
        r = admin.get(f"/v2.0/network-ip-availabilities/{scratch['id']}")
        assert r.status_code == 200, (r.status_code, r.text, world.server.log_tail(40))
        assert r.json()["network_ip_availability"]["total_ips"] > 2**64
        r = admin.get("/v2.0/network-ip-availabilities", params={"ip_version": 6})
        assert r.status_code == 200, (r.status_code, r.text)
    finally:
        assert admin.delete(f"{N}/{scratch['id']}").status_code == 204


# Odd but valid input: accepted (2xx), never a 5xx. Run on a throwaway network ($net here),
# since these do change state: (method, path, body, status[, headers]).
ODD_BUT_VALID: list[tuple] = [
    ("GET", f"{N}?limit=99999999999999999999999", None, 200),
    ("GET", f"{N}?limit={U64}&marker=$net", None, 200),
    ("GET", f"{N}?limit=0", None, 200),
    ("GET", f"{N}?limit=\u0661", None, 200),  # an Arabic-Indic one is still a number
    ("GET", f"{N}?fields=bogus", None, 200),
    ("GET", f"{N}?name=%2500", None, 200),
    ("GET", f"{N}?name=\u540d\u524d", None, 200),
    ("GET", f"{N}?created_at=garbage", None, 200),
    ("GET", f"{N}?revision_number=-5", None, 200),
    ("GET", f"{N}?id={MISSING}&id=$net", None, 200),
    ("GET", f"{P}?fixed_ips=ip_address%3D10.10.0.20", None, 200),
    ("GET", f"{P}?fixed_ips=ip_address_substr%3D%25", None, 200),
    ("GET", f"{N}?tags=a,,b&not-tags-any=", None, 200),
    ("GET", f"{N}/$net?fields=id&fields=bogus", None, 200),
    ("PUT", f"{N}/$net", {"network": {}}, 200),
    ("PUT", f"{N}/$net", {"network": {"name": "etag"}}, 200, {"If-Match": "*"}),
    ("PUT", f"{N}/$net", {"network": {"name": "etag"}}, 200, {"If-Match": '"opaque"'}),
    ("PUT", f"{N}/$net", {"network": {"name": "etag"}}, 200, {"If-Match": "revision_number=0"}),
    ("PUT", f"{N}/$net", {"network": {"name": "\U0001f600" * 255}}, 200),
    ("PUT", f"{N}/$net", {"network": {"description": "caf\u00e9 \u540d\u524d"}}, 200),
    ("PUT", f"{N}/$net/tags", {"tags": ["\u6807\u7b7e", "\U0001f600"]}, 200),
    ("PUT", f"{N}/$net/tags/%E2%9C%93", None, 201),
    ("POST", N, {"network": {"name": "\u540d\u524d", "mtu": "1400"}}, 201),
    ("POST", N, {"network": {"name": "exact", "project_id": OWNER, "tenant_id": OWNER}}, 201),
    ("PUT", "/v2.0/quotas/p-odd", {"quota": {"port": "7", "network": -1}}, 200),
]


@pytest.mark.parametrize("spec", ODD_BUT_VALID, ids=[f"{s[0]}-{s[1]}" for s in ODD_BUT_VALID])
def test_odd_but_valid_input_is_accepted(world: World, spec: tuple) -> None:
    method, path, body, status, *rest = spec
    headers = {"Content-Type": "application/json", **(rest[0] if rest else {})}
    admin = world.client("admin")
    world.reference = None  # this test changes the world, if only for a while
    scratch = _ok(admin.post(N, json={"network": {"name": "scratch"}}))["network"]
    ids = {**world.ids, "net": scratch["id"]}
    try:
        content = None if body is None else json.dumps(fill(body, ids)).encode()
        response = admin.request(method, fill(path, ids), content=content, headers=headers)
        assert response.status_code == status, (response.status_code, response.text[:300],
                                                world.server.log_tail(40))
        if status == 201 and method == "POST":
            created = response.json()["network"]["id"]
            assert admin.delete(f"{N}/{created}").status_code == 204
    finally:
        assert admin.delete(f"{N}/{scratch['id']}").status_code == 204
        admin.delete("/v2.0/quotas/p-odd")
