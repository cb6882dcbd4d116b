"""Fermion behind a real Keystone, driven by the real `openstack` CLI.

Keystone 30 from PyPI (the `keystone` fixture: own venv, SQLite, fernet tokens, gunicorn on
loopback) holds projects demo-a and demo-b, members alice (demo-a) and bob (demo-b), reader
rita (demo-a) and the bootstrap admin. Fermion runs with ``auth_strategy = keystone`` and the
``[keystone_authtoken]`` section of a Neutron deployment, and is registered in Keystone's
catalog as the ``network`` endpoint, so the CLI finds it exactly as it finds Neutron.

Each user sees only its own project's resources and shared ones; a reader reads but can't
write (403); another project's ids answer 404, as in Neutron.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.server import venv_bin

pytestmark = [pytest.mark.keystone, pytest.mark.timeout(600)]


class CLIResult:
    def __init__(self, cmd, proc: subprocess.CompletedProcess):
        self.cmd, self.returncode = cmd, proc.returncode
        self.stdout, self.stderr = proc.stdout, proc.stderr

    @property
    def statuses(self) -> list[int]:
        """HTTP statuses of Fermion's answers (``--debug`` logs each as ``RESP: [NNN]``)."""
        return [int(s) for s in re.findall(r"^RESP: \[(\d{3})\]", self.stderr, re.M)]

    def __repr__(self) -> str:
        return (f"$ {' '.join(self.cmd)}\nexit {self.returncode}\n--- stdout\n{self.stdout}\n"
                f"--- stderr (tail)\n{self.stderr[-3000:]}")


class Cloud:
    """The `openstack` CLI as one Keystone user (OS_* environment from the fixture)."""

    def __init__(self, keystone, user: str):
        self.user = user
        self.env = keystone.cli_env(user)

    def run(self, *args: str, fmt: str | None = "json", debug: bool = False) -> CLIResult:
        cmd = [venv_bin("openstack"), *(["--debug"] if debug else []), *map(str, args)]
        if fmt:
            cmd += ["-f", fmt]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        return CLIResult(cmd, proc)

    def __call__(self, *args: str, fmt: str | None = "json"):
        """Run a command that must succeed; return its parsed JSON (or text with fmt=None)."""
        r = self.run(*args, fmt=fmt)
        assert r.returncode == 0, f"{self.user}: {r!r}"
        if fmt == "json":
            return json.loads(r.stdout) if r.stdout.strip() else None
        return r.stdout

    def fails(self, status: int, *args: str, fmt: str | None = None) -> CLIResult:
        """Run a command that must fail because Fermion answered `status`."""
        r = self.run(*args, fmt=fmt, debug=True)
        assert r.returncode != 0, f"{self.user} expected a failure: {r!r}"
        assert status in r.statuses, f"{self.user} expected HTTP {status}: {r!r}"
        return r


def names(listing) -> set[str]:
    return {item["Name"] for item in listing}


@pytest.fixture
def fermion(keystone, fermion_server):
    server = fermion_server(extra_conf={
        ("neutron.conf", "DEFAULT"): {"auth_strategy": "keystone"},
        ("neutron.conf", "keystone_authtoken"): keystone.authtoken_conf(),
    })
    keystone.register_network_endpoint(server.url)
    return server


