"""KeystoneAuth against a real Keystone (the `keystone` fixture), without a Fermion server.

Real tokens from Keystone, validated by the real keystonemiddleware with the fixture's
`[keystone_authtoken]` section, give each user's project and roles; client-supplied identity
headers are ignored; bad and revoked tokens get Keystone's 401.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from fermion.api.keystone import KeystoneAuth
from fermion.model.context import Context

pytestmark = pytest.mark.keystone


@pytest.fixture(scope="module")
def auth(keystone):
    return KeystoneAuth(keystone.authtoken_conf())


@pytest.mark.parametrize(
    "user, roles",
    [
        ("alice", {"member", "reader"}),  # member implies reader
        ("bob", {"member", "reader"}),
        ("rita", {"reader"}),  # reader implies nothing
        ("admin", {"admin", "manager", "member", "reader"}),
    ],
)
def test_token_gives_users_project_and_roles(keystone, auth, user, roles):
    _, project, _ = keystone.users[user]
    token = keystone.token(user)
    ctx = auth.authenticate({"X-Auth-Token": token})
    assert ctx == Context(
        project_id=keystone.project_ids[project],
        user_id=keystone.user_ids[user],
        roles=frozenset(roles),
        project_name=project,
    )
    assert ctx.is_admin == (user == "admin")
    assert ctx.can_write == (user != "rita")


def test_spoofed_identity_headers_are_ignored(keystone, auth):
    token = keystone.token("rita")
    ctx = auth.authenticate({
        "x-auth-token": token,
        "x-project-id": keystone.project_ids["demo-b"],
        "x-tenant-id": keystone.project_ids["demo-b"],
        "x-roles": "admin,member",
        "x-user-id": keystone.user_ids["admin"],
        "x-identity-status": "Confirmed",
    })
    assert ctx.project_id == keystone.project_ids["demo-a"]
    assert ctx.user_id == keystone.user_ids["rita"]
    assert ctx.roles == frozenset({"reader"})


def test_no_bad_or_revoked_token_is_401(keystone, auth):
    www = ("WWW-Authenticate", f'Keystone uri="{keystone.url}"')
    for headers in ({}, {"X-Auth-Token": "bogus"},
                    {"X-Identity-Status": "Confirmed", "X-Roles": "admin",
                     "X-Project-Id": keystone.project_ids["admin"]}):
        status, resp_headers, _ = auth.authenticate(headers)
        assert status == 401 and www in resp_headers, headers

    # A token revoked in Keystone before the middleware ever saw it is refused.
    token = keystone.token("bob")
    admin = keystone.token("admin")
    r = httpx.delete(f"{keystone.auth_url}/auth/tokens",
                     headers={"X-Auth-Token": admin, "X-Subject-Token": token})
    assert r.status_code == 204
    status, resp_headers, _ = auth.authenticate({"X-Auth-Token": token})
    assert status == 401 and www in resp_headers


def test_concurrent_validation(keystone, auth):
    """Eight threads validate fresh tokens of different users at once (the server's pool)."""
    users = ["alice", "bob", "rita", "admin"] * 2
    tokens = {u: [keystone.token(u) for _ in range(3)] for u in set(users)}
    expected = {u: keystone.project_ids[keystone.users[u][1]] for u in users}
    errors: list[str] = []
    barrier = threading.Barrier(len(users))

    def worker(user):
        barrier.wait()
        for token in tokens[user]:
            for _ in range(3):
                ctx = auth.authenticate({"X-Auth-Token": token})
                if not isinstance(ctx, Context) or ctx.project_id != expected[user]:
                    errors.append(f"{user}: {ctx!r}")

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
