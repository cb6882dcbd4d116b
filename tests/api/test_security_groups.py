"""Security groups and rules through HTTP and the real `openstack` CLI, as Neutron does them.

- every project gets one ``default`` group (egress anywhere, ingress from its own members,
  IPv4 and IPv6) on its first request that needs it: listing groups or rules, creating a
  group, creating a port; never two, even under concurrent first requests;
- the default group cannot be deleted by its project nor renamed; "default" is no name for
  another group;
- rules: protocols by name or number, port ranges, ICMP type/code, prefixes (normalised),
  remote groups; duplicates are 409 naming the existing rule; inconsistent rules are 400
  with Neutron's error types and messages;
- project scoping (another project's group is 404), groups in use by ports (409), ports
  getting the default group, quotas.

One server serves the HTTP and openstacksdk tests (each test uses fresh project ids); the
CLI test has its own, because an admin sees every project's "default" and the CLI finds
groups by name. Two tests run two servers on one PostgreSQL: racing first requests make one
default group, and a group deleted while ports are being bound to it leaves no port behind.
"""

from __future__ import annotations

import threading
import uuid

import httpx
import openstack
import pytest

from tests.fixtures.server import FermionServer, OpenStackCLIError, module_server

SG = "/v2.0/security-groups"
RULES = "/v2.0/security-group-rules"
MISSING = "00000000-0000-4000-8000-000000000000"


srv, _server_log_on_failure = module_server("fermion-sg")


def new_project() -> str:
    return uuid.uuid4().hex


def member(srv: FermionServer, project: str | None = None) -> httpx.Client:
    return srv.client(project_id=project or new_project(), roles="member")


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if status != 204 else {}


def error(response: httpx.Response, status: int, type_: str, message: str | None = None) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"NeutronError"}, body
    assert set(body["NeutronError"]) == {"type", "message", "detail"}, body
    assert body["NeutronError"]["type"] == type_, body
    if message is not None:
        assert body["NeutronError"]["message"] == message, body
    return body["NeutronError"]["message"]


def groups(c: httpx.Client, **params) -> list[dict]:
    return ok(c.get(SG, params=params))["security_groups"]


def default_group(c: httpx.Client) -> dict:
    found = [g for g in groups(c, name="default")]
    assert len(found) == 1, found
    return found[0]


def new_group(c: httpx.Client, name: str = "web", **attrs) -> dict:
    return ok(c.post(SG, json={"security_group": {"name": name, **attrs}}), 201)[
        "security_group"]


def add_rule(c: httpx.Client, group_id: str, status: int = 201, **attrs) -> httpx.Response:
    r = c.post(RULES, json={"security_group_rule": {"security_group_id": group_id,
                                                    "direction": "ingress", **attrs}})
    if status == 201:
        ok(r, 201)
    return r


def network(c: httpx.Client, cidr: str = "10.0.0.0/24") -> dict:
    net = ok(c.post("/v2.0/networks", json={"network": {"name": "sg-net"}}), 201)["network"]
    ok(c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                "cidr": cidr}}), 201)
    return net


def port(c: httpx.Client, network_id: str, status: int = 201, **attrs) -> httpx.Response:
    r = c.post("/v2.0/ports", json={"port": {"network_id": network_id, **attrs}})
    if status == 201:
        ok(r, 201)
    return r