def parallel(*calls):
    """Run independent CLI calls at once (each is mostly interpreter start-up); results in
    order. Every call's failure is reported, not just the first."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(c) for c in calls]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise AssertionError("\n\n".join(str(e) for e in errors))
    return [f.result() for f in futures]


def test_projects_members_and_reader_through_openstack_cli(keystone, fermion):
    admin, alice, bob, rita = (Cloud(keystone, u) for u in ("admin", "alice", "bob", "rita"))
    demo_a, demo_b = keystone.project_ids["demo-a"], keystone.project_ids["demo-b"]

    # The CLI finds Fermion through Keystone's catalog.
    assert fermion.url in json.dumps(admin("catalog", "show", "network"))

    def admin_setup():  # a shared network with a subnet, and a private network
        shared = admin("network", "create", "--share", "shared-net")
        subnet = admin("subnet", "create", "--network", shared["id"],
                       "--subnet-range", "10.100.0.0/24", "shared-subnet")
        return shared, subnet, admin("network", "create", "admin-private")

    def member_setup(cloud, prefix, cidr):  # a network, a subnet and a port
        net = cloud("network", "create", f"{prefix}-net")
        subnet = cloud("subnet", "create", "--network", net["id"], "--subnet-range", cidr,
                       f"{prefix}-subnet")
        return net, subnet, cloud("port", "create", "--network", net["id"], f"{prefix}-port")

    (shared, shared_subnet, admin_private), (a_net, a_subnet, a_port), \
        (b_net, b_subnet, b_port) = parallel(
            admin_setup,
            lambda: member_setup(alice, "alice", "10.1.0.0/24"),
            lambda: member_setup(bob, "bob", "10.2.0.0/24"),
        )
    # Ownership comes from the token's project.
    assert shared["shared"] is True and shared["project_id"] == keystone.project_ids["admin"]
    assert admin_private["shared"] is False
    for resource in (a_net, a_subnet, a_port):
        assert resource["project_id"] == demo_a
    for resource in (b_net, b_subnet, b_port):
        assert resource["project_id"] == demo_b
    assert a_net["shared"] is False

    def listed(cloud, kind, expected, *extra):
        assert names(cloud(kind, "list", *extra)) == expected, (cloud.user, kind)

    def not_found_show(cloud, kind, foreign):
        r = cloud.fails(404, kind, "show", foreign["id"])
        assert "No " in r.stderr and foreign["id"] in r.stderr  # "No Network found for <id>"

    def rita_reads():
        shown = rita("network", "show", a_net["id"])
        assert shown["id"] == a_net["id"] and shown["project_id"] == demo_a
        assert rita("subnet", "show", a_subnet["id"])["cidr"] == "10.1.0.0/24"
        assert rita("port", "show", a_port["id"])["id"] == a_port["id"]

    def admin_reads():
        assert admin("network", "show", b_net["id"])["project_id"] == demo_b
        assert {"alice-port", "bob-port"} <= names(admin("port", "list"))

    # None of these change anything when Fermion is right, so they run side by side.
    parallel(
        # each member sees its own and the shared resources only
        lambda: listed(alice, "network", {"alice-net", "shared-net"}),
        lambda: listed(bob, "network", {"bob-net", "shared-net"}),
        lambda: listed(alice, "subnet", {"alice-subnet", "shared-subnet"}),
        lambda: listed(bob, "subnet", {"bob-subnet", "shared-subnet"}),
        lambda: listed(alice, "port", {"alice-port"}),
        lambda: listed(bob, "port", {"bob-port"}),
        lambda: alice("network", "show", shared["id"]),
        # another project's ids are not found (404), for reads and writes alike
        lambda: not_found_show(alice, "network", b_net),
        lambda: not_found_show(alice, "subnet", b_subnet),
        lambda: not_found_show(alice, "port", b_port),
        lambda: not_found_show(alice, "network", admin_private),
        lambda: not_found_show(rita, "network", b_net),
        lambda: alice.fails(404, "network", "delete", b_net["id"]),
        lambda: alice.fails(404, "network", "set", "--description", "mine", b_net["id"]),
        lambda: bob.fails(404, "port", "delete", a_port["id"]),
        # rita (reader of demo-a) reads demo-a and shared, and writes nothing (403)
        lambda: listed(rita, "network", {"alice-net", "shared-net"}),
        lambda: listed(rita, "port", {"alice-port"}),
        rita_reads,
        lambda: rita.fails(403, "network", "create", "rita-net", fmt="json"),
        lambda: rita.fails(403, "network", "set", "--description", "rita", a_net["id"]),
        lambda: rita.fails(403, "network", "delete", a_net["id"]),
        lambda: rita.fails(403, "port", "delete", a_port["id"]),
        lambda: rita.fails(403, "subnet", "create", "--network", a_net["id"],
                           "--subnet-range", "10.3.0.0/24", "rita-subnet", fmt="json"),
        # admin sees everything
        lambda: listed(admin, "network", {"shared-net", "admin-private", "alice-net",
                                          "bob-net"}),
        lambda: listed(admin, "network", {"alice-net"}, "--project", demo_a),
        admin_reads,
    )

    # Nothing above changed alice's or bob's resources; members still write their own.
    assert alice("network", "show", a_net["id"])["description"] == ""
    assert names(alice("port", "list")) == {"alice-port"}
    alice("network", "set", "--description", "alice's", a_net["id"], fmt=None)
    assert alice("network", "show", a_net["id"])["description"] == "alice's"
    bob("port", "delete", b_port["id"], fmt=None)
    assert names(bob("network", "list")) == {"bob-net", "shared-net"}
    assert names(bob("port", "list")) == set()


def test_tokens_and_spoofed_headers_over_http(keystone, fermion):
    """The same rules straight over HTTP: no/bad token is 401, identity headers are ignored."""
    url = f"{fermion.url}/v2.0/networks"
    www = f'Keystone uri="{keystone.url}"'
    for headers in ({}, {"X-Auth-Token": "bogus"},
                    {"X-Project-Id": keystone.project_ids["demo-a"], "X-Roles": "admin"}):
        r = httpx.get(url, headers=headers, timeout=30)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers.get("www-authenticate") == www

    bob_token = keystone.token("bob")
    created = httpx.post(url, json={"network": {"name": "bob-http"}}, timeout=30,
                         headers={"X-Auth-Token": bob_token})
    assert created.status_code == 201, created.text
    bob_net = created.json()["network"]
    assert bob_net["project_id"] == keystone.project_ids["demo-b"]

    # alice's token with admin's headers still acts as alice: bob's network is not found.
    alice_token = keystone.token("alice")
    spoof = {"X-Auth-Token": alice_token, "X-Roles": "admin",
             "X-Project-Id": keystone.project_ids["demo-b"]}
    r = httpx.get(f"{url}/{bob_net['id']}", headers=spoof, timeout=30)
    assert r.status_code == 404, r.text
    assert r.json()["NeutronError"]["type"] == "NetworkNotFound"
    listed = httpx.get(url, headers=spoof, timeout=30).json()["networks"]
    assert bob_net["id"] not in {n["id"] for n in listed}

    # rita's token: 403 on write with a Neutron-style error.
    r = httpx.post(url, json={"network": {"name": "rita-http"}}, timeout=30,
                   headers={"X-Auth-Token": keystone.token("rita")})
    assert r.status_code == 403, r.text
    assert "NeutronError" in r.json()
