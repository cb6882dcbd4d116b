"""Concurrent IPAM against a real server: parallel clients never get the same address.

Acceptance: 8 parallel clients fill a /24 — every address handed out once, all 253 usable
addresses used, then clean 409s (IpAddressGenerationFailure); the same against PostgreSQL.
Each client is a real thread with its own HTTP connection, all released at once by a
barrier, so the server sees truly overlapping transactions (SQLite: one writer at a time;
PostgreSQL: row locks on the subnet plus retries on unique violations).
"""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest

CLIENTS = 8
CIDR = "10.20.30.0/24"
GATEWAY = "10.20.30.1"
POOL = {str(ipaddress.ip_address("10.20.30.0") + i) for i in range(2, 255)}  # .2 – .254
PROJECT = "c0ffee00c0ffee00c0ffee00c0ffee00"
# After its first 409 a client tries this many more times: the failure must be stable.
EXTRA_ATTEMPTS_AFTER_FULL = 3
SAFETY_LIMIT = 400  # per client; far above the pool, only stops a runaway loop


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
])
def server(request, fermion_server):
    if request.param == "postgresql":
        return fermion_server(db_url=request.getfixturevalue("postgres_url"))
    return fermion_server()


@dataclass
class Outcome:
    created: list[dict] = field(default_factory=list)  # port bodies of the 201s
    failures: list[tuple[int, dict]] = field(default_factory=list)  # (status, body)
    errors: list[BaseException] = field(default_factory=list)  # exceptions in the thread


def _network(srv) -> tuple[str, str]:
    with srv.client(project_id=PROJECT, roles="member") as c:
        r = c.post("/v2.0/networks", json={"network": {"name": "race"}})
        assert r.status_code == 201, r.text
        net_id = r.json()["network"]["id"]
        r = c.post("/v2.0/subnets", json={"subnet": {
            "network_id": net_id, "ip_version": 4, "cidr": CIDR, "enable_dhcp": False}})
        assert r.status_code == 201, r.text
        subnet = r.json()["subnet"]
    assert subnet["gateway_ip"] == GATEWAY
    assert subnet["allocation_pools"] == [{"start": "10.20.30.2", "end": "10.20.30.254"}]
    return net_id, subnet["id"]


def _hammer(srv, net_id: str, clients: int = CLIENTS) -> list[Outcome]:
    """Each thread creates ports until it has seen a few 409s; returns what each saw."""
    barrier = threading.Barrier(clients)
    outcomes = [Outcome() for _ in range(clients)]

    def worker(index: int) -> None:
        out = outcomes[index]
        try:
            with srv.client(project_id=PROJECT, roles="member", timeout=120.0) as c:
                barrier.wait(timeout=60)
                after_full = 0
                for n in range(SAFETY_LIMIT):
                    r = c.post("/v2.0/ports", json={"port": {
                        "network_id": net_id, "name": f"c{index}-{n}"}})
                    if r.status_code == 201:
                        out.created.append(r.json()["port"])
                        continue
                    out.failures.append((r.status_code, _json(r)))
                    if r.status_code >= 500:
                        return
                    after_full += 1
                    if after_full > EXTRA_ATTEMPTS_AFTER_FULL:
                        return
        except BaseException as error:  # reported by the main thread
            out.errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), name=f"client-{i}")
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    for out in outcomes:
        assert not out.errors, out.errors
    return outcomes


def _json(response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {"raw": response.text}


def _ips(port: dict, subnet_id: str) -> list[str]:
    return [f["ip_address"] for f in port["fixed_ips"] if f["subnet_id"] == subnet_id]


def _check_failures(outcomes: list[Outcome]) -> None:
    failures = [f for out in outcomes for f in out.failures]
    server_errors = [f for f in failures if f[0] >= 500]
    assert not server_errors, f"5xx during the race: {server_errors[:3]}"
    for status, body in failures:
        assert status == 409, (status, body)
        assert body["NeutronError"]["type"] == "IpAddressGenerationFailure", body
    # Every client ran into the full pool (and kept getting the same clean answer).
    for index, out in enumerate(outcomes):
        assert len(out.failures) == EXTRA_ATTEMPTS_AFTER_FULL + 1, (index, out.failures)


def _listed_ports(srv, net_id: str) -> list[dict]:
    with srv.client() as admin:
        r = admin.get("/v2.0/ports", params={"network_id": net_id})
        assert r.status_code == 200, r.text
        return r.json()["ports"]


def test_parallel_clients_fill_a_slash_24_exactly_once(server):
    net_id, subnet_id = _network(server)

    outcomes = _hammer(server, net_id)

    _check_failures(outcomes)
    created = [p for out in outcomes for p in out.created]
    # Every successful response is its own port with exactly one address from the subnet.
    assert len({p["id"] for p in created}) == len(created)
    for port in created:
        assert len(_ips(port, subnet_id)) == 1, port["fixed_ips"]
        assert port["network_id"] == net_id
    handed_out = [ip for p in created for ip in _ips(p, subnet_id)]
    duplicates = [ip for ip, n in Counter(handed_out).items() if n > 1]
    assert not duplicates, f"addresses handed out more than once: {duplicates}"
    assert len(handed_out) == 253
    assert set(handed_out) == POOL  # exactly the pool: never .0, .1 (gateway) or .255
    # The work was really shared: more than one client got addresses.
    assert sum(1 for out in outcomes if out.created) > 1

    # MACs are unique on the network too (ports have a unique (network, mac) constraint).
    macs = [p["mac_address"] for p in created]
    assert len(set(macs)) == len(macs)
    assert all(m.startswith("fa:16:3e:") for m in macs)

    # What the database holds agrees with what the clients were told.
    listed = _listed_ports(server, net_id)
    assert {p["id"]: _ips(p, subnet_id) for p in listed} == {
        p["id"]: _ips(p, subnet_id) for p in created}
    assert {p["id"]: p["mac_address"] for p in listed} == {
        p["id"]: p["mac_address"] for p in created}
    with server.client() as admin:
        r = admin.get(f"/v2.0/network-ip-availabilities/{net_id}")
        assert r.status_code == 200, r.text
        availability = r.json()["network_ip_availability"]
    assert (availability["total_ips"], availability["used_ips"]) == (253, 253)


def test_freed_addresses_are_reused_once_under_contention(server):
    """Free some addresses of a full subnet, race again: each freed one goes to one client."""
    net_id, subnet_id = _network(server)
    first = [p for out in _hammer(server, net_id) for p in out.created]
    assert len(first) == 253
    victims = sorted(first, key=lambda p: p["id"])[:10]
    freed = {ip for p in victims for ip in _ips(p, subnet_id)}
    with server.client(project_id=PROJECT, roles="member") as c:
        for port in victims:
            assert c.delete(f"/v2.0/ports/{port['id']}").status_code == 204

    outcomes = _hammer(server, net_id)

    _check_failures(outcomes)
    second = [ip for out in outcomes for p in out.created for ip in _ips(p, subnet_id)]
    assert sorted(second) == sorted(freed)
    listed = _listed_ports(server, net_id)
    assert len(listed) == 253
    assert sorted(ip for p in listed for ip in _ips(p, subnet_id)) == sorted(POOL)