def shape(rule: dict) -> tuple:
    return (rule["direction"], rule["ethertype"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"], rule["remote_group_id"])


# -- the default group -----------------------------------------------------------------------


def test_default_group_made_on_first_list_with_neutrons_rules(srv):
    project = new_project()
    c = member(srv, project)
    listed = groups(c)
    assert [g["name"] for g in listed] == ["default"]
    group = listed[0]
    assert group["description"] == "Default security group"
    assert group["project_id"] == group["tenant_id"] == project
    assert group["stateful"] is True and group["shared"] is False
    assert group["revision_number"] == 0 and group["tags"] == []
    rules = group["security_group_rules"]
    assert [shape(r) for r in rules] == [
        ("egress", "IPv4", None, None, None, None, None),
        ("egress", "IPv6", None, None, None, None, None),
        ("ingress", "IPv4", None, None, None, None, group["id"]),
        ("ingress", "IPv6", None, None, None, None, group["id"]),
    ]
    for rule in rules:
        assert rule["security_group_id"] == group["id"]
        assert rule["project_id"] == project
        assert rule["belongs_to_default_sg"] is True
        assert rule["normalized_cidr"] is None
    # The same group every time after; the rules list shows the same four rules.
    assert [g["id"] for g in groups(c)] == [group["id"]]
    listed_rules = ok(c.get(RULES))["security_group_rules"]
    assert sorted(r["id"] for r in listed_rules) == sorted(r["id"] for r in rules)
    assert ok(c.get(f"{SG}/{group['id']}"))["security_group"] == group


def test_default_group_made_on_first_rule_list_and_for_admin_by_project(srv):
    c = member(srv)
    rules = ok(c.get(RULES))["security_group_rules"]
    assert len(rules) == 4
    # An admin listing one project's groups makes that project's default.
    other = new_project()
    admin = srv.client()
    listed = groups(admin, project_id=other)
    assert [(g["name"], g["project_id"]) for g in listed] == [("default", other)]
    # A member asking for another project's groups makes nothing and sees nothing.
    third = new_project()
    assert groups(c, project_id=third) == []
    assert groups(admin, project_id=third, name="default") != []  # made by the admin's list


def race_first_requests(servers: list[FermionServer], project: str, network_id: str,
                        count: int) -> None:
    """``count`` first requests of a new project at once, spread over the servers:
    listing rules, creating a port (on a shared network) and creating a group."""
    barrier = threading.Barrier(count)
    results: list[httpx.Response] = []

    def first_request(i: int) -> None:
        with servers[i % len(servers)].client(project_id=project, roles="member") as c:
            barrier.wait()
            if i % 3 == 0:
                results.append(c.get(RULES))
            elif i % 3 == 1:
                results.append(c.post("/v2.0/ports", json={"port": {"network_id": network_id}}))
            else:
                results.append(c.post(SG, json={"security_group": {"name": f"g{i}"}}))

    threads = [threading.Thread(target=first_request, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == count
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    c = member(servers[-1], project)
    default = default_group(c)
    assert len(default["security_group_rules"]) == 4
    ports = ok(c.get("/v2.0/ports"))["ports"]
    assert len(ports) == count // 3
    assert all(p["security_groups"] == [default["id"]] for p in ports)
    assert len(groups(c)) == 1 + count // 3  # the default and the project's own


def shared_network(srv: FermionServer, cidr: str) -> dict:
    net = network(srv.client(), cidr)
    ok(srv.client().put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": True}}))
    return net


def test_only_one_default_group_under_concurrent_first_requests(srv):
    net = shared_network(srv, "10.77.0.0/24")
    for _ in range(2):
        race_first_requests([srv], new_project(), net["id"], 9)


def test_one_default_group_across_two_servers_on_postgres(fermion_server, postgres_url):
    """Two servers, one PostgreSQL: the loser of the race retries and finds the winner's."""
    servers = [fermion_server(db_url=postgres_url), fermion_server(db_url=postgres_url)]
    net = shared_network(servers[0], "10.78.0.0/24")
    for _ in range(3):
        race_first_requests(servers, new_project(), net["id"], 12)


def test_no_port_bound_to_a_deleted_group_on_postgres(fermion_server, postgres_url):
    """An admin deletes a project's default group while its ports are being created on
    another server: each port ends up in a group that exists (the old default, which then
    was in use and stayed, or a new one)."""
    servers = [fermion_server(db_url=postgres_url), fermion_server(db_url=postgres_url)]
    net = shared_network(servers[0], "10.79.0.0/24")
    for _ in range(4):
        project = new_project()
        c = member(servers[1], project)
        old = default_group(c)
        barrier = threading.Barrier(5)
        deleted: list[int] = []

        def delete_default(old_id: str = old["id"], barrier=barrier, deleted=deleted) -> None:
            with servers[0].client() as admin:
                barrier.wait()
                deleted.append(admin.delete(f"{SG}/{old_id}").status_code)

        def create_port(project: str = project, barrier=barrier) -> None:
            with servers[1].client(project_id=project, roles="member") as mine:
                barrier.wait()
                ok(mine.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)

        threads = [threading.Thread(target=delete_default)] + [
            threading.Thread(target=create_port) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert deleted in ([204], [409])
        existing = {g["id"] for g in groups(c)}
        ports = ok(c.get("/v2.0/ports"))["ports"]
        assert len(ports) == 4
        for p in ports:
            assert len(p["security_groups"]) == 1 and p["security_groups"][0] in existing, (
                p["security_groups"], existing, deleted)
        assert len(existing) == 1


def test_default_group_made_by_group_create(srv):
    c = member(srv)
    web = new_group(c, "web", description="front end")
    # A new group starts with egress to anywhere, IPv4 and IPv6.
    assert [shape(r) for r in web["security_group_rules"]] == [
        ("egress", "IPv4", None, None, None, None, None),
        ("egress", "IPv6", None, None, None, None, None)]
    assert all(r["belongs_to_default_sg"] is False for r in web["security_group_rules"])
    assert web["description"] == "front end" and web["stateful"] is True
    assert sorted(g["name"] for g in groups(c)) == ["default", "web"]


def test_default_group_cannot_be_removed_or_renamed(srv):
    c = member(srv)
    default = default_group(c)
    path = f"{SG}/{default['id']}"
    error(c.delete(path), 409, "SecurityGroupCannotRemoveDefault",
          "Insufficient rights for removing default security group.")
    error(c.put(path, json={"security_group": {"name": "renamed"}}), 409,
          "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
    updated = ok(c.put(path, json={"security_group": {"description": "mine"}}))
    assert updated["security_group"]["description"] == "mine"
    assert updated["security_group"]["revision_number"] == 1
    # "default" (in any case) is taken: neither a new group nor a renamed one may use it.
    for name in ("default", "Default", "DEFAULT"):
        error(c.post(SG, json={"security_group": {"name": name}}), 409,
              "SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
    web = new_group(c)
    error(c.put(f"{SG}/{web['id']}", json={"security_group": {"name": "default"}}), 409,
          "SecurityGroupDefaultAlreadyExists")
    assert default_group(c)["id"] == default["id"]
    # An admin may delete it; the project's next request makes a new one.
    ok(srv.client().delete(path), 204)
    error(c.get(path), 404, "SecurityGroupNotFound",
          f"Security group {default['id']} does not exist")
    assert default_group(c)["id"] != default["id"]


# -- rules -----------------------------------------------------------------------------------


def test_rule_create_variants(srv):
    c = member(srv)
    web = new_group(c)
    other = new_group(c, "db")

    def create(**attrs) -> dict:
        return ok(add_rule(c, web["id"], **attrs), 201)["security_group_rule"]

    ssh = create(protocol="tcp", port_range_min=22, port_range_max=22,
                 remote_ip_prefix="0.0.0.0/0", description="ssh")
    assert shape(ssh) == ("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", None)
    assert ssh["normalized_cidr"] == "0.0.0.0/0" and ssh["description"] == "ssh"
    assert ssh["belongs_to_default_sg"] is False
    # Protocol names in any case, numbers as numbers or strings; ports as strings too.
    assert shape(create(protocol="UDP", port_range_min="5000", port_range_max="5010")) == (
        "ingress", "IPv4", "udp", 5000, 5010, None, None)
    assert create(protocol=132)["protocol"] == "132"
    assert create(protocol="47")["protocol"] == "47"
    # ICMP type and code; IPv6 ICMP by any of its names becomes ipv6-icmp.
    assert shape(create(protocol="icmp", port_range_min=8, port_range_max=0)) == (
        "ingress", "IPv4", "icmp", 8, 0, None, None)
    assert shape(create(ethertype="ipv6", protocol="icmp", port_range_min=128)) == (
        "ingress", "IPv6", "ipv6-icmp", 128, None, None, None)
    assert create(ethertype="IPv6", protocol="icmpv6", port_range_min=135)["protocol"] == (
        "ipv6-icmp")
    # "any" is no protocol; the whole port range is no range.
    assert create(protocol="any", remote_ip_prefix="192.0.2.0/24")["protocol"] is None
    whole = create(protocol="tcp", port_range_min=1, port_range_max=65535)
    assert (whole["port_range_min"], whole["port_range_max"]) == (None, None)
    # Prefixes get a length; host bits stay, normalized_cidr shows the network.
    host = create(protocol="tcp", port_range_min=80, port_range_max=80,
                  remote_ip_prefix="198.51.100.7")
    assert (host["remote_ip_prefix"], host["normalized_cidr"]) == ("198.51.100.7/32",
                                                                   "198.51.100.7/32")
    loose = create(protocol="tcp", port_range_min=443, port_range_max=443,
                   remote_ip_prefix="10.0.0.5/24")
    assert (loose["remote_ip_prefix"], loose["normalized_cidr"]) == ("10.0.0.5/24",
                                                                     "10.0.0.0/24")
    six = create(ethertype="IPv6", protocol="tcp", port_range_min=22, port_range_max=22,
                 remote_ip_prefix="2001:DB8::/32")
    assert six["remote_ip_prefix"] == "2001:db8::/32"
    # Another group as the remote side; egress rules.
    remote = create(protocol="tcp", port_range_min=5432, port_range_max=5432,
                    remote_group_id=other["id"])
    assert remote["remote_group_id"] == other["id"] and remote["remote_ip_prefix"] is None
    assert create(direction="egress", protocol="udp", port_range_min=53,
                  port_range_max=53)["direction"] == "egress"
    # Every rule shows in its group, and each one was a change of the group.
    shown = ok(c.get(f"{SG}/{web['id']}"))["security_group"]
    assert len(shown["security_group_rules"]) == 2 + 14
    assert shown["revision_number"] == 14
    assert ok(c.get(f"{RULES}/{ssh['id']}"))["security_group_rule"] == ssh
    # Filters on rule attributes.
    listed = ok(c.get(RULES, params={"security_group_id": web["id"], "protocol": "tcp",
                                     "direction": "ingress"}))["security_group_rules"]
    assert len(listed) == 6
    assert {r["id"] for r in ok(c.get(RULES, params={"remote_group_id": other["id"]}))[
        "security_group_rules"]} == {remote["id"]}
    mine = ok(c.get(RULES, params={"belongs_to_default_sg": "true"}))["security_group_rules"]
    assert {r["security_group_id"] for r in mine} == {default_group(c)["id"]}


def test_duplicate_rules_are_409_with_the_existing_rule(srv):
    c = member(srv)
    group = default_group(c)
    ssh = ok(add_rule(c, group["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                      remote_ip_prefix="0.0.0.0/0"), 201)["security_group_rule"]
    message = f"Security group rule already exists. Rule id is {ssh['id']}."
    for same in ({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
                 {"protocol": "6", "port_range_min": "22", "port_range_max": 22},
                 {"protocol": "TCP", "port_range_min": 22, "port_range_max": 22,
                  "ethertype": "ipv4"}):
        error(add_rule(c, group["id"], 409, **same), 409, "SecurityGroupRuleExists", message)
    # The default egress rule, written with or without "anywhere".
    egress = [r for r in group["security_group_rules"]
              if (r["direction"], r["ethertype"]) == ("egress", "IPv4")][0]
    for attrs in ({}, {"remote_ip_prefix": "0.0.0.0/0"}, {"protocol": "any"}):
        error(add_rule(c, group["id"], 409, direction="egress", **attrs), 409,
              "SecurityGroupRuleExists",
              f"Security group rule already exists. Rule id is {egress['id']}.")
    # A different port, prefix or direction is another rule.
    add_rule(c, group["id"], protocol="tcp", port_range_min=22, port_range_max=23)
    add_rule(c, group["id"], protocol="tcp", port_range_min=22, port_range_max=22,
             remote_ip_prefix="10.0.0.0/8")
    add_rule(c, group["id"], protocol="tcp", port_range_min=22, port_range_max=22,
             direction="egress")


MSG_PROTOCOLS = ("(None, 'any', 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', "
                 "'ip', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', "
                 "'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', "
                 "'udplite', 'vrrp')")


@pytest.mark.parametrize("attrs,type_,message", [
    ({"protocol": "foo"}, "SecurityGroupRuleInvalidProtocol",
     f"Security group rule protocol foo not supported. Only protocol values {MSG_PROTOCOLS} "
     "and integer representations [0 to 255] are supported."),
    ({"protocol": 256}, "SecurityGroupRuleInvalidProtocol", None),
    ({"protocol": True}, "SecurityGroupRuleInvalidProtocol", None),
    ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType",
     "Security group rule for ethertype 'IPv5' not supported. Allowed values are "
     "['IPv4', 'IPv6']."),
    ({"protocol": "tcp", "port_range_min": 70000}, "SecurityGroupInvalidPortValue",
     "Invalid value for port 70000"),
    ({"protocol": "tcp", "port_range_min": "x"}, "SecurityGroupInvalidPortValue",
     "Invalid value for port x"),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 3},
     "SecurityGroupInvalidPortValue", "Invalid value for port 0"),
    ({"protocol": "tcp", "port_range_min": 80, "port_range_max": 79},
     "SecurityGroupInvalidPortRange",
     "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
    ({"protocol": "tcp", "port_range_min": 80}, "SecurityGroupInvalidPortRange", None),
    ({"port_range_min": 80, "port_range_max": 80}, "SecurityGroupProtocolRequiredWithPorts",
     "Must also specify protocol if port range is given."),
    ({"protocol": "gre", "port_range_min": 1, "port_range_max": 1},
     "SecurityGroupInvalidProtocolForPort",
     "Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, "
     "TCP, UDP, UDPLITE."),
    ({"protocol": "icmp", "port_range_max": 3}, "SecurityGroupMissingIcmpType",
     "ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing."),
    ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue",
     "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."),
    ({"protocol": "icmpv6"}, "SecurityGroupEthertypeConflictWithProtocol",
     "Invalid ethertype IPv4 for protocol icmpv6."),
    ({"remote_ip_prefix": "fd00::/64"}, "SecurityGroupRuleParameterConflict",
     "Conflicting value ethertype IPv4 for CIDR fd00::/64"),
    ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.1"},
     "SecurityGroupRuleParameterConflict", "Conflicting value ethertype IPv6 for CIDR "
     "10.0.0.1/32"),
    ({"remote_ip_prefix": "10.0.0.0/33"}, "InvalidCIDR",
     "Invalid CIDR 10.0.0.0/33 given as IP prefix."),
    ({"remote_ip_prefix": "10.0.0.1", "remote_group_id": "$group"},
     "SecurityGroupMultipleRemoteEntites",
     "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
     "provided."),
    ({"direction": "up"}, "HTTPBadRequest", None),
    ({"direction": None}, "HTTPBadRequest", None),
    ({"security_group_rules": []}, "HTTPBadRequest",
     "Unrecognized attribute(s) 'security_group_rules'"),
    ({"normalized_cidr": "10.0.0.0/8"}, "HTTPBadRequest",
     "Attribute 'normalized_cidr' not allowed in POST"),
])
def test_rule_validation_errors(srv, attrs, type_, message):
    c = member(srv)
    group = default_group(c)
    attrs = {k: group["id"] if v == "$group" else v for k, v in attrs.items()}
    error(add_rule(c, group["id"], 400, **attrs), 400, type_, message)
    assert len(ok(c.get(f"{SG}/{group['id']}"))["security_group"][
        "security_group_rules"]) == 4


def test_rule_needs_direction_and_a_group(srv):
    c = member(srv)
    group = default_group(c)
    error(c.post(RULES, json={"security_group_rule": {"security_group_id": group["id"]}}),
          400, "HTTPBadRequest",
          "Failed to parse request. Required attribute 'direction' not specified")
    error(add_rule(c, MISSING, 404), 404, "SecurityGroupNotFound",
          f"Security group {MISSING} does not exist")
    error(add_rule(c, "nope", 404), 404, "SecurityGroupNotFound",
          "Security group nope does not exist")
    error(add_rule(c, group["id"], 404, remote_group_id=MISSING), 404,
          "SecurityGroupNotFound")
    error(c.get(f"{RULES}/{MISSING}"), 404, "SecurityGroupRuleNotFound",
          f"Security group rule {MISSING} does not exist")
    error(c.delete(f"{RULES}/{MISSING}"), 404, "SecurityGroupRuleNotFound")


def test_rule_delete_and_update(srv):
    c = member(srv)
    group = new_group(c)
    rule = ok(add_rule(c, group["id"], protocol="tcp", port_range_min=80,
                       port_range_max=80), 201)["security_group_rule"]
    updated = ok(c.put(f"{RULES}/{rule['id']}",
                       json={"security_group_rule": {"description": "http"}}))
    assert updated["security_group_rule"]["description"] == "http"
    error(c.put(f"{RULES}/{rule['id']}", json={"security_group_rule": {"protocol": "udp"}}),
          400, "HTTPBadRequest", "Cannot update read-only attribute protocol")
    ok(c.delete(f"{RULES}/{rule['id']}"), 204)
    error(c.get(f"{RULES}/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    shown = ok(c.get(f"{SG}/{group['id']}"))["security_group"]
    assert rule["id"] not in {r["id"] for r in shown["security_group_rules"]}
    assert shown["revision_number"] == 2  # the rule came and went
    # The rule can be made again.
    add_rule(c, group["id"], protocol="tcp", port_range_min=80, port_range_max=80)


# -- scoping and policy ----------------------------------------------------------------------


def test_another_projects_groups_and_rules_are_not_found(srv):
    a, b = member(srv), member(srv)
    group = new_group(a, "a-web")
    rule = ok(add_rule(a, group["id"], protocol="tcp", port_range_min=22,
                       port_range_max=22), 201)["security_group_rule"]
    b_default = default_group(b)
    assert group["id"] not in {g["id"] for g in groups(b)}
    assert groups(b, id=group["id"]) == []
    assert rule["id"] not in {r["id"] for r in ok(b.get(RULES))["security_group_rules"]}
    path = f"{SG}/{group['id']}"
    error(b.get(path), 404, "SecurityGroupNotFound")
    error(b.put(path, json={"security_group": {"name": "mine"}}), 404, "SecurityGroupNotFound")
    error(b.delete(path), 404, "SecurityGroupNotFound")
    error(b.get(f"{RULES}/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    error(b.delete(f"{RULES}/{rule['id']}"), 404, "SecurityGroupRuleNotFound")
    error(add_rule(b, group["id"], 404), 404, "SecurityGroupNotFound")
    error(add_rule(b, b_default["id"], 404, remote_group_id=group["id"]), 404,
          "SecurityGroupNotFound")
    # Nor can B's ports use it.
    net = network(b, "10.5.0.0/24")
    error(port(b, net["id"], 404, security_groups=[group["id"]]), 404, "SecurityGroupNotFound",
          f"Security group {group['id']} does not exist")
    # The admin sees both projects' groups; a reader reads but does not write.
    seen = {g["id"] for g in groups(srv.client())}
    assert {group["id"], b_default["id"]} <= seen
    reader = srv.client(project_id=group["project_id"], roles="reader")
    assert ok(reader.get(path))["security_group"]["id"] == group["id"]
    error(reader.post(SG, json={"security_group": {"name": "r"}}), 403, "PolicyNotAuthorized")
    error(add_rule(reader, group["id"], 403), 403, "PolicyNotAuthorized")
    error(reader.delete(f"{RULES}/{rule['id']}"), 403, "PolicyNotAuthorized")
    error(reader.delete(path), 403, "PolicyNotAuthorized")


def test_admin_rule_in_a_projects_group(srv):
    c = member(srv)
    group = new_group(c)
    admin = srv.client()
    rule = ok(add_rule(admin, group["id"], protocol="tcp", port_range_min=25,
                       port_range_max=25), 201)["security_group_rule"]
    # The group's owner sees the admin's rule in its group and may remove it.
    assert ok(c.get(f"{RULES}/{rule['id']}"))["security_group_rule"]["id"] == rule["id"]
    ok(c.delete(f"{RULES}/{rule['id']}"), 204)


# -- groups and ports ------------------------------------------------------------------------


def test_ports_get_the_default_group_unless_told_otherwise(srv):
    project = new_project()
    c = member(srv, project)
    net = network(c)  # no security group request yet: the port is the first
    first = ok(port(c, net["id"]), 201)["port"]
    default = default_group(c)
    assert first["security_groups"] == [default["id"]] and first["port_security_enabled"]
    web = new_group(c)
    assert ok(port(c, net["id"], security_groups=[web["id"]]), 201)["port"][
        "security_groups"] == [web["id"]]
    both = ok(port(c, net["id"], security_groups=[web["id"], default["id"]]), 201)["port"]
    assert sorted(both["security_groups"]) == sorted([web["id"], default["id"]])
    assert ok(port(c, net["id"], security_groups=[]), 201)["port"]["security_groups"] == []
    insecure = ok(port(c, net["id"], port_security_enabled=False), 201)["port"]
    assert insecure["security_groups"] == [] and insecure["port_security_enabled"] is False
    error(port(c, net["id"], 400, port_security_enabled=False, security_groups=[web["id"]]),
          400, "PortSecurityAndIPRequiredForSecurityGroups")
    error(port(c, net["id"], 404, security_groups=[MISSING, web["id"]]), 404,
          "SecurityGroupNotFound", f"Security group {MISSING} does not exist")
    # network:* ports (DHCP, routers) have no port security and no groups.
    dhcp = ok(port(srv.client(), net["id"], device_owner="network:dhcp"), 201)["port"]
    assert dhcp["security_groups"] == [] and dhcp["port_security_enabled"] is False
    # Stateful and stateless groups do not mix on one port.
    stateless = new_group(c, "stateless", stateful=False)
    assert stateless["stateful"] is False
    error(port(c, net["id"], 409, security_groups=[web["id"], stateless["id"]]), 409,
          "SecurityGroupConflict", "Error Cannot apply both stateful and stateless security "
          "groups on the same port at the same time while attempting the operation.")
    # The port list filter by group.
    found = ok(c.get("/v2.0/ports", params={"security_groups": web["id"]}))["ports"]
    assert len(found) == 2


def test_port_update_groups(srv):
    c = member(srv)
    net = network(c)
    p = ok(port(c, net["id"]), 201)["port"]
    default = default_group(c)
    web = new_group(c)
    path = f"/v2.0/ports/{p['id']}"

    def set_port(status: int = 200, **attrs) -> httpx.Response:
        r = c.put(path, json={"port": attrs})
        if status == 200:
            ok(r)
        return r

    assert ok(set_port(security_groups=[web["id"], default["id"]]))["port"][
        "security_groups"] == sorted([web["id"], default["id"]])
    error(set_port(404, security_groups=[MISSING]), 404, "SecurityGroupNotFound")
    error(set_port(409, port_security_enabled=False), 409, "PortSecurityPortHasSecurityGroup",
          "Port has security group associated. Cannot disable port security or IP address "
          "until security group is removed.")
    off = ok(set_port(port_security_enabled=False, security_groups=[]))["port"]
    assert off["security_groups"] == [] and off["port_security_enabled"] is False
    error(set_port(400, security_groups=[web["id"]]), 400,
          "PortSecurityAndIPRequiredForSecurityGroups")
    on = ok(set_port(port_security_enabled=True, security_groups=[web["id"]]))["port"]
    assert on["security_groups"] == [web["id"]]


def test_group_in_use_cannot_be_deleted(srv):
    c = member(srv)
    net = network(c)
    web, db = new_group(c, "web"), new_group(c, "db")
    # db lets web in: deleting web removes that rule too (and db's revision moves on).
    into_db = ok(add_rule(c, db["id"], protocol="tcp", port_range_min=5432, port_range_max=5432,
                          remote_group_id=web["id"]), 201)["security_group_rule"]
    p = ok(port(c, net["id"], security_groups=[web["id"]]), 201)["port"]
    error(c.delete(f"{SG}/{web['id']}"), 409, "SecurityGroupInUse",
          f"Security Group {web['id']} in use.")
    ok(c.put(f"/v2.0/ports/{p['id']}", json={"port": {"security_groups": []}}))
    before = ok(c.get(f"{SG}/{db['id']}"))["security_group"]["revision_number"]
    ok(c.delete(f"{SG}/{web['id']}"), 204)
    error(c.get(f"{SG}/{web['id']}"), 404, "SecurityGroupNotFound")
    assert ok(c.get(RULES, params={"security_group_id": web["id"]}))[
        "security_group_rules"] == []
    error(c.get(f"{RULES}/{into_db['id']}"), 404, "SecurityGroupRuleNotFound")
    after = ok(c.get(f"{SG}/{db['id']}"))["security_group"]
    assert after["revision_number"] == before + 1
    assert into_db["id"] not in {r["id"] for r in after["security_group_rules"]}


def test_stateful_cannot_change_while_in_use(srv):
    c = member(srv)
    net = network(c)
    web = new_group(c)
    path = f"{SG}/{web['id']}"
    assert ok(c.put(path, json={"security_group": {"stateful": False}}))["security_group"][
        "stateful"] is False
    p = ok(port(c, net["id"], security_groups=[web["id"]]), 201)["port"]
    error(c.put(path, json={"security_group": {"stateful": True}}), 409, "SecurityGroupInUse")
    ok(c.put(path, json={"security_group": {"stateful": False, "name": "still"}}))
    assert [g["id"] for g in groups(c, stateful="false")] == [web["id"]]
    assert groups(c, shared="true") == []
    ok(c.delete(f"/v2.0/ports/{p['id']}"), 204)
    assert ok(c.put(path, json={"security_group": {"stateful": True}}))["security_group"][
        "stateful"] is True


def test_quotas(srv):
    project = new_project()
    admin = srv.client()
    ok(admin.put(f"/v2.0/quotas/{project}", json={"quota": {
        "security_group": 2, "security_group_rule": 7}}))
    c = member(srv, project)
    web = new_group(c)  # the default (4 rules) and this one (2 rules)
    error(c.post(SG, json={"security_group": {"name": "third"}}), 409, "OverQuota",
          "Quota exceeded for resources: ['security_group'].")
    add_rule(c, web["id"], protocol="tcp", port_range_min=80, port_range_max=80)
    error(add_rule(c, web["id"], 409, protocol="tcp", port_range_min=81, port_range_max=81),
          409, "OverQuota", "Quota exceeded for resources: ['security_group_rule'].")
    details = ok(admin.get(f"/v2.0/quotas/{project}/details"))["quota"]
    assert details["security_group"] == {"limit": 2, "used": 2, "reserved": 0}
    assert details["security_group_rule"] == {"limit": 7, "used": 7, "reserved": 0}


def test_extensions_and_resources(srv):
    c = member(srv)
    aliases = {e["alias"] for e in ok(c.get("/v2.0/extensions"))["extensions"]}
    assert {"security-group", "stateful-security-group", "port-security",
            "security-groups-normalized-cidr", "security-groups-rules-belongs-to-default-sg",
            "port-security-groups-filtering"} <= aliases
    resources = {r["collection"] for r in ok(c.get("/v2.0"))["resources"]}
    assert {"security_groups", "security_group_rules"} <= resources
    paths = ok(c.get("/openapi.json"))["paths"]
    assert {"/v2.0/security-groups", "/v2.0/security-groups/{id}",
            "/v2.0/security-group-rules", "/v2.0/security-group-rules/{id}"} <= set(paths)


# -- openstacksdk, as Ansible's security_group / security_group_rule modules use it ----------


def test_openstacksdk(srv):
    project = new_project()
    conn = openstack.connect(auth_type="none", auth={"endpoint": srv.url})
    try:
        net = conn.network
        group = net.create_security_group(name="sdk-web", description="d", project_id=project)
        default = net.find_security_group("default", project_id=project, ignore_missing=False)
        assert default.project_id == project and len(default.security_group_rules) == 4
        rule = net.create_security_group_rule(
            security_group_id=group.id, direction="ingress", ether_type="IPv4",
            protocol="tcp", port_range_min=443, port_range_max=443,
            remote_ip_prefix="0.0.0.0/0")
        assert (rule.protocol, rule.port_range_min, rule.ether_type) == ("tcp", 443, "IPv4")
        found = list(net.security_group_rules(security_group_id=group.id, direction="ingress",
                                              ether_type="IPv4", protocol="tcp"))
        assert [r.id for r in found] == [rule.id]
        assert net.get_security_group(group.id).stateful is True
        net.update_security_group(group, description="updated")
        net.delete_security_group_rule(rule, ignore_missing=False)
        net.delete_security_group(group, ignore_missing=False)
        assert net.find_security_group(group.id) is None
    finally:
        conn.close()


# -- the real CLI ----------------------------------------------------------------------------


def test_openstack_cli(fermion_server):
    server = fermion_server()
    cli = server.openstack
    listed = cli("security", "group", "list")
    assert [g["Name"] for g in listed] == ["default"]
    default_id = listed[0]["ID"]
    # The seed's rules: SSH from anywhere, and ICMP.
    ssh = cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
              "--remote-ip", "0.0.0.0/0", "default")
    assert (ssh["protocol"], ssh["port_range_min"], ssh["port_range_max"]) == ("tcp", 22, 22)
    assert (ssh["direction"], ssh["ether_type"], ssh["remote_ip_prefix"]) == (
        "ingress", "IPv4", "0.0.0.0/0")
    assert ssh["security_group_id"] == default_id
    icmp = cli("security", "group", "rule", "create", "--protocol", "icmp", "default")
    assert icmp["protocol"] == "icmp"
    with pytest.raises(OpenStackCLIError) as info:
        cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
            "default", fmt=None)
    assert f"Rule id is {ssh['id']}" in info.value.stderr
    rules = cli("security", "group", "rule", "list", "default")
    assert {r["ID"] for r in rules} >= {ssh["id"], icmp["id"]} and len(rules) == 6
    shown = cli("security", "group", "show", "default")
    assert shown["id"] == default_id and shown["name"] == "default"
    # A group of one's own, a port, and the port's groups (the scene set over HTTP).
    web = cli("security", "group", "create", "--description", "front end", "web")
    assert web["name"] == "web" and web["stateful"] is True
    http = server.client()
    net = network(http)
    p = cli("port", "create", "--network", net["id"], "p1")
    assert p["security_group_ids"] == [default_id]

    def port_groups() -> list[str]:
        return ok(http.get(f"/v2.0/ports/{p['id']}"))["port"]["security_groups"]

    cli("port", "set", "--no-security-group", "p1", fmt=None)
    assert port_groups() == []
    cli("port", "set", "--security-group", "web", "p1", fmt=None)
    assert port_groups() == [web["id"]]
    assert [x["ID"] for x in cli("port", "list", "--security-group", web["id"])] == [p["id"]]
    with pytest.raises(OpenStackCLIError) as info:
        cli("security", "group", "delete", "web", fmt=None)
    assert "in use" in info.value.stderr
    cli("port", "set", "--no-security-group", "--disable-port-security", "p1", fmt=None)
    cli("security", "group", "delete", "web", fmt=None)
    assert [g["name"] for g in groups(http)] == ["default"]
