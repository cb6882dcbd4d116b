"""Agents, their scheduling, port status reports and host snapshots, against a real server.

Acceptance (docs/change-feed.md): state reports create agents and `openstack network agent
list` shows them; an agent that stops heartbeating is shown dead after agent_down_time
(2 s here) and its networks and routers move to a live agent; the scheduler extensions'
endpoints; port status reports flip a port's status and binding.
"""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

FAST = {("neutron.conf", "DEFAULT"): {"agent_down_time": 2}}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@pytest.fixture(params=[pytest.param("sqlite"),
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str | None:
    """Run on SQLite and on PostgreSQL (None: the server's own SQLite file)."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else None


def report(c, agent_type: str, host: str, expect: int | None = None, **extra) -> dict:
    r = c.post("/v2.0/fermion/agents/report", json={"agent": {
        "agent_type": agent_type, "host": host, **extra}})
    assert r.status_code in ((expect,) if expect else (200, 201)), r.text
    return r.json()["agent"]


def network(c, name: str, dhcp: bool | None = True, cidr: str = "10.9.0.0/24") -> dict:
    r = c.post("/v2.0/networks", json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    if dhcp is not None:
        r = c.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": cidr,
                                                     "ip_version": 4, "enable_dhcp": dhcp}})
        assert r.status_code == 201, r.text
        net["subnet"] = r.json()["subnet"]
    return net


def router(server, c, name: str) -> str:
    """A router through the API (or straight into the table while routers are not served)."""
    r = c.post("/v2.0/routers", json={"router": {"name": name}})
    if r.status_code == 201:
        return r.json()["router"]["id"]
    assert r.status_code == 404, r.text
    router_id = str(uuid.uuid4())
    engine = sa.create_engine(server.db_url or f"sqlite:///{server.workdir}/fermion.sqlite")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO routers (id, project_id, name, description, created_at, updated_at, "
            "revision_number, status, admin_state_up, enable_snat, routes, "
            "availability_zone_hints) VALUES (:id, 'p', :name, '', '2026-01-01T00:00:00Z', "
            "'2026-01-01T00:00:00Z', 0, 'ACTIVE', 1, 1, '[]', '[]')"),
            {"id": router_id, "name": name})
    engine.dispose()
    return router_id


def hosting(c, path: str) -> list[str]:
    r = c.get(path)
    assert r.status_code == 200, r.text
    return sorted(a["host"] for a in r.json()["agents"])


def wait_for(check, timeout: float = 15.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def error_type(r) -> str:
    return r.json()["NeutronError"]["type"]


# -- reports and the agent API ------------------------------------------------------------------

def test_reports_create_agents_and_cli_lists_them(fermion_server):
    server = fermion_server()
    with server.client() as c:
        ovs = report(c, "Open vSwitch agent", "compute1", 201, configurations={
            "tunneling_ip": "192.168.1.11", "tunnel_types": ["vxlan"]})
        assert ovs["binary"] == "neutron-openvswitch-agent" and ovs["topic"] == "N/A"
        assert ovs["alive"] is True and ovs["admin_state_up"] is True
        for key in ("created_at", "started_at", "heartbeat_timestamp"):
            assert TIME_RE.match(ovs[key]), ovs[key]
        assert set(ovs) == {"id", "agent_type", "binary", "topic", "host", "admin_state_up",
                            "created_at", "started_at", "heartbeat_timestamp", "alive",
                            "configurations", "availability_zone", "description",
                            "resources_synced"}
        dhcp = report(c, "DHCP agent", "network1", 201, availability_zone="nova",
                      binary="fermion-agent-dhcp")
        assert (dhcp["binary"], dhcp["topic"]) == ("fermion-agent-dhcp", "dhcp_agent")
        report(c, "L3 agent", "network1", 201)
        report(c, "Metadata agent", "network1", 201)
        r = c.post("/v2.0/fermion/agents/report", json={"agent": {
            "agent_type": "DHCP agent", "host": "network1", "start_flag": True}})
        assert r.status_code == 200 and r.json()["agent_status"] == "alive"
        assert r.json()["agent"]["id"] == dhcp["id"]

        agents = c.get("/v2.0/agents").json()["agents"]
        assert len(agents) == 4
        assert [a["host"] for a in c.get("/v2.0/agents", params={
            "agent_type": "Open vSwitch agent"}).json()["agents"]] == ["compute1"]
        assert len(c.get("/v2.0/agents", params={"host": "network1"}).json()["agents"]) == 3
        assert len(c.get("/v2.0/agents", params={"alive": "true"}).json()["agents"]) == 4
        assert c.get("/v2.0/agents", params={"alive": "false"}).json()["agents"] == []
        assert all(set(a) == {"host"} for a in c.get("/v2.0/agents", params={
            "fields": "host"}).json()["agents"])
        assert c.get("/v2.0/agents", params={"bogus": "1"}).status_code == 400
        assert c.get(f"/v2.0/agents/{ovs['id']}").json()["agent"]["configurations"][
            "tunneling_ip"] == "192.168.1.11"

        for bad in ({"agent_type": "Bogus agent", "host": "h"}, {"agent_type": "L3 agent"},
                    {"agent_type": "L3 agent", "host": "h", "configurations": []},
                    {"agent_type": "L3 agent", "host": "h", "nonsense": 1}):
            r = c.post("/v2.0/fermion/agents/report", json={"agent": bad})
            assert r.status_code == 400, (bad, r.text)

    rows = server.openstack("network", "agent", "list")
    assert sorted((row["Agent Type"], row["Host"]) for row in rows) == [
        ("DHCP agent", "network1"), ("L3 agent", "network1"), ("Metadata agent", "network1"),
        ("Open vSwitch agent", "compute1")]
    assert all(row["Alive"] in (True, ":-)") for row in rows)
    rows = server.openstack("network", "agent", "list", "--agent-type", "dhcp")
    assert [row["ID"] for row in rows] == [dhcp["id"]]
    shown = server.openstack("network", "agent", "show", ovs["id"])
    assert shown["host"] == "compute1" and shown["agent_type"] == "Open vSwitch agent"
    server.openstack("network", "agent", "set", "--disable", "--description", "drained",
                     dhcp["id"], fmt=None)
    with server.client() as c:
        view = c.get(f"/v2.0/agents/{dhcp['id']}").json()["agent"]
        assert (view["admin_state_up"], view["description"]) == (False, "drained")
        r = c.put(f"/v2.0/agents/{dhcp['id']}", json={"agent": {"host": "elsewhere"}})
        assert r.status_code == 400
    server.openstack("network", "agent", "delete", ovs["id"], fmt=None)
    with server.client() as c:
        r = c.get(f"/v2.0/agents/{ovs['id']}")
        assert r.status_code == 404 and error_type(r) == "AgentNotFound"
    with server.client(project_id="p1", roles="member") as c:
        assert c.get("/v2.0/agents").json() == {"agents": []}
        assert c.get(f"/v2.0/agents/{dhcp['id']}").status_code == 404
        assert c.put(f"/v2.0/agents/{dhcp['id']}", json={
            "agent": {"admin_state_up": True}}).status_code == 404
        assert c.delete(f"/v2.0/agents/{dhcp['id']}").status_code == 404
        r = c.post("/v2.0/fermion/agents/report", json={"agent": {
            "agent_type": "L3 agent", "host": "x"}})
        assert r.status_code == 403


# -- liveness and failover ---------------------------------------------------------------------

def test_dead_agent_shows_dead_and_its_work_moves(fermion_server, db_url):
    server = fermion_server(db_url=db_url, extra_conf=FAST)
    with server.client() as c:
        d1 = report(c, "DHCP agent", "net1")
        l1 = report(c, "L3 agent", "net1")
        net = network(c, "failover")
        router_id = router(server, c, "r1")
        assert hosting(c, f"/v2.0/networks/{net['id']}/dhcp-agents") == ["net1"]
        assert hosting(c, f"/v2.0/routers/{router_id}/l3-agents") == ["net1"]
        start = c.get("/v2.0/fermion/snapshot", params={"host": "net2"}).json()[
            "snapshot"]["revision"]

    stop = threading.Event()

    def heartbeat() -> None:  # net2's agents stay alive; net1's went silent
        with server.client() as hb:
            while not stop.is_set():
                report(hb, "DHCP agent", "net2")
                report(hb, "L3 agent", "net2")
                stop.wait(0.5)

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    try:
        with server.client() as c:
            def alive(agent_id: str) -> bool:
                return c.get(f"/v2.0/agents/{agent_id}").json()["agent"]["alive"]

            t0 = time.monotonic()
            assert wait_for(lambda: not alive(d1["id"]) and not alive(l1["id"]), 10)
            assert time.monotonic() - t0 < 4
            dead = c.get("/v2.0/agents", params={"alive": "false"}).json()["agents"]
            assert sorted(a["id"] for a in dead) == sorted([d1["id"], l1["id"]])
            assert wait_for(lambda: hosting(
                c, f"/v2.0/networks/{net['id']}/dhcp-agents") == ["net2"], 15)
            assert wait_for(lambda: hosting(
                c, f"/v2.0/routers/{router_id}/l3-agents") == ["net2"], 15)
            changes = c.get("/v2.0/fermion/changes", params={
                "since": start, "timeout": 0}).json()["changes"]
            moves = [(ch["resource"], ch["resource_id"], ch["action"]) for ch in changes
                     if ch["resource"] in ("network_dhcp_agent", "router_l3_agent")]
            assert moves == [("network_dhcp_agent", net["id"], "remove"),
                             ("network_dhcp_agent", net["id"], "add"),
                             ("router_l3_agent", router_id, "remove"),
                             ("router_l3_agent", router_id, "add")]
            snap = c.get("/v2.0/fermion/snapshot", params={"host": "net2"}).json()["snapshot"]
            assert snap["dhcp_networks"] == [net["id"]]
            assert [r["id"] for r in snap["routers"]] == [router_id]
            # the dead agent comes back: alive again, keeps nothing (already moved)
            revived = c.post("/v2.0/fermion/agents/report", json={"agent": {
                "agent_type": "DHCP agent", "host": "net1"}}).json()
            assert revived["agent_status"] == "revived" and revived["agent"]["alive"]
        rows = server.openstack("network", "agent", "list", "--network", net["id"])
        assert [row["Host"] for row in rows] == ["net2"]
    finally:
        stop.set()
        beating.join(5)


# -- scheduling -----------------------------------------------------------------------------------

def test_scheduling_endpoints(fermion_server):
    server = fermion_server()
    with server.client() as c:
        early = network(c, "before-agents", cidr="10.8.0.0/24")
        d1 = report(c, "DHCP agent", "n1")
        # the first DHCP agent takes what was waiting for one
        assert hosting(c, f"/v2.0/networks/{early['id']}/dhcp-agents") == ["n1"]
        d2 = report(c, "DHCP agent", "n2")
        ovs = report(c, "Open vSwitch agent", "n1")
        # no DHCP subnet: not scheduled; enabling DHCP schedules it, least loaded first
        net = network(c, "plain", dhcp=False)
        assert hosting(c, f"/v2.0/networks/{net['id']}/dhcp-agents") == []
        r = c.put(f"/v2.0/subnets/{net['subnet']['id']}", json={"subnet": {
            "enable_dhcp": True}})
        assert r.status_code == 200
        assert hosting(c, f"/v2.0/networks/{net['id']}/dhcp-agents") == ["n2"]
        assert hosting(c, f"/v2.0/networks/{network(c, 'bare', dhcp=None)['id']}"
                          "/dhcp-agents") == []

        base1, base2 = f"/v2.0/agents/{d1['id']}/dhcp-networks", \
            f"/v2.0/agents/{d2['id']}/dhcp-networks"
        assert [n["id"] for n in c.get(base1).json()["networks"]] == [early["id"]]
        r = c.post(base1, json={"network_id": net["id"]})
        assert r.status_code == 201 and r.json() is None
        assert hosting(c, f"/v2.0/networks/{net['id']}/dhcp-agents") == ["n1", "n2"]
        r = c.post(base1, json={"network_id": net["id"]})
        assert r.status_code == 409 and error_type(r) == "NetworkHostedByDHCPAgent"
        assert c.delete(f"{base2}/{net['id']}").status_code == 204
        r = c.delete(f"{base2}/{net['id']}")
        assert r.status_code == 409 and error_type(r) == "NetworkNotHostedByDhcpAgent"
        r = c.post(f"/v2.0/agents/{ovs['id']}/dhcp-networks", json={"network_id": net["id"]})
        assert r.status_code == 404 and error_type(r) == "InvalidDHCPAgent"
        r = c.post(f"/v2.0/agents/{uuid.uuid4()}/dhcp-networks", json={"network_id": net["id"]})
        assert r.status_code == 404 and error_type(r) == "AgentNotFound"
        r = c.post(base1, json={"network_id": str(uuid.uuid4())})
        assert r.status_code == 404 and error_type(r) == "NetworkNotFound"
        assert c.post(base1, json={}).status_code == 400
        r = c.get(f"/v2.0/networks/{uuid.uuid4()}/dhcp-agents")
        assert r.status_code == 404

        # a disabled agent gets nothing new
        assert c.put(f"/v2.0/agents/{d2['id']}", json={"agent": {
            "admin_state_up": False}}).status_code == 200
        other = network(c, "while-disabled", cidr="10.7.0.0/24")
        assert hosting(c, f"/v2.0/networks/{other['id']}/dhcp-agents") == ["n1"]
        r = c.post(base2, json={"network_id": other["id"]})
        assert r.status_code == 404 and error_type(r) == "InvalidDHCPAgent"

        # routers: created before any L3 agent, scheduled when the first one reports
        router_id = router(server, c, "r")
        assert hosting(c, f"/v2.0/routers/{router_id}/l3-agents") == []
        l1 = report(c, "L3 agent", "n1")
        assert hosting(c, f"/v2.0/routers/{router_id}/l3-agents") == ["n1"]
        l2 = report(c, "L3 agent", "n2")
        second = router(server, c, "r2")
        assert hosting(c, f"/v2.0/routers/{second}/l3-agents") == ["n2"]
        r = c.post(f"/v2.0/agents/{l2['id']}/l3-routers", json={"router_id": router_id})
        assert r.status_code == 409 and error_type(r) == "RouterHostedByL3Agent"
        assert c.delete(f"/v2.0/agents/{l1['id']}/l3-routers/{router_id}").status_code == 204
        r = c.delete(f"/v2.0/agents/{l1['id']}/l3-routers/{router_id}")
        assert r.status_code == 409 and error_type(r) == "RouterNotHostedByL3Agent"
        assert c.post(f"/v2.0/agents/{l2['id']}/l3-routers",
                      json={"router_id": router_id}).status_code == 201
        assert sorted(r["id"] for r in c.get(f"/v2.0/agents/{l2['id']}/l3-routers").json()[
            "routers"]) == sorted([router_id, second])
        r = c.post(f"/v2.0/agents/{d1['id']}/l3-routers", json={"router_id": router_id})
        assert r.status_code == 404 and error_type(r) == "InvalidL3Agent"
        r = c.post(f"/v2.0/agents/{l1['id']}/l3-routers", json={"router_id": str(uuid.uuid4())})
        assert r.status_code == 404 and error_type(r) == "RouterNotFound"
    with server.client(project_id="p1", roles="member") as c:
        r = c.get(f"/v2.0/networks/{net['id']}/dhcp-agents")
        assert r.status_code == 403
        assert c.post(base1, json={"network_id": net["id"]}).status_code == 403

    # the CLI's scheduler commands
    server.openstack("network", "agent", "remove", "network", "--dhcp", d1["id"],
                     other["id"], fmt=None)
    server.openstack("network", "agent", "add", "network", "--dhcp", d1["id"], other["id"],
                     fmt=None)
    rows = server.openstack("network", "agent", "list", "--network", other["id"])
    assert [row["ID"] for row in rows] == [d1["id"]]
    rows = server.openstack("network", "agent", "list", "--router", router_id)
    assert [row["ID"] for row in rows] == [l2["id"]]


# -- port status ------------------------------------------------------------------------------------

def test_port_status_reports(fermion_server, db_url):
    server = fermion_server(db_url=db_url)
    with server.client() as c:
        report(c, "Open vSwitch agent", "c1", configurations={
            "datapath_type": "netdev", "integration_bridge": "br-int",
            "tunneling_ip": "10.0.0.11"})
        net = network(c, "ports", dhcp=False)
        bound = c.post("/v2.0/ports", json={"port": {
            "network_id": net["id"], "binding:host_id": "c1"}}).json()["port"]
        unbound = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        disabled = c.post("/v2.0/ports", json={"port": {
            "network_id": net["id"], "admin_state_up": False}}).json()["port"]
        elsewhere = c.post("/v2.0/ports", json={"port": {
            "network_id": net["id"], "binding:host_id": "c2"}}).json()["port"]
        assert bound["status"] == "DOWN" and unbound["binding:vif_type"] == "unbound"
        # bound at once to the host's Open vSwitch, as its agent reported it
        assert bound["binding:vif_type"] == "ovs"
        assert bound["binding:vif_details"]["datapath_type"] == "netdev"
        assert elsewhere["binding:vif_details"]["datapath_type"] == "system"  # no report yet
        since = c.get("/v2.0/fermion/snapshot", params={"host": "c1"}).json()[
            "snapshot"]["revision"]

        def status(ports: list[tuple[str, str]], host: str = "c1") -> dict:
            r = c.post("/v2.0/fermion/ports/status", json={"host": host, "ports": [
                {"id": i, "status": s} for i, s in ports]})
            assert r.status_code == 200, r.text
            return {p["id"]: p["result"] for p in r.json()["ports"]}

        missing = str(uuid.uuid4())
        assert status([(bound["id"], "ACTIVE"), (unbound["id"], "ACTIVE"),
                       (disabled["id"], "ACTIVE"), (elsewhere["id"], "ACTIVE"),
                       (missing, "ACTIVE")]) == {
            bound["id"]: "updated", unbound["id"]: "updated", disabled["id"]: "updated",
            elsewhere["id"]: "wrong_host", missing: "not_found"}
        port = c.get(f"/v2.0/ports/{bound['id']}").json()["port"]
        assert port["status"] == "ACTIVE"
        assert port["binding:vif_type"] == "ovs"
        assert port["binding:vif_details"]["datapath_type"] == "netdev"
        assert port["binding:vif_details"]["bridge_name"] == "br-int"
        assert port["revision_number"] == bound["revision_number"] + 1
        port = c.get(f"/v2.0/ports/{unbound['id']}").json()["port"]
        assert (port["status"], port["binding:host_id"]) == ("ACTIVE", "c1")
        # administratively down stays DOWN (only its binding was recorded)
        port = c.get(f"/v2.0/ports/{disabled['id']}").json()["port"]
        assert port["status"] == "DOWN" and port["binding:host_id"] == "c1"
        assert c.get(f"/v2.0/ports/{elsewhere['id']}").json()["port"]["status"] == "DOWN"
        changes = c.get("/v2.0/fermion/changes", params={"since": since, "timeout": 0}).json()
        assert sorted(ch["resource_id"] for ch in changes["changes"]) == sorted(
            [bound["id"], unbound["id"], disabled["id"]])
        assert {ch["action"] for ch in changes["changes"]} == {"update"}

        # the same report again changes nothing and logs nothing
        assert status([(bound["id"], "ACTIVE")]) == {bound["id"]: "unchanged"}
        r = c.get("/v2.0/fermion/changes", params={"since": changes["revision"], "timeout": 0})
        assert r.json()["changes"] == []
        assert status([(bound["id"], "DOWN")]) == {bound["id"]: "updated"}
        port = c.get(f"/v2.0/ports/{bound['id']}").json()["port"]
        assert port["status"] == "DOWN" and port["binding:vif_type"] == "ovs"
        # ERROR: the agent cannot wire the port; shown as is, but not on a disabled port
        assert status([(bound["id"], "ERROR"), (disabled["id"], "ERROR")]) == {
            bound["id"]: "updated", disabled["id"]: "unchanged"}
        assert c.get(f"/v2.0/ports/{bound['id']}").json()["port"]["status"] == "ERROR"
        assert c.get(f"/v2.0/ports/{disabled['id']}").json()["port"]["status"] == "DOWN"
        assert status([(bound["id"], "ACTIVE")]) == {bound["id"]: "updated"}
        assert c.get(f"/v2.0/ports/{bound['id']}").json()["port"]["status"] == "ACTIVE"

        for bad in ({"host": "c1", "ports": [{"id": bound["id"], "status": "UP"}]},
                    {"host": "c1", "ports": [{"status": "ACTIVE"}]},
                    {"host": "", "ports": []}, {"ports": []}, {"host": "c1"}):
            r = c.post("/v2.0/fermion/ports/status", json=bad)
            assert r.status_code == 400, (bad, r.text)
    with server.client(project_id="p1", roles="member") as c:
        r = c.post("/v2.0/fermion/ports/status", json={"host": "c1", "ports": []})
        assert r.status_code == 403


def test_floating_ip_status_reports(fermion_server):
    """The L3 agent hosting a floating IP's router sets its status; other hosts cannot."""
    server = fermion_server()
    with server.client() as c:
        report(c, "L3 agent", "n1")
        report(c, "L3 agent", "n2")
        ext = c.post("/v2.0/networks", json={"network": {
            "name": "ext", "router:external": True}}).json()["network"]
        r = c.post("/v2.0/subnets", json={"subnet": {
            "network_id": ext["id"], "cidr": "172.24.4.0/24", "ip_version": 4}})
        assert r.status_code == 201, r.text
        inner = network(c, "inner", dhcp=False)
        r = c.post("/v2.0/routers", json={"router": {
            "name": "r", "external_gateway_info": {"network_id": ext["id"]}}})
        assert r.status_code == 201, r.text
        router_id = r.json()["router"]["id"]
        r = c.put(f"/v2.0/routers/{router_id}/add_router_interface",
                  json={"subnet_id": inner["subnet"]["id"]})
        assert r.status_code == 200, r.text
        port = c.post("/v2.0/ports", json={"port": {"network_id": inner["id"]}}).json()["port"]
        fip = c.post("/v2.0/floatingips", json={"floatingip": {
            "floating_network_id": ext["id"], "port_id": port["id"]}}).json()["floatingip"]
        assert fip["status"] == "DOWN"
        [mine] = hosting(c, f"/v2.0/routers/{router_id}/l3-agents")
        other = "n2" if mine == "n1" else "n1"

        def status(fip_id: str, value: str, host: str) -> str:
            r = c.post("/v2.0/fermion/floatingips/status", json={
                "host": host, "floatingips": [{"id": fip_id, "status": value}]})
            assert r.status_code == 200, r.text
            return r.json()["floatingips"][0]["result"]

        assert status(fip["id"], "ACTIVE", other) == "wrong_host"
        assert status(fip["id"], "ACTIVE", mine) == "updated"
        shown = c.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
        assert shown["status"] == "ACTIVE"
        assert shown["revision_number"] == fip["revision_number"] + 1
        assert status(fip["id"], "ACTIVE", mine) == "unchanged"
        assert status(str(uuid.uuid4()), "ACTIVE", mine) == "not_found"
        r = c.post("/v2.0/fermion/floatingips/status", json={
            "host": mine, "floatingips": [{"id": fip["id"], "status": "UP"}]})
        assert r.status_code == 400, r.text
    with server.client(project_id="p1", roles="member") as c:
        r = c.post("/v2.0/fermion/floatingips/status", json={"host": "n1", "floatingips": []})
        assert r.status_code == 403


# -- host snapshot ------------------------------------------------------------------------------------

def test_host_snapshot(fermion_server, db_url):
    server = fermion_server(db_url=db_url)
    with server.client() as c:
        report(c, "Open vSwitch agent", "compute1",
               configurations={"tunneling_ip": "192.168.0.11", "tunnel_types": ["vxlan"]})
        report(c, "Open vSwitch agent", "network1",
               configurations={"tunneling_ip": "192.168.0.10", "tunnel_types": ["vxlan"]})
        report(c, "DHCP agent", "network1")
        report(c, "L3 agent", "network1")
        report(c, "Metadata agent", "network1")
        served = network(c, "served", cidr="10.1.0.0/24")
        other = network(c, "other", dhcp=False, cidr="10.2.0.0/24")
        vm = c.post("/v2.0/ports", json={"port": {
            "network_id": other["id"], "binding:host_id": "compute1",
            "device_owner": "compute:nova"}}).json()["port"]
        neighbour = c.post("/v2.0/ports", json={"port": {"network_id": served["id"]}}
                           ).json()["port"]
        c.post("/v2.0/ports", json={"port": {"network_id": other["id"]}})  # nobody's concern
        router_id = router(server, c, "edge")
        r = c.put(f"/v2.0/routers/{router_id}/add_router_interface",
                  json={"subnet_id": other["subnet"]["id"]})
        interface = r.json()["port_id"] if r.status_code == 200 else None

        snap = c.get("/v2.0/fermion/snapshot", params={"host": "compute1"}).json()["snapshot"]
        assert [p["id"] for p in snap["ports"]] == [vm["id"]]
        assert [n["id"] for n in snap["networks"]] == [other["id"]]
        assert snap["networks"][0]["segments"][0]["provider:network_type"] == "vxlan"
        assert [s["id"] for s in snap["subnets"]] == [other["subnet"]["id"]]
        assert snap["dhcp_networks"] == [] and snap["routers"] == []
        assert [a["agent_type"] for a in snap["agents"]] == ["Open vSwitch agent"]
        assert sorted(t["tunneling_ip"] for t in snap["tunnel_endpoints"]) == [
            "192.168.0.10", "192.168.0.11"]
        assert snap["security_groups"] == [] or {g["id"] for g in snap["security_groups"]} \
            == set(vm["security_groups"])

        snap = c.get("/v2.0/fermion/snapshot", params={"host": "network1"}).json()["snapshot"]
        assert snap["dhcp_networks"] == [served["id"]]
        assert [r["id"] for r in snap["routers"]] == [router_id]
        port_ids = {p["id"] for p in snap["ports"]}
        assert neighbour["id"] in port_ids and vm["id"] not in port_ids
        if interface:
            assert snap["routers"][0]["_interfaces"] == [interface]
            assert interface in port_ids
            assert {n["id"] for n in snap["networks"]} == {served["id"], other["id"]}
        assert sorted(a["agent_type"] for a in snap["agents"]) == [
            "DHCP agent", "L3 agent", "Metadata agent", "Open vSwitch agent"]
        assert snap["revision"] == int(c.get("/v2.0/fermion/snapshot", params={
            "host": "network1"}).headers["X-Fermion-Revision"])


def test_snapshot_rules_carry_the_protocol_number_agents_match(fermion_server):
    """Agents never read protocol names: each rule comes with its IANA number (None: any)."""
    server = fermion_server()
    with server.client() as c:
        net = network(c, "n", dhcp=False)
        group = c.post("/v2.0/security-groups", json={"security_group": {"name": "g"}}
                       ).json()["security_group"]
        for ethertype, protocol in (("IPv4", "vrrp"), ("IPv4", "132"), ("IPv6", "icmpv6"),
                                    ("IPv4", "ip"), ("IPv4", "any")):
            r = c.post("/v2.0/security-group-rules", json={"security_group_rule": {
                "security_group_id": group["id"], "direction": "ingress",
                "ethertype": ethertype, "protocol": protocol}})
            assert r.status_code == 201, r.text
        c.post("/v2.0/ports", json={"port": {"network_id": net["id"], "binding:host_id": "c1",
                                             "security_groups": [group["id"]]}})
        snap = c.get("/v2.0/fermion/snapshot", params={"host": "c1"}).json()["snapshot"]
        rules = snap["security_groups"][0]["security_group_rules"]
        got = {(r["ethertype"], r["protocol"]): r["_protocol_number"] for r in rules
               if r["direction"] == "ingress"}
        assert got == {("IPv4", "vrrp"): 112, ("IPv4", "132"): 132, ("IPv6", "ipv6-icmp"): 58,
                       ("IPv4", "ip"): 0, ("IPv4", None): None}


@pytest.mark.parametrize("option", ["change_log_size", "change_poll_interval"])
def test_bad_feed_options_fail_at_start(tmp_path, option):
    from fermion.config import ConfigError, load

    conf = tmp_path / "neutron.conf"
    conf.write_text(f"[fermion]\n{option} = zero\n")
    with pytest.raises(ConfigError, match=option):
        load([str(conf)])
    conf.write_text(f"[fermion]\n{option} = 0\n")
    with pytest.raises(ConfigError, match="at least"):
        load([str(conf)])
